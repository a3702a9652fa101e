"""Benchmark of the Markdown conformance run (tests/test_commonmark.py). Prints figures; asserts nothing.

    python bench/commonmark.py [--runs 5]

Renders every vendored spec example (CommonMark 0.31.2, GFM tables and strikethrough, footnotes)
through render_body and compiles its MJML with mjml-python, as the test does, and prints the
median over --runs of: the writers alone, the MJML compilation alone, and the text comparison.
Target: the whole conformance test under 10 s (it is not marked slow).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from spec_examples import commonmark, footnotes, gfm, text_content  # noqa: E402

from newsletter.build.markdown import Theme, render_body  # noqa: E402
from newsletter.build.render import compile_mjml  # noqa: E402

THEME = Theme(text="#111111", link="#0000ee", accent="#2f5d50")


def one_run(examples) -> tuple[float, float, float]:
    bodies, pages = [], []
    t0 = time.perf_counter()
    for ex in examples:
        try:
            bodies.append((ex, render_body(ex.markdown, Path("bench.md"), 1, THEME)))
        except Exception:  # the citations without a note, an error by design
            pass
    t1 = time.perf_counter()
    for ex, body in bodies:
        pages.append((ex, compile_mjml(f"<mjml><mj-body><mj-section><mj-column>{body.mjml}</mj-column></mj-section></mj-body></mjml>", Path("t"))))
    t2 = time.perf_counter()
    for ex, page in pages:
        text_content(page), text_content(ex.html)
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    examples = list(commonmark() + gfm() + footnotes())
    samples = [one_run(examples) for _ in range(runs)]
    print(f"{len(examples)} examples, median of {runs} runs")
    for name, column in zip(("render_body (both writers)", "mjml-python compile", "text comparison"), zip(*samples, strict=True), strict=True):
        median = statistics.median(column)
        print(f"  {name:28s} {median * 1000:8.1f} ms  ({median / len(examples) * 1e6:6.0f} us per example)")


if __name__ == "__main__":
    main()
