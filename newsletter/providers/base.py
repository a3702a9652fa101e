"""The provider interface and registry.

The send loop only knows this Protocol: hand over a ``Batch`` (models.py: the campaign, built once
per issue, and each recipient's values escaped per part, under the batch's identity ``key``), get
one SendResult per recipient back in the same order, or a ProviderError subclass for the batch.
Whether the adapter lets the provider substitute the values (one body per request) or builds
each message itself with the shared helpers of ``mime.py`` (``full_message`` for JSON APIs,
``MimeTemplate`` for RFC 5322 bytes) is the adapter's business; the send loop cannot tell.
A batch retried after part of it was settled is ``batch.rest(done)``, keyed apart. The errors:

- ProviderAuthError        credentials refused: stop the run;
- ProviderRateLimited      wait ``retry_after`` (or back off) and retry the same batch;
- ProviderUnavailable      provably never reached the provider, or 5xx: back off and retry
                           (ProviderUnreachable, no connection at all: a batch that gives up
                           on it stops the run);
- ProviderDeliveryUnknown  may have been accepted: mark the batch unknown, never resend blindly;
- ProviderRequestError     the provider refused the request as invalid, or cannot take any
                           (an unwritable outbox, a failed TLS handshake): stop the run.

Every ProviderError carries ``partial_results``: the results of the batch's first messages that
were settled before the failure (an adapter that sends a batch message by message, like SMTP,
may have had messages 1..k accepted when message k+1 fails). The error then applies only to
``batch[len(partial_results):]``: record the partial results first, and never resend them. HTTP
adapters send a batch in one request, so for them it is always empty.

Reconciling in-doubt batches (send/reconcile.py) is the same for every provider that can search
what it accepted (Postmark's outbound search now; Mailgun's events and SendGrid's activity as
they land): ``search_accepted`` answers a ``SearchResult`` with the records (carrying the issue and
subscriber metadata, or our Message-ID, so rows are matched by identity), the instants it
certainly covered, and whether it read every page. An API that takes local wall times converts
the window with ``search_window.wall_window`` (zoneinfo; an ambiguous hour read both ways); the
margin for clock skew and the grace period are applied by reconcile, not by the adapter.

Each adapter class declares its settings as ``options``, a tuple of ``Option`` values (key, kind,
range or choices, default, meaning), next to ``SEND_OPTIONS``, which the send loop reads from
every ``[providers.<name>]`` table. The config loader checks each table against them before
anything runs (``check_provider_table``: it reads them from ``option_specs.py``, where every
adapter's tuple is declared, so loading the config imports no adapter); the adapter then receives every declared key
already typed, with its default when not given. Secrets come from documented environment
variables only. One adapter instance is used by
one worker thread at a time, so it may keep a connection (requests.Session, SMTP) open.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence

from ..errors import ConfigError, NewsletterError
from ..models import Batch, SendResult, Suppression
from ..options import Option, Problem, check_table
from ..secrets import Redactor
from .option_specs import BY_PROVIDER


@dataclass(frozen=True)
class AcceptedRecord:
    """A message the provider says it accepted (for reconciling in-doubt batches)."""

    email: str
    provider_message_id: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)  # ours: issue, subscriber_id
    message_id: str | None = None  # our Message-ID header, when the provider reports it


@dataclass(frozen=True)
class SearchResult:
    """What a search found, and how far the answer can be trusted.

    ``covered_since``/``covered_until`` are the instants (aware, the provider's clock) the search
    certainly covered, after converting to the provider's own zone and reading any ambiguous
    local hour both ways. ``complete`` is False when some of the window could not be read (a
    page missing, more messages than the API can page): then "not found" proves nothing.
    Iterating it yields the records."""

    records: tuple[AcceptedRecord, ...]
    covered_since: datetime
    covered_until: datetime
    complete: bool = True
    note: str | None = None  # why it is incomplete

    def __iter__(self) -> Iterator[AcceptedRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


class Provider(Protocol):
    name: str
    max_batch: int
    honours_idempotency_key: bool  # resending with the same key is safe

    def send(self, batch: Batch) -> Sequence[SendResult]: ...

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]: ...

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult | None:
        """What the provider accepted with this tag in the window, and which part of the window
        the answer covers (send/reconcile.py trusts "absent" only inside it); None when the
        provider cannot search at all."""
        ...

    def destination(self, tag: str) -> str | None:
        """Where a person can look at what was written for this tag (the outbox's folder), so
        the command can say so; None for a provider that sends the mail away."""
        ...

    def close(self) -> None: ...


# name -> "module:class". The class has ``options`` and is constructed with (options, env).
REGISTRY: dict[str, str] = {
    "outbox": "newsletter.providers.outbox:OutboxProvider",
    "smtp": "newsletter.providers.smtp:SmtpProvider",
    "postmark": "newsletter.providers.postmark:PostmarkProvider",
    "sendgrid": "newsletter.providers.sendgrid:SendGridProvider",
    "ses": "newsletter.providers.ses:SesProvider",
    "mailgun": "newsletter.providers.mailgun:MailgunProvider",
}

# What the send loop (send/plan.py) reads from every provider's table; not set = the default
# given in the help, which the send loop applies.
SEND_OPTIONS: tuple[Option, ...] = (
    Option("workers", "integer", None, "batches in flight at once (default: [provider] workers)", min=1, max=32),
    Option("rate_limit", "number", None, "messages per second, 0 = unlimited (default: [provider] rate_limit)", min=0),
    Option("max_attempts", "integer", None, "tries per batch on 5xx or a refused connection (6)", min=1, max=100),
    Option("backoff_base", "seconds", None, "the first backoff, doubled on each try, with full jitter (0.5)"),
    Option("backoff_cap", "seconds", None, "the longest backoff (30)"),
    Option("retry_after_cap", "seconds", None, "the longest wait for one 429's Retry-After (60)"),
    Option("consecutive_failure_limit", "integer", None, "batches given up in a row before the run pauses (5)", min=1),
    Option("reconcile_grace_seconds", "number", None, "how long before 'not found by the search' counts as not sent (30; outbox 0)", min=0),
    Option("reconcile_margin_seconds", "number", None, "widening of every search window on both sides, for the provider's clock being off from ours (600)", min=0),
)


def provider_class(name: str) -> type:
    """The adapter class registered under ``name`` (its module is imported on first use)."""
    target = REGISTRY.get(name)
    if target is None:
        known = ", ".join(REGISTRY)
        raise ConfigError(f"newsletter.toml: [provider] name '{name}' is not a known provider", hint=f"Use one of: {known}.")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def provider_options(name: str) -> tuple[Option, ...]:
    """Every setting ``[providers.<name>]`` may hold: the send loop's and the adapter's own, read
    from ``option_specs`` without importing the adapter (the class when it declares none there)."""
    declared = BY_PROVIDER.get(name)
    return SEND_OPTIONS + (declared if declared is not None else provider_class(name).options)


def check_provider_table(name: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """``[providers.<name>]`` typed, every declared key present, and every problem in it."""
    return check_table(f"providers.{name}", given, provider_options(name))


def create_provider(name: str, options: Mapping[str, Any], env: Mapping[str, str]) -> Provider:
    """The adapter registered under ``name``, given its options checked and typed.

    Options from loaded Settings were checked when the config loaded; checking again here is
    cheap and covers options built in code (tests, ``send --provider``)."""
    cls = provider_class(name)
    values, problems = check_provider_table(name, options)
    if problems:
        raise ConfigError(
            "newsletter.toml: " + "; ".join(problem.text for problem in problems),
            hint=f"See README, Providers, for the [providers.{name}] settings.",
        )
    adapter = cls(values, env)
    redact = Redactor.from_env(env)
    return RedactedProvider(adapter, redact) if redact else adapter


class RedactedProvider:
    """An adapter whose every text is redacted of the configured secrets (secrets.py): the
    detail of each result and the message and hint of each error, raised by any method. An
    echoing server's error body reaches neither the ledger nor the screen with a token in it.
    Every other attribute is the adapter's."""

    def __init__(self, adapter: Provider, redact: Redactor) -> None:
        self._adapter = adapter
        self._redact = redact

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    def send(self, batch: Batch) -> Sequence[SendResult]:
        with self._redacting():
            return [self._redact.result(r) for r in self._adapter.send(batch)]

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        with self._redacting():
            return self._adapter.suppressions(since)

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult | None:
        with self._redacting():
            found = self._adapter.search_accepted(tag, since, until)
        if found is not None and found.note:
            found = replace(found, note=self._redact(found.note))
        return found

    def close(self) -> None:
        with self._redacting():
            self._adapter.close()

    @contextmanager
    def _redacting(self) -> Iterator[None]:
        try:
            yield
        except NewsletterError as err:
            self._redact.error(err)
            raise
        except Exception as err:  # a bug or an unmapped failure: its text may quote a secret too
            text = repr(err)
            if self._redact(text) != text:
                raise RuntimeError(self._redact(text)) from None
            raise
