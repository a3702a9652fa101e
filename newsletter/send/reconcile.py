"""Settle in-doubt ('unknown') ledger rows by asking the provider what it accepted.

Where the provider can search its accepted messages (Postmark's outbound message search, the
outbox's folder), rows it reports become ``accepted``; rows it provably does not have become
``pending`` again and are sent; the rest stay ``unknown``. Without a search, only an idempotent
provider may resend them.

A resend after a wrong "absent" is the one mistake this must never make (a second copy in a
patient's inbox), so the rules are the same for every provider that searches by time:

- the window runs from the oldest in-doubt row's send time to now, widened on both sides by
  ``margin`` (the provider's clock may be minutes off from ours); the adapter converts it to the
  provider's own zone (zoneinfo, an ambiguous local hour read both ways) and reports the part it
  certainly covered;
- a row is matched by its own identity (our Message-ID, or the issue and subscriber id we put in
  the metadata), never by time alone, so a wider window can only find more; a record with no
  identity to the row's address keeps the row in doubt instead of settling it either way;
- "absent" needs all three: the search was complete (every page read), its covered window holds
  the row's widened send time, and the grace period has passed. The grace period must outlast
  the search index's lag and the time a provider may still process a request after the client
  stopped waiting (a reply slower than the read timeout is often handled anyway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from .. import clock
from ..errors import ProviderDeliveryUnknown, ProviderError, ProviderRateLimited, ProviderUnavailable
from ..models import SendResult
from ..providers.base import AcceptedRecord, Provider, SearchResult
from ..store import ledger
from ..store.ledger import Delivery, SendRecord

DEFAULT_MARGIN_SECONDS = 600.0  # several minutes: a provider's clock off from ours by that much is still matched
SEARCH_ATTEMPTS = 4  # a search is a read: retrying it is always safe


@dataclass(frozen=True)
class ReconcileReport:
    found: int = 0  # -> accepted
    absent: int = 0  # -> pending
    still_unknown: int = 0
    waiting: float = 0.0  # seconds until the youngest in-doubt row leaves its grace period
    error: str | None = None  # the search failed; rows left as they were
    doubt: str | None = None  # the search answered but could not settle some rows: why


def reconcile(
    conn, send: SendRecord, provider: Provider, *, grace_seconds: float,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS, now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReconcileReport:
    rows = ledger.rows_in_state(conn, send, "unknown")
    if not rows:
        return ReconcileReport()
    now = now or clock.utc_now()
    margin = timedelta(seconds=margin_seconds)
    stamps = [clock.parse(r.sending_at) if r.sending_at else None for r in rows]
    since = min((s for s in stamps if s is not None), default=now) - margin
    try:
        result = _search(provider, send.issue_slug, since, now + margin, sleep)
    except ProviderError as err:
        return ReconcileReport(still_unknown=len(rows), error=err.message)
    if result is None:
        if provider.honours_idempotency_key:
            ledger.set_state(conn, [r.id for r in rows], "pending", "resent with the same idempotency key")
            return ReconcileReport(absent=len(rows))
        return ReconcileReport(still_unknown=len(rows))
    return _settle(conn, rows, stamps, result, _Identities(send.issue_slug, result), now, margin, grace_seconds)


def _settle(conn, rows: list[Delivery], stamps: list[datetime | None], result: SearchResult, found: _Identities,
            now: datetime, margin: timedelta, grace_seconds: float) -> ReconcileReport:
    accepted, absent, waiting = [], [], []
    doubts: dict[str, list[int]] = {}  # reason -> rows that stay unknown for it
    for row, stamp in zip(rows, stamps, strict=True):
        record = found.of(row)
        if record is not None:
            result_ = SendResult("accepted", provider_message_id=record.provider_message_id, detail="found by reconciliation")
            accepted.append((row.id, "accepted", result_, None))
            continue
        reason = _why_not_absent(row, stamp, result, found, now, margin)
        if reason is not None:
            doubts.setdefault(reason, []).append(row.id)
        elif (now - stamp).total_seconds() < grace_seconds:
            waiting.append(grace_seconds - (now - stamp).total_seconds())
        else:
            absent.append(row.id)
    if accepted:
        ledger.record_results(conn, accepted)
    if absent:
        ledger.set_state(conn, absent, "pending", "not found at the provider after the grace period: resending")
    for reason, ids in doubts.items():
        ledger.set_state(conn, ids, "unknown", reason)
    unsettled = sum(len(ids) for ids in doubts.values())
    return ReconcileReport(
        found=len(accepted), absent=len(absent), still_unknown=len(waiting) + unsettled,
        waiting=max(waiting, default=0.0), doubt="; ".join(doubts) or None,
    )


def _why_not_absent(row: Delivery, stamp: datetime | None, result: SearchResult, found: _Identities,
                    now: datetime, margin: timedelta) -> str | None:
    """Why "not found" does not prove this row absent, or None when it does (grace aside)."""
    if not result.complete:
        return f"not settled: the search was incomplete ({result.note or 'not every page could be read'})"
    if stamp is None:
        return "not settled: no send time recorded, so no search window can be known to cover it"
    if result.covered_since > stamp - margin or result.covered_until < now + margin:
        return "not settled: the search did not cover the whole widened window"
    if found.unidentified(row.email):
        return "not settled: the provider has a message to this address without our identity on it"
    return None


class _Identities:
    """The search's records by what identifies one of our messages: our Message-ID, and the
    issue + subscriber id metadata (personalize.py puts both on every message)."""

    def __init__(self, tag: str, records: Iterable[AcceptedRecord]) -> None:
        self.by_message_id: dict[str, AcceptedRecord] = {}
        self.by_subscriber: dict[int, AcceptedRecord] = {}
        self.anonymous: set[str] = set()  # addresses of records with no identity at all
        for rec in records:
            sid = rec.metadata.get("subscriber_id", "")
            same_issue = rec.metadata.get("issue", tag) == tag  # the tag already selects the issue
            if rec.message_id:
                self.by_message_id[rec.message_id] = rec
            if sid.isdigit() and same_issue:
                self.by_subscriber[int(sid)] = rec
            if not rec.message_id and not sid:
                self.anonymous.add(rec.email.lower())

    def of(self, row: Delivery) -> AcceptedRecord | None:
        if row.message_id and row.message_id in self.by_message_id:
            return self.by_message_id[row.message_id]
        return self.by_subscriber.get(row.subscriber_id)

    def unidentified(self, email: str) -> bool:
        return email.lower() in self.anonymous


def _search(provider: Provider, tag: str, since: datetime, until: datetime, sleep: Callable[[float], None]) -> SearchResult | None:
    """The provider's search, retried through passing failures (429, 5xx, a dropped answer)."""
    for attempt in range(1, SEARCH_ATTEMPTS + 1):
        try:
            return provider.search_accepted(tag, since, until)
        except (ProviderRateLimited, ProviderUnavailable, ProviderDeliveryUnknown) as err:
            if attempt == SEARCH_ATTEMPTS:
                raise
            wait = getattr(err, "retry_after", None)
            sleep(min(wait if wait is not None else 2.0 ** (attempt - 1), 30.0))
    return None
