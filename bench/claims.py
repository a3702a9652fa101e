"""Benchmark and scorecard of the claims check. Prints figures; asserts nothing.

    python bench/claims.py [--runs 3] [--misses]

(a) precision and recall on tests/fixtures/claims/corpus.txt, for the dev split (the rules are
    tuned on it), the held-out split (never tuned on) and all, with the recall per category of the
    risky paragraphs and the false alarms per category of the careful ones (their hard negatives);
    a paragraph counts as flagged when the check finds any claim in it.
    Then the same figures for each blind set, tests/fixtures/claims/blind*.txt (paragraphs written
    before reading the rules; scored on its own, never mixed into the corpus figures).
(b) leave one file out: the classifier (checks/claims_model.py) trained on every labelled file but
    one and scored on that one, alone and with the rules, beside the rules alone: the fair
    forecast for new text, for a file the rules were not tuned on.
(c) time: the spaCy import and pipeline build (once per process), then the time per paragraph,
    median of --runs passes over the whole corpus. --misses lists the paragraphs it gets wrong.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import claims_corpus as corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from newsletter.checks import claims

    claims._pipeline()
    claims._matchers(())
    print(f"load: spaCy import + pipeline + matchers {1000 * (time.perf_counter() - t0):.0f} ms (once per process)")

    paragraphs = corpus.load()
    results = corpus.evaluate(paragraphs)
    print(f"\ncorpus: {len(paragraphs)} paragraphs ({sum(p.risky for p in paragraphs)} risky)")
    for split in ("dev", "held-out", "all"):
        chosen = [(p, bool(f)) for p, f in results if split in ("all", p.split)]
        s = corpus.score(chosen)
        print(f"  {split:9} n={len(chosen):3}  precision {s.precision:.3f}  recall {s.recall:.3f}  (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})")

    report_categories(results)
    for path in sorted(corpus.CORPUS.parent.glob("blind*.txt")):
        blind = corpus.evaluate(corpus.load(path))
        s = corpus.score([(p, bool(f)) for p, f in blind])
        print(f"\nblind set {path.name}: n={len(blind)}  precision {s.precision:.3f}  recall {s.recall:.3f}  (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})")
        report_categories(blind)
        if args.misses:
            report_misses(blind, path.name)

    leave_one_file_out()

    severities = defaultdict(int)
    for _, found in results:
        for c in found:
            severities[c.severity] += 1
    print(f"\nfindings by severity: {dict(severities)}")

    timings = []
    for _ in range(args.runs):
        t = time.perf_counter()
        corpus.evaluate(paragraphs)
        timings.append((time.perf_counter() - t) / len(paragraphs))
    print(f"time per paragraph: median {1e6 * statistics.median(timings):.0f} us over {args.runs} passes of {len(paragraphs)}")

    if args.misses:
        report_misses(results, corpus.CORPUS.name, split=True)


def leave_one_file_out() -> None:
    """The classifier scored on each labelled file it was not trained on (trained on all the
    others), alone and with the rules; the rules alone beside them. Only for a file the rules were
    never tuned on is the "rules + classifier" figure a fair forecast for new text."""
    from newsletter.checks import claims_model

    files = corpus.labelled_files()
    print("\nleave one file out: the classifier trained on the other files, then scored on this one")
    print(f"  {'file':12} {'rules alone':>18} {'classifier alone':>18} {'rules + classifier':>20}")
    totals = defaultdict(lambda: [0, 0, 0, 0])
    for held in files:
        models = claims_model.train(corpus.labelled([f for f in files if f != held]))
        paragraphs = corpus.load(held)
        rules = [(p, bool(f)) for p, f in corpus.evaluate(paragraphs, model=False)]
        alone = [(p, claims_model.score(p.text, models[0]) >= claims_model.THRESHOLD) for p in paragraphs]
        with claims_model.trying(models):
            both = [(p, bool(f)) for p, f in corpus.evaluate(paragraphs)]
        cells = []
        for name, rows in (("rules", rules), ("alone", alone), ("both", both)):
            s = corpus.score(rows)
            cells.append(f"{s.precision:.3f} / {s.recall:.3f}")
            if held.name != corpus.CORPUS.name:
                for i, v in enumerate((s.tp, s.fp, s.fn, s.tn)):
                    totals[name][i] += v
        print(f"  {held.name:12} {cells[0]:>18} {cells[1]:>18} {cells[2]:>20}")
    cells = [f"{corpus.Score(*totals[n]).precision:.3f} / {corpus.Score(*totals[n]).recall:.3f}" for n in ("rules", "alone", "both")]
    print(f"  {'blind, all':12} {cells[0]:>18} {cells[1]:>18} {cells[2]:>20}   (precision / recall)")


def report_categories(results: list) -> None:
    found_right = defaultdict(lambda: [0, 0])
    false_alarms = defaultdict(lambda: [0, 0])
    for p, found in results:
        if p.risky:
            found_right[p.category][0] += bool(found)
            found_right[p.category][1] += 1
        else:
            false_alarms[p.category][0] += bool(found)
            false_alarms[p.category][1] += 1
    print("\nper category: risky found / risky, same category named, careful flagged / careful")
    for category in sorted(found_right):
        named = sum(1 for p, f in results if p.risky and p.category == category and any(c.category == category for c in f))
        hit, n = found_right[category]
        fa, m = false_alarms[category]
        print(f"  {category:12} {hit:2}/{n:2}  named {named:2}/{n:2}  false alarms {fa}/{m}")


def report_misses(results: list, name: str, split: bool = False) -> None:
    print(f"\nwrong in {name}:")
    for p, found in results:
        if bool(found) != p.risky:
            kind = "missed" if p.risky else "false alarm"
            print(f"  {p.split if split else name:8} {kind:11} line {p.line} {p.category}: {p.text[:120]!r} {[c.rule for c in found]}")


if __name__ == "__main__":
    main()
