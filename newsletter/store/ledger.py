"""The send ledger: one row per (issue, subscriber), so every copy is accounted for.

States: pending -> sending -> accepted | rejected | unknown, and skipped (unsubscribed after the
snapshot). A batch is marked ``sending`` and committed before the provider is called; its results
are committed after, in the same transaction as the claim of the next batch and the lock's
heartbeat (``commit_batch``: one commit per batch). Rows left ``sending`` by a crash become
``unknown`` on the next run and are never resent without an explicit choice (or an idempotent
provider).

The send lock lives here too: a row per issue naming the process that holds it, so a second
``send`` of the same issue is refused even from another terminal.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from .. import clock
from ..errors import SendError
from ..models import Recipient, SendResult
from .db import transaction, write

STATES = ("pending", "sending", "accepted", "rejected", "unknown", "skipped")
LOCK_STALE_SECONDS = 120  # a holder on another host that has not beaten for this long is gone


@dataclass(frozen=True)
class SendRecord:
    id: int
    issue_slug: str
    subject: str
    provider: str
    segment: dict
    created_at: str
    completed_at: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber_id: int
    email: str
    first_name: str
    state: str
    message_id: str | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    sending_at: str | None = None
    batch_key: str | None = None  # the batch it was last sent in (stable across that batch's retries)

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.subscriber_id, self.email, self.first_name)


# --- sends ------------------------------------------------------------------------------------


def find_send(conn: sqlite3.Connection, issue_slug: str) -> SendRecord | None:
    row = conn.execute("SELECT * FROM sends WHERE issue_slug = ?", (issue_slug,)).fetchone()
    if row is None:
        return None
    return SendRecord(row["id"], row["issue_slug"], row["subject"], row["provider"], json.loads(row["segment"]), row["created_at"], row["completed_at"])


def create_send(conn: sqlite3.Connection, issue_slug: str, subject: str, provider: str, segment: dict, recipients: Iterable[Recipient]) -> tuple[SendRecord, int]:
    """Snapshot the recipients as pending rows, atomically with the send record."""
    stamp = clock.timestamp()
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO sends (issue_slug, subject, provider, segment, created_at) VALUES (?, ?, ?, ?, ?)",
            (issue_slug, subject, provider, json.dumps(segment, sort_keys=True), stamp),
        )
        send_id = cur.lastrowid
        count = _insert_pending(conn, send_id, recipients, stamp)
    record = find_send(conn, issue_slug)
    assert record is not None
    return record, count


def add_recipients(conn: sqlite3.Connection, send: SendRecord, recipients: Iterable[Recipient]) -> int:
    """Add recipients not yet in the ledger (``--resend-to-new``); reopens the send."""
    with transaction(conn):
        count = _insert_pending(conn, send.id, recipients, clock.timestamp())
        if count:
            conn.execute("UPDATE sends SET completed_at = NULL WHERE id = ?", (send.id,))
    return count


def _insert_pending(conn: sqlite3.Connection, send_id: int, recipients: Iterable[Recipient], stamp: str) -> int:
    before = conn.total_changes
    chunk: list[tuple] = []
    for r in recipients:
        chunk.append((send_id, r.subscriber_id, r.email, r.first_name or "", stamp))
        if len(chunk) >= 5000:
            _insert_chunk(conn, chunk)
            chunk = []
    _insert_chunk(conn, chunk)
    return conn.total_changes - before


def _insert_chunk(conn: sqlite3.Connection, chunk: list[tuple]) -> None:
    if chunk:
        conn.executemany(
            "INSERT OR IGNORE INTO deliveries (send_id, subscriber_id, email, first_name, updated_at) VALUES (?, ?, ?, ?, ?)",
            chunk,
        )


def subscriber_ids(conn: sqlite3.Connection, send: SendRecord) -> set[int]:
    return {row[0] for row in conn.execute("SELECT subscriber_id FROM deliveries WHERE send_id = ?", (send.id,))}


def mark_completed_if_done(conn: sqlite3.Connection, send: SendRecord) -> bool:
    """Completed = nothing pending, sending or unknown left."""
    open_rows = conn.execute(
        "SELECT COUNT(*) FROM deliveries WHERE send_id = ? AND state IN ('pending','sending','unknown')", (send.id,)
    ).fetchone()[0]
    if open_rows == 0:
        with transaction(conn):
            conn.execute("UPDATE sends SET completed_at = COALESCE(completed_at, ?) WHERE id = ?", (clock.timestamp(), send.id))
        return True
    return False


# --- rows -------------------------------------------------------------------------------------


def counts(conn: sqlite3.Connection, send: SendRecord) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for state, n in conn.execute("SELECT state, COUNT(*) FROM deliveries WHERE send_id = ? GROUP BY state", (send.id,)):
        out[state] = n
    return out


def rows_in_state(conn: sqlite3.Connection, send: SendRecord, state: str, *, limit: int | None = None) -> list[Delivery]:
    sql = "SELECT * FROM deliveries WHERE send_id = ? AND state = ? ORDER BY id"
    params: tuple = (send.id, state)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    return [_delivery(row) for row in conn.execute(sql, params)]


def iter_pending(conn: sqlite3.Connection, send: SendRecord, chunk: int) -> Iterator[list[Delivery]]:
    """Pending rows in id order, a chunk at a time (keyset pagination: constant memory)."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT * FROM deliveries WHERE send_id = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            (send.id, last, chunk),
        ).fetchall()
        if not rows:
            return
        last = rows[-1]["id"]
        yield [_delivery(row) for row in rows]


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        row["id"], row["subscriber_id"], row["email"], row["first_name"], row["state"], row["message_id"],
        row["provider_message_id"], row["error_code"], row["error_detail"], row["sending_at"], row["batch_key"],
    )


Outcome = tuple[int, str, "SendResult | None", "str | None"]  # (delivery id, new state, result, detail)


def commit_batch(
    conn: sqlite3.Connection,
    *,
    outcomes: Sequence[Outcome] = (),
    skipped: dict[str, Sequence[int]] | None = None,
    claim: Sequence[tuple[int, str]] = (),
    batch_key: str | None = None,
    heartbeat_of: str | None = None,
) -> None:
    """The send loop's one transaction per batch: the outcomes of the batch that came back, the
    rows found inactive (``skipped``, by status), the claim of the next batch ((delivery id,
    Message-ID) pairs -> ``sending``, with the batch's identity) and the lock's heartbeat,
    committed together before that next batch's request. All or nothing, so a failed write has
    claimed nothing; a locked or full database is waited for and tried again (db.write)."""
    stamp = clock.timestamp()

    def apply() -> None:
        with transaction(conn):
            if heartbeat_of is not None:
                _beat(conn, heartbeat_of, stamp)
            _record(conn, outcomes, stamp)
            for status, ids in (skipped or {}).items():
                _set_state(conn, ids, "skipped", f"not active at send time ({status})", stamp)
            _mark_sending(conn, claim, batch_key, stamp)

    write(conn, apply)


def mark_sending(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]], batch_key: str | None = None) -> None:
    """(delivery id, Message-ID) pairs of one batch -> sending, with the batch's identity,
    committed before the provider is called."""
    commit_batch(conn, claim=rows, batch_key=batch_key)


def record_results(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> None:
    """Commit one batch's outcomes: (delivery id, new state, result, detail). A locked or full
    database is waited for and tried again (db.write): these are facts the provider already has."""
    commit_batch(conn, outcomes=outcomes)


def set_state(conn: sqlite3.Connection, ids: Sequence[int], state: str, detail: str | None = None) -> None:
    stamp = clock.timestamp()

    def update() -> None:
        with transaction(conn):
            _set_state(conn, ids, state, detail, stamp)

    write(conn, update)


def _mark_sending(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]], batch_key: str | None, stamp: str) -> None:
    if rows:
        conn.executemany(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, message_id = ?, batch_key = ?, sending_at = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
            [(mid, batch_key, stamp, stamp, did) for did, mid in rows],
        )


def _record(conn: sqlite3.Connection, outcomes: Sequence[Outcome], stamp: str) -> None:
    if outcomes:
        conn.executemany(
            "UPDATE deliveries SET state = ?, provider_message_id = COALESCE(?, provider_message_id), error_code = ?, error_detail = ?, updated_at = ? WHERE id = ?",
            [
                (state, r.provider_message_id if r else None, r.code if r else None, (r.detail if r else None) or detail, stamp, did)
                for did, state, r, detail in outcomes
            ],
        )


def _set_state(conn: sqlite3.Connection, ids: Sequence[int], state: str, detail: str | None, stamp: str) -> None:
    if ids:
        conn.executemany(
            "UPDATE deliveries SET state = ?, error_detail = COALESCE(?, error_detail), updated_at = ? WHERE id = ?",
            [(state, detail, stamp, i) for i in ids],
        )


def interrupted_to_unknown(conn: sqlite3.Connection, send: SendRecord) -> int:
    """Rows a crashed run left 'sending' are in doubt: the provider may have them."""
    def update() -> int:
        with transaction(conn):
            return conn.execute(
                "UPDATE deliveries SET state = 'unknown', error_detail = 'interrupted while sending', updated_at = ? WHERE send_id = ? AND state = 'sending'",
                (clock.timestamp(), send.id),
            ).rowcount

    return write(conn, update)


def erase_subscriber(conn: sqlite3.Connection, subscriber_id: int) -> None:
    """``subscribers forget``: the ledger keeps that a copy went out, not to whom."""
    conn.execute(
        "UPDATE deliveries SET email = '(erased)', first_name = '', error_detail = NULL WHERE subscriber_id = ?",
        (subscriber_id,),
    )



# --- lock -------------------------------------------------------------------------------------


def acquire_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    """Take the issue's send lock, or raise SendError naming who holds it."""
    write(conn, lambda: _take_lock(conn, issue_slug))


def _take_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    host, pid, stamp = socket.gethostname(), os.getpid(), clock.timestamp()
    with transaction(conn):
        row = conn.execute("SELECT * FROM send_locks WHERE issue_slug = ?", (issue_slug,)).fetchone()
        if row is not None and _holder_alive(row) and not (row["host"] == host and row["pid"] == pid):
            raise SendError(
                f"{issue_slug}: another send of this issue is running (process {row['pid']} on {row['host']}, since {row['acquired_at']})",
                hint="Wait for it to finish; run 'newsletter status ISSUE' to follow it.",
            )
        conn.execute(
            "INSERT INTO send_locks (issue_slug, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (issue_slug) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at",
            (issue_slug, host, pid, stamp, stamp),
        )


def _beat(conn: sqlite3.Connection, issue_slug: str, stamp: str) -> None:
    conn.execute("UPDATE send_locks SET heartbeat_at = ? WHERE issue_slug = ? AND pid = ?", (stamp, issue_slug, os.getpid()))


def release_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    host = socket.gethostname()
    write(conn, lambda: conn.execute("DELETE FROM send_locks WHERE issue_slug = ? AND pid = ? AND host = ?", (issue_slug, os.getpid(), host)))


def _holder_alive(row: sqlite3.Row) -> bool:
    if row["host"] == socket.gethostname():
        try:
            os.kill(row["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    age = (clock.utc_now() - clock.parse(row["heartbeat_at"])).total_seconds()
    return age < LOCK_STALE_SECONDS
