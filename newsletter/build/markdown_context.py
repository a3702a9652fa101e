"""What both Markdown writers (markdown_html, markdown_text) share: the issue's place, theme and
references, and the one way merge fields and errors are written. Frozen: a writer returns what it
produces instead of leaving it here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ..errors import IssueError, located
from ..models import MERGE_FIELDS, PLACEHOLDER, Reference

MERGE_RE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|%7B%7B(?:%20)*([A-Za-z_]\w*)(?:%20)*%7D%7D")


@dataclass(frozen=True)
class Theme:
    """Colours and fonts that become inline styles."""

    text: str
    link: str
    accent: str
    rule: str = "#d8d2c4"
    code_bg: str = "#efeae0"
    heading_font: str = "'Helvetica Neue', Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class MarkdownContext:
    path: Path
    first_line: int  # the file line where the body starts, so errors name the real line
    theme: Theme
    source: str
    references: tuple[Reference, ...] = ()

    def line(self, token) -> int | None:
        return self.first_line + token.map[0] if token.map else None

    def error(self, line: int | None, what: str, hint: str) -> IssueError:
        return IssueError(located(self.path, line, what), hint=hint)

    def merge(self, text: str, line: int | None, *, html: bool) -> str:
        """Escape text (for HTML) and turn ``{{ field }}`` into its placeholder."""
        out, pos = [], 0
        for m in MERGE_RE.finditer(text):
            name = m.group(1) or m.group(2)
            if name not in MERGE_FIELDS:
                raise self.error(line, f"unknown merge field '{{{{ {name} }}}}'", f"Use one of: {', '.join(MERGE_FIELDS)}.")
            chunk = text[pos : m.start()]
            out.append(escape(chunk, quote=False) if html else chunk)
            out.append(PLACEHOLDER.format(name))
            pos = m.end()
        rest = text[pos:]
        out.append(escape(rest, quote=False) if html else rest)
        return "".join(out)


def image_alt(image) -> str:
    """An image's alt text as the reader should get it: the label's text without its markup
    (``![foo *bar*](x)`` -> "foo bar"), as CommonMark renders it; ``token.content`` is the raw label."""
    parts = []
    for child in image.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(image_alt(child))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)
