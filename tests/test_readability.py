"""Readability for lay readers (checks/readability.py): the grade, long sentences, jargon."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import set_checks, write
from newsletter.checks import run_checks
from newsletter.checks.readability import score

FRONT = """---
title: Readability
subject: A draft written to test the readability check
preheader: Short sentences, long sentences and jargon, each where a test can find it.
date: 2026-11-26
authors: [Tester]
reviewed_by: Dr. Test
---
"""
PLAIN = (
    "The study asked adults with long-lasting sleep problems to keep a diary for eight weeks. "
    "Half of them also met a therapist once a week. The people who saw a therapist fell asleep "
    "faster by the end. They also woke up less often during the night. The difference was small "
    "but it lasted for months after the study ended. The researchers say a larger trial is needed "
    "before anyone can be sure. "
) * 2  # 144 words at about grade 5
DENSE = (
    "Methodological heterogeneity across randomized investigations substantially complicates "
    "interpretation of comparative therapeutic effectiveness, particularly regarding "
    "psychiatric populations characterized by considerable diagnostic comorbidity. "
) * 8


def issue(project: Path, body: str, name: str = "2026-11-readability.md") -> Path:
    return write(project / "issues" / name, FRONT + "\n" + body)


def readability(run) -> list:
    return [f for f in run.findings if f.id.startswith("readability.")]


def ids(run) -> list[str]:
    return [f.id for f in readability(run)]


# --- grade -------------------------------------------------------------------------------------


def test_plain_prose_is_below_the_target_and_dense_prose_is_flagged_with_its_score(project, settings):
    plain = run_checks(issue(project, PLAIN), settings)
    assert "readability.grade" not in ids(plain)
    assert plain.readability is not None and 3 < plain.readability.grade < 7

    dense = run_checks(issue(project, DENSE), settings)
    [grade] = [f for f in readability(dense) if f.id == "readability.grade"]
    assert grade.severity == "warning"
    assert f"reading grade {dense.readability.grade:.1f}" in grade.message
    assert dense.readability.grade > 16
    assert "target of 10" in grade.message


def test_the_target_is_configurable(project):
    path = issue(project, PLAIN)
    strict = set_checks(project, "reading_grade_target = 1")
    assert "readability.grade" in ids(run_checks(path, strict))
    relaxed = set_checks(project, "reading_grade_target = 20")
    assert "readability.grade" not in ids(run_checks(path, relaxed))


def test_too_little_prose_gets_no_grade(project, settings):
    run = run_checks(issue(project, "Methodological heterogeneity complicates interpretation considerably.\n"), settings)
    assert run.readability.grade is None
    assert "readability.grade" not in ids(run)


def test_only_prose_counts_not_headings_code_tables_or_references(project, settings):
    body = f"""\
## Methodological heterogeneity across randomized placebo-controlled investigations

{PLAIN}

```
a code block with a very long line of words that is not a sentence anyone reads as prose at all, one two three four five six seven
```

| Measure | Effect size | QT interval |
|---|---|---|
| CAPS-5 | 0.91 | placebo-controlled double-blind comparison of considerable methodological heterogeneity |

See the trial.[^one]

[^one]: Author A. A randomized, double-blind, placebo-controlled phase 3 study of effect size and remission over a complete response letter. Journal. 2021. https://doi.org/10.1234/abc
"""
    run = run_checks(issue(project, body), settings)
    assert ids(run) == []
    report = run.readability
    assert report.words == len(PLAIN.split()) + 3  # the prose, plus "See the trial."
    assert report.grade < 7


def test_the_grade_needs_no_network(project, settings, monkeypatch):
    """textstat's English syllable counts would download NLTK's CMU dictionary: never here."""

    def refuse(*args, **kwargs):
        raise AssertionError("the readability check tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("NLTK_DATA", str(project / "no-nltk-data"))
    path = issue(project, PLAIN)
    from newsletter.build.issue import load_issue

    report = score(load_issue(path), 10, 30, ())
    assert 3 < report.grade < 7


def test_textstat_is_imported_only_when_prose_is_scored():
    code = "import sys, newsletter.checks, newsletter.cli, newsletter.send.plan, newsletter.preview.server; print('textstat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- long sentences ------------------------------------------------------------------------------


def words(n: int) -> str:
    return "Word " + " ".join(["word"] * (n - 2)) + " end."


def test_a_sentence_over_30_words_is_a_warning_at_its_line(project, settings):
    body = f"Short one here. {words(12)}\n{words(31)} {words(30)}\n\n- A list item. {words(40)}\n"
    path = issue(project, body)
    run = run_checks(path, settings)
    long = [f for f in readability(run) if f.id == "readability.long-sentence"]
    first_body_line = FRONT.count("\n") + 2
    assert [(f.location, f.message.split(" (")[0]) for f in long] == [
        (f"{path}:{first_body_line + 1}", "sentence of 31 words"),
        (f"{path}:{first_body_line + 3}", "sentence of 40 words"),
    ]
    assert all(f.severity == "warning" and "split it" in f.message for f in long)


def test_abbreviations_and_decimals_do_not_end_a_sentence(project, settings):
    sentence = "Scores fell by 24.4 points vs. 13.9 with placebo, e.g. in adults, as Dr. Smith et al. reported in the first of two trials that enrolled about ninety people in all."
    run = run_checks(issue(project, sentence + "\n"), settings)
    [s] = [s for p in run.readability.paragraphs for s in p.sentences]
    assert s.text == sentence and s.words == 31
    assert ids(run) == ["readability.long-sentence"]


def test_the_sentence_limit_is_configurable(project):
    path = issue(project, words(31) + "\n")
    assert ids(run_checks(path, set_checks(project, "sentence_max_words = 31"))) == []
    assert ids(run_checks(path, set_checks(project, "sentence_max_words = 20"))) == ["readability.long-sentence"]


# --- jargon --------------------------------------------------------------------------------------


def jargon(run) -> list[tuple[str, str]]:
    return [(f.location.rsplit(":", 1)[1], f.message.split("'")[1]) for f in readability(run) if f.id == "readability.jargon"]


def test_jargon_unexplained_at_first_use_is_flagged_at_its_line(project, settings):
    body = "The trial was placebo-controlled.\n\nThe effect size was large; adverse events were rare.\n"
    run = run_checks(issue(project, body), settings)
    line = FRONT.count("\n") + 2
    assert jargon(run) == [(str(line), "placebo-controlled"), (str(line + 2), "effect size"), (str(line + 2), "adverse event")]
    assert all(f.severity == "warning" for f in readability(run))


@pytest.mark.parametrize(
    "sentence",
    [
        "The main measure was the CAPS-5 (a clinician's interview about PTSD symptoms).",
        "The main measure was the CAPS-5 — a clinician's interview about PTSD symptoms.",
        "The main measure was the CAPS-5: a clinician's interview about PTSD symptoms.",
        "The main measure was the CAPS-5, a clinician's interview about PTSD symptoms.",
        "The main measure was the Clinician-Administered PTSD Scale for DSM-5 (CAPS-5).",
        "The CAPS-5 means a clinician asks about each symptom.",
    ],
)
def test_an_explanation_at_first_use_keeps_the_term_quiet(project, settings, sentence):
    run = run_checks(issue(project, sentence + " Later the CAPS-5 fell.\n"), settings)
    assert jargon(run) == []


def test_a_bold_lead_in_explained_by_its_paragraph_is_quiet_but_a_short_first_sentence_is_not(project, settings):
    body = "- **Functional unblinding.** Participants could tell which pill they had, and that may change what they report.\n"
    assert jargon(run_checks(issue(project, body), settings)) == []
    body = "- **Blinding** was functional unblinding. Participants could tell which pill they had.\n"
    assert [t for _, t in jargon(run_checks(issue(project, body), settings))] == ["functional unblinding"]
    body = "The trial was placebo-controlled. Everyone also got the same therapy.\n"
    assert [t for _, t in jargon(run_checks(issue(project, body), settings))] == ["placebo-controlled"]


def test_explained_only_later_says_where(project, settings):
    body = "The CAPS-5 fell.\n\nThe CAPS-5 (a clinician's interview) is the usual measure.\n"
    run = run_checks(issue(project, body), settings)
    [f] = [f for f in readability(run) if f.id == "readability.jargon"]
    assert f"explained at line {FRONT.count(chr(10)) + 4}" in f.message


def test_capitalised_terms_match_their_case_and_plurals_and_hyphens_match(project, settings):
    body = "The qt of this caps-5 draft is fine. Two placebo controlled trials reported remissions.\n"
    assert [term for _, term in jargon(run_checks(issue(project, body), settings))] == ["placebo-controlled", "remission"]


def test_the_glossary_is_configurable(project):
    path = issue(project, "The trial was placebo-controlled and used a novel titration schedule.\n")
    added = set_checks(project, 'extra_glossary = ["titration"]\nglossary_remove = ["Placebo-Controlled"]')
    assert [t for _, t in jargon(run_checks(path, added))] == ["titration"]
    replaced = set_checks(project, 'glossary = ["novel"]')
    assert [t for _, t in jargon(run_checks(path, replaced))] == ["novel"]
    assert jargon(run_checks(path, set_checks(project, "glossary = []"))) == []


def test_readability_warnings_can_be_ignored(project):
    path = issue(project, DENSE + " The trial was placebo-controlled.\n")
    assert ids(run_checks(path, set_checks(project, 'ignore = ["readability.*"]'))) == []


def test_a_bad_setting_is_reported_when_the_config_loads(project):
    from newsletter.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        set_checks(project, 'reading_grade_target = "easy"\nsentence_max_words = 2')
    assert "reading_grade_target" in err.value.message and "sentence_max_words" in err.value.message


# --- the preview ---------------------------------------------------------------------------------


def test_the_preview_shows_the_grade_and_marks_long_sentences_and_jargon_in_the_text(project):
    import http.client
    import json

    from newsletter.preview.server import open_preview

    long = "Word " + " ".join(["word"] * 33) + " end."
    path = issue(project, f"{PLAIN}\n\nThe trial was placebo-controlled & small. {long}\n")
    server = open_preview(path, project / "newsletter.toml", port=0, watch_files=False)
    try:

        def get(route: str) -> str:
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
            conn.request("GET", route)
            body = conn.getresponse().read().decode("utf-8")
            conn.close()
            return body

        page = get("/")
        section = page[page.index('<section id="readability">') :]
        section = section[: section.index("</section>")]
        grade = server.preview.state.readability.grade
        assert f"Reading level: grade {grade:.1f} (Flesch-Kincaid), target 10 or below" in section
        line = FRONT.count("\n") + 4
        assert f'<p><span class="line">{line}</span>The trial was <mark class="jargon" title="line {line}: &#x27;placebo-controlled&#x27; is not explained at first use">placebo-controlled</mark> &amp; small.' in section
        assert f'<mark class="long" title="line {line}: 35 words">{long}</mark>' in section
        assert "readability.jargon" in page  # and in the findings table
        state = json.loads(get("/state.json"))["readability"]
        assert state["long_sentences"] == [{"line": line, "words": 35}]
        assert state["jargon"] == [{"term": "placebo-controlled", "line": line}]

        path.write_text(path.read_text(encoding="utf-8").replace("placebo-controlled &", "placebo-controlled (some got a dummy pill) and"), encoding="utf-8")
        server.preview.rebuild()
        page = get("/")
        assert '<mark class="jargon" title' not in page and "1 sentence(s) over 30 words, 0 term(s) not explained" in page
    finally:
        server.close()
