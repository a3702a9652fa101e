"""One pass of stdlib html.parser over the email's HTML; every HTML check reads the result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
INLINE = {"a", "abbr", "b", "code", "em", "i", "s", "small", "span", "strong", "sub", "sup", "u", "font"}
FORBIDDEN = {"script", "form", "iframe", "object", "embed", "audio", "video"}
NOT_TEXT = {"head", "title", "style", "script"}
HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none", re.I)


@dataclass
class Link:
    href: str
    text: str = ""
    aria_label: str = ""
    image_alt: str = ""  # alt text of images inside the link (counts as its text)


@dataclass
class Table:
    role: str | None
    has_th: bool = False


@dataclass
class HtmlScan:
    lang: str | None = None
    title: str | None = None
    headings: list[tuple[int, str]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    images: list[dict[str, str | None]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # tag names, plus 'link rel=stylesheet'
    visible_text: str = ""  # body text a reader sees, whitespace collapsed
    hidden_text: str = ""  # display:none text (the preheader)
    ids: set[str] = field(default_factory=set)  # id and name attributes: targets of "#..." links


def scan_html(html: str) -> HtmlScan:
    parser = _Scanner()
    parser.feed(html)
    parser.close()
    return parser.result()


def collapse(text: str) -> str:
    return " ".join(text.split())


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = HtmlScan()
        self._stack: list[tuple[str, bool]] = []  # (tag, hidden) for open non-void elements
        self._visible: list[str] = []
        self._hidden: list[str] = []
        self._title: list[str] | None = None
        self._heading: tuple[int, list[str]] | None = None
        self._link: Link | None = None
        self._link_text: list[str] = []
        self._tables: list[Table] = []

    def result(self) -> HtmlScan:
        self.scan.visible_text = collapse("".join(self._visible))
        self.scan.hidden_text = collapse("".join(self._hidden))
        return self.scan

    # --- structure ----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._element(tag, a)
        if tag not in VOID:
            hidden = self._hidden_now() or bool(HIDDEN_STYLE_RE.search(a.get("style") or ""))
            self._stack.append((tag, hidden))
        if tag not in INLINE:
            self._visible.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.scan.title = collapse("".join(self._title))
            self._title = None
        elif tag == "a" and self._link is not None:
            self._link.text = collapse("".join(self._link_text))
            self._link = None
        elif re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.scan.headings.append((self._heading[0], collapse("".join(self._heading[1]))))
            self._heading = None
        elif tag == "table" and self._tables:
            self._tables.pop()
        for i in range(len(self._stack) - 1, -1, -1):  # tolerate unclosed inner elements
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break
        if tag not in INLINE:
            self._visible.append(" ")

    def _element(self, tag: str, a: dict[str, str | None]) -> None:
        self.scan.ids.update(v for v in (a.get("id"), a.get("name") if tag == "a" else None) if v)
        if tag == "html":
            self.scan.lang = (a.get("lang") or "").strip() or None
        elif tag == "title":
            self._title = []
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = (int(tag[1]), [])
        elif tag == "a":
            self._link = Link(href=(a.get("href") or "").strip(), aria_label=(a.get("aria-label") or "").strip())
            self._link_text = []
            self.scan.links.append(self._link)
        elif tag == "img":
            self.scan.images.append(a)
            if self._link is not None:
                self._link.image_alt += a.get("alt") or ""
        elif tag == "table":
            table = Table(role=a.get("role"))
            self.scan.tables.append(table)
            self._tables.append(table)
        elif tag == "th" and self._tables:
            self._tables[-1].has_th = True
        elif tag == "link" and "stylesheet" in (a.get("rel") or "").lower():
            self.scan.forbidden.append("link rel=stylesheet")
        if tag in FORBIDDEN:
            self.scan.forbidden.append(tag)

    # --- text ---------------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        if any(tag in NOT_TEXT for tag, _ in self._stack):
            return
        (self._hidden if self._hidden_now() else self._visible).append(data)
        if self._heading is not None:
            self._heading[1].append(data)
        if self._link is not None:
            self._link_text.append(data)

    def _hidden_now(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]
