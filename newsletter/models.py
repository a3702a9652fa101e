"""Frozen values passed between the pipeline's stages (see design.md, "The data flow")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator, Literal, Mapping, NamedTuple

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
    """One personalized message in full, neutral to any provider: what ``mime.full_message``
    builds from a campaign and a recipient's values (and what ``build`` writes as the sample)."""

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
class Campaign:
    """What every recipient of one send shares, built once per issue (``build/personalize.py``).

    An adapter either hands ``html``/``text`` with their fields to the provider to substitute
    (SendGrid, Mailgun, Postmark bulk) or builds full messages with the shared helpers in
    ``mime.py`` (``full_message`` for JSON APIs, ``MimeTemplate`` for RFC 5322 bytes)."""

    tag: str  # the issue's tag: every message's Tag and metadata "issue"
    from_: str  # "Name <address>"
    subject: str
    html: MergeTemplate  # literals around merge fields; values come HTML-escaped
    text: MergeTemplate  # values come plain
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # the same for every recipient: List-Unsubscribe-Post, List-Id
    # Per-recipient headers, in this order after Message-ID; their values are in RecipientValues.headers.
    recipient_headers: tuple[str, ...] = ("List-Unsubscribe",)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every merge field the parts use, each once, in order of first use."""
        return tuple(dict.fromkeys(self.html.fields + self.text.fields))


class RecipientValues(NamedTuple):
    """One recipient's values, escaped per part: ``html`` HTML-escaped (ASCII, as the compiled
    HTML), ``text`` plain, ``headers`` header-safe (no line breaks), one per
    ``Campaign.recipient_headers``. A named tuple, not a frozen dataclass: it is made for every
    recipient, and a frozen dataclass's ``__init__`` costs more than the rest of that together."""

    subscriber_id: int
    to: str  # the To header's one-line value (recipients.py: encoded display name)
    to_address: str  # the envelope address (domain in IDNA A-labels)
    message_id: str
    html: Mapping[str, str]
    text: Mapping[str, str]
    headers: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    to_name: str = ""  # the display name in ``to`` as text (for APIs that take name and address apart)

    @property
    def rcpt(self) -> str:
        return self.to_address


@dataclass(frozen=True)
class Batch:
    """Recipients of one campaign sent together. ``key`` is the batch's identity in the ledger,
    the same on every retry of these recipients (Resend's Idempotency-Key, SendGrid's custom
    args): a batch retried from its ``done``-th recipient is ``rest(done)``, keyed apart."""

    campaign: Campaign
    recipients: tuple[RecipientValues, ...]
    key: str = ""

    def __len__(self) -> int:
        return len(self.recipients)

    def __iter__(self) -> Iterator[RecipientValues]:
        return iter(self.recipients)

    def __getitem__(self, index: int) -> RecipientValues:
        return self.recipients[index]

    @classmethod
    def of_message(cls, msg: "OutgoingMessage", key: str) -> "Batch":
        """A one-message batch of a whole message built elsewhere (a sign-up confirmation): its
        parts are literals without fields, its headers the campaign's."""
        campaign = Campaign(
            tag=msg.tag or "", from_=msg.from_, subject=msg.subject,
            html=MergeTemplate((msg.html,), ()), text=MergeTemplate((msg.text,), ()),
            reply_to=msg.reply_to, headers=msg.headers, recipient_headers=(),
        )
        values = RecipientValues(msg.subscriber_id, msg.to, msg.rcpt, msg.message_id, {}, {}, (), msg.metadata)
        return cls(campaign, (values,), key)

    def rest(self, done: int) -> "Batch":
        if done == 0:
            return self
        return Batch(self.campaign, self.recipients[done:], f"{self.key}+{done}")


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
