"""What every check reads: the options from ``[checks]``, the issue source (for file:line
locations), and the sample message's HTML, text and .eml, each parsed once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, Iterator, Literal

from ..config import Settings
from ..models import CompiledIssue, Finding, Issue
from .glossary import DEFAULT_GLOSSARY
from .htmlscan import HtmlScan, collapse, scan_html

DEFAULT_DOI_RESOLVER = "https://doi.org/"
DEFAULT_CROSSREF_API = "https://api.crossref.org/works/"


@dataclass(frozen=True)
class CheckOptions:
    extra_claim_phrases: tuple[str, ...] = ()
    disclaimer_pattern: re.Pattern[str] | None = None
    postal_address_pattern: re.Pattern[str] | None = None
    ignore: tuple[str, ...] = ()
    online_skip: tuple[str, ...] = ()
    doi_resolver: str = DEFAULT_DOI_RESOLVER
    spamassassin: bool = True
    reading_grade_target: float = 10.0
    sentence_max_words: int = 30
    glossary: tuple[str, ...] = DEFAULT_GLOSSARY
    crossref_api: str = DEFAULT_CROSSREF_API
    crossref_mailto: str | None = None


def load_options(settings: Settings) -> CheckOptions:
    """The ``[checks]`` options: checked and typed when the config loaded (config.TABLES)."""
    values: dict[str, Any] = dict(settings.checks)
    phrases = values.pop("extra_claim_phrases", ())
    glossary = _glossary(values.pop("glossary", DEFAULT_GLOSSARY), values.pop("extra_glossary", ()), values.pop("glossary_remove", ()))
    return CheckOptions(
        extra_claim_phrases=tuple(dict.fromkeys(p.strip() for p in phrases if p.strip())), glossary=glossary, **values
    )


def _glossary(terms: tuple[str, ...], extra: tuple[str, ...], remove: tuple[str, ...]) -> tuple[str, ...]:
    removed = {t.strip().casefold() for t in remove}
    return tuple(t for t in dict.fromkeys(t.strip() for t in (*terms, *extra)) if t.casefold() not in removed)


class Source:
    """Maps text back to ``file:line`` in the issue (front-matter keys and Markdown body)."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        self.path = str(issue.path)
        self.lines = issue.body.splitlines()

    def at(self, line: int | None) -> str:
        return f"{self.path}:{line}" if line else self.path

    def key(self, name: str) -> str:
        return self.at(self.issue.key_lines.get(name))

    def body_lines(self) -> Iterator[tuple[int, str]]:
        for n, text in enumerate(self.lines):
            yield self.issue.body_line + n, text

    def front_values(self) -> Iterator[tuple[int | None, str]]:
        """The free-text front-matter values a reader sees, with their lines."""
        for key in ("subject", "preheader", "title"):
            yield self.issue.key_lines.get(key), getattr(self.issue, key)

    def all_lines(self) -> Iterator[tuple[int | None, str]]:
        yield from self.front_values()
        yield from self.body_lines()

    def find(self, needle: str) -> int | None:
        """The first line (front matter or body) that contains ``needle``."""
        for line, text in self.all_lines():
            if needle and needle in text:
                return line
        return None

    def locate(self, needle: str, default: str) -> str:
        line = self.find(needle)
        return self.at(line) if line else default


@dataclass
class Context:
    compiled: CompiledIssue
    settings: Settings
    options: CheckOptions
    source: Source
    html: str
    text: str
    eml: bytes
    mime: EmailMessage
    scan: HtmlScan

    @property
    def issue(self) -> Issue:
        return self.compiled.issue

    @property
    def text_flat(self) -> str:
        return collapse(self.text)

    def unsubscribe_uri(self) -> str | None:
        """The https URI of the List-Unsubscribe header, if there is exactly one."""
        value = self.mime.get("List-Unsubscribe") or ""
        https = [u for u in re.findall(r"<([^>]*)>", str(value)) if u.lower().startswith("https://")]
        return https[0] if len(https) == 1 else None

    def webview_prefix(self) -> str:
        return f"{self.settings.base_url}/issues/{self.issue.slug}/"


def make_context(compiled: CompiledIssue, settings: Settings, options: CheckOptions, html: str, text: str, eml: bytes) -> Context:
    mime = message_from_bytes(eml, policy=default_policy)
    return Context(compiled, settings, options, Source(compiled.issue), html, text, eml, mime, scan_html(html))  # type: ignore[arg-type]


def parts_of(eml: bytes) -> tuple[str | None, str | None]:
    """The decoded text/html and text/plain bodies of a message (None where absent)."""
    mime = message_from_bytes(eml, policy=default_policy)
    html = mime.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    text = mime.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return (html.get_content() if html else None, text.get_content() if text else None)


Severity = Literal["error", "warning"]


def finding(id: str, severity: Severity, location: str, message: str) -> Finding:
    return Finding(id=id, severity=severity, location=location, message=message)
