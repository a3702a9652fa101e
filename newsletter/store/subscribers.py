"""The subscriber list: records, consent, tags and the event history that explains each status.

Only ``active`` subscribers are ever mailed. ``unsubscribed``, ``bounced`` and ``complained``
are suppressions: nothing here turns them back to ``active`` except an explicit re-subscribe,
which is recorded. Every change of status or tags adds an event, so "why is this person (not)
mailed?" always has an answer (``history``).

Functions take a ``sqlite3.Connection`` from ``store.db.open_db``; those that write several rows
wrap them in ``transaction`` so a failure leaves nothing half-written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .. import clock
from ..errors import SubscriberError
from ..models import Recipient
from . import forgotten
from .addresses import InvalidAddress, normalize_email
from .db import transaction

STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained")
SUPPRESSED = frozenset({"unsubscribed", "bounced", "complained"})


SELECT_COLUMNS = "id, email, first_name, last_name, status, consent_source, consented_at, consent_form, consent_ip, created_at, updated_at"
IN_CHUNK = 500  # ids or keys per IN (...) query, well under SQLite's variable limit


@dataclass(frozen=True)
class Consent:
    source: str
    consented_at: str
    form: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    first_name: str
    last_name: str
    status: str
    tags: tuple[str, ...]
    consent: Consent
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Event:
    at: str
    kind: str  # subscribed, imported, unsubscribed, bounced, complained, resubscribed, tagged...
    source: str
    detail: str | None = None


def where(conn: sqlite3.Connection) -> str:
    """The database file (relative to the current folder when inside it): where store errors are."""
    file = conn.execute("PRAGMA database_list").fetchone()["file"]
    if not file:
        return "database"
    try:
        return str(Path(file).relative_to(Path.cwd()))
    except ValueError:
        return file


# ----------------------------------------------------------------------------- reading


def find(conn: sqlite3.Connection, email_or_id: str | int) -> Subscriber | None:
    """The subscriber with this id or address (any case), or None."""
    if isinstance(email_or_id, int):
        row = conn.execute(f"SELECT {SELECT_COLUMNS} FROM subscribers WHERE id = ?", (email_or_id,)).fetchone()
    else:
        row = conn.execute(
            f"SELECT {SELECT_COLUMNS} FROM subscribers WHERE email_key = ?", (_key_for_lookup(email_or_id),)
        ).fetchone()
    return _subscriber(conn, row) if row else None


def get(conn: sqlite3.Connection, email_or_id: str | int) -> Subscriber:
    """Like ``find``, but an unknown subscriber is an error."""
    found = find(conn, email_or_id)
    if found is None:
        shown = f"id {email_or_id}" if isinstance(email_or_id, int) else f"'{str(email_or_id).strip()}'"
        hint = "Check the spelling, or search with: newsletter subscribers list --search TEXT"
        if not isinstance(email_or_id, int) and forgotten.contains(conn, _key_for_lookup(email_or_id)):
            hint = "This address was erased with `subscribers forget`; only its keyed hash is kept."
        raise SubscriberError(f"{where(conn)}: no subscriber {shown}", hint=hint)
    return found


def history(conn: sqlite3.Connection, subscriber_id: int) -> list[Event]:
    rows = conn.execute(
        "SELECT at, kind, source, detail FROM subscriber_events WHERE subscriber_id = ? ORDER BY id", (subscriber_id,)
    )
    return [Event(r["at"], r["kind"], r["source"], r["detail"]) for r in rows]


def iter_active(
    conn: sqlite3.Connection,
    include_tags: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    *,
    chunk: int = 1000,
    joined_after: str | None = None,
) -> Iterator[Recipient]:
    """Stream the active subscribers of a segment in id order, ``chunk`` rows per query.

    ``include_tags``: has any of them (none given: everyone). ``exclude_tags``: has none of them.
    Keyset pagination keeps memory flat however long the list is, and no cursor stays open
    between chunks, so the caller may write to the database while iterating.
    """
    where, params = _segment(include_tags, exclude_tags, joined_after)
    sql = f"SELECT s.id, s.email, s.first_name FROM subscribers s WHERE s.id > ? AND {where} ORDER BY s.id LIMIT {int(chunk)}"
    yield from keyset_pages(conn, sql, params, lambda rows: (Recipient(r["id"], r["email"], r["first_name"]) for r in rows))


def count_active(conn: sqlite3.Connection, include_tags: Sequence[str] = (), exclude_tags: Sequence[str] = ()) -> int:
    """How many ``iter_active`` would yield, counted by the database."""
    where, params = _segment(include_tags, exclude_tags, None)
    return conn.execute(f"SELECT COUNT(*) FROM subscribers s WHERE {where}", params).fetchone()[0]


def _segment(include_tags: Sequence[str], exclude_tags: Sequence[str], joined_after: str | None) -> tuple[str, list]:
    """The WHERE clause (over ``subscribers s``) of a segment's active subscribers."""
    clauses, params = ["s.status = 'active'"], []
    if joined_after is not None:  # ``send --resend-to-new``: only who joined after the send began
        clauses.append(f"{clock.sql_timestamp('s.created_at')} > ?")
        params.append(clock.normalize(joined_after))
    if include_tags:
        marks = ",".join("?" * len(include_tags))
        clauses.append(f"EXISTS (SELECT 1 FROM subscriber_tags t WHERE t.subscriber_id = s.id AND t.tag IN ({marks}))")
        params += list(include_tags)
    if exclude_tags:
        marks = ",".join("?" * len(exclude_tags))
        clauses.append(f"NOT EXISTS (SELECT 1 FROM subscriber_tags t WHERE t.subscriber_id = s.id AND t.tag IN ({marks}))")
        params += list(exclude_tags)
    return " AND ".join(clauses), params


def statuses(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """Current status of the given ids; an id that no longer exists (forgotten) is absent."""
    found: dict[int, str] = {}
    for part in in_chunks(list(ids), IN_CHUNK):
        marks = ",".join("?" * len(part))
        for row in conn.execute(f"SELECT id, status FROM subscribers WHERE id IN ({marks})", part):
            found[row["id"]] = row["status"]
    return found


# ----------------------------------------------------------------------------- writing


def add(
    conn: sqlite3.Connection,
    email: str,
    *,
    source: str,
    first_name: str = "",
    last_name: str = "",
    tags: Sequence[str] = (),
    status: str = "active",
    form: str | None = None,
    ip: str | None = None,
    resubscribe: bool = False,
) -> Subscriber:
    """Add one subscriber with their consent. An existing or erased address is an error unless
    ``resubscribe`` is given (the person asked again), which re-activates and records it."""
    check_status(status)
    address = _address(conn, email)
    with transaction(conn):
        existing = find(conn, address.email)
        if existing is not None:
            _resubscribe(conn, existing, source=source, status=status, allowed=resubscribe)
            new_tags = [t for t in clean_tags(tags) if t.lower() not in {x.lower() for x in existing.tags}]
            if new_tags:
                insert_tags(conn, existing.id, new_tags)
                record_event(conn, existing.id, "tagged", source, ", ".join(new_tags))
            return get(conn, existing.id)
        if forgotten.contains(conn, address.key):
            if not resubscribe:
                raise SubscriberError(
                    f"{where(conn)}: '{address.email}' was erased with `subscribers forget` and is suppressed",
                    hint="Only if this person asked to subscribe again, repeat with --resubscribe.",
                )
            forgotten.remove(conn, address.key)
        at = clock.timestamp()
        sub_id = conn.execute(
            "INSERT INTO subscribers (email, email_key, first_name, last_name, status, consent_source, consented_at,"
            " consent_form, consent_ip, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (address.email, address.key, first_name.strip(), last_name.strip(), status, source, at, form, ip, at, at),
        ).lastrowid
        insert_tags(conn, sub_id, clean_tags(tags))
        record_event(conn, sub_id, "subscribed", source, f"as {status}" if status != "active" else None, at)
    return get(conn, sub_id)


def unsubscribe(conn: sqlite3.Connection, email_or_id: str | int, *, source: str, reason: str | None = None) -> bool:
    """Stop mailing this person. Idempotent: returns False when already unsubscribed. A bounced or
    complained record keeps its status, but the request is still recorded in its history."""
    with transaction(conn):
        sub = get(conn, email_or_id)
        if sub.status == "unsubscribed":
            return False
        if sub.status in SUPPRESSED:
            record_event(conn, sub.id, "unsubscribed", source, _join(reason, f"status stays {sub.status}"))
            return False
        _set_status(conn, sub.id, "unsubscribed", "unsubscribed", source, reason)
    return True


def mark_suppressed(
    conn: sqlite3.Connection, email_or_id: str | int, status: str, *, source: str, detail: str | None = None
) -> bool:
    """Record a bounce or complaint reported by a provider. ``complained`` overrides any status;
    ``bounced`` only replaces active/pending. Returns whether the status changed. A subscriber
    no longer in the list (erased since the send) is ignored: there is nobody left to suppress."""
    if status not in ("bounced", "complained"):
        raise SubscriberError(f"{where(conn)}: cannot mark a subscriber '{status}'", hint="Use 'bounced' or 'complained'.")
    with transaction(conn):
        sub = find(conn, email_or_id)
        if sub is None or sub.status == status:
            return False
        if sub.status in SUPPRESSED and status != "complained":
            record_event(conn, sub.id, status, source, _join(detail, f"status stays {sub.status}"))
            return False
        _set_status(conn, sub.id, status, status, source, detail)
    return True


# ----------------------------------------------------------------------------- helpers


def check_status(status: str, *, where: str = "status") -> None:
    if status not in STATUSES:
        raise SubscriberError(f"{where}: unknown status '{status}'", hint=f"Use one of: {', '.join(STATUSES)}.")


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, non-empty, first spelling kept for tags differing only in case."""
    seen: dict[str, str] = {}
    for raw in tags:
        text = raw.strip()
        if any(mark in text for mark in ",;"):
            raise SubscriberError(
                f"tags: '{text}' contains a comma or semicolon", hint="CSV files separate tags with , or ; so choose a name without them."
            )
        if text and text.lower() not in seen:
            seen[text.lower()] = text
    return tuple(seen.values())


def _resubscribe(conn: sqlite3.Connection, sub: Subscriber, *, source: str, status: str, allowed: bool) -> None:
    if not allowed or sub.status == status:
        hint = (
            "Only if this person asked to subscribe again, repeat with --resubscribe."
            if sub.status in SUPPRESSED
            else "See the record with: newsletter subscribers show EMAIL (add tags with `subscribers tag`)."
        )
        raise SubscriberError(f"{where(conn)}: '{sub.email}' is already a subscriber ({sub.status})", hint=hint)
    _set_status(conn, sub.id, status, "resubscribed", source, f"was {sub.status}")


def _set_status(conn: sqlite3.Connection, sub_id: int, status: str, kind: str, source: str, detail: str | None) -> None:
    at = clock.timestamp()
    conn.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?", (status, at, sub_id))
    record_event(conn, sub_id, kind, source, detail, at)


def record_event(
    conn: sqlite3.Connection, sub_id: int, kind: str, source: str, detail: str | None = None, at: str | None = None
) -> None:
    conn.execute(
        "INSERT INTO subscriber_events (subscriber_id, at, kind, source, detail) VALUES (?,?,?,?,?)",
        (sub_id, at or clock.timestamp(), kind, source, detail),
    )


def insert_tags(conn: sqlite3.Connection, sub_id: int, tags: Sequence[str]) -> None:
    conn.executemany("INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag) VALUES (?, ?)", [(sub_id, t) for t in tags])


def touch(conn: sqlite3.Connection, sub_id: int) -> None:
    conn.execute("UPDATE subscribers SET updated_at = ? WHERE id = ?", (clock.timestamp(), sub_id))


def _address(conn: sqlite3.Connection, text: str):
    try:
        return normalize_email(text)
    except InvalidAddress as err:
        raise SubscriberError(f"{where(conn)}: {err}", hint="Give a full address like name@example.org.") from None


def _key_for_lookup(text: str) -> str:
    """Normalize when valid so IDN and case variants match; fall back to the plain lower-case."""
    try:
        return normalize_email(text).key
    except InvalidAddress:
        return text.strip().lower()


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def keyset_pages(conn: sqlite3.Connection, sql: str, params: list, build) -> Iterator:
    """Run ``sql`` (whose first placeholder is ``id > ?``) page by page in id order."""
    last = 0
    while True:
        rows = conn.execute(sql, [last, *params]).fetchall()
        if not rows:
            return
        last = rows[-1]["id"]
        yield from build(rows)


def _subscriber(conn: sqlite3.Connection, row: sqlite3.Row) -> Subscriber:
    return to_subscribers(conn, [row])[0]


def to_subscribers(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Subscriber]:
    tags = tags_of(conn, [r["id"] for r in rows])
    return [
        Subscriber(
            id=r["id"],
            email=r["email"],
            first_name=r["first_name"],
            last_name=r["last_name"],
            status=r["status"],
            tags=tuple(tags.get(r["id"], ())),
            consent=Consent(r["consent_source"], r["consented_at"], r["consent_form"], r["consent_ip"]),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


def tags_of(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """Tags per subscriber id, in alphabetical order (case-insensitive)."""
    found: dict[int, list[str]] = {}
    for part in in_chunks(list(ids), IN_CHUNK):
        marks = ",".join("?" * len(part))
        sql = f"SELECT subscriber_id, tag FROM subscriber_tags WHERE subscriber_id IN ({marks}) ORDER BY subscriber_id, tag"
        for row in conn.execute(sql, part):
            found.setdefault(row["subscriber_id"], []).append(row["tag"])
    return found


def in_chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of at most ``size`` items (ids or keys per ``IN (...)`` query)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
