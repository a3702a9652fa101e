"""Retrain the claims check's classifier (newsletter/checks/claims_model.py) from every labelled
file in tests/fixtures/claims/ and write it to newsletter/checks/claims_model/. Deterministic:
the same files give the same weights. Run it after changing a labelled file (a test says when):

    .venv/bin/python scripts/train_claims_model.py

bench/claims.py prints how well it reads paragraphs it was not trained on (leave one file out)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import claims_corpus as corpus  # noqa: E402

from newsletter.checks import claims_model  # noqa: E402


def main() -> None:
    files = corpus.labelled_files()
    examples = corpus.labelled(files)
    t = time.perf_counter()
    nlp = claims_model.train(examples)
    claims_model.save(nlp, claims_model.data_hash(files), len(examples))
    size = sum(p.stat().st_size for p in claims_model.MODEL_DIR.rglob("*") if p.is_file())
    print(f"trained on {len(examples)} paragraphs from {len(files)} files in {time.perf_counter() - t:.1f} s; wrote {claims_model.MODEL_DIR} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
