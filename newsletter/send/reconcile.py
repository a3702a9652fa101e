"""Settle in-doubt ('unknown') ledger rows by asking the provider what it accepted.

Where the provider can search its accepted messages (Postmark's outbound message search, the
outbox's folder), rows it reports become ``accepted``; rows it reliably does not have (searched
after a grace period, since a search index may lag) become ``pending`` again and are sent; the
rest stay ``unknown``. Without a search, only an idempotent provider may resend them.

The grace period must outlast both the search index's lag and the time a provider may still
process a request after the client stopped waiting for it (a reply slower than the read timeout
is often handled anyway): "absent" before then is not reliable, and a resend would duplicate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from .. import clock
from ..errors import ProviderDeliveryUnknown, ProviderError, ProviderRateLimited, ProviderUnavailable
from ..models import SendResult
from ..providers.base import Provider
from ..store import ledger
from ..store.ledger import SendRecord

WINDOW_MARGIN = timedelta(minutes=5)
SEARCH_ATTEMPTS = 4  # a search is a read: retrying it is always safe


@dataclass(frozen=True)
class ReconcileReport:
    found: int = 0  # -> accepted
    absent: int = 0  # -> pending
    still_unknown: int = 0
    waiting: float = 0.0  # seconds until the youngest in-doubt row leaves its grace period
    error: str | None = None  # the search failed; rows left as they were


def reconcile(
    conn, send: SendRecord, provider: Provider, *, grace_seconds: float, now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReconcileReport:
    rows = ledger.rows_in_state(conn, send, "unknown")
    if not rows:
        return ReconcileReport()
    now = now or clock.utc_now()
    stamps = [clock.parse(r.sending_at) if r.sending_at else now for r in rows]
    try:
        records = _search(provider, send.issue_slug, min(stamps) - WINDOW_MARGIN, now + WINDOW_MARGIN, sleep)
    except ProviderError as err:
        return ReconcileReport(still_unknown=len(rows), error=err.message)
    if records is None:
        if provider.honours_idempotency_key:
            ledger.set_state(conn, [r.id for r in rows], "pending", "resent with the same idempotency key")
            return ReconcileReport(absent=len(rows))
        return ReconcileReport(still_unknown=len(rows))
    by_id: dict[int, str | None] = {}
    by_email: dict[str, str | None] = {}
    for rec in records:
        sid = rec.metadata.get("subscriber_id")
        if sid and sid.isdigit():
            by_id[int(sid)] = rec.provider_message_id
        by_email[rec.email.lower()] = rec.provider_message_id
    accepted, absent, waiting = [], [], []
    for row, stamp in zip(rows, stamps, strict=True):
        if row.subscriber_id in by_id or row.email.lower() in by_email:
            pmid = by_id.get(row.subscriber_id) or by_email.get(row.email.lower())
            accepted.append((row.id, "accepted", SendResult("accepted", provider_message_id=pmid, detail="found by reconciliation"), None))
        elif (now - stamp).total_seconds() >= grace_seconds:
            absent.append(row.id)
        else:
            waiting.append(grace_seconds - (now - stamp).total_seconds())
    if accepted:
        ledger.record_results(conn, accepted)
    if absent:
        ledger.set_state(conn, absent, "pending", "not found at the provider after the grace period: resending")
    return ReconcileReport(found=len(accepted), absent=len(absent), still_unknown=len(waiting), waiting=max(waiting, default=0.0))


def _search(provider: Provider, tag: str, since: datetime, until: datetime, sleep: Callable[[float], None]) -> Iterable | None:
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
