"""Markdown tokens -> email-safe MJML blocks with inline styles (see markdown.py).

Consecutive text blocks share one ``mj-text``; a lone image becomes ``mj-image``, a lone
``{.button}`` link ``mj-button``, a rule ``mj-divider``. Every element carries its style inline.
"""

from __future__ import annotations

import re
from html import escape
from typing import Sequence

from .markdown_context import MarkdownContext, image_alt

CONTENT_WIDTH = 552  # px inside the 600 px body, after 24 px padding each side
BREAK_BETWEEN_TAGS_RE = re.compile(">\n<")
# A table wider than a phone scrolls inside this box instead of widening the email: width 0 keeps
# it out of the layout tables' sizing (MJML's auto-layout tables would grow to fit it), min-width
# 100% then gives it the column's width.
KEY_POINTS_RE = re.compile(r"key (points|takeaways):?", re.I)
KEY_BOX_STYLE = "margin:8px 0 16px;padding:14px 16px 2px;background-color:#eef3ef;"
TABLE_WRAP_STYLE = "margin:0 0 16px;overflow-x:auto;width:0;min-width:100%;max-width:100%;"


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


class HtmlWriter:
    def __init__(self, ctx: MarkdownContext) -> None:
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
            # word-break/overflow-wrap normal: MJML puts word-break:break-word on every column, which
            # let a narrow column cut "Participants" mid-word; a cell now grows to its longest word.
            "table": "border-collapse:collapse;width:100%;font-size:14px;line-height:1.45;word-break:normal;overflow-wrap:normal;",
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

        key_points = key_points_span(tokens)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if key_points and i == key_points[0]:
                flush()
                out.append(self._key_points_box(tokens[key_points[0] : key_points[1]]))
                i = key_points[1]
                continue
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
        if kind == "table_open":
            return f'<div class="nl-table-wrap" style="{TABLE_WRAP_STYLE}"><table class="nl-table" style="{self.styles["table"]}">'
        if kind == "table_close":
            return "</table></div>"
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
                out.append(self._citation(c.meta["id"] + 1))
            elif kind == "image":
                out.append(self._inline_image(c))
        return _keep_breaks_between_tags("".join(out))

    def _key_points_box(self, tokens: Sequence) -> str:
        """The "Key points" section as a tinted box: its heading smaller, its text as written."""
        t = self.ctx.theme
        heading = self.inline(tokens[1].children or [], self.ctx.line(tokens[1]))
        inner = "".join(self._token(tok) for tok in tokens[3:])
        return (
            '<mj-text css-class="nl-body nl-key" padding="0 24px 8px">'
            f'<div class="nl-key-box" style="{KEY_BOX_STYLE}border-left:4px solid {t.accent};">'
            f'<h2 style="margin:0 0 8px;font-family:{t.heading_font};font-size:18px;line-height:1.3;font-weight:700;color:{t.text};">{heading}</h2>'
            f"{inner}</div></mj-text>"
        )

    def _citation(self, number: int) -> str:
        """A citation mark that leads to its reference (``<li id="ref-N">`` in the reference list;
        Apple Mail, Outlook and webmail follow it, others show the plain mark)."""
        return (
            f'<sup style="{self.styles["sup"]}"><a href="#ref-{number}" aria-label="reference {number}" '
            f'style="color:{self.ctx.theme.link};text-decoration:none;">[{number}]</a></sup>'
        )

    def _inline_image(self, c) -> str:
        width = _image_width(c)
        return (
            f'<img src="{_attr(escape(str(c.attrs.get("src", ""))))}" alt="{_attr(escape(image_alt(c)))}" width="{width}" '
            f'style="max-width:100%;height:auto;border:0;" />'
        )

    def _mj_image(self, inline) -> str:
        img = next(k for k in inline.children if k.type == "image")
        width = _image_width(img)
        src = escape(str(img.attrs.get("src", "")))
        return f'<mj-image src="{_attr(src)}" alt="{_attr(escape(image_alt(img)))}" width="{width}px" padding="8px 24px 16px" />'

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


def key_points_span(tokens: Sequence) -> tuple[int, int] | None:
    """Where the optional "Key points" section is: a ``## Key points`` heading that is the body's
    first heading, up to the next ``##`` (or a rule). A plain section, so it reads the same in the
    text part, on the archive page and in any Markdown viewer."""
    first = next((i for i, tok in enumerate(tokens) if tok.type == "heading_open"), None)
    if first is None or tokens[first].tag != "h2" or not KEY_POINTS_RE.fullmatch(tokens[first + 1].content.strip()):
        return None
    end = first + 3
    while end < len(tokens) and not (
        (tokens[end].type == "heading_open" and tokens[end].tag in ("h1", "h2")) or (tokens[end].type == "hr" and tokens[end].level == 0)
    ):
        end += 1
    return first, end


def _keep_breaks_between_tags(html: str) -> str:
    """A line break between two tags carries a space: the MJML compiler drops a text node that is
    only "\n" between tags (it takes it for indentation), which glued ``**more**`` and a `code` on
    the next line into "morecode". Text is escaped here, so every ">\n<" is such a break."""
    return BREAK_BETWEEN_TAGS_RE.sub("> \n<", html)


def _attr(value: str) -> str:
    return value.replace('"', "&quot;")


def _image_width(img) -> int:
    raw = str(img.attrs.get("width", "")).removesuffix("px")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= CONTENT_WIDTH else CONTENT_WIDTH
