"""The second reader of the claims check: a small text classifier (spaCy's bag-of-words textcat,
words and word pairs) trained on the labelled paragraphs in tests/fixtures/claims/, that reads a
paragraph as a claim made in the newsletter's own voice or as careful writing. The rules of
claims_rules.py name the words of a claim they know; this model catches the phrasings no rule
names ("walk out of their first session feeling brand new"). claims.py asks it only about
paragraphs in which no rule found a claim, and reports its sentence of highest score as a warning.

The trained weights ship in claims_model/ (about 1 MB; no download at run time). They are
rebuilt, deterministically, by ``python scripts/train_claims_model.py`` from the labelled files;
``meta.json`` records a hash of those files, and a test fails when they change without a
retrain."""

from __future__ import annotations

import hashlib
import json
import random
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import claims_rules as R

MODEL_DIR = Path(__file__).with_name("claims_model")
THRESHOLD = 0.7  # a paragraph scoring at least this is a claim (chosen by leave-one-file-out scores: bench/claims.py)
SHORT_THRESHOLD = 0.85  # a short one (under claims.MODEL_SHORT_WORDS words) gives the model less to go on: it must score this
NGRAMS = 2
HASH_LENGTH = 2**16  # feature buckets of claim-or-careful: 0.5 MB of weights
KIND_HASH_LENGTH = 2**14  # and of which kind (eight labels): 0.5 MB
EPOCHS = 10
SEED = 0
CLAIM, CAREFUL = "CLAIM", "CAREFUL"


@dataclass(frozen=True)
class Labelled:
    text: str
    risky: bool
    category: str | None  # one of claims_rules.CATEGORIES, when the file says which


@dataclass(frozen=True)
class Reading:
    score: float  # how claim-like the paragraph reads, 0..1
    sentence: Any  # the spaCy span of the paragraph's most claim-like sentence
    category: str  # the likeliest kind of claim


def data_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def train(examples: Sequence[Labelled]) -> tuple[Any, Any]:
    """Two classifiers: claim or careful (every paragraph), and which kind of claim (the risky
    paragraphs whose category is known). Deterministic for the same examples."""
    claim = [(e.text, {CLAIM: float(e.risky), CAREFUL: float(not e.risky)}) for e in examples]
    kind = [(e.text, {c: float(c == e.category) for c in R.CATEGORIES}) for e in examples if e.risky and e.category in R.CATEGORIES]
    return _train_one(claim, (CLAIM, CAREFUL), HASH_LENGTH), _train_one(kind, tuple(R.CATEGORIES), KIND_HASH_LENGTH)


def _train_one(rows: list[tuple[str, dict[str, float]]], labels: tuple[str, ...], length: int) -> Any:
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed

    fix_random_seed(SEED)
    nlp = spacy.blank("en")
    architecture = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": NGRAMS, "no_output_layer": False, "length": length}
    textcat = nlp.add_pipe("textcat", config={"model": architecture})
    for label in labels:
        textcat.add_label(label)
    batch = [Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in rows]
    optimizer = nlp.initialize(lambda: batch)
    order = random.Random(SEED)
    for _ in range(EPOCHS):
        order.shuffle(batch)
        for i in range(0, len(batch), 16):
            nlp.update(batch[i : i + 16], sgd=optimizer, drop=0.2)
    return nlp


def save(models: tuple[Any, Any], trained_on: str, examples: int) -> None:
    claim, kind = models
    MODEL_DIR.mkdir(exist_ok=True)
    claim.to_disk(MODEL_DIR / "claim")
    kind.to_disk(MODEL_DIR / "kind")
    meta = {"trained_on": trained_on, "examples": examples, "threshold": THRESHOLD, "ngrams": NGRAMS, "epochs": EPOCHS}
    (MODEL_DIR / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def trained_on() -> str:
    return json.loads((MODEL_DIR / "meta.json").read_text()).get("trained_on", "")


_trial: list[tuple[Any, Any]] = []  # models under evaluation (bench/claims.py), in place of the shipped ones


def _models() -> tuple[Any, Any]:
    return _trial[-1] if _trial else _shipped()


@lru_cache(maxsize=1)
def _shipped() -> tuple[Any, Any]:
    import spacy

    return spacy.load(MODEL_DIR / "claim"), spacy.load(MODEL_DIR / "kind")


@contextmanager
def trying(models: tuple[Any, Any]):
    """Read with freshly trained ``models`` instead of the shipped ones (leave-one-out scoring)."""
    _trial.append(models)
    try:
        yield
    finally:
        _trial.pop()


def score(text: str, claim: Any | None = None) -> float:
    """How claim-like ``text`` reads (``claim``: a classifier from train(); the shipped one by default)."""
    return (claim or _models()[0])(text).cats[CLAIM]


def read(doc: Any) -> Reading:
    """The paragraph's score, its most claim-like sentence and the likeliest kind of claim
    (``doc``: the claims pipeline's parse of the paragraph, with its sentences)."""
    claim, kind = _models()
    score_of = claim(doc.text).cats[CLAIM]
    sentences = list(doc.sents)
    scored = [(claim(s.text).cats[CLAIM], s) for s in sentences] if len(sentences) > 1 else [(score_of, sentences[0])]
    _, best = max(scored, key=lambda pair: pair[0])
    kinds = kind(best.text).cats
    return Reading(score_of, best, max(R.CATEGORIES, key=lambda c: kinds.get(c, 0.0)))
