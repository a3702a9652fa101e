"""Markdown tokens -> the plain-text part (see markdown.py): written from the tokens, never
scraped from HTML. Headings underlined, lists indented, links numbered after the references,
lines wrapped at 78 columns without breaking URLs.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

from .markdown_context import MarkdownContext, image_alt

WIDTH = 78


class TextWriter:
    """Tokens -> text: headings underlined, lists indented, links numbered after references."""

    def __init__(self, ctx: MarkdownContext) -> None:
        self.ctx = ctx
        self.link_base = len(ctx.references)
        self.links: list[str] = []  # link targets in order of first appearance, numbered from link_base + 1

    def write(self, tokens: Sequence) -> tuple[str, tuple[str, ...]]:
        """The text part and the links it numbered (listed after the references)."""
        return self.blocks(tokens), tuple(self.links)

    def blocks(self, tokens: Sequence) -> str:
        out: list[str] = []
        prefix_stack: list[str] = []  # "> " for quotes, list markers for items
        list_stack: list[list] = []  # [ordered, counter]
        table: list[list[str]] | None = None
        row: list[str] | None = None
        pending_item_marker: str | None = None
        heading_level = 0
        for tok in tokens:
            kind = tok.type
            if kind == "heading_open":
                heading_level = int(tok.tag[1])
            elif kind == "bullet_list_open" or kind == "ordered_list_open":
                list_stack.append([kind == "ordered_list_open", int(tok.attrs.get("start", 1) or 1)])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                list_stack.pop()
                if not list_stack:
                    out.append("")
            elif kind == "list_item_open":
                ordered, n = list_stack[-1]
                pending_item_marker = f"{n}. " if ordered else "- "
                list_stack[-1][1] = n + 1
            elif kind == "blockquote_open":
                prefix_stack.append("> ")
            elif kind == "blockquote_close":
                prefix_stack.pop()
            elif kind == "table_open":
                table = []
            elif kind == "tr_open":
                row = []
            elif kind == "tr_close" and table is not None and row is not None:
                table.append(row)
                row = None
            elif kind == "table_close" and table is not None:
                out.append(self._table(table))
                table = None
            elif kind == "inline" and row is not None:
                row.append(self.inline(tok.children or [], self.ctx.line(tok)))
            elif kind == "inline":
                text = self.inline(tok.children or [], self.ctx.line(tok))
                indent = "  " * max(len(list_stack) - 1, 0)
                quote = "".join(prefix_stack)
                if heading_level:
                    out.append(self._heading(text, heading_level))
                    heading_level = 0
                elif pending_item_marker is not None:
                    out.append(_wrap(text, quote + indent + pending_item_marker, quote + indent + " " * len(pending_item_marker)))
                    pending_item_marker = None
                elif list_stack:
                    out.append(_wrap(text, quote + indent + "  ", quote + indent + "  "))
                else:
                    out.append(_wrap(text, quote, quote) + "\n")
            elif kind in ("fence", "code_block"):
                out.append("\n".join("    " + ln for ln in tok.content.rstrip("\n").splitlines()) + "\n")
            elif kind == "hr":
                out.append("-" * 20 + "\n")
        return "\n".join(out).replace("\n\n\n", "\n\n")

    def _heading(self, text: str, level: int) -> str:
        text = _wrap(text.upper() if level == 3 else text)  # a long heading wraps like any line
        if level <= 2:
            return "\n" + text + "\n" + "-" * max((len(ln) for ln in text.splitlines()), default=0) + "\n"
        return "\n" + text + "\n"

    def _table(self, rows: list[list[str]]) -> str:
        if not rows:
            return ""
        header, body = rows[0], rows[1:]
        if not body:  # a table of headings only: its column names are all it says
            return "\n".join(_wrap(name, "- ", "  ") for name in header if name.strip()) + "\n"
        lines = []
        for r in body:
            # The first cell leads the row; the others are shown as "header: cell" under it.
            lead = f"{header[0]}: {r[0]}" if header[0].strip() else r[0]
            lines.append(_wrap(lead, "- ", "  "))
            for name, cell in zip(header[1:], r[1:], strict=False):
                lines.append(_wrap(f"{name}: {cell}" if name.strip() else cell, "  ", "    "))
        return "\n".join(lines) + "\n"

    def inline(self, children: Sequence, line: int | None) -> str:
        out: list[str] = []
        link_href: str | None = None
        link_text_start = 0
        for c in children:
            kind = c.type
            if kind in ("softbreak", "hardbreak") and line:
                line += 1
            if kind == "text":
                out.append(self.ctx.merge(c.content, line, html=False))
            elif kind in ("softbreak",):
                out.append(" ")
            elif kind == "hardbreak":
                out.append("\n")
            elif kind == "code_inline":
                out.append(c.content)
            elif kind == "link_open":
                link_href = self.ctx.merge(str(c.attrs.get("href", "")), line, html=False)
                link_text_start = len(out)
            elif kind == "link_close" and link_href is not None:
                shown = "".join(out[link_text_start:])
                if shown.strip() != link_href and shown.strip() != link_href.removeprefix("mailto:"):
                    out.append(f" [{self._link_number(link_href)}]")
                link_href = None
            elif kind == "footnote_ref":
                out.append(f"[{c.meta['id'] + 1}]")
            elif kind == "image":
                alt = image_alt(c)
                out.append(f"[Image: {alt}]" if alt else "")
        return "".join(out)

    def _link_number(self, href: str) -> int:
        if href not in self.links:
            self.links.append(href)
        return self.link_base + self.links.index(href) + 1


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    """Wrap at 78 columns without breaking URLs (a long URL may stand alone on its line)."""
    paragraphs = text.split("\n")
    lines = []
    for n, para in enumerate(paragraphs):
        wrapped = textwrap.wrap(
            para,
            width=WIDTH,
            initial_indent=first if n == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [first.rstrip() if n == 0 else rest.rstrip()])
    return "\n".join(lines)


def wrap_text(text: str, indent: str = "") -> str:
    """Public wrapper for templates: wrap each paragraph of ``text`` at 78 columns."""
    return "\n\n".join(_wrap(" ".join(p.split()), indent, indent) for p in text.split("\n\n") if p.strip())
