"""What a subscriber changes themselves on the site: unsubscribe (one-click or the page), undo,
topics and first name, each recorded in the subscriber's history.

The writing functions run inside a transaction the caller holds (``db.transaction``): the site's
writer (web/writer.py) applies many requests in one transaction, each in a savepoint, and
answers them only after the COMMIT. They are short on purpose: SQLite has one writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Collection, Mapping

from .. import clock
from .subscribers import SUPPRESSED, record_event

WEB_SOURCES = ("one-click", "page", "preferences")  # who may undo: only an unsubscribe made here


@dataclass(frozen=True)
class Reader:
    """What the pages show about the person a token names."""

    id: int
    email: str
    first_name: str
    status: str
    tags: tuple[str, ...]


def reader(conn: sqlite3.Connection, subscriber_id: int) -> Reader | None:
    row = conn.execute("SELECT id, email, first_name, status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None:
        return None
    tags = tuple(r[0] for r in conn.execute("SELECT tag FROM subscriber_tags WHERE subscriber_id = ? ORDER BY tag", (subscriber_id,)))
    return Reader(row["id"], row["email"], row["first_name"], row["status"], tags)


def unsubscribe(conn: sqlite3.Connection, subscriber_id: int, *, source: str, detail: str | None) -> str | None:
    """Stop mailing this subscriber: ``"unsubscribed"``, ``"already"`` (nothing changed), or None
    when the id is unknown (erased since). A bounced or complained status stays, with the request
    recorded."""
    row = conn.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None:
        return None
    status = row[0]
    if status == "unsubscribed":
        return "already"
    at = clock.timestamp()
    if status in SUPPRESSED:
        record_event(conn, subscriber_id, "unsubscribed", source, _join(detail, f"status stays {status}"), at)
        return "already"
    conn.execute("UPDATE subscribers SET status = 'unsubscribed', updated_at = ? WHERE id = ?", (at, subscriber_id))
    record_event(conn, subscriber_id, "unsubscribed", source, _join(detail, f"was {status}"), at)
    return "unsubscribed"


def undo_unsubscribe(conn: sqlite3.Connection, subscriber_id: int, *, source: str, detail: str | None) -> bool:
    """Re-activate, but only when the latest event is an unsubscribe made on the site (the undo
    button right after it): never over a bounce, a complaint, or an unsubscribe by staff."""
    row = conn.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    last = conn.execute(
        "SELECT kind, source FROM subscriber_events WHERE subscriber_id = ? ORDER BY id DESC LIMIT 1", (subscriber_id,)
    ).fetchone()
    if row is None or row[0] != "unsubscribed" or last is None or last[0] != "unsubscribed" or last[1] not in WEB_SOURCES:
        return False
    at = clock.timestamp()
    conn.execute("UPDATE subscribers SET status = 'active', updated_at = ? WHERE id = ?", (at, subscriber_id))
    record_event(conn, subscriber_id, "resubscribed", source, _join("undo", detail, "was unsubscribed"), at)
    return True


def save_preferences(
    conn: sqlite3.Connection,
    subscriber_id: int,
    *,
    topics: Collection[str],
    chosen: Collection[str],
    first_name: str,
    source: str,
    detail: str | None,
) -> bool:
    """Set the tags among ``topics`` (the configured ones) to ``chosen``; other tags stay as they
    are. Returns False when the id is unknown. Each change is an event."""
    row = conn.execute("SELECT first_name FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None:
        return False
    held = {r[0].lower(): r[0] for r in conn.execute("SELECT tag FROM subscriber_tags WHERE subscriber_id = ?", (subscriber_id,))}
    wanted = {t.lower() for t in chosen}
    added = [t for t in topics if t.lower() in wanted and t.lower() not in held]
    removed = [held[t.lower()] for t in topics if t.lower() not in wanted and t.lower() in held]
    at = clock.timestamp()
    changes: Mapping[str, list[str]] = {"tagged": added, "untagged": removed}
    conn.executemany("INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag) VALUES (?, ?)", [(subscriber_id, t) for t in added])
    conn.executemany("DELETE FROM subscriber_tags WHERE subscriber_id = ? AND tag = ?", [(subscriber_id, t) for t in removed])
    for kind, tags in changes.items():
        if tags:
            record_event(conn, subscriber_id, kind, source, _join(", ".join(tags), detail), at)
    if first_name != row[0]:
        conn.execute("UPDATE subscribers SET first_name = ? WHERE id = ?", (first_name, subscriber_id))
        record_event(conn, subscriber_id, "renamed", source, _join("first name changed", detail), at)
    if added or removed or first_name != row[0]:
        conn.execute("UPDATE subscribers SET updated_at = ? WHERE id = ?", (at, subscriber_id))
    return True


def _join(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None
