"""``check --online``: does each reference say what its DOI is registered as?

Every DOI written in a reference (a footnote) is looked up in Crossref's REST API
(``[checks] crossref_api``, ``https://api.crossref.org/works/``) and its registered title, year
and journal are compared with the reference's text: the title fuzzily (case, punctuation, HTML
and small typos do not count), the year exactly (any of the issued, print and online years; years inside a DOI or a URL do
not count), the journal by its full or short name, word for word. A mismatch is a warning at the reference's line; a DOI
Crossref does not know, or an answer that does not come, is a warning that says it was not
compared. Standard library only (docs/architecture.md).

Politeness, as Crossref asks: a User-Agent naming the tool and, with ``[checks] crossref_mailto``,
an address to reach; two requests at a time; the check's timeout on every read and ``DEADLINE`` on each DOI's whole
exchange (watched_http.py); each DOI asked once per run.
"""

from __future__ import annotations

import difflib
import http.client
import json
import re
import socket
import unicodedata
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote

from ..build.markdown import URL_RE
from ..models import Finding, Reference
from ..watchdog import Watch
from .content import DOI_RE, DOI_TEXT_RE, DOI_URL_RE
from .context import Context, finding
from .watched_http import watched_opener

WORKERS = 2
USER_AGENT = "newsletter-citecheck/0.1 (preflight check of references)"
DEADLINE = 30.0  # seconds for one DOI's record in all, however slowly it trickles
TITLE_MATCH = 0.85  # difflib ratio of the title against the closest stretch of the reference
YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
TAG_RE = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Record:
    """What Crossref has registered for a DOI."""

    titles: tuple[str, ...]
    years: tuple[int, ...]
    journals: tuple[str, ...]  # full and short names


def check_citations(ctx: Context, timeout: float) -> list[Finding]:
    cited = list(cited_dois(ctx.compiled.references))
    if not cited:
        return []
    agent = USER_AGENT if not ctx.options.crossref_mailto else f"{USER_AGENT[:-1]}; mailto:{ctx.options.crossref_mailto})"
    dois = list(dict.fromkeys(doi for _, doi in cited))  # asked once per run
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = dict(zip(dois, pool.map(lambda doi: fetch_record(ctx.options.crossref_api, doi, timeout, agent), dois), strict=True))
    out = []
    for ref, doi in cited:
        where = ctx.source.at(ref.line)
        answer = answers[doi]
        if isinstance(answer, str):
            out.append(finding("online.citation-unverified", "warning", where, f"reference [{ref.number}]: DOI {doi} was not compared with Crossref ({answer})"))
        else:
            out += [finding(id_, "warning", where, f"reference [{ref.number}] (DOI {doi}): {what}") for id_, what in mismatches(ref.text, answer)]
    return out


def cited_dois(references: tuple[Reference, ...]) -> Iterator[tuple[Reference, str]]:
    """(reference, DOI) for every well-formed DOI written in a reference, once per reference."""
    for ref in references:
        found = [m.group(1) for m in DOI_URL_RE.finditer(ref.text)] + [m.group(1) for m in DOI_TEXT_RE.finditer(ref.text)]
        for doi in dict.fromkeys(d.rstrip(".,;:") for d in found):
            if DOI_RE.match(doi):
                yield ref, doi


def fetch_record(base: str, doi: str, timeout: float, agent: str, deadline: float = DEADLINE) -> Record | str:
    """Crossref's record for the DOI, or a short reason why there is none. ``timeout`` bounds
    each read, ``deadline`` the whole exchange (a server trickling its answer is cut off)."""
    watch = Watch(deadline)
    try:
        body = _get(watch, base + quote(doi, safe="/:;()._-"), timeout, agent)
    finally:
        watch.stop()
    if watch.expired:
        return f"Crossref gave no complete answer within {deadline:g} s"
    if isinstance(body, str):
        return body
    try:
        return parse_record(json.loads(body))
    except (ValueError, TypeError, KeyError, AttributeError):
        return "Crossref's answer was not the JSON of a work"


def _get(watch: Watch, url: str, timeout: float, agent: str) -> bytes | str:
    """The body at ``url``, or a short reason why there is none."""
    request = urllib.request.Request(url, headers={"User-Agent": agent, "Accept": "application/json"})
    watch.start()
    try:
        with watched_opener(watch).open(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        return "Crossref has no record of it: a DOI registered elsewhere, such as DataCite, cannot be compared" if err.code == 404 else f"Crossref answered HTTP {err.code}"
    except (TimeoutError, socket.timeout):
        return f"Crossref did not answer within {timeout:g} s"
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            return f"Crossref did not answer within {timeout:g} s"
        return f"Crossref could not be reached: {getattr(err.reason, 'strerror', None) or err.reason}"
    except (OSError, ValueError, http.client.HTTPException) as err:
        return f"Crossref could not be reached: {err}"


def parse_record(data: dict[str, Any]) -> Record:
    message = data["message"]
    titles = [TAG_RE.sub("", t) for t in message.get("title") or []]
    subtitles = [TAG_RE.sub("", t) for t in message.get("subtitle") or []]
    if titles and subtitles:
        titles.append(f"{titles[0]}: {subtitles[0]}")
    years = []
    for key in ("issued", "published-print", "published-online", "published"):
        for parts in (message.get(key) or {}).get("date-parts") or []:
            if parts and isinstance(parts[0], int):
                years.append(parts[0])
    journals = [*(message.get("container-title") or []), *(message.get("short-container-title") or [])]
    return Record(tuple(titles), tuple(dict.fromkeys(years)), tuple(TAG_RE.sub("", j) for j in journals))


def mismatches(text: str, record: Record) -> Iterator[tuple[str, str]]:
    """(finding id, what differs) for the title, year and journal of the reference's text."""
    text = DOI_TEXT_RE.sub(" ", URL_RE.sub(" ", text))  # a year or word inside a DOI is no evidence
    if record.titles and not any(fuzzy_in(title, text) for title in record.titles):
        yield "online.citation-title", f"the title does not match the one registered at Crossref, '{record.titles[0]}': check that the reference and its DOI are the same paper"
    years = {int(y) for y in YEAR_RE.findall(text)}
    if record.years and not years & set(record.years):
        written = ", ".join(str(y) for y in sorted(years)) or "no year"
        yield "online.citation-year", f"the reference gives {written}; Crossref has {'/'.join(str(y) for y in record.years)}"
    if record.journals and not any(fuzzy_in(journal, text, exact=True) for journal in record.journals):
        yield "online.citation-journal", f"the journal registered at Crossref, '{record.journals[0]}', is not named in the reference"


def normalized(text: str) -> str:
    """Case, accents, punctuation and HTML left out: only the words ("&" is "and")."""
    text = unicodedata.normalize("NFKD", TAG_RE.sub(" ", text)).replace("&", " and ")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def fuzzy_in(needle: str, haystack: str, *, exact: bool = False) -> bool:
    """Whether ``needle``'s words are in ``haystack``; unless ``exact``, allowing small
    differences: the best ratio of the needle against any stretch of the haystack with about as
    many words. Journal names are compared exactly (Psychopharmacology is not
    Neuropsychopharmacology), without a leading "the"."""
    want, words = normalized(needle), normalized(haystack).split()
    if exact:
        want = want.removeprefix("the ")
    if not want:
        return True
    if f" {want} " in f" {' '.join(words)} ":
        return True
    if exact:
        return False
    n = len(want.split())
    best = 0.0
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(max(1, len(words) - size + 1)):
            best = max(best, difflib.SequenceMatcher(None, want, " ".join(words[start : start + size])).ratio())
    return best >= TITLE_MATCH
