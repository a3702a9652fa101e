"""The claims check on its labelled corpus (tests/fixtures/claims/corpus.txt): both splits keep
precision and recall at 0.9 or more. The figures are deterministic; bench/claims.py prints them
with the per-category detail and the time per paragraph."""

from __future__ import annotations

from collections import Counter

import claims_corpus as corpus

from newsletter.checks.claims_rules import CATEGORIES

PARAGRAPHS = corpus.load()


def test_the_corpus_is_large_balanced_and_has_hard_negatives_for_every_category():
    labels = Counter(p.label for p in PARAGRAPHS)
    assert len(PARAGRAPHS) >= 200 and labels["risky"] == labels["careful"]
    per = Counter((p.label, p.category) for p in PARAGRAPHS)
    assert all(per["risky", c] >= 15 and per["careful", c] >= 15 for c in CATEGORIES)
    held_out = [p for p in PARAGRAPHS if p.split == "held-out"]
    assert len(held_out) >= 50 and {p.label for p in held_out} == {"risky", "careful"}


def test_precision_and_recall_stay_at_least_0_9_on_both_splits():
    results = corpus.evaluate(PARAGRAPHS)
    for split in ("dev", "held-out"):
        s = corpus.score([(p, bool(found)) for p, found in results if p.split == split])
        missed = [p.line for p, found in results if p.split == split and p.risky and not found]
        false = [p.line for p, found in results if p.split == split and not p.risky and found]
        assert s.precision >= 0.9 and s.recall >= 0.9, f"{split}: precision {s.precision:.2f}, recall {s.recall:.2f}; missed lines {missed}, false alarms {false}"
