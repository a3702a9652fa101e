"""Markdown body -> email-safe MJML blocks, and -> plain text, both from the same token stream.

The HTML carries inline styles (mjml-python does not inline ``<mj-style inline>``, and Gmail
drops head styles when it clips), so every element gets its look from attributes here. The text
part is written from the tokens, never scraped from HTML. Citations are Markdown footnotes:
``[^label]`` becomes ``[n]`` in both parts and a numbered reference list (see render.py).

Syntax beyond CommonMark + tables + footnotes:
- a button: a paragraph holding only ``[Label](https://url){.button}``;
- an image width: ``![Alt text](https://host/img.png){width=560}``;
- merge fields in text: ``{{ first_name }}``, ``{{ unsubscribe_url }}``, ``{{ webview_url }}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from ..models import Reference
from .markdown_context import MarkdownContext, Theme, image_alt
from .markdown_html import CONTENT_WIDTH, HtmlWriter
from .markdown_text import WIDTH, TextWriter, wrap_text

__all__ = ["CONTENT_WIDTH", "WIDTH", "Theme", "RenderedBody", "render_body", "wrap_text", "parser", "URL_RE"]

UNDEFINED_FOOTNOTE_RE = re.compile(r"\[\^([^\]\s]+)\]")
# A link destination may not contain spaces, so ``[x]({{ unsubscribe_url }})`` would not be a link:
# the merge field is closed up to ``{{unsubscribe_url}}`` before parsing (same lines, same meaning).
LINK_MERGE_RE = re.compile(r"(\]\(\s*<?)\{\{\s*([A-Za-z_]\w*)\s*\}\}")
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:]")


@dataclass(frozen=True)
class RenderedBody:
    mjml: str  # MJML components (mj-text, mj-image, mj-button, mj-divider) for the body
    text: str  # plain text of the body, wrapped at 78 columns
    references: tuple[Reference, ...]
    links: tuple[str, ...]  # body link targets, numbered after the references in the text part


@lru_cache(maxsize=1)
def parser():
    """The configured markdown-it parser (cached): also used by the footnote check."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.attrs import attrs_plugin
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    return md.use(footnote_plugin).use(attrs_plugin)


def render_body(source: str, path: Path, first_line: int, theme: Theme) -> RenderedBody:
    """Parse the Markdown body once and render both parts.

    ``first_line`` is the file line where the body starts, so errors name the real line.
    """
    env: dict = {}
    source = LINK_MERGE_RE.sub(r"\1{{\2}}", source)
    tokens = parser().parse(source, env)
    ctx = MarkdownContext(path=path, first_line=first_line, theme=theme, source=source)
    ctx = replace(ctx, references=_collect_references(tokens, env, ctx))
    _check_undefined_footnotes(tokens, ctx)
    body_tokens = _without_footnote_block(tokens)
    mjml = HtmlWriter(ctx).blocks(body_tokens)
    text, links = TextWriter(ctx).write(body_tokens)
    # lstrip("\n"), not strip(): a body that opens with a code block keeps its indent
    return RenderedBody(mjml=mjml, text=text.lstrip("\n").rstrip() + "\n", references=ctx.references, links=links)


# --- references ------------------------------------------------------------------------------


def _collect_references(tokens: Sequence, env: dict, ctx: MarkdownContext) -> tuple[Reference, ...]:
    """Footnote definitions in order of first use; an unused definition is an error."""
    refs = env.get("footnotes", {}).get("refs", {})
    for key, ident in refs.items():
        if ident == -1:
            label = key[1:]
            line = _definition_line(ctx, label)
            raise ctx.error(line, f"footnote [^{label}] is defined but never cited", f"Cite it with [^{label}] in the text, or delete the definition.")
    references: list[Reference] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "footnote_open":
            j = i + 1
            parts, line = [], None
            while tokens[j].type != "footnote_close":
                if tokens[j].type == "inline":
                    line = line or ctx.line(tokens[j])
                    parts.append(_inline_plain(tokens[j].children or []))
                elif tokens[j].type in ("code_block", "fence"):  # a note's code is part of its text
                    line = line or ctx.line(tokens[j])
                    parts.append(" ".join(tokens[j].content.split()))
                j += 1
            text = " ".join(p.strip() for p in parts if p.strip())
            references.append(
                Reference(number=tok.meta["id"] + 1, label=tok.meta["label"], line=line or 0, text=text, urls=tuple(URL_RE.findall(text)))
            )
            i = j
        i += 1
    return tuple(sorted(references, key=lambda r: r.number))


def _definition_line(ctx: MarkdownContext, label: str) -> int | None:
    pattern = re.compile(r"^\s{0,3}\[\^" + re.escape(label) + r"\]:", re.M)
    m = pattern.search(ctx.source)
    return ctx.first_line + ctx.source.count("\n", 0, m.start()) if m else None


def _check_undefined_footnotes(tokens: Sequence, ctx: MarkdownContext) -> None:
    """markdown-it leaves ``[^x]`` as text when x has no definition: that is an error here."""
    for tok in tokens:
        if tok.type != "inline":
            continue
        line = ctx.line(tok)
        for child in tok.children or []:
            if child.type in ("softbreak", "hardbreak") and line:
                line += 1
            if child.type == "text":
                m = UNDEFINED_FOOTNOTE_RE.search(child.content)
                if m:
                    raise ctx.error(
                        line,
                        f"footnote [^{m.group(1)}] is cited but not defined",
                        f"Add a line '[^{m.group(1)}]: Author. Title. Journal. Year. https://doi.org/...' at the end of the issue.",
                    )


def _without_footnote_block(tokens: Sequence) -> list:
    out, skipping = [], False
    for tok in tokens:
        if tok.type == "footnote_block_open":
            skipping = True
        elif tok.type == "footnote_block_close":
            skipping = False
        elif not skipping:
            out.append(tok)
    return out


def _inline_plain(children: Sequence) -> str:
    parts = []
    href, start = "", 0
    for c in children:
        if c.type == "link_open":
            href, start = str(c.attrs.get("href", "")), len(parts)
        elif c.type == "link_close":  # [the DOI](https://doi.org/...) keeps its URL: "the DOI (https://...)"
            if href and href not in "".join(parts[start:]):
                parts.append(f" ({href})")
            href = ""
        elif c.type in ("text", "code_inline"):
            parts.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif c.type == "image":
            parts.append(image_alt(c))
    return "".join(parts)
