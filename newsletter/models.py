"""Frozen values passed between the pipeline's stages (see design.md, "The data flow")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Mapping

# Merge fields: Markdown and templates write ``{{ first_name }}``; the compiled HTML and text
# carry ``%%first_name%%`` so per-recipient output is string work only (never another compile).
MERGE_FIELDS = ("first_name", "unsubscribe_url", "webview_url", "preferences_url")
PLACEHOLDER = "%%{}%%"
PLACEHOLDER_RE = re.compile(r"%%(" + "|".join(MERGE_FIELDS) + r")%%")

ISSUE_STATUSES = ("draft", "ready", "sent")


@dataclass(frozen=True)
class Issue:
    """A validated issue file: front matter plus the Markdown body."""

    path: Path
    title: str
    subject: str
    preheader: str
    date: date
    slug: str
    status: str
    body: str
    body_line: int  # 1-based line of the file where the body starts
    authors: tuple[str, ...] = ()
    reviewed_by: str | None = None
    tags: tuple[str, ...] = ()
    key_lines: Mapping[str, int] = field(default_factory=dict)  # front-matter key -> file line
    curly_quoted: tuple[str, ...] = ()  # keys whose value was written in curly quotes, read as quoted


@dataclass(frozen=True)
class MergeTemplate:
    """A compiled part split around its placeholders: literal, field, literal, field, literal."""

    literals: tuple[str, ...]
    fields: tuple[str, ...]

    @classmethod
    def split(cls, compiled: str) -> "MergeTemplate":
        pieces = PLACEHOLDER_RE.split(compiled)
        return cls(tuple(pieces[0::2]), tuple(pieces[1::2]))

    def fill(self, values: Mapping[str, str]) -> str:
        """Join the literals with the (already escaped) values of the fields."""
        out = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            out.append(values[name])
            out.append(literal)
        return "".join(out)


@dataclass(frozen=True)
class Reference:
    """One numbered citation (a Markdown footnote)."""

    number: int
    label: str
    line: int
    text: str  # plain text of the definition
    urls: tuple[str, ...]


@dataclass(frozen=True)
class CompiledIssue:
    """The issue compiled once: HTML and text with merge placeholders left in."""

    issue: Issue
    mjml: str
    html: str
    text: str
    references: tuple[Reference, ...]
    html_template: MergeTemplate
    text_template: MergeTemplate


@dataclass(frozen=True)
class Recipient:
    """Who one copy goes to (a snapshot of the subscriber at send time)."""

    subscriber_id: int
    email: str
    first_name: str = ""


@dataclass(frozen=True)
class OutgoingMessage:
    """One personalized message, neutral to any provider."""

    subscriber_id: int
    to: str
    from_: str  # "Name <address>"
    subject: str
    html: str
    text: str
    message_id: str
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # List-Unsubscribe, List-Id, ...
    tag: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    # The envelope address (recipients.py: domain in IDNA A-labels); "" = the address in ``to``.
    # ``to`` is the header's one-line value: ASCII unless this local part is not (SMTPUTF8).
    to_address: str = ""

    @property
    def rcpt(self) -> str:
        if self.to_address:
            return self.to_address
        from email.utils import parseaddr

        return parseaddr(self.to)[1] or self.to


@dataclass(frozen=True)
class SendResult:
    """The provider's answer for one message of a batch."""

    status: Literal["accepted", "rejected"]
    provider_message_id: str | None = None
    code: str | None = None
    detail: str | None = None
    suppress: bool = False  # the provider says the address is inactive/suppressed
    location: str | None = None  # where a person can open the message (the outbox's file); None when remote


@dataclass(frozen=True)
class Suppression:
    """An address the provider will not deliver to (bounce, complaint, unsubscribe)."""

    email: str
    reason: str
    created_at: datetime | None = None
    origin: str | None = None


# What a provider event means for the list and the issue's counts.
EventKind = Literal["delivered", "bounced", "soft_bounce", "complained", "unsubscribed", "resubscribe_noted"]


@dataclass(frozen=True)
class ProviderEvent:
    """One webhook record from a provider, parsed into what the store needs.

    ``identity`` is stable across the provider's redeliveries of the same record, so a
    redelivered event is recognised and changes nothing."""

    provider: str
    record_type: str
    identity: str
    kind: EventKind
    email: str
    occurred_at: str | None = None
    issue: str | None = None  # the issue's tag (slug), when the message carried it
    subscriber_id: int | None = None  # from the message's metadata, when it carried it
    detail: str | None = None
    trust_subscriber_id: bool = False  # the id came signed (an unsubscribe token): look it up first


@dataclass(frozen=True)
class Finding:
    """One preflight result."""

    id: str
    severity: Literal["error", "warning"]
    location: str
    message: str
    key: str | None = None  # this one finding, stable across runs: what `approve --accept` names (claims: claims:<category>:<hash>)
