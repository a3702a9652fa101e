"""Readability for lay readers: a grade score, long sentences and unexplained jargon.

Only the issue's prose counts: paragraphs, list items and quotes of the Markdown body, from the
same parser the build uses. Headings, code, tables (mostly figures) and the footnote references
are left out, and so are link targets. Every sentence keeps its file line.

The grade is the Flesch-Kincaid grade level, computed by textstat (imported here, only when a
check runs). textstat looks English syllables up in NLTK's CMU dictionary, which NLTK downloads
at run time; the language is therefore given in its hyphenated form (``en-US``), for which
textstat counts syllables with pyphen's hyphenation dictionaries, shipped inside the package:
no network, ever.

A glossary term is *explained at first use* when, in the sentence of its first use, it is
followed by a parenthesis, a dash or a colon, by ", meaning", ", that is", ", i.e.", ", or",
", a/an ..." (an apposition), or by "means", "refers to", "stands for", "is short for"; or when
it is itself the parenthesis after its expansion ("Clinician-Administered PTSD Scale (CAPS-5)"),
or it stands in a bold or italic lead-in that opens a paragraph and ends its first sentence
("**Functional unblinding.** Participants could tell..."), which the rest explains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..build.markdown import URL_RE, parser
from ..models import Finding, Issue
from .context import finding

MIN_WORDS_FOR_GRADE = 100  # below this a grade formula says little
# Skipped blocks: from the opening token type to its closing one.
SKIPPED_BLOCKS = {"heading_open": "heading_close", "table_open": "table_close", "footnote_block_open": "footnote_block_close"}
ABBREVIATIONS = ("e.g", "i.e", "vs", "etc", "et al", "approx", "Dr", "Mr", "Mrs", "Ms", "Prof", "St", "Fig", "No", "cf", "ca")
_ABBREV_RE = re.compile(r"(?:\b(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")|\b[A-Z])\.$", re.I)
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
WORD_RE = re.compile(r"\w+(?:[’'.,\-]\w+)*")
_EXPLAINED_AFTER_RE = re.compile(
    r"^(?:s|es)?\s*(?:\(|[—–:]|\s-\s|-{2}|,\s*(?:meaning|that is|i\.e\.|or|an?|the)\b|\s*(?:means|refers to|stands for|is short for)\b)",
    re.I,
)


@dataclass(frozen=True)
class Sentence:
    line: int  # file line where the sentence starts
    text: str
    words: int


@dataclass(frozen=True)
class Paragraph:
    line: int
    sentences: tuple[Sentence, ...]
    lead_in: int = 0  # characters of a bold or italic lead-in that opens it ("**Washout.** ...")


@dataclass(frozen=True)
class JargonUse:
    term: str
    line: int
    sentence: str
    explained_at: int | None  # a later line where it is explained, if any


@dataclass(frozen=True)
class Readability:
    """The prose of an issue, scored: what the findings and the preview's panel show."""

    paragraphs: tuple[Paragraph, ...]
    grade: float | None  # None when the prose is too short to score
    target: float
    max_words: int
    jargon: tuple[JargonUse, ...]  # glossary terms not explained at first use

    @property
    def words(self) -> int:
        return sum(s.words for p in self.paragraphs for s in p.sentences)

    @property
    def long_sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for p in self.paragraphs for s in p.sentences if s.words > self.max_words)


def readability_findings(report: Readability, path: str) -> list[Finding]:
    out = []
    if report.grade is not None and report.grade > report.target:
        out.append(
            finding(
                "readability.grade",
                "warning",
                path,
                f"reading grade {report.grade:.1f} (Flesch-Kincaid, {report.words} words of prose) is above the target of {report.target:g}:"
                " shorter sentences and everyday words help lay readers ([checks] reading_grade_target)",
            )
        )
    for s in report.long_sentences:
        out.append(
            finding(
                "readability.long-sentence",
                "warning",
                f"{path}:{s.line}",
                f"sentence of {s.words} words (more than {report.max_words}): split it: '{_clip(s.text)}'",
            )
        )
    for use in report.jargon:
        later = f" (explained at line {use.explained_at}: move that to the first use)" if use.explained_at else ""
        out.append(
            finding(
                "readability.jargon",
                "warning",
                f"{path}:{use.line}",
                f"'{use.term}' is not explained at first use{later}: add a short explanation in parentheses or after a dash, e.g. '{use.term} (...)'",
            )
        )
    return out


def score(issue: Issue, target: float, max_words: int, glossary: Sequence[str]) -> Readability:
    paragraphs = tuple(prose(issue))
    sentences = [s for p in paragraphs for s in p.sentences]
    return Readability(paragraphs=paragraphs, grade=grade(sentences), target=target, max_words=max_words, jargon=tuple(unexplained_jargon(paragraphs, glossary)))


def grade(sentences: Sequence[Sentence]) -> float | None:
    """Flesch-Kincaid grade of the sentences, or None for too little prose."""
    if sum(s.words for s in sentences) < MIN_WORDS_FOR_GRADE:
        return None
    import textstat  # noqa: PLC0415 - 0.2 s of imports (NLTK), only when a check runs

    # One sentence per line, each closed, so textstat counts the sentences found here.
    text = "\n".join(s.text if s.text[-1:] in ".!?" else s.text + "." for s in sentences)
    scorer = textstat.textstat.__class__()  # its own instance: set_lang does not leak into others
    scorer.set_lang("en-US")  # pyphen's dictionary, not NLTK's downloaded one (module docstring)
    return round(float(scorer.flesch_kincaid_grade(text)), 1)


# --- prose -----------------------------------------------------------------------------------


def prose(issue: Issue) -> Iterator[Paragraph]:
    """The body's prose blocks as sentences with their file lines."""
    tokens = parser().parse(issue.body, {})
    closing: str | None = None
    for tok in tokens:
        if closing:
            closing = None if tok.type == closing else closing
            continue
        if tok.type in SKIPPED_BLOCKS:
            closing = SKIPPED_BLOCKS[tok.type]
        elif tok.type == "inline" and tok.map:
            children = tok.children or []
            text, lines = _plain(children, issue.body_line + tok.map[0])
            sentences = tuple(_sentences(text, lines))
            if sentences:
                yield Paragraph(line=sentences[0].line, sentences=sentences, lead_in=_lead_in(children, text))


def _plain(children: Sequence, first_line: int) -> tuple[str, list[int]]:
    """The reader's text of an inline token, and the file line of every character."""
    chars: list[str] = []
    lines: list[int] = []
    line = first_line
    link_depth = 0

    def add(text: str) -> None:
        chars.append(text)
        lines.extend([line] * len(text))

    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            add(" ")
            line += 1
        elif child.type == "link_open":
            link_depth += 1
        elif child.type == "link_close":
            link_depth -= 1
        elif child.type in ("text", "code_inline"):
            add(URL_RE.sub("", child.content) if link_depth or "://" in child.content else child.content)
    return "".join(chars), lines


def _lead_in(children: Sequence, text: str) -> int:
    """The length of the bold or italic span opening a paragraph, 0 when it does not open so."""
    children = [c for c in children if not (c.type == "text" and not c.content)]  # markdown-it opens with an empty text
    if not children or children[0].type not in ("strong_open", "em_open"):
        return 0
    close = children[0].type.replace("_open", "_close")
    end = next((i for i, c in enumerate(children) if c.type == close), 1)
    inside = "".join(c.content for c in children[1:end] if c.type in ("text", "code_inline"))
    return len(text) - len(text.lstrip()) + len(inside)


def _sentences(text: str, lines: list[int]) -> Iterator[Sentence]:
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        if _ABBREV_RE.search(text[start : m.start() + 1]):
            continue
        yield from _sentence(text, lines, start, m.end())
        start = m.end()
    yield from _sentence(text, lines, start, len(text))


def _sentence(text: str, lines: list[int], start: int, end: int) -> Iterator[Sentence]:
    piece = text[start:end]
    stripped = piece.strip()
    words = len(WORD_RE.findall(stripped))
    if words:
        yield Sentence(line=lines[start + len(piece) - len(piece.lstrip())], text=" ".join(stripped.split()), words=words)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# --- jargon ----------------------------------------------------------------------------------


def term_pattern(term: str) -> re.Pattern[str]:
    """A glossary term in text: case matters for terms with capitals (CAPS-5, QT), a hyphen
    and a space are interchangeable, and a plural s is allowed."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", term.strip()) if w]
    body = r"[\s-]+".join(words)
    flags = 0 if any(c.isupper() for c in term) else re.I
    return re.compile(r"(?<![\w-])" + body + r"(?=(?:s|es)?(?![\w]))", flags)


def unexplained_jargon(paragraphs: Sequence[Paragraph], glossary: Sequence[str]) -> list[JargonUse]:
    out = []
    for term in glossary:
        pattern = term_pattern(term)
        uses = [(p, i, m) for p in paragraphs for i, s in enumerate(p.sentences) for m in pattern.finditer(s.text)]
        if not uses:
            continue
        (paragraph, index, m), later = uses[0], uses[1:]
        if explained(paragraph, index, m):
            continue
        explained_at = next((p.sentences[i].line for p, i, m2 in later if explained(p, i, m2)), None)
        first = paragraph.sentences[index]
        out.append(JargonUse(term=term, line=first.line, sentence=first.text, explained_at=explained_at))
    return sorted(out, key=lambda use: use.line)


def explained(paragraph: Paragraph, index: int, m: re.Match[str]) -> bool:
    """Whether the term matched by ``m`` in the paragraph's sentence ``index`` is explained
    (module docstring), or is the lead-in the rest of its paragraph explains."""
    sentence = paragraph.sentences[index]
    if index == 0 and paragraph.lead_in >= len(sentence.text) - 1 and len(paragraph.sentences) > 1:
        return True  # the lead-in is the whole first sentence (its full stop may stand outside)
    before, after = sentence.text[: m.start()], sentence.text[m.end() :]
    if _EXPLAINED_AFTER_RE.match(after):
        return True
    return bool(re.search(r"\w[^()]*\($", before.rstrip()) and after.lstrip("s").startswith(")"))
