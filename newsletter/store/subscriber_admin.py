"""Maintaining the subscriber list by hand: search, counts, tags, export and erasure.

The sending path and the record itself live in ``store/subscribers.py``; this module holds the
operations behind the ``newsletter subscribers`` commands that only staff run.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .. import clock
from ..errors import SubscriberError
from . import forgotten, ledger
from .db import transaction
from .subscribers import (
    SELECT_COLUMNS,
    STATUSES,
    Subscriber,
    check_status,
    clean_tags,
    get,
    insert_tags,
    keyset_pages,
    record_event,
    to_subscribers,
    touch,
    where,
)

# Every other table that keeps personal data about a subscriber (the send ledger keeps the address
# it mailed) has an eraser here; ``forget`` calls each inside its transaction.
Eraser = Callable[[sqlite3.Connection, int], None]
ERASERS: tuple[Eraser, ...] = (ledger.erase_subscriber,)


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    by_tag: dict[str, tuple[int, int]]  # tag -> (all subscribers, active ones)
    total: int


def search(
    conn: sqlite3.Connection, *, status: str | None = None, tag: str | None = None, text: str | None = None
) -> Iterator[Subscriber]:
    """Subscribers in id order, filtered by status, tag and a substring of address or name."""
    if status is not None:
        check_status(status)
    clauses, params = ["s.id > ?"], []
    if status:
        clauses.append("s.status = ?")
        params.append(status)
    if tag:
        clauses.append("EXISTS (SELECT 1 FROM subscriber_tags t WHERE t.subscriber_id = s.id AND t.tag = ?)")
        params.append(tag)
    if text:
        clauses.append("(s.email_key LIKE ? ESCAPE '\\' OR (s.first_name || ' ' || s.last_name) LIKE ? ESCAPE '\\')")
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    sql = f"SELECT {SELECT_COLUMNS} FROM subscribers s WHERE {' AND '.join(clauses)} ORDER BY s.id LIMIT 1000"
    yield from keyset_pages(conn, sql, params, lambda rows: to_subscribers(conn, rows))


def counts(conn: sqlite3.Connection) -> Counts:
    by_status = dict.fromkeys(STATUSES, 0)
    for row in conn.execute("SELECT status, COUNT(*) AS n FROM subscribers GROUP BY status"):
        by_status[row["status"]] = row["n"]
    by_tag = {
        row["tag"]: (row["n"], row["active"])
        for row in conn.execute(
            "SELECT t.tag, COUNT(*) AS n, SUM(CASE WHEN s.status = 'active' THEN 1 ELSE 0 END) AS active FROM subscriber_tags t "
            "JOIN subscribers s ON s.id = t.subscriber_id GROUP BY t.tag ORDER BY t.tag"
        )
    }
    return Counts(by_status, by_tag, sum(by_status.values()))


def tag(conn: sqlite3.Connection, email_or_id: str | int, tags: Sequence[str], *, source: str) -> tuple[str, ...]:
    """Add tags; returns the ones that were new."""
    with transaction(conn):
        sub = get(conn, email_or_id)
        have = {t.lower() for t in sub.tags}
        new = tuple(t for t in clean_tags(tags) if t.lower() not in have)
        if new:
            insert_tags(conn, sub.id, new)
            record_event(conn, sub.id, "tagged", source, ", ".join(new))
            touch(conn, sub.id)
    return new


def untag(conn: sqlite3.Connection, email_or_id: str | int, tags: Sequence[str], *, source: str) -> tuple[str, ...]:
    """Remove tags; returns the ones that were there."""
    with transaction(conn):
        sub = get(conn, email_or_id)
        wanted = {t.lower() for t in clean_tags(tags)}
        gone = tuple(t for t in sub.tags if t.lower() in wanted)
        if gone:
            conn.executemany(
                "DELETE FROM subscriber_tags WHERE subscriber_id = ? AND tag = ?", [(sub.id, t) for t in gone]
            )
            record_event(conn, sub.id, "untagged", source, ", ".join(gone))
            touch(conn, sub.id)
    return gone


def forget(conn: sqlite3.Connection, email_or_id: str | int, *, erasers: Sequence[Eraser] = ERASERS) -> Subscriber:
    """Erase a person: their record, tags and events are deleted; only a keyed hash of the
    address stays, so a later import cannot add them back. Returns what was deleted."""
    with transaction(conn):
        sub = get(conn, email_or_id)
        forgotten.add(conn, sub.email.lower(), clock.timestamp())
        for erase in erasers:
            erase(conn, sub.id)
        try:
            conn.execute("DELETE FROM subscribers WHERE id = ?", (sub.id,))
        except sqlite3.IntegrityError as err:
            raise SubscriberError(
                f"{where(conn)}: cannot erase '{sub.email}': other records still refer to it ({err})",
                hint="Erase or archive the send-ledger rows for this subscriber first.",
            ) from err
    return sub


def iter_export(conn: sqlite3.Connection, *, status: str | None = None) -> Iterator[Subscriber]:
    """Everyone (or one status) in id order, with tags, for ``export``."""
    return search(conn, status=status)
