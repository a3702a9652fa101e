"""Stage 2: Issue -> CompiledIssue (Jinja2 -> MJML -> HTML, and the text part), and golden files."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from newsletter.build.issue import load_issue
from newsletter.build.render import render_issue, url_label
from newsletter.errors import TemplateError
from newsletter.models import MERGE_FIELDS, PLACEHOLDER, CompiledIssue, MergeTemplate

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
GOLDEN_FIXTURES = ("every-element", "minimal", "2026-11-mdma-assisted-therapy")
SAMPLE = "issues/2026-11-mdma-assisted-therapy.md"


def compile_file(path: Path, settings) -> CompiledIssue:
    return render_issue(load_issue(path), settings)


@pytest.fixture
def sample(project: Path, settings) -> CompiledIssue:
    # The November issue as it was sent (tests/fixtures/): rendering tests must not follow every
    # editorial revision of issues/2026-11-mdma-assisted-therapy.md.
    return compile_file(FIXTURES / "2026-11-mdma-assisted-therapy.md", settings)


@pytest.fixture
def every(project: Path, settings) -> CompiledIssue:
    return compile_file(FIXTURES / "every-element.md", settings)


class _Tree(HTMLParser):
    """Records, for each start tag and each text run, the open elements with their attributes."""

    VOID = {"meta", "img", "br", "hr", "input", "link", "col", "area", "base", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[str, list[tuple[str, dict[str, str]]]]] = []

    def handle_starttag(self, tag, attrs):
        element = (tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if data.strip():
            self.texts.append((data, list(self.stack)))


def tree(html: str) -> _Tree:
    parser = _Tree()
    parser.feed(html)
    parser.close()
    return parser


def ancestors(html: str, text: str) -> list[tuple[str, dict[str, str]]]:
    """The open elements (innermost last) around the first text run containing ``text``."""
    for data, stack in tree(html).texts:
        if text in data:
            return stack
    raise AssertionError(f"text not found in the HTML: {text!r}")


def inline_style(html: str, text: str, tag: str | None = None) -> str:
    """The style attributes of the elements around ``text`` (of ``tag`` only, when given), joined."""
    return " ".join(attrs.get("style", "") for name, attrs in ancestors(html, text) if tag is None or name == tag)


# --- the HTML part ----------------------------------------------------------------------------


def test_html_document_essentials(sample: CompiledIssue) -> None:
    html = sample.html
    assert re.match(r'<!doctype html><html lang="en"', html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<meta name="color-scheme" content="light dark"' in html
    assert "<title>MDMA therapy for PTSD: the evidence in November 2026</title>" in html
    assert "max-width:600px" in html and 'width="600"' in html
    # the preheader is the first thing in the body, hidden
    body = html[html.index("<body") :]
    preheader = re.search(r"<div style=\"(display:none;[^\"]*)\">([^<]*)</div>", body)
    assert preheader and preheader.start() < 200
    assert "max-height:0px" in preheader.group(1) and "overflow:hidden" in preheader.group(1)
    assert preheader.group(2).startswith("Two phase 3 trials, a US decision not to approve")
    assert len(html.encode("utf-8")) < 60 * 1024


def test_every_image_has_alt_text(sample: CompiledIssue, every: CompiledIssue) -> None:
    for compiled, count in ((sample, 1), (every, 3)):  # the logo, the chart, the inline icon
        images = [attrs for tag, attrs in tree(compiled.html).elements if tag == "img"]
        assert len(images) == count
        assert all(attrs.get("alt") for attrs in images), images
    chart = next(a for t, a in tree(every.html).elements if t == "img" and "chart" in a["src"])
    assert (chart["alt"], chart["width"]) == ("A bar chart of symptom scores before and after", "480")
    icon = next(a for t, a in tree(every.html).elements if t == "img" and "icon" in a["src"])
    assert (icon["alt"], icon["width"]) == ("small icon", "16")


def test_essential_styles_are_inline_on_the_elements(sample: CompiledIssue, settings, every: CompiledIssue) -> None:
    brand = settings.brand
    body_text = inline_style(sample.html, "MDMA-assisted therapy combines a few supervised MDMA sessions")
    assert f"color:{brand.text_color}" in body_text and "font-size:17px" in body_text and "font-family:Georgia" in body_text
    heading = inline_style(sample.html, "The two phase 3 trials", "h2")
    assert "font-size:22px" in heading and f"color:{brand.text_color}" in heading
    title = inline_style(sample.html, "MDMA-assisted therapy for PTSD: where the research stands", "h1")
    assert "font-size:28px" in title
    cta = inline_style(sample.html, settings.cta_label, "a")
    assert f"background:{brand.primary_color}" in cta and "color:#ffffff" in cta
    link = inline_style(every.html, "first link", "a")
    assert f"color:{brand.link_color}" in link
    ref_link = inline_style(sample.html, "doi:10.1038/s41591-021-01336-3", "a")
    assert f"color:{brand.link_color}" in ref_link
    ref_text = inline_style(sample.html, "Mitchell JM, Bogenschutz M", "div")
    assert "font-size:13px" in ref_text and "color:#4a5560" in ref_text  # smaller, muted
    button = inline_style(every.html, "Book a consultation", "a")
    assert f"background:{brand.primary_color}" in button and "color:#ffffff" in button
    cell = inline_style(every.html, "Symptom score", "td")
    assert "border:1px solid" in cell and "padding:6px 8px" in cell
    page = next(attrs["style"] for tag, attrs in tree(sample.html).elements if tag == "body")
    assert f"background-color:{brand.background_color}" in page


def test_rendered_elements_of_the_fixture(every: CompiledIssue) -> None:
    html = every.html
    assert '<ol start="3" style=' in html
    assert re.search(r"<li style=\"[^\"]*\">Outer item one<ul style=", html)  # nested, tight
    assert re.search(r'<blockquote style="[^"]*border-left:4px solid #2f5d50;', html)
    assert '<th scope="col"' in html and "text-align:right" in html and "text-align:center" in html
    assert "<pre style=" in html and "&lt;not&gt; medical advice &amp; &quot;only&quot; an example" in html
    assert '<a href="https://example.org/book" target="_blank"' in html  # the button
    assert "border-top:solid 1px #d8d2c4" in html  # the rule
    assert re.search(r'<sup style="font-size:12px;line-height:0;"><a href="#ref-3" aria-label="reference 3" style="[^"]*">\[3\]</a></sup>', html)
    assert '<li id="ref-3" ' in html  # the citation mark's target
    # references, with their DOI and PubMed URLs as links under short labels
    for url, label in (
        ("https://doi.org/10.1000/xyz123", "doi:10.1000/xyz123"),
        ("https://doi.org/10.1000/abc456", "doi:10.1000/abc456"),
        ("https://pubmed.ncbi.nlm.nih.gov/12345678/", "PMID 12345678"),
    ):
        assert re.search(rf'<a href="{re.escape(url)}" style="[^"]*">{re.escape(label)}</a>', html)
        assert f">{url}<" not in html and url in every.text  # the text part keeps the full URL
    assert [r.number for r in every.references] == [1, 2, 3]


# --- merge fields -------------------------------------------------------------------------------


def test_merge_fields_survive_compilation_as_placeholders(sample: CompiledIssue, every: CompiledIssue) -> None:
    for compiled in (sample, every):
        for part, template in ((compiled.html, compiled.html_template), (compiled.text, compiled.text_template)):
            for name in MERGE_FIELDS:
                assert PLACEHOLDER.format(name) in part
            assert set(template.fields) == set(MERGE_FIELDS)
            assert template == MergeTemplate.split(part)
            assert template.fill({name: PLACEHOLDER.format(name) for name in MERGE_FIELDS}) == part
            assert "{{" not in part and "}}" not in part
    assert sample.html_template.fields.count("first_name") == 1  # "Hi %%first_name%%,"
    assert every.html_template.fields.count("first_name") == 2  # ... and in the body text
    assert '<a href="%%unsubscribe_url%%"' in every.html and '<a href="%%webview_url%%"' in every.html


# --- the text part ------------------------------------------------------------------------------


def long_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if len(ln) > 78 and not re.search(r"https?://\S+$", ln)]


def test_text_part(sample: CompiledIssue, settings) -> None:
    text = sample.text
    assert text.startswith("Kairos Research Notes - November 26, 2026\n\nMDMA-assisted therapy for PTSD: where the research stands\n=====")
    assert "By Kairos Wellness Collective research team." in text
    assert "pending" not in text and "Reviewed by" not in text  # reviewed_by is a placeholder: no such line
    assert "Hi %%first_name%%,\n" in text
    assert "\nThe two phase 3 trials\n----------------------\n" in text
    assert "\n- MAPP1 (2021) randomized 90 adults" in text
    assert "QT prolongation.[1]\n" in text
    assert "- Evidence type\n  MAPP1 (2021): Phase 3 RCT\n  MAPP2 (2023): Phase 3 RCT\n" in text  # the table
    assert "\nReferences\n----------\n[1] Mitchell JM, Bogenschutz M" in text
    assert "\nhttps://doi.org/10.1007/s00213-020-05548-2 and\nhttps://pubmed.ncbi.nlm.nih.gov/32500209/\n" in text
    assert f"\n{settings.cta_label}:\n{settings.cta_url}\n" in text
    flat = " ".join(text.split())
    assert "Not medical advice. " + " ".join(settings.disclaimer.split()) in flat
    assert " ".join(settings.why_received.split()) in flat
    assert " ".join(settings.postal_address.split()) in flat
    assert "\nView this issue in your browser:\n%%webview_url%%\n" in text
    assert text.endswith("\nUnsubscribe:\n%%unsubscribe_url%%\n")
    assert "\n\n\n" not in text and " \n" not in text
    assert long_lines(text) == []
    assert "<" not in text.replace("<x>", "")  # no HTML in the text part


def test_text_part_links_are_numbered_after_references(every: CompiledIssue) -> None:
    text = every.text
    assert "a first link [4],\nthe same first link again [4]" in text
    assert "nested link [5]" in text and "Book a consultation [6]" in text and "unsubscribe [7] at any time.[3]" in text
    links = text[text.index("\nLinks\n-----\n") :]
    assert "[4] https://example.org/first?a=1&b=2\n[5] https://example.org/nested\n[6] https://example.org/book\n[7] %%unsubscribe_url%%\n" in links
    assert "[2] Doe A. A follow-up study. Another Journal. 2021;3:7-9. The DOI\n(https://doi.org/10.1000/abc456)." in text
    assert long_lines(text) == []


# --- template errors ------------------------------------------------------------------------------


def break_template(project: Path, name: str, old: str, new: str) -> tuple[Path, int]:
    """Replace ``old`` by ``new`` in a template; return its path and the (1-based) line of the change."""
    path = project / "templates" / name
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return path, source[: source.index(old)].count("\n") + 1


def template_error(project: Path, settings) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        compile_file(project / SAMPLE, settings)
    assert info.value.hint
    assert "\n" not in info.value.message
    return info.value


def test_jinja_syntax_error_names_template_and_line(project: Path, settings) -> None:
    path, line = break_template(project, "partials/footer.mjml.j2", "{{ settings.disclaimer }}", "{{ settings.disclaimer }")
    assert template_error(project, settings).message.startswith(f"{path}:{line}: template syntax: ")


def test_undefined_variable_names_template_and_line(project: Path, settings) -> None:
    path, line = break_template(project, "email.mjml.j2", "{{ issue.subject }}", "{{ issue.subjcet }}")
    message = template_error(project, settings).message
    assert message.startswith(f"{path}:{line}: template uses an undefined value: ")
    assert "subjcet" in message


def test_undefined_variable_in_a_partial_and_in_the_text_template(project: Path, settings) -> None:
    path, line = break_template(project, "partials/cta.mjml.j2", "{{ settings.cta_label }}", "{{ cta_label }}")
    assert template_error(project, settings).message.startswith(f"{path}:{line}: template uses an undefined value: 'cta_label' is undefined")
    break_template(project, "partials/cta.mjml.j2", "{{ cta_label }}", "{{ settings.cta_label }}")
    path, line = break_template(project, "email.txt.j2", "{{ merge.webview_url }}", "{{ merge.web_url }}")
    assert template_error(project, settings).message.startswith(f"{path}:{line}: template uses an undefined value: ")


def test_runtime_error_in_a_template_names_template_and_line(project: Path, settings) -> None:
    path, line = break_template(project, "email.txt.j2", "{{ settings.cta_label }}:", '{{ brand.logo_width + "px" }}:')
    assert template_error(project, settings).message.startswith(f"{path}:{line}: template error: TypeError: ")


def test_missing_template(project: Path, settings) -> None:
    (project / "templates" / "partials" / "references.mjml.j2").unlink()
    assert template_error(project, settings).message == f"{project / 'templates' / 'partials/references.mjml.j2'}: template not found"


def test_template_producing_invalid_mjml(project: Path, settings) -> None:
    path, _ = break_template(project, "email.mjml.j2", "      </mj-column>\n", "")
    message = template_error(project, settings).message
    assert message.startswith(f"{path}: MJML does not compile: ")


# --- golden files -----------------------------------------------------------------------------------


def first_difference(actual: str, expected: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b), min(len(actual), len(expected)))
    return f"first difference at character {at}:\n  golden: {expected[max(0, at - 80) : at + 80]!r}\n  actual: {actual[max(0, at - 80) : at + 80]!r}"


@pytest.mark.parametrize("fixture", GOLDEN_FIXTURES)
def test_golden_files(project: Path, settings, fixture: str, update_golden: bool) -> None:
    """The compiled HTML and text of each fixture, byte for byte. Regenerate: pytest --update-golden."""
    compiled = compile_file(FIXTURES / f"{fixture}.md", settings)
    for suffix, actual in ((".html", compiled.html), (".txt", compiled.text)):
        golden = GOLDEN / f"{fixture}{suffix}"
        if update_golden:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(actual.encode("utf-8"))
            continue
        assert golden.is_file(), f"{golden} is missing: run pytest --update-golden"
        expected = golden.read_bytes().decode("utf-8")
        assert actual == expected, f"{golden.name} differs ({first_difference(actual, expected)}); if intended, run pytest --update-golden"


@pytest.mark.parametrize(
    "url, label",
    [
        ("https://doi.org/10.1056/NEJMoa2302399", "doi:10.1056/NEJMoa2302399"),
        ("https://dx.doi.org/10.1001/jamapsychiatry.2014.62", "doi:10.1001/jamapsychiatry.2014.62"),
        ("https://doi.org/10.1002/%28SICI%291097-0258", "doi:10.1002/(SICI)1097-0258"),
        ("https://pubmed.ncbi.nlm.nih.gov/32500209/", "PMID 32500209"),
        ("https://www.fda.gov/news-events/press-announcements/fda-approves-new-nasal-spray", "fda.gov"),
        ("https://pubmed.ncbi.nlm.nih.gov/?term=ketamine", "pubmed.ncbi.nlm.nih.gov"),
    ],
)
def test_reference_links_show_short_labels(url, label) -> None:
    assert url_label(url) == label
