"""Health claims, read sentence by sentence (issue 13): each sentence of the issue's prose is
matched against the claim patterns of claims_rules.py on spaCy lemmas, and a match counts only
outside the frames of careful writing (negation scope, quotation and attribution, criticism and
warnings, hedges, official terms), in the manner of NegEx/ConText.

spaCy is imported here only, when the check first runs, and its pipeline (a blank English model,
the rule-based sentencizer and the lookup lemmatizer of spacy-lookups-data: no model download,
no network) is built once per process."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

from ..models import Finding
from . import claims_rules as R
from .context import Context, Source

QUOTED_RE = re.compile(r'"[^"]*(?:"|$)|“[^”]*(?:”|$)|‘[^’]*(?:’|$)|(?<!\w)\'[^\']+(?:\'(?!\w)|$)')
FENCE_RE = re.compile(r"^\s*(```|~~~)")
SKIP_LINE_RE = re.compile(r"^\s*(\[\^[^\]]+\]:|\[[^\]]+\]:\s*\S|\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$|<!--.*-->\s*$)")
BLOCK_START_RE = re.compile(r"^\s*(#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|\|)")
LIST_ITEM_RE = re.compile(r"^\s*(?:>\s?)*(?:[-*+]|\d{1,3}[.)])\s+")
LINE_PREFIX_RE = re.compile(r"^\s*(?:>\s?)*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+)?")
INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[\^[^\]]+\]"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<https?://[^>]*>|https?://\S+|<[^>]+>|\{[^}]*\}"), ""),
    (re.compile(r"\*\*|__|~~|`|\*|(?<!\w)_+|_+(?!\w)"), ""),
    (re.compile(r"\s*\|\s*"), " ; "),
)
SENTENCE_SHOWN = 160
YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
GAP_STOPS = [".", ",", ";", ":", "!", "?", "(", ")", '"', "“", "”", "'", "‘", "’", "—", "–"]


@dataclass(frozen=True)
class Claim:
    """One claim: the sentence that makes it, where, and what to do about it."""

    line: int | None
    sentence: str
    category: str
    rule: str
    severity: R.Severity
    words: str  # the words that made the claim
    why: str
    rewrite: str

    @property
    def key(self) -> str:
        """Stable across runs and line moves; changes when the sentence is edited."""
        digest = hashlib.sha1(" ".join(self.sentence.split()).casefold().encode()).hexdigest()[:10]
        return f"claims:{self.category}:{digest}"


@dataclass(frozen=True)
class Block:
    """A paragraph, list item, heading or table row of prose, with the line each piece came from."""

    pieces: tuple[tuple[int | None, str], ...]
    item: bool = False  # a list item: a warning that leads into the list ("Watch for:") covers it
    prose: bool = True  # a paragraph or list item; not a heading, table row or front-matter value (the classifier reads prose only)

    @property
    def text(self) -> str:
        return " ".join(t for _, t in self.pieces)

    def line_at(self, offset: int) -> int | None:
        starts, pos = [], 0
        for _, t in self.pieces:
            starts.append(pos)
            pos += len(t) + 1
        return self.pieces[max(bisect_right(starts, offset) - 1, 0)][0]


def check_claims(ctx: Context) -> list[Finding]:
    found = find_claims(issue_blocks(ctx.source), extra_phrases=ctx.options.extra_claim_phrases)
    return [Finding(id=f"claims.{c.category}", severity=c.severity, location=ctx.source.at(c.line), message=describe(c), key=c.key) for c in found]


def describe(claim: Claim) -> str:
    shown = claim.sentence if len(claim.sentence) <= SENTENCE_SHOWN else claim.sentence[: SENTENCE_SHOWN - 1] + "…"
    label = R.CATEGORIES.get(claim.category, "claim phrase")
    return f"{label}: \"{shown}\" {claim.why} ('{claim.words}'). Suggested rewrite: {claim.rewrite}. Accept it if the evidence supports it: {claim.key}"


# --- prose from Markdown --------------------------------------------------------------------------


def issue_blocks(source: Source) -> list[Block]:
    """The subject, preheader and title, then the body's prose blocks (code, footnote definitions,
    comments and URLs left out: a reference's title is a citation, not our claim)."""
    blocks = [Block(((line, clean(text)),), prose=False) for line, text in source.front_values() if text.strip()]
    return blocks + markdown_blocks(source.body_lines())


def markdown_blocks(lines: Iterable[tuple[int | None, str]]) -> list[Block]:
    blocks: list[Block] = []
    current: list[tuple[int | None, str]] = []
    fenced = in_footnote = item = heading = False

    def close() -> None:
        if current:
            blocks.append(Block(tuple(current), item, prose=not heading))
            current.clear()

    for line, raw in lines:
        if FENCE_RE.match(raw):
            fenced = not fenced
            close()
            continue
        if fenced:
            continue
        if not raw.strip():
            in_footnote = False
            close()
            continue
        if SKIP_LINE_RE.match(raw):
            in_footnote = raw.lstrip().startswith("[^")
            close()
            continue
        if in_footnote and raw[:1].isspace():
            continue
        in_footnote = False
        if BLOCK_START_RE.match(raw) or raw.lstrip().startswith("#"):
            close()
            item = bool(LIST_ITEM_RE.match(raw))
            heading = raw.lstrip().startswith(("#", "|"))
        elif not current:
            item = heading = False
        text = clean(LINE_PREFIX_RE.sub("", raw, count=1))
        if text:
            current.append((line, text))
        if raw.lstrip().startswith(("#", "|")):
            close()
    close()
    return blocks


def clean(text: str) -> str:
    for pattern, replacement in INLINE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split()).strip(" ;")


# --- the analysis -----------------------------------------------------------------------------------


def find_claims(blocks: Sequence[Block], extra_phrases: Sequence[str] = (), model: bool = True) -> list[Claim]:
    """Every claim in ``blocks``, one per sentence and category (the surest first); with ``model``,
    the classifier of claims_model.py reads each paragraph in which no rule found a claim."""
    nlp = _pipeline()
    matcher, officials = _matchers(tuple(extra_phrases))
    out: list[Claim] = []
    warned_list = False  # the list under "Three things to watch for:" is criticism, item by item
    for block, doc in zip(blocks, nlp.pipe(b.text for b in blocks), strict=True):
        _lower_lemmas(doc, nlp)
        if not block.item:
            warned_list = _leads_a_warning(doc)
        elif warned_list:
            continue
        masked = {i for _, s, e in officials(doc) for i in range(s, e)}
        by_sentence: dict[tuple[int, str], Claim] = {}
        for match_id, start, end in sorted(matcher(doc), key=lambda m: (m[1], m[2])):
            rule = RULES_BY_NAME.get(nlp.vocab.strings[match_id]) or _phrase_rule()
            span = doc[start:end]
            sent = span.sent
            if masked.intersection(range(start, end)) or not _is_claim(rule, span, sent):
                continue
            claim = Claim(block.line_at(sent.start_char), sent.text.strip(), rule.category, rule.name, rule.severity, span.text, rule.why, rule.rewrite)
            key = (sent.start, rule.category)
            if key not in by_sentence or (claim.severity == "error" and by_sentence[key].severity != "error"):
                by_sentence[key] = claim
        if not by_sentence and model and block.prose:
            found = _model_claim(block, doc)
            if found:
                by_sentence[(0, found.category)] = found
        out += by_sentence.values()
    return out


MODEL_MIN_WORDS = 8  # a line of a few words gives the classifier too little to read
MODEL_SHORT_WORDS = 15  # below this many words, a paragraph must score claims_model.SHORT_THRESHOLD


def _model_claim(block: Block, doc: Any) -> Claim | None:
    from . import claims_model

    words = sum(1 for t in doc if t.is_alpha)
    if words < MODEL_MIN_WORDS:
        return None
    reading = claims_model.read(doc)
    if reading.score < (claims_model.THRESHOLD if words >= MODEL_SHORT_WORDS else claims_model.SHORT_THRESHOLD):
        return None
    sent = reading.sentence
    if _careful_frame(sent):
        return None
    why = f"reads as a claim made in the newsletter's own voice (score {reading.score:.2f} from the classifier trained on the labelled paragraphs), though no rule names its words"
    return Claim(block.line_at(sent.start_char), sent.text.strip(), reading.category, MODEL_RULE, "warning", sent.text.strip(), why, R.CATEGORY_REWRITES[reading.category])


def _leads_a_warning(doc: Any) -> bool:
    """A block that ends with a colon and warns ("Red flags:", "Watch for clinics that:")."""
    if not doc.text.rstrip().endswith(":"):
        return False
    last = list(doc.sents)[-1]
    return _criticism([t.lemma_ for t in last], " " + " ".join(t.lower_ for t in last) + " ")


def claims_in_markdown(text: str, model: bool = True) -> list[Claim]:
    """The claims of a Markdown fragment (a paragraph of the corpus, a line of the bench)."""
    return find_claims(markdown_blocks(enumerate(text.splitlines(), 1)), model=model)


def _is_claim(rule: R.Rule, span: Any, sent: Any) -> bool:
    lemmas = [t.lemma_ for t in sent]
    words = " " + " ".join(t.lower_ for t in sent) + " "
    outside = [t.lemma_ for t in sent if not span.start <= t.i < span.end]
    if _quoted(span, sent, words) or _criticism(outside, words) or _negated(span, sent) or _negated_inside(rule, span) or _asks(sent) or _answered_no(sent):
        return False
    if _attributed(span, sent, lemmas, words) or _reported_sanction(span, sent):
        return False
    if rule.hedgeable and _hedged(span, sent):
        return False
    if rule.category == "guarantee" and _about_process(span, sent):
        return False
    if rule.study_context_ok and R.STUDY_CONTEXT.intersection(outside) and not (R.FIRST_PERSON | R.TESTIMONIAL_SUBJECTS).intersection(lemmas):
        return False
    if rule.name == "promise" and span.end < sent.end and span.doc[span.end].lower_ == "only":  # "we promise only to explain"
        return False
    if rule.name == "numeric" and YEAR_RE.search(span.text):  # "Measure 109 in 2020" is a date, not a success figure
        return False
    if rule.name == "the-best" and _evidence_compound(span):
        return False
    if "placebo" in (t.lemma_ for t in span) or (rule.name == "permanent" and span.end < sent.end and span.doc[span.end].lemma_ in {"reason", "measure", "cause"}):
        return False
    if rule.block_needs and not _block_has(span.doc, rule.block_needs):
        return False
    if rule.block_unless and _block_has(span.doc, rule.block_unless):
        return False
    if rule.needs == "speaker" and not R.SPEAKERS.intersection(t.lower_ for t in sent):
        return False
    if rule.needs == "imperative":
        return _imperative(span, sent)
    return True


def _block_has(doc: Any, lemmas: str) -> bool:
    wanted = set(lemmas.split("|"))
    return any(t.lemma_ in wanted or t.lower_ in wanted for t in doc)


def _careful_frame(sent: Any) -> bool:
    """A question or a report of others' words, in the sentence the classifier picked: it proposes,
    this vetoes. (The classifier has learnt negation and hedges from its examples; vetoing on them
    too cost it a fifth of its finds on an untouched set, and no precision.)"""
    lemmas = {t.lemma_ for t in sent}
    return _asks(sent) or bool(QUOTED_RE.search(sent.text)) or (not R.FIRST_PERSON.intersection(lemmas) and bool(R.ATTRIBUTION.intersection(lemmas)))


def _hedged(span: Any, sent: Any) -> bool:
    """A hedge in the claim's own clause: the sentence up to or from a colon, semicolon, dash or
    "but" that separates it from the claim does not count."""
    doc = span.doc
    start = next((i + 1 for i in range(span.start - 1, sent.start - 1, -1) if doc[i].lower_ in R.HEDGE_SCOPE_END), sent.start)
    end = next((i for i in range(span.end, sent.end) if doc[i].lower_ in R.HEDGE_SCOPE_END), sent.end)
    clause = [t for t in doc[start:end] if not span.start <= t.i < span.end and not _shows_up(t)]
    words = " " + " ".join(t.lower_ for t in doc[start:end]) + " "
    return bool(R.HEDGES.intersection(t.lemma_ for t in clause)) or any(f" {p} " in words for p in R.HEDGE_PHRASES)


def _shows_up(t: Any) -> bool:
    """"results appear from the first session": "appear" meaning "show up" hedges nothing."""
    if t.lemma_ != "appear":
        return False
    nxt = t.doc[t.i + 1] if t.i + 1 < len(t.doc) else None
    return nxt is None or nxt.is_punct or nxt.lower_ in R.NOT_HEDGING_AFTER_APPEAR


def _reported_sanction(span: Any, sent: Any) -> bool:
    """A sanction or complaint reported about the claim ("fined operators for promising guaranteed
    healing"): a sanction word, then within the window "for|over|after" and a claiming verb, before the claim."""
    doc = span.doc
    for i in range(sent.start, span.start):
        if doc[i].lemma_ not in R.SANCTIONS and doc[i].lower_ not in R.SANCTIONS:
            continue
        for j in range(i + 1, min(span.start, i + R.SANCTION_WINDOW) + 1):
            if doc[j].lower_ in R.SANCTION_LINKS and j + 1 < len(doc) and doc[j + 1].lower_ in R.CLAIMING:
                return True
    return False


def _evidence_compound(span: Any) -> bool:
    """"the best-studied treatment" describes the evidence, not a ranking of treatments."""
    return any(t.lower_ == "-" and t.i + 1 < len(t.doc) and t.doc[t.i + 1].lower_ in R.EVIDENCE_COMPOUNDS for t in span)


def _negative_question(sent: Any) -> bool:
    words = [t.lower_ for t in sent if not t.is_space]
    return len(words) > 2 and words[-1] == "?" and words[0] in R.QUESTION_LEADS and words[1] == "n't"


def _asks(sent: Any) -> bool:
    """A yes/no question ("Is it safe?"), not a negative or "did you know" one, which asserts."""
    words = [t.lower_ for t in sent if not t.is_space]
    if words[:2] in (["q", ":"], ["question", ":"]):
        words = words[2:]  # an FAQ's "Q: Is it safe?"
    if len(words) < 3 or words[-1] != "?" or words[0] not in R.QUESTION_LEADS:
        return False
    return words[1] != "n't" and words[1:3] != ["you", "know"]


def _answered_no(sent: Any) -> bool:
    """"Guaranteed results? We can't offer them.": a question the next sentence answers with a no."""
    if not sent.text.rstrip().endswith("?") or sent.end >= len(sent.doc):
        return False
    following = [t.lower_ for t in sent.doc[sent.end : sent.end + 4]]
    return bool(following) and (following[0] in R.ANSWER_NO or (len(following) > 2 and following[1] in ("ca", "can", "do", "would", "could", "will", "wo") and following[2] in ("n't", "not", "never")))


def _about_process(span: Any, sent: Any) -> bool:
    """A promise or refund about how we work ("we promise to explain the risks"), with no outcome."""
    lemmas = {t.lemma_ for t in sent}
    return bool(R.PROCESS_WORDS.intersection(lemmas)) and not R.OUTCOME_WORDS.intersection(lemmas)


def _quoted(span: Any, sent: Any, words: str) -> bool:
    """Inside quotation marks, unless we adopt the quote as our own ("'I was cured' - that is what
    our treatment can do"); a quote we report hearing ("a line we hear a lot") is not adopted."""
    a, b = span.start_char - sent.start_char, span.end_char - sent.start_char
    quotes = [m for m in QUOTED_RE.finditer(sent.text)]
    if not any(m.start() <= a and b <= m.end() for m in quotes):
        return False
    inside = [(m.start() + sent.start_char, m.end() + sent.start_char) for m in quotes]
    rest = {t.lemma_ for t in sent if not any(s <= t.idx < e for s, e in inside)}
    return not R.FIRST_PERSON.intersection(rest) or bool(R.ATTRIBUTION.intersection(rest))


def _criticism(outside: list[str], words: str) -> bool:
    return bool(R.CRITICISM.intersection(outside)) or any(f" {p} " in words for p in R.CRITICISM_PHRASES) or bool(_ANYONE_CLAIMING.search(words))


_ANYONE_CLAIMING = re.compile(R.ANYONE_CLAIMING)


def _attributed(span: Any, sent: Any, lemmas: list[str], words: str) -> bool:
    """Someone else's claim, reported: an attribution cue that is not the sentence's own verb in the
    imperative ("Call us"), in a sentence where we do not speak for ourselves."""
    doc = span.doc
    if R.FIRST_PERSON.intersection(lemmas):
        return _we_hear(span, sent)
    cues = [
        t for t in sent
        if (t.lemma_ in R.ATTRIBUTION or t.lower_ in R.ATTRIBUTION_FORMS) and t.text[:1].islower() and t.lower_ != "market" and not span.start <= t.i < span.end
        and not (t.i + 1 < sent.end and doc[t.i + 1].lower_ in ("yes", "no")) and not _testimonial(t, sent) and not _negated_cue(t, sent)
    ]  # lower-case only: "the United States" is not a cue; nor "say yes", nor "on the market"
    if cues and all(t.lemma_ == "say" for t in cues) and any(m in words for m in R.SAY_MARKERS):
        cues = []  # "That said, ..." attributes nothing
    return bool(cues) or any(f" {p} " in words for p in R.ATTRIBUTION_PHRASES)


def _we_hear(span: Any, sent: Any) -> bool:
    """"We sometimes hear that one session produces permanent change": a claim we report hearing,
    before the claim, not one we make."""
    doc = span.doc
    for i in range(sent.start, span.start):
        if doc[i].lemma_ in R.FIRST_PERSON and any(doc[j].lemma_ in {"hear", "read"} and doc[j + 1].lower_ in {"that", "claims", "people", "it"} for j in range(i + 1, min(i + 4, span.start - 1))):
            return True
    return False


def _negated_cue(cue: Any, sent: Any) -> bool:
    """"What the rehab crowd won't tell you: ...": a negated "tell" frames our own claim as a secret."""
    doc = cue.doc
    return any(doc[i].lemma_ in R.NEGATION or doc[i].lower_ in R.NEGATION for i in range(max(sent.start, cue.i - 2), cue.i))


def _testimonial(cue: Any, sent: Any) -> bool:
    """"Our guests report complete recovery": the clinic's customers speaking in its marketing."""
    doc = cue.doc
    return any(doc[i].lemma_ in R.TESTIMONIAL_SUBJECTS for i in range(max(sent.start, cue.i - 2), cue.i))


def _negated_inside(rule: R.Rule, span: Any) -> bool:
    """A negation that a gap of the pattern took in ("it will not work", "science has not shown"),
    where the rule's own words have none."""
    own = _rule_words(rule.name)
    return any((t.lemma_ in R.NEGATION or t.lower_ in R.NEGATION) and t.lower_ not in own and t.lemma_ not in own for t in span)


@lru_cache(maxsize=None)
def _rule_words(name: str) -> frozenset[str]:
    rule = RULES_BY_NAME.get(name)
    words = (w.lstrip("=") for p in (rule.patterns if rule else ()) for spec in p.split() for w in spec.rstrip("?").split("|"))
    return frozenset(words)


def _negated(span: Any, sent: Any) -> bool:
    """A negation cue before the claim, within its clause and the window (NegEx), that is not a
    pseudo-negation ("not only"); a cue in an if-clause stops at the comma."""
    doc = span.doc
    conditional = doc[sent.start].lemma_ in R.CONDITIONAL_LEADS
    for i in range(span.start - 1, max(sent.start, span.start - R.NEGATION_WINDOW) - 1, -1):
        t = doc[i]
        if t.lemma_ in R.CLAUSE_END or (t.text == "," and conditional):
            return False
        nxt = doc[i + 1].lower_ if i + 1 < len(doc) else ""
        pseudo = i + 1 < span.start and (t.lower_, nxt) in R.PSEUDO_NEGATION  # "not only", but "no wonder drug" is negated
        pseudo = pseudo or (i == sent.start + 1 and _negative_question(sent))  # "Isn't it better than...?" asserts
        if (t.lemma_ in R.NEGATION or t.lower_ in R.NEGATION) and not pseudo:
            return True
        if any(f"{t.lower_} {nxt}" == p for p in R.NEGATION_PHRASES):
            return True
    return False


def _imperative(span: Any, sent: Any) -> bool:
    """The advice verb tells the reader what to do: in its base form, at the start of a clause
    (after "just", "it's time to"...) or after "you can/should/must"; not "whether to stop"."""
    doc = span.doc
    verb = doc[span.start]
    if verb.lower_ != verb.lemma_ or any(t.lower_ == "whether" for t in doc[sent.start : span.start]):
        return False
    i = span.start - 1
    if i > sent.start and doc[i].lower_ == "and" and _clause_start(doc, i, sent).lower_ in R.IMPERATIVE_VERBS:
        return True  # "Switch to X and leave the pills behind"
    while i >= sent.start and (doc[i].lower_ in R.IMPERATIVE_LEADS or doc[i].lower_.endswith("ly")):
        i -= 1
    if i < sent.start or doc[i].is_punct:
        return True
    while i >= sent.start and doc[i].lower_ in R.MODALS:
        i -= 1
    return i >= sent.start and i < span.start - 1 and doc[i].lower_ == "you"


def _clause_start(doc: Any, i: int, sent: Any) -> Any:
    while i > sent.start and not doc[i - 1].is_punct:
        i -= 1
    return doc[i]


# --- spaCy, built once ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _pipeline() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup table from spacy-lookups-data (installed, never downloaded)
    return nlp


def _lemma_table(nlp: Any) -> Any:
    return nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")


def _lower_lemmas(doc: Any, nlp: Any) -> None:
    """The lookup table is case-sensitive ("Stopped" stays "Stopped"): lemmatize lower-cased words."""
    table = _lemma_table(nlp)
    for t in doc:
        t.lemma_ = table.get(t.lower_, t.lower_)


@lru_cache(maxsize=8)
def _matchers(extra_phrases: tuple[str, ...]) -> tuple[Any, Any]:
    from spacy.matcher import Matcher, PhraseMatcher

    nlp = _pipeline()
    table = _lemma_table(nlp)
    matcher = Matcher(nlp.vocab)
    for rule in R.RULES:
        matcher.add(rule.name, [_compile(p, table) for p in rule.patterns])
    for phrase in extra_phrases:
        matcher.add(PHRASE_RULE, [[{"LOWER": t.lower_} for t in nlp.make_doc(phrase)]])
    officials = PhraseMatcher(nlp.vocab, attr="LOWER")
    officials.add("official", list(nlp.tokenizer.pipe(R.OFFICIAL_TERMS)))
    return matcher, officials


def _compile(pattern: str, table: Any) -> list[dict[str, Any]]:
    """A pattern string of claims_rules.py -> a spaCy Matcher pattern."""
    out: list[dict[str, Any]] = []
    for spec in pattern.split():
        optional = spec.endswith("?") and len(spec) > 1
        spec = spec[:-1] if optional else spec
        if spec == "~":
            token: dict[str, Any] = {"TEXT": {"NOT_IN": GAP_STOPS}, "OP": "{0,3}"}  # may cross a hyphen, not a clause
        elif spec == "##":
            token = {"IS_DIGIT": True}
        elif spec == "#":
            token = {"LIKE_NUM": True}
        elif spec.startswith("="):
            token = {"LOWER": {"IN": spec[1:].split("|")}}
        else:
            words = spec.split("|")
            token = {"LEMMA": {"IN": sorted({*words, *(table.get(w, w) for w in words)})}}
        if optional:
            token["OP"] = "?"
        out.append(token)
    return out


PHRASE_RULE = "phrase"
MODEL_RULE = "model"
RULES_BY_NAME = {r.name: r for r in R.RULES}


@lru_cache(maxsize=1)
def _phrase_rule() -> R.Rule:
    return R.Rule(PHRASE_RULE, "phrase", "warning", (), "uses a phrase listed in [checks] extra_claim_phrases", "say what the evidence shows instead")
