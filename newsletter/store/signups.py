"""Double opt-in: sign-up requests waiting for their confirmation, and the sign-up rate limits.

A request is kept per subscriber until the emailed link is opened and confirmed; confirming
applies it (status, consent record, first name, topics) in one transaction and deletes it, so a
link works once. Nothing about a suppressed person changes before they confirm, and an address
erased with ``forget`` stays erased (its keyed hash kept) until the person confirms. A request
left unconfirmed past its expiry is dropped, and a pending record the form created goes with it.

Rate-limit attempts are rows in the store, so several web workers share one count; they hold
keyed hashes, never an IP or an address in clear, and are pruned after a day.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from ..clock import timestamp
from ..errors import SubscriberError
from . import forgotten
from .db import transaction
from .subscribers import SUPPRESSED, Subscriber, add, clean_tags, find, get, insert_tags, record_event

SOURCE = "signup form"
KEEP_ATTEMPTS_SECONDS = 86_400  # the longest window any limit looks at


@dataclass(frozen=True)
class Request:
    subscriber_id: int
    requested_at: str
    first_name: str
    topics: tuple[str, ...]
    consent_version: str


def request_signup(
    conn: sqlite3.Connection, email: str, *, first_name: str, topics: Sequence[str], consent_version: str, consent_form: str, now: float
) -> Subscriber | None:
    """Keep a sign-up request for this address: a new address becomes a ``pending`` subscriber
    (an erased one too: signing up is a new consent). Returns the subscriber to send the
    confirmation to, or None for an active one (nothing to confirm, nothing is changed)."""
    sub = find(conn, email)
    erased = False
    if sub is None:
        erased = forgotten.contains(conn, email.lower())
        try:  # resubscribe: lets an erased address in as pending; its hash is put back below
            sub = add(conn, email, source=SOURCE, first_name=first_name, status="pending", form=consent_form, resubscribe=True)
        except SubscriberError:  # another worker added the same address a moment ago
            sub = get(conn, email)
    with transaction(conn):
        if erased:
            forgotten.add(conn, sub.email.lower(), timestamp())
        sub = get(conn, sub.id)  # the status as of this transaction
        if sub.status == "active":
            return None
        conn.execute(
            "INSERT INTO signup_requests (subscriber_id, requested_at, first_name, topics, consent_version) VALUES (?,?,?,?,?)"
            " ON CONFLICT (subscriber_id) DO UPDATE SET requested_at = excluded.requested_at, first_name = excluded.first_name,"
            " topics = excluded.topics, consent_version = excluded.consent_version",
            (sub.id, _iso(now), first_name, ",".join(clean_tags(topics)), consent_version),
        )
        detail = f"confirmation sent, wording {consent_version}" + (f", was {sub.status}" if sub.status in SUPPRESSED else "")
        record_event(conn, sub.id, "signup requested", SOURCE, detail)
    return sub


def pending_request(conn: sqlite3.Connection, subscriber_id: int) -> Request | None:
    row = conn.execute("SELECT * FROM signup_requests WHERE subscriber_id = ?", (subscriber_id,)).fetchone()
    if row is None:
        return None
    topics = tuple(t for t in row["topics"].split(",") if t)
    return Request(row["subscriber_id"], row["requested_at"], row["first_name"], topics, row["consent_version"])


def confirm(conn: sqlite3.Connection, subscriber_id: int, *, consent_form: str) -> Subscriber | None:
    """Apply the subscriber's request: active, with the request's consent record, name and
    topics. None when there is no request (already confirmed, or erased since)."""
    with transaction(conn):
        request = pending_request(conn, subscriber_id)
        if request is None:
            return None
        sub = get(conn, subscriber_id)
        at = timestamp()
        conn.execute(
            "UPDATE subscribers SET status = 'active', consent_source = ?, consented_at = ?, consent_form = ?, consent_ip = NULL,"
            " first_name = CASE WHEN ? = '' THEN first_name ELSE ? END, updated_at = ? WHERE id = ?",
            (SOURCE, request.requested_at, consent_form, request.first_name, request.first_name, at, subscriber_id),
        )
        kind = "resubscribed" if sub.status in SUPPRESSED else "confirmed"
        detail = f"by the emailed link, wording {request.consent_version}" + (f", was {sub.status}" if sub.status != "pending" else "")
        record_event(conn, subscriber_id, kind, SOURCE, detail, at)
        new_topics = [t for t in request.topics if t.lower() not in {x.lower() for x in sub.tags}]
        if new_topics:
            insert_tags(conn, subscriber_id, new_topics)
            record_event(conn, subscriber_id, "tagged", SOURCE, ", ".join(new_topics), at)
        conn.execute("DELETE FROM signup_requests WHERE subscriber_id = ?", (subscriber_id,))
        forgotten.remove(conn, sub.email.lower())  # confirmed: no longer erased, if they were
    return get(conn, subscriber_id)


def expire_unconfirmed(conn: sqlite3.Connection, *, older_than: float) -> int:
    """Drop requests made before ``older_than``, and the pending records the form created for
    them (never confirmed: nobody to keep). Returns how many records were deleted."""
    cutoff = _iso(older_than)
    with transaction(conn):
        deleted = conn.execute(
            "DELETE FROM subscribers WHERE status = 'pending' AND consent_source = ? AND id IN"
            " (SELECT subscriber_id FROM signup_requests WHERE requested_at < ?)",
            (SOURCE, cutoff),
        ).rowcount
        conn.execute("DELETE FROM signup_requests WHERE requested_at < ?", (cutoff,))
    return deleted


def _iso(when: float) -> str:
    """A time from the site's injected clock (seconds since the epoch) in the stored form."""
    return timestamp(datetime.fromtimestamp(when, timezone.utc))


def within_limit(conn: sqlite3.Connection, kind: str, key_hash: str, *, limit: int, window: float, now: float) -> bool:
    """Count this attempt if fewer than ``limit`` were counted in the last ``window`` seconds.
    BEGIN IMMEDIATE makes count-and-insert atomic across workers."""
    with transaction(conn):
        conn.execute("DELETE FROM signup_attempts WHERE at < ?", (now - KEEP_ATTEMPTS_SECONDS,))
        seen = conn.execute(
            "SELECT COUNT(*) FROM signup_attempts WHERE kind = ? AND key_hash = ? AND at > ?", (kind, key_hash, now - window)
        ).fetchone()[0]
        if seen >= limit:
            return False
        conn.execute("INSERT INTO signup_attempts (kind, key_hash, at) VALUES (?,?,?)", (kind, key_hash, now))
    return True
