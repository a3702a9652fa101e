"""Preflight checks on issue content: front matter, links, images, leftovers, required blocks,
citations, claims, accessibility, HTML hygiene. Each check has a failing and a passing input.
Message-level checks are in test_checks_message.py, --online in test_checks_online.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import set_checks
from newsletter.build.pipeline import compile_issue, sample_message
from newsletter.checks import check_issue, contrast_ratio, run_checks
from newsletter.config import load_settings
from newsletter.errors import ConfigError
from newsletter.mime import to_bytes

SAMPLE = Path("issues/2026-11-mdma-assisted-therapy.md")


def write_issue(project: Path, body: str, *, name: str = "test.md", status: str = "draft", subject: str = "What a small trial of sleep coaching found",
                preheader: str = "One randomized trial, its limits, and what it means for you.", reviewed_by: str = '"Dr. A. Rivera, MD"') -> Path:
    lines = ["---", "title: Sleep coaching, briefly", f"subject: {json.dumps(subject)}", f"preheader: {json.dumps(preheader)}", "date: 2026-11-26",
             "authors: [Kairos research team]"]
    if reviewed_by:
        lines.append(f"reviewed_by: {reviewed_by}")
    lines += [f"status: {status}", "---", ""]
    path = project / "issues" / name
    path.write_text("\n".join(lines) + "\n" + body.strip("\n") + "\n", encoding="utf-8")
    return Path("issues") / name


CLEAN_BODY = """
A randomized trial of 120 adults compared sleep coaching with usual care.[^trial]

## What it found

Sleep improved modestly. See the [trial record](https://clinicaltrials.gov/study/NCT01234567).

[^trial]: Doe J, et al. Sleep coaching: a randomized trial. *Sleep*. 2025;48:1-9. https://doi.org/10.1093/sleep/zsab001
"""


def findings(path: Path, settings, **kw):
    return list(run_checks(path, settings, **kw).findings)


def by_id(found, id_: str):
    return [f for f in found if f.id == id_]


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def check_with_html(settings, path: Path, edit):
    """Check the sample message of ``path`` with its HTML part changed by ``edit``."""
    compiled = compile_issue(path, settings)
    message = sample_message(compiled, settings)
    return check_issue(compiled, settings, eml=to_bytes(replace(message, html=edit(message.html))))


# --- acceptance -----------------------------------------------------------------------------------


def test_sample_issue_passes_without_errors(project, settings):
    found = findings(SAMPLE, settings)
    assert [f for f in found if f.severity == "error"] == []


def test_clean_fixture_has_no_findings_at_all(project, settings):
    assert findings(write_issue(project, CLEAN_BODY), settings) == []


def test_broken_issue_reports_every_defect_at_once_with_locations(project, settings):
    filler = "\n\n".join(f"Paragraph {i} about sleep, daylight and the evening routine of adults." for i in range(1500))
    body = f"""
![](https://news.kairoswellness.org/img/chart.png){{width=560}}

Read [our notes](/notes/sleep) on this guaranteed cure.[^missing]

{filler}
"""
    path = write_issue(project, body, status="ready")
    found = findings(path, settings)
    where = lambda id_: {f.location for f in by_id(found, id_)}  # noqa: E731
    assert where("image.alt") == {f"{path}:{line_of(project / path, 'chart.png')}"}
    assert where("link.scheme") == {f"{path}:{line_of(project / path, '/notes/sleep')}"}
    assert where("footnote.undefined") == {f"{path}:{line_of(project / path, '[^missing]')}"}
    assert where("html.size") == {"email.html"}
    claims = [f for f in found if f.id.startswith("claims.")]
    assert {f.id for f in claims} == {"claims.guarantee", "claims.cure"}
    assert {f.location for f in claims} == {f"{path}:{line_of(project / path, 'guaranteed cure')}"}
    assert all(by_id(found, i)[0].severity == "error" for i in ("image.alt", "link.scheme", "footnote.undefined", "html.size"))


# --- front matter, subject, preheader -------------------------------------------------------------


def test_missing_reviewer_and_pending_reviewer_warn(project, settings):
    assert by_id(findings(write_issue(project, CLEAN_BODY, reviewed_by=""), settings), "front-matter.reviewed-by")[0].severity == "warning"
    pending = write_issue(project, CLEAN_BODY, name="p.md", reviewed_by="Clinical review pending")
    [f] = by_id(findings(pending, settings), "front-matter.reviewed-by")
    assert f.location == f"{pending}:{line_of(project / pending, 'reviewed_by')}"


def test_missing_authors_warns(project, settings):
    path = write_issue(project, CLEAN_BODY)
    text = (project / path).read_text().replace("authors: [Kairos research team]\n", "")
    (project / path).write_text(text)
    assert [f.severity for f in by_id(findings(path, settings), "front-matter.authors")] == ["warning"]


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("x" * 79, [("subject.length", "error")]),
        ("A subject line that runs on for quite a while, past sixty chars", [("subject.length", "warning")]),
        ("NEW STUDY ON SLEEP COACHING RESULTS", [("subject.caps", "warning")]),
        ("Re: sleep coaching trial results", [("subject.reply-prefix", "warning")]),
        ("Sleep coaching: one trial, modest gains", []),
    ],
)
def test_subject_rules(project, settings, subject, expected):
    found = findings(write_issue(project, CLEAN_BODY, subject=subject), settings)
    assert [(f.id, f.severity) for f in found if f.id.startswith("subject.")] == expected


def test_preheader_repeating_the_subject_warns(project, settings):
    path = write_issue(project, CLEAN_BODY, subject="Sleep coaching: the trial results", preheader="Sleep coaching: the trial results, and more about them")
    [f] = by_id(findings(path, settings), "preheader.repeat")
    assert f.location == f"{path}:4"


def test_preheader_missing_from_html_is_an_error(project, settings):
    path = write_issue(project, CLEAN_BODY)
    found = check_with_html(settings, path, lambda h: h.replace("One randomized trial, its limits, and what it means for you.", ""))
    assert [f.severity for f in by_id(found, "preheader.missing")] == ["error"]


# --- size ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pad_kb, expected", [(0, []), (85, ["warning"]), (101, ["error"])])
def test_html_size_thresholds(project, settings, pad_kb, expected):
    path = write_issue(project, CLEAN_BODY)
    found = check_with_html(settings, path, lambda h: h.replace("</body>", "<!--" + "x" * pad_kb * 1024 + "--></body>"))
    assert [f.severity for f in by_id(found, "html.size")] == expected


# --- images and links ---------------------------------------------------------------------------------


def test_image_rules(project, settings):
    body = """
![Chart of sleep scores](http://cdn.kairoswellness.org/chart.png){width=560}

![Logo](https://cdn.kairoswellness.org/logo.svg){width=200}

![](https://cdn.kairoswellness.org/photo.jpg)

![A described photo](https://cdn.kairoswellness.org/ok.jpg){width=300}
"""
    path = write_issue(project, body)
    found = findings(path, settings)
    assert sorted((f.id, f.severity, f.location) for f in found if f.id.startswith("image.")) == [
        ("image.alt", "error", f"{path}:{line_of(project / path, 'photo.jpg')}"),
        ("image.src", "error", f"{path}:{line_of(project / path, 'chart.png')}"),
        ("image.svg", "warning", f"{path}:{line_of(project / path, 'logo.svg')}"),
    ]


def test_template_image_without_alt_attribute_data_uri_and_width(project, settings):
    path = write_issue(project, CLEAN_BODY)
    extra = '<img src="data:image/png;base64,AAAA" width="auto">'
    found = check_with_html(settings, path, lambda h: h.replace("</body>", extra + "</body>"))
    assert {(f.id, f.severity) for f in found if f.id.startswith("image.")} == {("image.src", "error"), ("image.alt", "error"), ("image.width", "warning")}


def test_link_rules(project, settings):
    body = """
Links: [relative](/about), [plain http](http://kairoswellness.org/a), [mail us](mailto:hello@kairoswellness.org),
[ftp](ftp://files.kairoswellness.org/a) and [a good one](https://kairoswellness.org/b).
"""
    found = findings(write_issue(project, body), settings)
    assert sorted((f.id, f.severity) for f in found if f.id.startswith("link.")) == [
        ("link.insecure", "warning"),
        ("link.scheme", "error"),
        ("link.scheme", "error"),
    ]


def test_same_document_links_must_resolve(project, settings):
    body = CLEAN_BODY.replace("usual care.", "usual care (details in [the reference](#ref-1), not [nowhere](#ref-9)).")
    path = write_issue(project, body)
    found = [f for f in findings(path, settings) if f.id.startswith("link.")]
    assert [(f.id, f.severity) for f in found] == [("link.anchor", "error")]  # the citation marks and #ref-1 resolve
    assert "'#ref-9'" in found[0].message and found[0].location == f"{path}:{line_of(project / path, '#ref-9')}"
    # a citation mark whose reference lost its id is flagged too
    broken = check_with_html(settings, path, lambda h: h.replace('id="ref-1"', ""))
    assert {f.message.split("'")[1] for f in by_id(broken, "link.anchor")} == {"#ref-1", "#ref-9"}


@pytest.mark.parametrize("status, severity", [("ready", "error"), ("draft", "warning")])
def test_local_and_example_hosts(project, settings, status, severity):
    body = "See [a](https://localhost/x), [b](https://example.com/y), [c](https://site.test/z), [d](https://127.0.0.1/w) and [e](https://kairoswellness.org/ok)."
    found = by_id(findings(write_issue(project, body, status=status), settings), "link.placeholder-host")
    assert len(found) == 4 and {f.severity for f in found} == {severity}


def test_html_link_missing_from_text_part_warns(project, settings):
    path = write_issue(project, CLEAN_BODY)
    found = check_with_html(settings, path, lambda h: h.replace("</body>", '<a href="https://kairoswellness.org/only-in-html">Team page</a></body>'))
    [f] = by_id(found, "link.missing-in-text")
    assert "only-in-html" in f.message and f.location == "email.txt"


# --- leftovers ------------------------------------------------------------------------------------


def test_leftovers_are_errors_with_their_lines(project, settings):
    body = """
TODO: add the effect size.

The trial ran for TK weeks. TKO and atkins are fine words.

Lorem ipsum dolor sit amet.
"""  # template code in the issue is refused when it loads (tests/test_issue_limits.py)
    path = write_issue(project, body)
    found = findings(path, settings)
    got = {(f.id, f.location) for f in found if f.id.startswith("leftover.")}
    assert got == {
        ("leftover.todo", f"{path}:{line_of(project / path, 'TODO')}"),
        ("leftover.tk", f"{path}:{line_of(project / path, 'TK weeks')}"),
        ("leftover.lorem", f"{path}:{line_of(project / path, 'Lorem')}"),
    }


def test_merge_placeholder_left_after_personalization(project, settings):
    path = write_issue(project, CLEAN_BODY)
    found = check_with_html(settings, path, lambda h: h.replace("</body>", "<p>Hi %%last_name%%</p></body>"))
    assert [f.severity for f in by_id(found, "leftover.template")] == ["error"]
    assert findings(path, settings) == []


# --- required blocks --------------------------------------------------------------------------------


def test_required_blocks_missing_from_both_parts(project, settings):
    (project / "templates/partials/footer.mjml.j2").write_text("<mj-section><mj-column><mj-text>Bye</mj-text></mj-column></mj-section>\n")
    txt = project / "templates/email.txt.j2"
    txt.write_text(txt.read_text().split("\n--\n")[0] + "\n")
    found = findings(write_issue(project, CLEAN_BODY), settings)
    got = {(f.id, f.location) for f in found if f.id.startswith("required.")}
    parts = ("email.html", "email.txt")
    expected_ids = ("required.disclaimer", "required.postal-address", "required.unsubscribe", "required.view-in-browser")
    assert got == {(i, p) for i in expected_ids for p in parts}
    assert all(f.severity == "error" for f in found if f.id.startswith("required."))


def test_disclaimer_pattern_option_replaces_the_configured_text(project):
    settings = set_checks(project, 'disclaimer_pattern = "clinician-patient relationship"\npostal_address_pattern = "Portland, OR \\\\d{5}"')
    assert findings(write_issue(project, CLEAN_BODY), settings) == []
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text().replace("clinician-patient relationship. ", "contract. "))
    found = findings(write_issue(project, CLEAN_BODY), load_settings(project / "newsletter.toml"))
    assert {f.location for f in by_id(found, "required.disclaimer")} == {"email.html", "email.txt"}


# --- citations and claims ---------------------------------------------------------------------------


def test_malformed_doi_and_pmid(project, settings):
    body = """
A trial found things.[^a] Another study too (PMID: 12ab34).

[^a]: Doe J. Title. *Journal*. 2025. https://doi.org/11.1234/broken and https://pubmed.ncbi.nlm.nih.gov/notanid/
"""
    path = write_issue(project, body)
    found = findings(path, settings)
    assert sorted((f.id, f.location) for f in found if f.id.startswith("citation.")) == [
        ("citation.doi", f"{path}:{line_of(project / path, '11.1234')}"),
        ("citation.pmid", f"{path}:{line_of(project / path, '12ab34')}"),
        ("citation.pmid", f"{path}:{line_of(project / path, 'notanid')}"),
    ]


def test_prose_about_dois_and_pmids_is_not_a_citation(project, settings):
    path = write_issue(project, CLEAN_BODY + "\nPMIDs are numbers; for the doi: see the reference list. Reviewer Na Li.\n", reviewed_by="Na Li, MD")
    assert findings(path, settings) == []


def test_study_without_any_doi_or_pubmed_link_warns(project, settings):
    path = write_issue(project, "Intro.\n\nA new meta-analysis says sleep matters.\n")
    [f] = by_id(findings(path, settings), "citation.missing")
    assert f.severity == "warning" and f.location == f"{path}:{line_of(project / path, 'meta-analysis')}"
    ok = write_issue(project, "A new meta-analysis says sleep matters (doi:10.1000/xyz123).\n", name="ok.md")
    assert by_id(findings(ok, settings), "citation.missing") == []


def test_extra_claim_phrases_are_flagged_as_warnings_outside_careful_writing(project, settings):
    body = "This is a wonder drug for sleep.\n\nNo wonder drug exists for insomnia.\n"
    path = write_issue(project, body)
    assert by_id(findings(path, settings), "claims.phrase") == []
    extra = set_checks(project, 'extra_claim_phrases = ["wonder drug"]')
    [f] = by_id(findings(path, extra), "claims.phrase")
    assert f.severity == "warning" and f.location == f"{path}:{line_of(project / path, 'This is a wonder drug')}"


def test_ignore_silences_warnings_but_never_errors(project):
    settings = set_checks(project, 'ignore = ["claims.*", "link.*"]')
    found = findings(write_issue(project, "Sleep coaching heals: [x](http://kairoswellness.org/a) and [y](/rel).\n"), settings)
    assert [f.id for f in found] == ["link.scheme"]


def test_unknown_checks_key_is_a_config_error(project):
    with pytest.raises(ConfigError) as err:  # when the config loads, before any check runs
        set_checks(project, 'extra_claim_phrase = ["x"]\nspamassassin = "yes"')
    assert "did you mean 'extra_claim_phrases'" in err.value.message and 'spamassassin = "yes": must be true or false' in err.value.message


# --- footnotes and build errors ---------------------------------------------------------------------


def test_footnote_problems_are_all_reported_with_the_other_findings(project, settings):
    body = """
First claim.[^one] Second claim.[^two] A guaranteed result.

[^one]: Doe J. Title. https://doi.org/10.1000/one
[^unused]: Roe R. Never cited. https://doi.org/10.1000/unused
    continued on a second line.
"""
    path = write_issue(project, body)
    found = findings(path, settings)
    assert [(f.id, f.location) for f in found if f.id.startswith("footnote.")] == [
        ("footnote.undefined", f"{path}:{line_of(project / path, '[^two]')}"),
        ("footnote.unused", f"{path}:{line_of(project / path, '[^unused]:')}"),
    ]
    assert by_id(found, "claims.guarantee")  # the rest of the checks still ran


def test_build_errors_become_one_error_finding(project, settings):
    path = write_issue(project, CLEAN_BODY)
    (project / path).write_text((project / path).read_text().replace("date: 2026-11-26", "date: 26/11/2026"))
    [f] = findings(path, settings)
    assert (f.id, f.severity, f.location) == ("build.issue", "error", f"{path}:5")
    assert "Hint:" in f.message
    (project / path).write_text((project / path).read_text().replace("26/11/2026", "2026-11-26"))
    (project / "templates/partials/cta.mjml.j2").write_text("{{ settings.no_such_thing }}\n")
    [f] = findings(path, settings)
    assert f.id == "build.template" and f.location.endswith("cta.mjml.j2:1")


# --- accessibility and hygiene ------------------------------------------------------------------------


def test_heading_rules(project, settings):
    body = "# A second top heading\n\nText.\n\n## Fine\n\n#### Skipped a level\n\nMore text.\n"
    path = write_issue(project, body)
    found = findings(path, settings)
    assert [(f.id, f.location) for f in found if f.id.startswith("a11y.h")] == [
        ("a11y.h1", f"{path}:{line_of(project / path, 'A second top')}"),
        ("a11y.heading-order", f"{path}:{line_of(project / path, 'Skipped')}"),
    ]


def test_generic_link_text(project, settings):
    body = "For details [click here](https://kairoswellness.org/a), or [read more](https://kairoswellness.org/b), or see [the sleep trial](https://kairoswellness.org/c).\n"
    found = by_id(findings(write_issue(project, body), settings), "a11y.link-text")
    assert sorted(f.message.split("'")[1] for f in found) == ["click here", "read more"]


def test_contrast_of_brand_colours(project):
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast_ratio("#777777", "#ffffff"), 2) == 4.48
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text().replace('link_color = "#1d5c8c"', 'link_color = "#8fb3d9"'))
    found = by_id(findings(SAMPLE, load_settings(toml)), "a11y.contrast")
    assert len(found) == 2 and {f.severity for f in found} == {"error"}
    assert {f.location for f in found} == {f"{toml}:{line_of(toml, 'link_color')}"}


def test_html_hygiene(project, settings):
    path = write_issue(project, CLEAN_BODY)

    def break_it(html: str) -> str:
        html = html.replace('<html lang="en"', "<html", 1).replace("<!--[if mso", "<!--[if gte x")
        html = re.sub(r"<title>.*?</title>", "<title></title>", html, flags=re.S)
        extras = '<table><tr><td>layout</td></tr></table><table role="presentation"><tr><th>h</th></tr></table><script>x()</script><iframe src="https://a.org"></iframe>'
        return html.replace("</body>", extras + "</body>")

    got = sorted((f.id, f.severity) for f in check_with_html(settings, path, break_it) if f.id.startswith("html."))
    assert got == [
        ("html.forbidden-tag", "error"),
        ("html.forbidden-tag", "error"),
        ("html.lang", "error"),
        ("html.mso", "warning"),
        ("html.table-role", "warning"),
        ("html.table-role", "warning"),
        ("html.title", "warning"),
    ]
