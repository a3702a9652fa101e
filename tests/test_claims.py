"""The claims check (newsletter/checks/claims.py): sentences, categories, severities, careful
writing left alone, locations, stable keys, and spaCy kept off the other commands' paths.
Precision and recall on the labelled corpus are in test_claims_corpus.py."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from test_checks import findings, line_of, write_issue

from newsletter.checks.claims import Block, _pipeline, claims_in_markdown, find_claims

KEY_RE = re.compile(r"^claims:(cure|safety|efficacy|guarantee|advice|prediction|superiority|authority):[0-9a-f]{10}$")


@pytest.mark.parametrize(
    "risky, careful, category",
    [
        ("Ketamine cures depression.", "No cure for depression exists yet.", "cure"),
        ("The infusion is completely safe.", "No treatment is completely safe.", "safety"),
        ("It has a 100% success rate.", 'Be wary of clinics that advertise a "100% success rate".', "efficacy"),
        ("We guarantee you will feel better.", "No one can guarantee that a treatment will work.", "guarantee"),
        ("Stop taking your antidepressants before the session.", "Do not stop taking an antidepressant without your prescriber.", "advice"),
        ("The FDA will approve it next year.", "It is unclear whether the FDA will approve it.", "prediction"),
        ("It works better than any antidepressant.", "It was not better than placebo in that trial.", "superiority"),
        ("Our protocol is clinically proven.", 'The phrase "clinically proven" has no legal meaning.', "authority"),
    ],
)
def test_each_category_fires_on_the_claim_and_not_on_careful_writing_about_it(risky, careful, category):
    [claim] = claims_in_markdown(risky)
    assert claim.category == category and claim.sentence == risky and claim.why and claim.rewrite
    assert claims_in_markdown(careful) == []


def test_official_terms_and_attribution_are_not_claims():
    text = (
        "The FDA granted it Breakthrough Therapy designation in 2017.\n\n"
        "A headline called it a 'miracle cure'.\n\n"
        "The company says the drug will be approved in 2027."
    )
    assert claims_in_markdown(text) == []


def test_high_confidence_claims_are_errors_and_the_rest_warnings():
    [safe] = claims_in_markdown("The infusion is completely safe.")
    [heals] = claims_in_markdown("The programme heals old wounds.")
    assert (safe.severity, heals.severity) == ("error", "warning")


def test_one_finding_per_sentence_and_category_with_its_line():
    block = Block(((10, "Psilocybin cures depression and cures anxiety."), (11, "It is completely safe, with no side effects.")))
    claims = find_claims([block])
    assert [(c.line, c.category) for c in claims] == [(10, "cure"), (11, "safety")]


def test_key_is_stable_across_runs_and_moves_and_changes_with_the_sentence():
    [a] = claims_in_markdown("Ketamine cures depression.")
    [b] = find_claims([Block(((99, "Ketamine  cures depression."),))])
    [c] = claims_in_markdown("Ketamine cures anxiety.")
    assert KEY_RE.match(a.key) and a.key == b.key and a.key != c.key


def test_code_footnote_definitions_and_urls_are_not_read():
    text = (
        "Read the [trial record](https://example.org/cures-depression-guaranteed).\n\n"
        "```\nKetamine cures depression.\n```\n\n"
        "[^1]: Doe J. Ketamine cures depression? A trial. https://doi.org/10.1000/x\n"
    )
    assert claims_in_markdown(text) == []


def test_list_items_and_headings_are_sentences_of_their_own():
    text = "## Is it safe?\n\n- a quiet room\n- no side effects, so you can drive home\n"
    [claim] = claims_in_markdown(text)
    assert claim.line == 4 and claim.sentence == "no side effects, so you can drive home"


def test_findings_name_the_sentence_category_rewrite_and_key_and_errors_block(project, settings):
    body = "A randomized trial of 120 adults compared sleep coaching with usual care.\nCoaching cures insomnia for good.\n"
    path = write_issue(project, body, subject="Sleep coaching is completely safe")
    run = findings(path, settings)
    claims = [f for f in run if f.id.startswith("claims.")]
    assert {(f.id, f.location) for f in claims} == {
        ("claims.cure", f"{path}:{line_of(project / path, 'Coaching cures')}"),
        ("claims.safety", f"{path}:{line_of(project / path, 'subject:')}"),
    }
    cure = next(f for f in claims if f.id == "claims.cure")
    assert cure.severity == "error" and KEY_RE.match(cure.key)
    assert '"Coaching cures insomnia for good."' in cure.message and "Suggested rewrite:" in cure.message and cure.key in cure.message
    assert all(f.key is None for f in run if not f.id.startswith("claims."))


def test_careful_issue_has_no_claim_findings(project, settings):
    body = (
        "No cure for insomnia exists yet, and coaching is not one.\n\n"
        "Be wary of apps that promise guaranteed sleep. Do not stop a sleep medicine without your prescriber.\n"
    )
    path = write_issue(project, body)
    assert [f for f in findings(path, settings) if f.id.startswith("claims.")] == []


def test_the_pipeline_is_built_once_per_process():
    assert _pipeline() is _pipeline()


def test_spacy_is_imported_only_when_the_claims_check_runs():
    code = (
        "import sys\n"
        "import newsletter.cli, newsletter.checks, newsletter.checks.claims, newsletter.build.pipeline, newsletter.send.plan\n"
        "print('spacy' in sys.modules)\n"
        "from newsletter.checks.claims import claims_in_markdown\n"
        "claims_in_markdown('It cures.')\n"
        "print('spacy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.parametrize(
    "risky, careful",
    [
        # a hedge governs its own clause only
        ("If you're unsure, here's our answer: this treatment will work for you.", "If the results hold up, this treatment may work for you."),
        # a yes/no question asks; a negative question asserts
        ("Isn't it better than any antidepressant?", "Is it better than any antidepressant?"),
        # a promise about how we work is not a promised outcome
        ("We promise you will feel better.", "We promise that a nurse will explain the risks before any treatment."),
        # a quotation we report hearing is not adopted
        ('"It cured me" - we can do that for you too.', '"It cured me" is something we hear from patients, but trials have not shown it.'),
        # "best-studied" describes the evidence
        ("We offer the best depression treatment in Leeds.", "Talking therapy is the best-studied treatment for PTSD."),
        # a sanction or complaint about promising something reports the claim
        ("We promise guaranteed healing from psilocybin.", "Regulators have fined retreat operators for promising guaranteed healing."),
        # "appear" meaning "show up" hedges nothing; "appear to" does
        ("It helps virtually all patients, and results appear from the first session.", "It appears to help virtually all patients in small trials."),
    ],
)
def test_scope_rules_leave_careful_writing_alone_and_still_catch_the_claim(risky, careful):
    assert claims_in_markdown(risky) != []
    assert claims_in_markdown(careful) == []


@pytest.mark.parametrize(
    "risky, careful, category",
    [
        # permanence: for life, lasting/permanent solution, never ... again
        ("Veterans have put PTSD behind them for life.", "Whether the benefit lasts for life is unknown.", "cure"),
        ("It offers a lasting solution to depression.", "There is no lasting solution to depression yet.", "cure"),
        ("After one round you will never need help again.", "It is unclear whether anyone would never need help again.", "cure"),
        # universal quantifiers over patients
        ("Every single veteran in our programme has seen their PTSD lift.", "Not every patient responds.", "efficacy"),
        ("It helps virtually all patients with anxiety.", "It may help nearly all patients with mild symptoms, early trials suggest.", "efficacy"),
        ("Nearly every client of ours recovers.", "Not nearly every client recovers.", "efficacy"),
        # the future as fact
        ("Ketamine clinics are about to become as common as pharmacies.", "The FDA is expected to decide by June.", "prediction"),
        ("The next phase 3 trial is going to confirm what we already know.", "Whether the next trial is going to confirm this is an open question.", "prediction"),
        ("Psilocybin is set to change psychiatry.", "Researchers are about to start a phase 3 trial.", "prediction"),
    ],
)
def test_general_phrasings_of_permanence_universality_and_prediction(risky, careful, category):
    assert category in {c.category for c in claims_in_markdown(risky)}
    assert claims_in_markdown(careful) == []


def test_a_list_under_a_warning_is_criticism_item_by_item():
    warned = "Red flags to watch for in an advert:\n\n- guaranteed results\n- no side effects\n"
    plain = "What we offer:\n\n- guaranteed results\n- no side effects\n"
    assert claims_in_markdown(warned) == []
    assert {c.category for c in claims_in_markdown(plain)} == {"guarantee", "safety"}


@pytest.mark.parametrize(
    "risky, careful",
    [
        # a clinic's customers "report" in its own marketing; participants report in a trial
        ("Guests report complete recovery after a single ayahuasca ceremony.", "Participants reported nausea, and some reported headaches."),
        # "That said" is a discourse marker, not a quotation
        ("That said, you can expect your symptoms to fall by at least half within the first week.", "Patients said their symptoms fell, though scores barely moved."),
        # "anyone who ... says" warns; "for anyone who sees it through" claims
        ("It cuts PTSD symptoms by 67 percent for anyone who sees it through.", "Be careful with anyone who says it cuts symptoms for everyone."),
        # a negation a gap took in
        ("Science has shown that ketamine works for depression.", "Science has not settled whether these drugs work for everyone."),
        # "what they won't tell you" frames our own claim; "read as evidence that" keeps it at a distance
        ("Here's what the rehab crowd won't tell you: one session wipes the addiction out.", "Nobody should read this trial summary as evidence that the therapy cures PTSD."),
        # a year is not a success figure
        ("Nine in 10 of our clients recover.", "Oregon voters passed Measure 109 in 2020, creating a licensed program."),
    ],
)
def test_testimonials_discourse_markers_and_negation_inside_a_pattern(risky, careful):
    assert claims_in_markdown(risky) != []
    assert claims_in_markdown(careful) == []


def test_stopping_it_is_advice_only_when_a_medicine_is_named_in_the_paragraph():
    advice = "Should I keep taking my antidepressant before a session? No. Drop it two weeks beforehand."
    assert "advice" in {c.category for c in claims_in_markdown(advice)}
    assert claims_in_markdown("Worried about the drive home? Drop it: we arrange a taxi.") == []
    assert claims_in_markdown("Tell your prescriber before you drop anything; stopping it can cause withdrawal, so never quit alone.") == []
