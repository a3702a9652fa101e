"""Markdown body -> email-safe MJML blocks and plain text, from one token stream."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from newsletter.build.markdown import CONTENT_WIDTH, WIDTH, RenderedBody, Theme, render_body, wrap_text
from newsletter.errors import IssueError

THEME = Theme(text="#111111", link="#0000ee", accent="#2f5d50")


def render(source: str, first_line: int = 1) -> RenderedBody:
    return render_body(textwrap.dedent(source).lstrip("\n"), Path("issue.md"), first_line, THEME)


def error(source: str, first_line: int = 1) -> str:
    with pytest.raises(IssueError) as info:
        render(source, first_line)
    assert info.value.hint
    return info.value.message


def long_lines(text: str) -> list[str]:
    """Lines over 78 characters that are not (and do not end with) a long URL."""
    return [ln for ln in text.splitlines() if len(ln) > WIDTH and not re.search(r"\S+://\S+$", ln)]


# --- block elements ---------------------------------------------------------------------------


def test_headings_get_inline_styles_and_text_underlines() -> None:
    out = render(
        """
        # Top
        ## Second
        ### Third
        #### Fourth
        ##### Fifth
        """
    )
    assert re.search(r'<h2 style="[^"]*font-size:22px;[^"]*color:#111111;">Second</h2>', out.mjml)
    assert re.search(r'<h3 style="[^"]*font-size:18px;[^"]*">Third</h3>', out.mjml)
    assert re.search(r'<h4 style="[^"]*font-size:16px;[^"]*">Fourth</h4>', out.mjml)
    assert re.search(r'<h1 style="[^"]*font-size:22px;[^"]*">Top</h1>', out.mjml)  # body h1 looks like h2
    assert re.search(r'<h5 style="[^"]*font-size:16px;[^"]*">Fifth</h5>', out.mjml)
    assert "Second\n------\n" in out.text
    assert "\nTHIRD\n" in out.text
    assert "\nFourth\n" in out.text


def test_paragraphs_and_inline_markup() -> None:
    out = render(
        """
        One *em* **strong** ~~gone~~ `a <b> & c` line
        continues.  
        After a hard break.

        Two <script>alert(1)</script> & more.
        """
    )
    assert '<p style="margin:0 0 16px;">One <em>em</em> <strong>strong</strong> <s>gone</s> ' in out.mjml
    assert re.search(r'<code style="[^"]*font-family:Menlo[^"]*">a &lt;b&gt; &amp; c</code>', out.mjml)
    assert "<br />" in out.mjml
    assert "Two &lt;script&gt;alert(1)&lt;/script&gt; &amp; more." in out.mjml  # raw HTML is text
    assert "<script>" not in out.mjml
    assert "One em strong gone a <b> & c line continues.\nAfter a hard break.\n" in out.text
    assert "Two <script>alert(1)</script> & more." in out.text


def test_nested_and_ordered_lists() -> None:
    out = render(
        """
        - outer one
          - inner a
          - inner b
        - outer two

        Then:

        3. three
        4. four
        """
    )
    assert '<ul style="margin:0 0 16px;padding-left:24px;">' in out.mjml
    assert re.search(r'<li style="[^"]*">outer one<ul style="[^"]*"><li style="[^"]*">inner a</li>', out.mjml)
    assert '<ol start="3" style="margin:0 0 16px;padding-left:24px;">' in out.mjml
    assert "<p" not in re.sub(r"<p style=\"margin:0 0 16px;\">Then:</p>", "", out.mjml)  # tight lists: no <p> in <li>
    assert "- outer one\n  - inner a\n  - inner b\n- outer two\n" in out.text
    assert "3. three\n4. four\n" in out.text


def test_loose_list_items_keep_their_paragraphs() -> None:
    out = render(
        """
        - first

        - second
        """
    )
    assert re.search(r'<li style="[^"]*"><p style="[^"]*">first</p></li>', out.mjml)


def test_blockquote() -> None:
    out = render(
        """
        > Quoted *text*
        > on two lines.
        >
        > Second paragraph.
        """
    )
    assert re.search(r'<blockquote style="[^"]*border-left:4px solid #2f5d50;[^"]*"><p style="[^"]*">Quoted <em>text</em>\non two lines.</p>', out.mjml)
    assert "> Quoted text on two lines.\n" in out.text
    assert "> Second paragraph.\n" in out.text


def test_lone_image_becomes_mj_image_with_alt_and_width() -> None:
    out = render(
        """
        ![A chart "before" & after](https://example.org/chart.png?a=1&b=2){width=400}

        ![Too wide](https://example.org/wide.png){width=900}

        ![No width](https://example.org/plain.png)
        """
    )
    assert (
        '<mj-image src="https://example.org/chart.png?a=1&amp;b=2" alt="A chart &quot;before&quot; &amp; after" '
        'width="400px" padding="8px 24px 16px" />'
    ) in out.mjml
    assert f'alt="Too wide" width="{CONTENT_WIDTH}px"' in out.mjml
    assert f'alt="No width" width="{CONTENT_WIDTH}px"' in out.mjml
    assert '[Image: A chart "before" & after]' in out.text


def test_inline_image_stays_in_the_paragraph() -> None:
    out = render("An ![icon](https://example.org/i.png){width=16} inline.\n")
    assert '<img src="https://example.org/i.png" alt="icon" width="16" style="max-width:100%;height:auto;border:0;" />' in out.mjml
    assert "<mj-image" not in out.mjml
    assert "An [Image: icon] inline." in out.text


def test_rules() -> None:
    out = render("Above.\n\n---\n\nBelow.\n\n> quoted\n>\n> ***\n")
    assert '<mj-divider border-color="#d8d2c4" border-width="1px" padding="8px 24px" />' in out.mjml
    assert '<hr style="border:0;border-top:1px solid #d8d2c4;margin:16px 0;" />' in out.mjml  # inside the quote
    assert "\n" + "-" * 20 + "\n" in out.text


def test_tables_html_and_text() -> None:
    out = render(
        """
        | Measure | Before | After |
        |:--|--:|:-:|
        | Score | 62 | **31** |
        | Sleep | 5.5 | 7 |
        """
    )
    assert re.search(r'<table class="nl-table" style="border-collapse:collapse;width:100%;[^"]*"><thead><tr><th scope="col" style="[^"]*text-align:left;', out.mjml)
    assert re.search(r'<th scope="col" style="[^"]*text-align:right;[^"]*">Before</th>', out.mjml)
    assert re.search(r'<td style="[^"]*text-align:center;[^"]*"><strong>31</strong></td>', out.mjml)
    assert "- Measure: Score\n  Before: 62\n  After: 31\n- Measure: Sleep\n  Before: 5.5\n  After: 7\n" in out.text


def test_code_blocks_are_escaped_and_indented() -> None:
    out = render(
        """
        ```python
        if a < b and c > d:
            print("&")
        ```
        """
    )
    assert re.search(r'<pre style="[^"]*white-space:pre-wrap;[^"]*">if a &lt; b and c &gt; d:\n    print\(&quot;&amp;&quot;\)</pre>', out.mjml)
    assert '    if a < b and c > d:\n        print("&")\n' in out.text


def test_button_syntax_becomes_mj_button() -> None:
    out = render("[Book a *call*](https://example.org/book?x=1&y=2){.button}\n\n[Plain](https://example.org/plain){.other}\n")
    assert re.search(
        r'<mj-button href="https://example.org/book\?x=1&amp;y=2" background-color="#2f5d50" color="#ffffff" [^>]*>Book a <em>call</em></mj-button>',
        out.mjml,
    )
    assert out.mjml.count("<mj-button") == 1  # only .button makes a button
    assert "Book a call [1]" in out.text
    assert out.links == ("https://example.org/book?x=1&y=2", "https://example.org/plain")


# --- links, footnotes, references ----------------------------------------------------------------


def test_links_are_numbered_after_the_references_in_text() -> None:
    out = render(
        """
        A [study](https://example.org/s), cited.[^b] Then [again](https://example.org/s),
        [another](https://example.org/t) and a bare https://example.org/bare link.[^a]

        [^a]: Second cited. https://doi.org/10.1000/2
        [^b]: First cited. https://doi.org/10.1000/1
        """
    )
    assert [(r.number, r.label) for r in out.references] == [(1, "b"), (2, "a")]
    assert "A study [3], cited.[1] Then again [3], another [4] and a bare https://example.org/bare link.[2]" in " ".join(
        out.text.split()
    )
    assert out.links == ("https://example.org/s", "https://example.org/t")
    assert '<a href="https://example.org/s" style="color:#0000ee;text-decoration:underline;">study</a>' in out.mjml
    assert '<sup style="font-size:12px;line-height:0;"><a href="#ref-1" aria-label="reference 1" style="color:#0000ee;text-decoration:none;">[1]</a></sup>' in out.mjml
    assert "https://doi.org" not in out.text  # references are rendered by the template, not in the body


def test_footnotes_become_references_with_doi_and_pubmed_urls() -> None:
    out = render(
        """
        First.[^smith] Second.[^pm] Third.[^link] First again.[^smith]

        [^smith]: Smith J. A trial. *Journal*. 2020;1:2. https://doi.org/10.1038/s41591-021-01336-3
        [^pm]: Roe R. Cohort. PubMed: https://pubmed.ncbi.nlm.nih.gov/32500209/.
        [^link]: Doe A. [The article](https://doi.org/10.1000/abc).
        """,
        first_line=20,
    )
    smith, pm, link = out.references
    assert (smith.number, smith.label, smith.line) == (1, "smith", 22)
    assert smith.text == "Smith J. A trial. Journal. 2020;1:2. https://doi.org/10.1038/s41591-021-01336-3"
    assert smith.urls == ("https://doi.org/10.1038/s41591-021-01336-3",)
    assert pm.urls == ("https://pubmed.ncbi.nlm.nih.gov/32500209/",)  # the full stop is not part of it
    assert link.text == "Doe A. The article (https://doi.org/10.1000/abc)."  # a linked DOI keeps its URL
    assert link.urls == ("https://doi.org/10.1000/abc",)
    assert out.mjml.count('href="#ref-1"') == 2
    assert "First.[1] Second.[2] Third.[3] First again.[1]" in out.text


def test_footnote_errors_name_the_line() -> None:
    assert error("Para.\n\nLine one\nline two[^x].\n", first_line=10) == "issue.md:13: footnote [^x] is cited but not defined"
    assert error("Cited.[^a]\n\n[^a]: A.\n[^b]: B.\n", first_line=10) == "issue.md:13: footnote [^b] is defined but never cited"


# --- merge fields ---------------------------------------------------------------------------


def test_merge_fields_become_placeholders_in_both_parts() -> None:
    out = render(
        """
        Hi {{ first_name }} & {{first_name}}: read it at {{ webview_url }}.

        [Unsubscribe]({{ unsubscribe_url }}) or [view]({{webview_url}}).

        [Leave]({{ unsubscribe_url }}){.button}
        """
    )
    assert "Hi %%first_name%% &amp; %%first_name%%: read it at %%webview_url%%." in out.mjml
    assert '<a href="%%unsubscribe_url%%" style="color:#0000ee;text-decoration:underline;">Unsubscribe</a>' in out.mjml
    assert '<a href="%%webview_url%%"' in out.mjml
    assert '<mj-button href="%%unsubscribe_url%%"' in out.mjml
    assert "Hi %%first_name%% & %%first_name%%: read it at %%webview_url%%." in out.text
    assert "Unsubscribe [1] or view [2]." in out.text
    assert out.links == ("%%unsubscribe_url%%", "%%webview_url%%")
    assert "{{" not in out.mjml + out.text


def test_unknown_merge_field_names_the_line() -> None:
    assert error("Hello {{ first_name }},\nand {{ surname }}.\n", first_line=7) == "issue.md:8: unknown merge field '{{ surname }}'"
    assert error("# Hi {{ nickname }}\n", first_line=7) == "issue.md:7: unknown merge field '{{ nickname }}'"
    assert error("| a |\n|---|\n| {{ x }} |\n", first_line=1) == "issue.md:3: unknown merge field '{{ x }}'"


# --- text wrapping ----------------------------------------------------------------------------


def test_text_is_wrapped_at_78_columns_but_urls_are_never_broken() -> None:
    url = "https://example.org/" + "a-very-long-path-segment/" * 5
    out = render(
        f"""
        {"word " * 60}

        - {"item " * 30}
          - {"nested " * 20}

        > {"quoted " * 20}

        See {url} for more, and the [article]({url}).

        ## {"A very long heading " * 6}
        """
    )
    assert long_lines(out.text) == []
    assert url in out.text.split()  # unbroken
    assert max(len(ln) for ln in out.text.splitlines()) > WIDTH  # ... on a line of its own
    heading = out.text[out.text.index("A very long heading") :].splitlines()
    assert len(heading[0]) <= WIDTH and len(heading[1]) <= WIDTH
    assert set(heading[2]) == {"-"}


def test_wrap_text_filter() -> None:
    assert wrap_text("one  two\nthree\n\n\nfour") == "one two three\n\nfour"
    wrapped = wrap_text("x " * 100, indent="  ")
    assert all(ln.startswith("  ") and len(ln) <= WIDTH for ln in wrapped.splitlines())


# --- line breaks between inline elements (issue 17) -----------------------------------------------

INLINE_KINDS = {
    "text": "plain",
    "link": "[link](https://a.example/)",
    "em": "*em*",
    "strong": "**strong**",
    "code": "`code`",
    "strike": "~~gone~~",
    "image": "![alt](https://a.example/i.png)",
    "autolink": "<https://b.example/>",
    "citation": "[^note]",
}


def _compiled_text(mjml_blocks: str) -> str:
    """The text a reader of the compiled HTML part sees (tags dropped, whitespace collapsed)."""
    from newsletter.build.render import compile_mjml

    html = compile_mjml(f"<mjml><mj-body><mj-section><mj-column>{mjml_blocks}</mj-column></mj-section></mj-body></mjml>", Path("t.mjml"))
    body = re.sub(r"<br[^>]*>|</p>", " ", re.search(r"<p[ >].*</p>", html, re.S).group(0))
    return " ".join(re.sub(r"<img [^>]*alt=\"([^\"]*)\"[^>]*>", r"\1", re.sub(r"<(?!img)[^>]+>", "", body)).split())


def test_the_issue_paragraph_keeps_every_line_break() -> None:
    out = render(
        """
        See [the trial](https://a.example/)
        which showed *a result*
        and **more**
        `code`
        end.

        [link](https://x.example/)
        [link](https://y.example/)
        """
    )
    assert _compiled_text(out.mjml) == "See the trial which showed a result and more code end. link link"
    assert "and more code end." in out.text
    assert "link [2] link [3]" in out.text


@pytest.mark.parametrize("first", INLINE_KINDS)
@pytest.mark.parametrize("second", INLINE_KINDS)
@pytest.mark.parametrize("line_break", ["\n", "  \n", "\\\n"], ids=["soft", "hard-spaces", "hard-backslash"])
def test_a_line_break_separates_any_two_inline_elements(first: str, second: str, line_break: str) -> None:
    source = f"x {INLINE_KINDS[first]}{line_break}{INLINE_KINDS[second]} y\n"
    if "citation" in (first, second):
        source += "\n[^note]: A. Author. A note. 2020.\n"
    out = render_body(source, Path("issue.md"), 1, THEME)
    words = _compiled_text(out.mjml).split()
    assert len(words) == 4, f"HTML part glued {first} and {second}: {words}"
    numbers = [re.fullmatch(r"\[(\d+)\]", w) for w in out.text.split()]
    text_words = [w for w, n in zip(out.text.split(), numbers, strict=True) if not (n and int(n.group(1)) > len(out.references))]
    assert len(text_words) == 4 + (first == "image") + (second == "image"), f"text part glued {first} and {second}: {text_words}"


# --- Key points -------------------------------------------------------------------------------


KEY_POINTS = """
    *Research summary as of December 2026.*

    ## Key points

    - Esketamine is approved for treatment-resistant depression.[^a]
    - The PTSD evidence is **mixed**.

    ## The trials

    Text of the first section.

    [^a]: Doe A. A trial. https://doi.org/10.1000/1
    """


def test_a_key_points_section_written_first_becomes_a_box_and_a_plain_block_in_text() -> None:
    out = render(KEY_POINTS)
    box = re.search(r'<mj-text css-class="nl-body nl-key"[^>]*><div class="nl-key-box" style="([^"]*)">(.*?)</div></mj-text>', out.mjml, re.S)
    assert box, out.mjml
    assert "background-color:#eef3ef;" in box.group(1) and "border-left:4px solid #2f5d50" in box.group(1)
    inner = box.group(2)
    assert re.match(r"<h2 [^>]*>Key points</h2><ul ", inner) and "<strong>mixed</strong>" in inner and 'href="#ref-1"' in inner
    assert "The trials" not in inner and "<h2" in out.mjml.split("nl-key-box", 1)[1].split("</mj-text>", 1)[1]  # the next section is outside
    assert out.mjml.index("Research summary") < out.mjml.index("nl-key-box")  # in place: after what precedes it
    text = " ".join(out.text.split())
    assert "Key points ---------- - Esketamine is approved for treatment-resistant depression.[1] - The PTSD evidence is mixed. The trials" in text


@pytest.mark.parametrize(
    "source",
    [
        "## Background\n\nText.\n\n## Key points\n\n- Not first, so a plain section.\n",  # not the first heading
        "### Key points\n\n- An h3 is a plain heading.\n",
        "## Key points of the trial design\n\nA section that happens to start with the words.\n",
    ],
)
def test_only_a_first_level_two_key_points_heading_makes_the_box(source: str) -> None:
    assert "nl-key-box" not in render(source).mjml


def test_key_points_end_at_a_rule() -> None:
    out = render("## Key takeaways\n\n- One.\n\n***\n\nAfter the rule.\n")
    inner = out.mjml.split("nl-key-box", 1)[1].split("</mj-text>", 1)[0]
    assert "One." in inner and "After the rule." not in inner and "<mj-divider" in out.mjml
