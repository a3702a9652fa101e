"""Markdown fidelity: what the writer typed is what the reader reads, checked against the specs.

Every example of the CommonMark spec 0.31.2 (the version markdown-it-py 4 implements), the GFM
spec's table and strikethrough examples and mdit-py-plugins' footnote fixtures (all vendored in
tests/fixtures/commonmark/, see its README) goes through the project's lowest-level writer,
``render_body`` (the same call ``render_issue`` makes), and its MJML blocks are compiled by
mjml-python, every example, not a subset: the whole file runs in about 3 s (bench/commonmark.py
times its parts), and the compiler is where the glued-words defect lived. Compared:

- the HTML part: its text content (tags stripped, entities decoded, whitespace collapsed, block
  boundaries as spaces, image alt text kept) equals that of the spec's reference HTML;
- the text part: its words, without what it adds for layout (markers, underlines, link numbers,
  see spec_examples.text_part_words), equal the reference's, tables read as "header: cell" records;
- examples with raw HTML (those where markdown-it with ``html`` on finds an HTML block or inline
  tag): raw HTML is off by design, so each tag must show as text in both parts, and no tag the
  writers do not make may reach the HTML.

Deliberate differences, none of which changes the text: headings are shifted one level (the
issue's title is the only h1, a body h1 looks like h2), a lone image or a lone ``{.button}`` link
becomes an MJML block, a table in the text part is a list of records, links are numbered in the
text part. Where an example cannot match on purpose it is listed in DELIBERATE with the reason.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from spec_examples import Example, collapse, commonmark, footnotes, gfm, tags_in, text_content, text_part_reference, text_part_words

from newsletter.build.markdown import RenderedBody, Theme, render_body
from newsletter.build.render import compile_mjml
from newsletter.errors import IssueError

THEME = Theme(text="#111111", link="#0000ee", accent="#2f5d50")
WRITER_TAGS = set("mj-text mj-image mj-button mj-divider p h1 h2 h3 h4 h5 h6 ul ol li blockquote table thead tbody tr th td pre code em strong s a sup img br hr".split())

# Examples whose result differs on purpose, with the reason (checked: each still renders).
DELIBERATE = {
    "footnote-7": "a source cited twice keeps its number [1] both times (a reference list, not markdown-it's [1:1] back-links)",
    "footnote-18": "fixture for markdown-it's DISABLE-CODEBLOCKS option, which the project does not set: 4 spaces make code",
    "footnote-19": "a citation without a definition is an error here (a newsletter must not cite nothing), not text",
    "footnote-20": "fixture for the ALWAYS_MATCH-REFS option; and a citation without a definition is an error here",
}
UNDEFINED_CITATION = {"footnote-19", "footnote-20"}

_RAW_HTML_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
TAG_START_RE = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9-]*|!--|\?|![A-Z]|!\[CDATA\[)")


def render(example: Example) -> tuple[RenderedBody, str]:
    """Both parts of an example: the writer's output and the HTML mjml-python compiles from it."""
    body = render_body(example.markdown, Path(f"{example.id}.md"), 1, THEME)
    html = compile_mjml(f"<mjml><mj-body><mj-section><mj-column>{body.mjml}</mj-column></mj-section></mj-body></mjml>", Path("email.mjml.j2"))
    return body, html


def raw_html(example: Example) -> list[str]:
    """The raw HTML markdown-it would pass through if html were on: the tags of HTML blocks and
    the inline tags."""
    found = []
    for tok in _RAW_HTML_PARSER.parse(example.markdown):
        if tok.type == "html_block":
            found.append(tok.content)
        elif tok.type == "inline":
            found.extend(c.content for c in tok.children or [] if c.type == "html_inline")
    return found


def link_numbers(body: RenderedBody) -> range:
    """The numbers the text part gives links: after the references."""
    return range(len(body.references) + 1, len(body.references) + len(body.links) + 1)


SPEC = [ex for ex in commonmark() + gfm() if ex.id not in DELIBERATE]


@pytest.mark.parametrize("example", [ex for ex in SPEC if not raw_html(ex)], ids=lambda ex: ex.id)
def test_spec_example_reads_as_the_reference(example: Example) -> None:
    body, html = render(example)
    assert text_content(html) == text_content(example.html), f"HTML part, {example.section}:\n{example.markdown}"
    words = text_part_words(body.text, example.html, link_numbers(body))
    assert words == text_part_reference(example.html), f"text part, {example.section}:\n{example.markdown}\n--- text part:\n{body.text}"


@pytest.mark.parametrize("example", [ex for ex in SPEC if raw_html(ex)], ids=lambda ex: ex.id)
def test_raw_html_example_shows_the_html_as_text(example: Example) -> None:
    """Markdown inside a tag still applies (``<a href="\\*">`` shows ``<a href="*">``), so what
    must show is each tag's opening; and nothing but the writers' own tags reaches the HTML."""
    body, html = render(example)
    assert tags_in(body.mjml) <= WRITER_TAGS
    shown_html, shown_text = text_content(html), collapse(body.text)
    for snippet in raw_html(example):
        for opening in TAG_START_RE.findall(unescape(snippet)):
            assert opening in shown_html, f"{opening!r} not shown in the HTML part:\n{example.markdown}"
            assert opening in shown_text, f"{opening!r} not shown in the text part:\n{example.markdown}"


def test_the_spec_examples_are_all_there() -> None:
    """The vendored files are whole: 652 CommonMark examples, 8 tables, 2 strikethrough, 20 notes."""
    assert len(commonmark()) == 652
    assert [ex.section for ex in gfm()].count("Tables (extension)") == 8
    assert [ex.section for ex in gfm()].count("Strikethrough (extension)") == 2
    assert len(footnotes()) == 20
    assert len([ex for ex in commonmark() if not raw_html(ex)]) == 580


# --- footnotes: the body keeps the citations, the notes become the issue's reference list --------

FOOTNOTE_SECTION_RE = re.compile(r'<hr class="footnotes-sep">.*', re.S)
NOTE_RE = re.compile(r'<li id="fn\d+" class="footnote-item">(.*?)</li>\n(?=<li id="fn|</ol>)', re.S)
BACKREF_RE = re.compile(r'<a href="#fnref[^"]*" class="footnote-backref">.*?</a>')


@pytest.mark.parametrize("example", [ex for ex in footnotes() if ex.id not in DELIBERATE], ids=lambda ex: ex.id)
def test_footnote_example_reads_as_the_reference(example: Example) -> None:
    body, html = render(example)
    reference_body = FOOTNOTE_SECTION_RE.sub("", example.html)
    assert text_content(html) == text_content(reference_body), example.markdown
    assert text_part_words(body.text, reference_body, link_numbers(body)) == text_part_reference(reference_body), body.text
    notes = [text_content(BACKREF_RE.sub("", note)) for note in NOTE_RE.findall(example.html)]
    assert [collapse(ref.text) for ref in body.references] == notes, example.markdown


@pytest.mark.parametrize("example_id", sorted(UNDEFINED_CITATION))
def test_a_citation_without_a_note_is_an_error(example_id: str) -> None:
    example = next(ex for ex in footnotes() if ex.id == example_id)
    with pytest.raises(IssueError, match="cited but not defined"):
        render(example)


@pytest.mark.parametrize("example_id", sorted(set(DELIBERATE) - UNDEFINED_CITATION))
def test_deliberate_differences_still_render(example_id: str) -> None:
    example = next(ex for ex in commonmark() + gfm() + footnotes() if ex.id == example_id)
    body, html = render(example)
    assert text_content(html) and body.text.strip()
