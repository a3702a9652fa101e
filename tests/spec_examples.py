"""The vendored spec examples (tests/fixtures/commonmark/) and the text comparison the
conformance test (test_commonmark.py) makes: what a reader reads, not how the HTML is written."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "commonmark"
FENCE = "`" * 32 + " example"

# Elements whose edges separate words for a reader (a block boundary counts as a space).
BLOCK_TAGS = frozenset(
    "address article aside blockquote body br dd div dl dt figure footer h1 h2 h3 h4 h5 h6 header hr html "
    "li ol p pre section table tbody td tfoot th thead tr ul".split()
)
UNSEEN_TAGS = frozenset({"head", "style", "script", "title"})


@dataclass(frozen=True)
class Example:
    source: str  # "commonmark", "gfm" or "footnote"
    number: int
    section: str
    markdown: str
    html: str

    @property
    def id(self) -> str:
        return f"{self.source}-{self.number}"


def _spec_examples(text: str, source: str) -> list[Example]:
    """Examples of a spec.txt: fenced by 32 backticks, Markdown and HTML split by a lone '.'."""
    lines = text.splitlines(keepends=True)
    out: list[Example] = []
    section, i = "", 0
    while i < len(lines):
        heading = re.match(r"#{1,6} (.*)", lines[i])
        if heading:
            section = heading.group(1).strip()
        if lines[i].startswith(FENCE):
            parts: list[list[str]] = [[]]
            i += 1
            while not lines[i].startswith("`" * 32):
                if lines[i].strip() == "." and len(parts) == 1:
                    parts.append([])
                else:
                    parts[-1].append(lines[i])
                i += 1
            markdown, html = ("".join(p).replace("→", "\t") for p in parts)
            out.append(Example(source, len(out) + 1, section, markdown, html))
        i += 1
    return out


def _fixture_examples(text: str, source: str) -> list[Example]:
    """markdown-it's fixture format: a title line, then '.', Markdown, '.', HTML, '.'."""
    out: list[Example] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].rstrip("\n") == "." and i > 0:
            title = lines[i - 1].strip()
            parts: list[list[str]] = [[], []]
            for part in parts:
                i += 1
                while lines[i].rstrip("\n") != ".":
                    part.append(lines[i])
                    i += 1
            out.append(Example(source, len(out) + 1, title, "".join(parts[0]), "".join(parts[1])))
        i += 1
    return out


@lru_cache(maxsize=1)
def commonmark() -> tuple[Example, ...]:
    return tuple(_spec_examples((FIXTURES / "spec.txt").read_text(encoding="utf-8"), "commonmark"))


@lru_cache(maxsize=1)
def gfm() -> tuple[Example, ...]:
    rows = json.loads((FIXTURES / "gfm-table-strikethrough.json").read_text(encoding="utf-8"))
    return tuple(Example("gfm", r["example"], r["section"], r["markdown"], r["html"]) for r in rows)


@lru_cache(maxsize=1)
def footnotes() -> tuple[Example, ...]:
    return tuple(_fixture_examples((FIXTURES / "footnote.md").read_text(encoding="utf-8"), "footnote"))


class _TextContent(HTMLParser):
    """Text a reader sees: tags dropped, entities decoded, block edges as spaces, image alt kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []
        self.unseen = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self.tags.append(tag)
        if tag in UNSEEN_TAGS:
            self.unseen += 1
        if tag in BLOCK_TAGS:
            self.parts.append(" ")
        if tag == "img":  # shown when images are off, and read out by screen readers
            self.parts.append(" " + (dict(attrs).get("alt") or "") + " ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in UNSEEN_TAGS:
            self.unseen -= 1
        if tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.unseen:
            self.parts.append(data)


def text_content(html: str) -> str:
    parser = _TextContent()
    parser.feed(html)
    parser.close()
    return collapse("".join(parser.parts))


def tags_in(html: str) -> set[str]:
    parser = _TextContent()
    parser.feed(html)
    parser.close()
    return set(parser.tags)


def collapse(text: str) -> str:
    return " ".join(text.split())



class _RecordsContent(_TextContent):
    """Like _TextContent, with each table written as the text part writes it: per body row,
    "header: cell" for every column (so the words and their order can be compared)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] | None = None
        self.outside: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.rows, self.outside, self.parts = [], self.parts, []
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("th", "td") and self.rows is not None:
            self.parts = []
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        super().handle_endtag(tag)
        if tag in ("th", "td") and self.rows is not None:
            self.rows[-1].append(collapse("".join(self.parts)))
        elif tag == "table" and self.rows is not None:
            self.outside.append(" " + _records(self.rows) + " ")
            self.parts, self.rows = self.outside, None


def _records(rows: list[list[str]]) -> str:
    header, body = rows[0], rows[1:]
    if not body:
        return " ".join(header)
    out = []
    for row in body:
        cells = (row + [""] * len(header))[: len(header)]
        out.extend(f"{name}: {cell}" if name else cell for name, cell in zip(header, cells, strict=True))
    return " ".join(out)


def text_part_reference(html: str) -> list[str]:
    """The words the text part should have for a reference HTML, tables as records."""
    parser = _RecordsContent()
    parser.feed(html)
    parser.close()
    return collapse("".join(parser.parts)).casefold().split()


def code_lines(html: str) -> set[str]:
    """Lines of the reference's code blocks: the text part indents them and they keep their markers."""
    blocks = re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
    return {unescape(line) for block in blocks for line in block.splitlines()}



QUOTE_RE = re.compile(r"^(?:> ?)+")
MARKER_RE = re.compile(r"^\s*(?:-|\d+\.) ")
RULE_LINE_RE = re.compile(r"^-+$")  # heading underlines and the rule the text part draws for <hr>
LINK_NUMBER_RE = re.compile(r" \[(\d+)\]")


def text_part_words(text: str, reference_html: str, link_numbers: range) -> list[str]:
    """The words of the text part without what it adds for layout: quote and list markers at line
    starts, underlines and rules, link numbers (" [3]"), the "[Image: …]" around an alt text. Each
    is taken off only where the reference has the element that draws it, so text that merely looks
    like one ("1234567890. not ok", "\\> foo") is compared as it is."""
    has = {tag: f"<{tag}" in reference_html for tag in ("blockquote", "li", "hr", "h1", "h2", "table")}
    code = code_lines(reference_html)
    words: list[str] = []
    for line in text.splitlines():
        if has["blockquote"]:
            line = QUOTE_RE.sub("", line)
        if line.startswith("    ") and line[4:] in code:
            words.extend(line.split())
            continue
        if RULE_LINE_RE.match(line) and (has["hr"] or has["h1"] or has["h2"]):
            continue
        if has["li"] or has["table"]:
            line = MARKER_RE.sub("", line, count=1)
        line = LINK_NUMBER_RE.sub(lambda m: "" if int(m.group(1)) in link_numbers else m.group(0), line)
        words.extend(_without_image_brackets(line).split())
    return [w.casefold() for w in words]


def _without_image_brackets(line: str) -> str:
    """'[Image: a [b] c]' -> ' a [b] c ': the alt text as the HTML part's reader gets it."""
    while (start := line.find("[Image: ")) >= 0:
        depth, end = 1, start + len("[Image: ")
        while end < len(line) and depth:
            depth += {"[": 1, "]": -1}.get(line[end], 0)
            end += 1
        line = line[:start] + " " + line[start + len("[Image: ") : end - 1] + " " + line[end:]
    return line
