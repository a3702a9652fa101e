"""What providers report after a send: webhook events and pulled suppressions, applied to the list.

``apply_event`` writes one webhook record atomically: the record (recognised when redelivered),
the subscriber's new status and the history line saying why, or nothing at all. ``apply_suppressions``
does the same for a provider's suppression list (``subscribers sync``), many addresses per
transaction. Status rules are those of ``subscribers.mark_suppressed``: a complaint overrides
any status; a bounce or unsubscribe only replaces active or pending; nothing here ever turns a
suppressed subscriber back to active.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from .. import clock
from ..models import ProviderEvent
from . import subscribers
from .db import transaction
from .subscribers import SUPPRESSED, Subscriber

Outcome = Literal["duplicate", "changed", "noted", "unknown address"]
# Event kinds that suppress, and the status each gives.
SUPPRESSING = {"bounced": "bounced", "complained": "complained", "unsubscribed": "unsubscribed"}
HISTORY_KIND = {"soft_bounce": "soft bounce", "resubscribe_noted": "reactivation noted", "delivered": "delivered"}
SYNC_CHUNK = 500  # suppressions per transaction: short writer locks, the site stays responsive


def apply_event(conn: sqlite3.Connection, event: ProviderEvent, *, source: str = "webhook") -> Outcome:
    with transaction(conn):
        sub = _subscriber_of(conn, event)
        inserted = conn.execute(
            "INSERT OR IGNORE INTO provider_events (provider, identity, record_type, kind, issue_slug, subscriber_id, occurred_at, received_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (event.provider, event.identity, event.record_type, event.kind, event.issue, sub.id if sub else None, event.occurred_at, clock.timestamp()),
        ).rowcount
        if not inserted:
            return "duplicate"
        if sub is None:
            return "unknown address"
        detail = _detail(event)
        status = SUPPRESSING.get(event.kind)
        if status is None:
            if event.kind != "delivered":  # deliveries are counted per issue, not written to history
                subscribers.record_event(conn, sub.id, HISTORY_KIND[event.kind], source, detail)
            return "noted"
        return "changed" if _suppress(conn, sub, status, source, detail) else "noted"


def _subscriber_of(conn: sqlite3.Connection, event: ProviderEvent) -> Subscriber | None:
    """By a signed id; else by address; else by the id the message carried, if its address matches."""
    if event.trust_subscriber_id and event.subscriber_id is not None:
        return subscribers.find(conn, event.subscriber_id)
    found = subscribers.find(conn, event.email)
    if found is None and event.subscriber_id is not None:
        by_id = subscribers.find(conn, event.subscriber_id)
        found = by_id if by_id is not None and by_id.email.lower() == event.email.lower() else None
    return found


def _detail(event: ProviderEvent) -> str:
    parts = [event.detail or event.record_type]
    if event.issue:
        parts.append(f"issue {event.issue}")
    return "; ".join(parts)


def _suppress(conn: sqlite3.Connection, sub: Subscriber, status: str, source: str, detail: str) -> bool:
    """Inside the caller's transaction: set ``status`` when the rules allow; always record it."""
    if sub.status == status:
        subscribers.record_event(conn, sub.id, status, source, f"{detail}; already {status}")
        return False
    if sub.status in SUPPRESSED and status != "complained":
        subscribers.record_event(conn, sub.id, status, source, f"{detail}; status stays {sub.status}")
        return False
    at = clock.timestamp()
    conn.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?", (status, at, sub.id))
    subscribers.record_event(conn, sub.id, status, source, f"{detail}; was {sub.status}", at)
    return True


# ----------------------------------------------------------------------------- pulled suppressions


@dataclass(frozen=True)
class PulledSuppression:
    email: str
    status: str  # bounced, complained or unsubscribed
    detail: str


@dataclass
class SyncCounts:
    new: int = 0  # active or pending subscribers now suppressed
    already: int = 0  # already suppressed in the list (a complaint may still upgrade the status)
    unknown: int = 0  # addresses not in the list

    def add(self, other: SyncCounts) -> None:
        self.new += other.new
        self.already += other.already
        self.unknown += other.unknown


def apply_suppressions(conn: sqlite3.Connection, pulled: Iterable[PulledSuppression], *, source: str = "sync") -> SyncCounts:
    counts = SyncCounts()
    chunk: list[PulledSuppression] = []
    for item in pulled:
        chunk.append(item)
        if len(chunk) >= SYNC_CHUNK:
            counts.add(_apply_chunk(conn, chunk, source))
            chunk = []
    if chunk:
        counts.add(_apply_chunk(conn, chunk, source))
    return counts


def _apply_chunk(conn: sqlite3.Connection, chunk: Sequence[PulledSuppression], source: str) -> SyncCounts:
    counts = SyncCounts()
    with transaction(conn):
        for item in chunk:
            sub = subscribers.find(conn, item.email)
            if sub is None:
                counts.unknown += 1
            elif sub.status in SUPPRESSED:
                counts.already += 1
                if item.status == "complained" and sub.status != "complained":
                    _suppress(conn, sub, item.status, source, item.detail)
            else:
                counts.new += 1
                _suppress(conn, sub, item.status, source, item.detail)
    return counts


# ----------------------------------------------------------------------------- counts per issue


def issue_counts(conn: sqlite3.Connection, issue_slug: str) -> dict[str, int]:
    """Recipients of the issue per event kind (each recipient once per kind)."""
    rows = conn.execute(
        "SELECT kind, COUNT(DISTINCT COALESCE(CAST(subscriber_id AS TEXT), identity)) AS n FROM provider_events"
        " WHERE issue_slug = ? GROUP BY kind",
        (issue_slug,),
    )
    found = {r["kind"]: r["n"] for r in rows}
    return {kind: found.get(kind, 0) for kind in ("delivered", "bounced", "soft_bounce", "complained", "unsubscribed")}
