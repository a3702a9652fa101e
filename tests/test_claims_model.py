"""The claims check's classifier (newsletter/checks/claims_model.py): the shipped weights match the
labelled files, training is deterministic, and what it finds reaches the check as a warning that
names the sentence, a category and a rewrite. How well it reads new text is bench/claims.py's
leave-one-file-out table (figures, not assertions)."""

from __future__ import annotations

import claims_corpus as corpus

from newsletter.checks import claims_model
from newsletter.checks.claims import claims_in_markdown

UNNAMED_CLAIM = "After one weekend with our team, your old life will feel like a bad dream you have woken up from."


def test_the_shipped_classifier_was_trained_on_the_labelled_files_as_they_are():
    files = corpus.labelled_files()
    assert claims_model.trained_on() == claims_model.data_hash(files), "a labelled file changed: run .venv/bin/python scripts/train_claims_model.py and commit newsletter/checks/claims_model/"


def test_training_is_deterministic():
    examples = corpus.labelled(corpus.labelled_files())[::6]  # a sixth of them: quick, same code path
    first, second = claims_model.train(examples), claims_model.train(examples)
    texts = [e.text for e in examples[:20]] + [UNNAMED_CLAIM]
    assert [claims_model.score(t, first[0]) for t in texts] == [claims_model.score(t, second[0]) for t in texts]


def test_a_claim_no_rule_names_is_a_warning_naming_its_sentence_category_and_rewrite():
    text = "We are here for you every step of the way. " + UNNAMED_CLAIM
    assert claims_in_markdown(text, model=False) == []
    [claim] = claims_in_markdown(text)
    assert claim.rule == "model" and claim.severity == "warning" and claim.sentence == UNNAMED_CLAIM
    assert claim.category in claims_model.R.CATEGORIES and claim.rewrite and "score 0." in claim.why


def test_the_classifier_reads_only_prose_and_not_where_a_rule_found_the_claim():
    assert claims_in_markdown("# " + UNNAMED_CLAIM) == []  # a heading
    assert claims_in_markdown("It works for everyone. " + UNNAMED_CLAIM)[0].rule != "model"
    short = "Leave your old self behind."  # claim-like to the classifier, but too short to read
    assert claims_model.score(short) >= claims_model.THRESHOLD and claims_in_markdown(short) == []
