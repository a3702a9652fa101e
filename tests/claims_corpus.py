"""The labelled paragraphs of tests/fixtures/claims/corpus.txt and how the claims check scores on
them (used by tests/test_claims_corpus.py and bench/claims.py).

A paragraph counts as flagged when the check finds any claim in it (error or warning). The split
into dev and held-out is by a hash of the text, so it never depends on the order of the file; the
rules are tuned on dev only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "claims" / "corpus.txt"
HELD_OUT_SHARE = 4  # one paragraph in four


@dataclass(frozen=True)
class Paragraph:
    line: int
    label: str  # risky | careful
    category: str
    text: str
    tuned: bool = False  # below a "# @tuned" line: written to test the rules on fresh text, then tuned on

    @property
    def risky(self) -> bool:
        return self.label == "risky"

    @property
    def split(self) -> str:
        if self.tuned:
            return "dev"
        digest = int(hashlib.sha1(self.text.encode()).hexdigest(), 16)
        return "held-out" if digest % HELD_OUT_SHARE == 0 else "dev"


def load(path: Path = CORPUS) -> list[Paragraph]:
    out = []
    tuned = False
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        tuned = tuned or raw.startswith("# @tuned")
        if not raw.strip() or raw.startswith("#"):
            continue
        head, _, text = raw.partition(" | ")
        label, category = head.split()
        assert label in ("risky", "careful") and text, f"{path}:{n}: want 'risky|careful CATEGORY | text'"
        out.append(Paragraph(n, label, category, text.replace("\\n", "\n"), tuned))
    return out


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(results: list[tuple[Paragraph, bool]]) -> Score:
    tp = sum(p.risky and f for p, f in results)
    fp = sum(not p.risky and f for p, f in results)
    fn = sum(p.risky and not f for p, f in results)
    return Score(tp, fp, fn, len(results) - tp - fp - fn)


def evaluate(paragraphs: list[Paragraph], model: bool = True) -> list[tuple[Paragraph, list]]:
    from newsletter.checks.claims import claims_in_markdown

    return [(p, claims_in_markdown(p.text, model=model)) for p in paragraphs]


def labelled_files() -> list[Path]:
    """Every labelled file: the corpus and the blind sets (what the classifier is trained on)."""
    return sorted(CORPUS.parent.glob("*.txt"))


def labelled(files: list[Path]) -> list:
    """The paragraphs of ``files`` as the classifier's training examples."""
    from newsletter.checks import claims_model, claims_rules

    return [claims_model.Labelled(p.text, p.risky, p.category if p.category in claims_rules.CATEGORIES else None) for f in files for p in load(f)]
