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
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Sequence

from .errors import IssueError, located
from .models import MERGE_FIELDS, PLACEHOLDER, Reference

WIDTH = 78
CONTENT_WIDTH = 552  # px inside the 600 px body, after 24 px padding each side
MERGE_RE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|%7B%7B(?:%20)*([A-Za-z_]\w*)(?:%20)*%7D%7D")
UNDEFINED_FOOTNOTE_RE = re.compile(r"\[\^([^\]\s]+)\]")
# A link destination may not contain spaces, so ``[x]({{ unsubscribe_url }})`` would not be a link:
# the merge field is closed up to ``{{unsubscribe_url}}`` before parsing (same lines, same meaning).
LINK_MERGE_RE = re.compile(r"(\]\(\s*<?)\{\{\s*([A-Za-z_]\w*)\s*\}\}")
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:]")


@dataclass(frozen=True)
class Theme:
    """Colours and fonts that become inline styles."""

    text: str
    link: str
    accent: str
    muted: str = "#4a5560"
    rule: str = "#d8d2c4"
    code_bg: str = "#efeae0"
    font: str = "Georgia, 'Times New Roman', serif"
    heading_font: str = "'Helvetica Neue', Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class RenderedBody:
    mjml: str  # MJML components (mj-text, mj-image, mj-button, mj-divider) for the body
    text: str  # plain text of the body, wrapped at 78 columns
    references: tuple[Reference, ...]
    links: tuple[str, ...]  # body link targets, numbered after the references in the text part


@lru_cache(maxsize=1)
def _parser():
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
    tokens = _parser().parse(source, env)
    ctx = _Context(path=path, first_line=first_line, theme=theme, source=source)
    ctx.references = _collect_references(tokens, env, ctx)
    _check_undefined_footnotes(tokens, ctx)
    body_tokens = _without_footnote_block(tokens)
    mjml = _HtmlWriter(ctx).blocks(body_tokens)
    text = _TextWriter(ctx).blocks(body_tokens)
    # lstrip("\n"), not strip(): a body that opens with a code block keeps its indent
    return RenderedBody(mjml=mjml, text=text.lstrip("\n").rstrip() + "\n", references=tuple(ctx.references), links=tuple(ctx.links))


class _Context:
    def __init__(self, path: Path, first_line: int, theme: Theme, source: str) -> None:
        self.path = path
        self.first_line = first_line
        self.theme = theme
        self.source = source
        self.references: list[Reference] = []
        self.links: list[str] = []  # filled by the text writer, in order of appearance

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


# --- references ------------------------------------------------------------------------------


def _collect_references(tokens: Sequence, env: dict, ctx: _Context) -> list[Reference]:
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
                j += 1
            text = " ".join(p.strip() for p in parts if p.strip())
            references.append(
                Reference(number=tok.meta["id"] + 1, label=tok.meta["label"], line=line or 0, text=text, urls=tuple(URL_RE.findall(text)))
            )
            i = j
        i += 1
    return sorted(references, key=lambda r: r.number)


def _definition_line(ctx: _Context, label: str) -> int | None:
    pattern = re.compile(r"^\s{0,3}\[\^" + re.escape(label) + r"\]:", re.M)
    m = pattern.search(ctx.source)
    return ctx.first_line + ctx.source.count("\n", 0, m.start()) if m else None


def _check_undefined_footnotes(tokens: Sequence, ctx: _Context) -> None:
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
            parts.append(c.content)
    return "".join(parts)


# --- HTML (MJML) ------------------------------------------------------------------------------


def _is_button(tok_inline) -> bool:
    kids = tok_inline.children or []
    return (
        len(kids) >= 3
        and kids[0].type == "link_open"
        and "button" in str(kids[0].attrs.get("class", "")).split()
        and kids[-1].type == "link_close"
        and all(k.type not in ("link_open",) for k in kids[1:-1])
    )


def _is_lone_image(tok_inline) -> bool:
    kids = [k for k in (tok_inline.children or []) if not (k.type == "text" and not k.content.strip())]
    return len(kids) == 1 and kids[0].type == "image"


class _HtmlWriter:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        t = ctx.theme
        self.styles = {
            "h2": f"margin:28px 0 10px;font-family:{t.heading_font};font-size:22px;line-height:1.3;font-weight:700;color:{t.text};",
            "h3": f"margin:22px 0 8px;font-family:{t.heading_font};font-size:18px;line-height:1.35;font-weight:700;color:{t.text};",
            "h4": f"margin:18px 0 6px;font-family:{t.heading_font};font-size:16px;line-height:1.4;font-weight:700;color:{t.text};",
            "p": "margin:0 0 16px;",
            "ul": "margin:0 0 16px;padding-left:24px;",
            "ol": "margin:0 0 16px;padding-left:24px;",
            "li": "margin:0 0 6px;",
            "blockquote": f"margin:0 0 16px;padding:4px 0 4px 16px;border-left:4px solid {t.accent};color:{t.text};",
            "table": "border-collapse:collapse;width:100%;margin:0 0 16px;font-size:14px;line-height:1.45;",
            "th": f"border:1px solid {t.rule};padding:6px 8px;text-align:left;vertical-align:top;font-weight:700;",
            "td": f"border:1px solid {t.rule};padding:6px 8px;text-align:left;vertical-align:top;",
            "pre": f"margin:0 0 16px;padding:12px;background-color:{t.code_bg};font-family:Menlo,Consolas,monospace;font-size:13px;line-height:1.5;white-space:pre-wrap;word-break:break-word;",
            "code": f"font-family:Menlo,Consolas,monospace;font-size:14px;background-color:{t.code_bg};padding:1px 4px;",
            "a": f"color:{t.link};text-decoration:underline;",
            "sup": "font-size:12px;line-height:0;",
        }

    def blocks(self, tokens: Sequence) -> str:
        out: list[str] = []
        text_run: list[str] = []

        def flush() -> None:
            if text_run:
                out.append('<mj-text css-class="nl-body">' + "".join(text_run) + "</mj-text>")
                text_run.clear()

        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "paragraph_open" and tok.level == 0 and i + 1 < len(tokens):
                inline = tokens[i + 1]
                if _is_button(inline):
                    flush()
                    out.append(self._button(inline))
                    i += 3
                    continue
                if _is_lone_image(inline):
                    flush()
                    out.append(self._mj_image(inline))
                    i += 3
                    continue
            if tok.type == "hr" and tok.level == 0:
                flush()
                out.append(f'<mj-divider border-color="{self.ctx.theme.rule}" border-width="1px" padding="8px 24px" />')
                i += 1
                continue
            text_run.append(self._token(tok))
            i += 1
        flush()
        return "\n".join(out)

    def _token(self, tok) -> str:
        kind = tok.type
        if tok.hidden:  # the paragraph of a tight list item: its text goes straight into the <li>
            return ""
        if kind == "inline":
            return self.inline(tok.children or [], self.ctx.line(tok))
        if kind in ("fence", "code_block"):
            return f'<pre style="{self.styles["pre"]}">{escape(tok.content.rstrip(chr(10)))}</pre>'
        if kind == "hr":
            return f'<hr style="border:0;border-top:1px solid {self.ctx.theme.rule};margin:16px 0;" />'
        if kind.endswith("_open"):
            tag = tok.tag
            style = self.styles.get(tag, "")
            if tag in ("th", "td"):
                align = str(tok.attrs.get("style", "")).replace("text-align:", "")
                if align:
                    style = style.replace("text-align:left", f"text-align:{align}")
            if tag in ("h1", "h5", "h6"):  # the title is the only h1; deeper levels look like h4
                style = self.styles["h4"] if tag != "h1" else self.styles["h2"]
            scope = ' scope="col"' if tag == "th" else ""
            start = ""
            if tag == "ol" and tok.attrs.get("start"):
                start = f' start="{int(tok.attrs["start"])}"'
            return f'<{tag}{scope}{start} style="{style}">' if style else f"<{tag}{scope}{start}>"
        if kind.endswith("_close"):
            return f"</{tok.tag}>"
        return ""

    def inline(self, children: Sequence, line: int | None) -> str:
        out = []
        for c in children:
            kind = c.type
            if kind in ("softbreak", "hardbreak") and line:
                line += 1  # errors name the line within a multi-line paragraph
            if kind == "text":
                out.append(self.ctx.merge(c.content, line, html=True))
            elif kind == "softbreak":
                out.append("\n")
            elif kind == "hardbreak":
                out.append("<br />")
            elif kind == "code_inline":
                out.append(f'<code style="{self.styles["code"]}">{escape(c.content)}</code>')
            elif kind in ("em_open", "strong_open", "s_open"):
                out.append(f"<{c.tag}>")
            elif kind in ("em_close", "strong_close", "s_close"):
                out.append(f"</{c.tag}>")
            elif kind == "link_open":
                href = self.ctx.merge(str(c.attrs.get("href", "")), line, html=True)
                out.append(f'<a href="{_attr(href)}" style="{self.styles["a"]}">')
            elif kind == "link_close":
                out.append("</a>")
            elif kind == "footnote_ref":
                out.append(f'<sup style="{self.styles["sup"]}">[{c.meta["id"] + 1}]</sup>')
            elif kind == "image":
                out.append(self._inline_image(c))
        return "".join(out)

    def _inline_image(self, c) -> str:
        width = _image_width(c)
        return (
            f'<img src="{_attr(escape(str(c.attrs.get("src", ""))))}" alt="{_attr(escape(c.content))}" width="{width}" '
            f'style="max-width:100%;height:auto;border:0;" />'
        )

    def _mj_image(self, inline) -> str:
        img = next(k for k in inline.children if k.type == "image")
        width = _image_width(img)
        src = escape(str(img.attrs.get("src", "")))
        return f'<mj-image src="{_attr(src)}" alt="{_attr(escape(img.content))}" width="{width}px" padding="8px 24px 16px" />'

    def _button(self, inline) -> str:
        kids = inline.children
        line = self.ctx.line(inline)
        href = self.ctx.merge(str(kids[0].attrs.get("href", "")), line, html=True)
        label = self.inline(kids[1:-1], line)
        t = self.ctx.theme
        return (
            f'<mj-button href="{_attr(href)}" background-color="{t.accent}" color="#ffffff" font-size="16px" '
            f'font-weight="700" border-radius="6px" inner-padding="12px 24px" padding="8px 24px 20px" '
            f'font-family="{_attr(t.heading_font)}">{label}</mj-button>'
        )


def _attr(value: str) -> str:
    return value.replace('"', "&quot;")


def _image_width(img) -> int:
    raw = str(img.attrs.get("width", "")).removesuffix("px")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= CONTENT_WIDTH else CONTENT_WIDTH


# --- plain text -------------------------------------------------------------------------------


class _TextWriter:
    """Tokens -> text: headings underlined, lists indented, links numbered after references."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.link_base = len(ctx.references)

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
        lines = []
        for r in body:
            # The first cell leads the row; the others are shown as "header: cell" under it.
            lead = f"{header[0]}: {r[0]}" if header[0].strip() else r[0]
            lines.append(_wrap(lead, "- ", "  "))
            for name, cell in zip(header[1:], r[1:]):
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
                out.append(f"[Image: {c.content}]" if c.content else "")
        return "".join(out)

    def _link_number(self, href: str) -> int:
        if href not in self.ctx.links:
            self.ctx.links.append(href)
        return self.link_base + self.ctx.links.index(href) + 1


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
