"""The send ledger: one row per (issue, subscriber), so every copy is accounted for.

States: pending -> sending -> accepted | rejected | unknown, and skipped (unsubscribed after the
snapshot). A batch is marked ``sending`` and committed before the provider is called; its results
are committed after, in the same transaction as the claim of the next batch and the lock's
heartbeat (``commit_batch``: one commit per batch). Rows left ``sending`` by a crash become
``unknown`` on the next run and are never resent without an explicit choice (or an idempotent
provider).

The send lock lives here too: a row per issue naming the process that holds it (a lease, renewed
with every batch), so a second ``send`` of the same issue is refused even from another machine.
``send --join`` adds a process to the running send instead: every sender (``send_senders``, with
its own heartbeat) reserves its chunks of pending rows (``deliveries.sender``; on PostgreSQL with
``FOR UPDATE SKIP LOCKED``), so no row is claimed twice, and a dead sender's rows are released
(pending) or put in doubt (sending -> unknown) by the others.
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
    """Pending rows for this process, a chunk at a time, in id order: each chunk is reserved
    for it first (``deliveries.sender``), so senders that joined the same send never get the
    same row; on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so they do not wait on each other
    either. When nothing is left to reserve, the rows of senders that died are released once
    and the loop goes on (the others carry on with a dead sender's share). Constant memory."""
    me = sender_id()
    released = False
    while True:
        rows = reserve_pending(conn, send, chunk, me)
        if not rows:
            if released or not release_dead(conn, send):
                return
            released = True
            continue
        yield rows


def reserve_pending(conn: sqlite3.Connection, send: SendRecord, chunk: int, me: str) -> list[Delivery]:
    """Up to ``chunk`` pending rows nobody holds (or that this process holds already: a chunk
    reserved but not sent when a run stopped), now held by ``me``."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if getattr(conn, "dialect", "sqlite") == "postgresql" else ""

    def reserve() -> list[Delivery]:
        with _rows_transaction(conn):
            found = conn.execute(
                "UPDATE deliveries SET sender = ? WHERE id IN (SELECT id FROM deliveries WHERE send_id = ? AND state = 'pending'"
                f" AND (sender IS NULL OR sender = ?) ORDER BY id LIMIT ?{skip_locked}) RETURNING *",
                (me, send.id, me, chunk),
            ).fetchall()
        return sorted((_delivery(row) for row in found), key=lambda d: d.id)

    return write(conn, reserve)


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
) -> set[int]:
    """The send loop's one transaction per batch: the outcomes of the batch that came back, the
    rows found inactive (``skipped``, by status), the claim of the next batch ((delivery id,
    Message-ID) pairs -> ``sending``, with the batch's identity) and the lock's heartbeat,
    committed together before that next batch's request. All or nothing, so a failed write has
    claimed nothing; a locked or full database is waited for and tried again (db.write).
    Returns the ids claimed: only rows still pending and held by this process move (a row a
    joined sender took over, this one having looked dead, is not this process's to send)."""
    stamp = clock.timestamp()

    def apply() -> set[int]:
        with _rows_transaction(conn):
            if heartbeat_of is not None:
                _beat(conn, heartbeat_of, stamp)
            _record(conn, outcomes, stamp)
            for status, ids in (skipped or {}).items():
                _set_state(conn, ids, "skipped", f"not active at send time ({status})", stamp)
            return _mark_sending(conn, claim, batch_key, stamp)

    return write(conn, apply)


def mark_sending(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]], batch_key: str | None = None) -> set[int]:
    """(delivery id, Message-ID) pairs of one batch -> sending, with the batch's identity,
    committed before the provider is called; returns the ids claimed."""
    return commit_batch(conn, claim=rows, batch_key=batch_key)


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


def _mark_sending(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]], batch_key: str | None, stamp: str) -> set[int]:
    if not rows:
        return set()
    me = sender_id()
    conn.executemany(
        "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, message_id = ?, batch_key = ?, sending_at = ?, updated_at = ?, sender = ?"
        " WHERE id = ? AND state = 'pending' AND (sender IS NULL OR sender = ?)",
        [(mid, batch_key, stamp, stamp, me, did, me) for did, mid in rows],
    )
    return _sending_by(conn, [did for did, _ in rows], me)


def _rows_transaction(conn: sqlite3.Connection):
    """A transaction over ledger rows only: on PostgreSQL the rows' own locks are enough (each
    UPDATE re-checks its state), so senders do not queue on the store's one writer lock; on
    SQLite the write lock at BEGIN, as everywhere."""
    return transaction(conn, immediate=getattr(conn, "dialect", "sqlite") != "postgresql")


def _sending_by(conn: sqlite3.Connection, ids: Sequence[int], me: str) -> set[int]:
    marked: set[int] = set()
    for start in range(0, len(ids), 500):
        part = list(ids[start:start + 500])
        marks = ",".join("?" * len(part))
        marked.update(r[0] for r in conn.execute(f"SELECT id FROM deliveries WHERE id IN ({marks}) AND state = 'sending' AND sender = ?", (*part, me)))
    return marked


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
    """Rows a crashed run left 'sending' are in doubt: the provider may have them. Rows held
    by a sender still alive (one that joined this send) are its own and stay as they are."""
    live = [s for s in live_senders(conn, send.issue_slug) if s != sender_id()]

    def update() -> int:
        marks = ",".join("?" * len(live))
        spared = f" AND (sender IS NULL OR sender NOT IN ({marks}))" if live else ""
        with transaction(conn):
            return conn.execute(
                "UPDATE deliveries SET state = 'unknown', error_detail = 'interrupted while sending', updated_at = ?"
                f" WHERE send_id = ? AND state = 'sending'{spared}",
                (clock.timestamp(), send.id, *live),
            ).rowcount

    return write(conn, update)


def release_dead(conn: sqlite3.Connection, send: SendRecord) -> int:
    """Pending rows reserved by senders that are gone go back to nobody; returns how many.
    (Their 'sending' rows are put in doubt by ``interrupted_to_unknown``.)"""
    live = live_senders(conn, send.issue_slug) | {sender_id()}
    marks = ",".join("?" * len(live))

    def update() -> int:
        with transaction(conn):
            return conn.execute(
                f"UPDATE deliveries SET sender = NULL WHERE send_id = ? AND state = 'pending' AND sender IS NOT NULL AND sender NOT IN ({marks})",
                (send.id, *live),
            ).rowcount

    return write(conn, update)


def open_rows(conn: sqlite3.Connection, send: SendRecord) -> tuple[int, int]:
    """(pending or sending rows, those of them other live senders of this send hold), read in
    one statement so that both numbers are of the same moment."""
    others = sorted(live_senders(conn, send.issue_slug) - {sender_id()})
    marks = ",".join("?" * len(others))
    held = f"SUM(CASE WHEN sender IN ({marks}) THEN 1 ELSE 0 END)" if others else "0"
    row = conn.execute(
        f"SELECT COUNT(*), {held} FROM deliveries WHERE send_id = ? AND state IN ('pending','sending')", (*others, send.id)
    ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def sent_by(conn: sqlite3.Connection, send: SendRecord) -> list[tuple[str, int, int]]:
    """For ``status``: (sender host:pid, rows accepted, rows in any other settled state), per
    sender that sent something, busiest first."""
    rows = conn.execute(
        "SELECT sender, SUM(CASE WHEN state = 'accepted' THEN 1 ELSE 0 END), SUM(CASE WHEN state IN ('rejected','unknown','sending') THEN 1 ELSE 0 END)"
        " FROM deliveries WHERE send_id = ? AND sender IS NOT NULL AND state <> 'pending' GROUP BY sender",
        (send.id,),
    ).fetchall()
    return sorted(((r[0], int(r[1] or 0), int(r[2] or 0)) for r in rows), key=lambda r: (-r[1], r[0]))


def erase_subscriber(conn: sqlite3.Connection, subscriber_id: int) -> None:
    """``subscribers forget``: the ledger keeps that a copy went out, not to whom."""
    conn.execute(
        "UPDATE deliveries SET email = '(erased)', first_name = '', error_detail = NULL WHERE subscriber_id = ?",
        (subscriber_id,),
    )



# --- lock -------------------------------------------------------------------------------------


def sender_id() -> str:
    """This process as a sender: host and process id (unique among live processes)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    """Take the issue's send lock, or raise SendError naming who holds it; this process is
    then the send's first sender."""
    write(conn, lambda: _take_lock(conn, issue_slug))


def join_send(conn: sqlite3.Connection, issue_slug: str) -> bool:
    """``send --join``: add this process to the send other processes are running. When none is
    running any more (they finished or died), this process takes the lock and carries on alone.
    Returns True when it joined a live sender."""
    def join() -> bool:
        with transaction(conn):
            row = conn.execute("SELECT * FROM send_locks WHERE issue_slug = ?", (issue_slug,)).fetchone()
            if (row is not None and _holder_alive(row)) or live_senders(conn, issue_slug):
                _register(conn, issue_slug)
                return True
        _take_lock(conn, issue_slug)
        return False

    return write(conn, join)


def _take_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    host, pid, stamp = socket.gethostname(), os.getpid(), clock.timestamp()
    with transaction(conn):
        row = conn.execute("SELECT * FROM send_locks WHERE issue_slug = ?", (issue_slug,)).fetchone()
        if row is not None and _holder_alive(row) and not (row["host"] == host and row["pid"] == pid):
            raise SendError(
                f"{issue_slug}: another send of this issue is running (process {row['pid']} on {row['host']}, since {row['acquired_at']})",
                hint="Wait for it to finish ('newsletter status ISSUE' follows it), or share the work: run 'newsletter send ISSUE --join' "
                "from another terminal or machine.",
            )
        conn.execute(
            "INSERT INTO send_locks (issue_slug, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (issue_slug) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at",
            (issue_slug, host, pid, stamp, stamp),
        )
        _register(conn, issue_slug)


def _register(conn: sqlite3.Connection, issue_slug: str) -> None:
    host, pid, stamp = socket.gethostname(), os.getpid(), clock.timestamp()
    conn.execute(
        "INSERT INTO send_senders (issue_slug, sender, host, pid, joined_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (issue_slug, sender) DO UPDATE SET joined_at = excluded.joined_at, heartbeat_at = excluded.heartbeat_at",
        (issue_slug, sender_id(), host, pid, stamp, stamp),
    )


def _beat(conn: sqlite3.Connection, issue_slug: str, stamp: str) -> None:
    """This process is still sending: its lease (the lock, when it holds it) and its sender row,
    inside the batch's transaction. A lock whose holder died while this joined sender works on
    becomes this process's, so a plain `send` is still refused while anyone is sending."""
    host, pid = socket.gethostname(), os.getpid()
    lock = conn.execute("SELECT * FROM send_locks WHERE issue_slug = ?", (issue_slug,)).fetchone()
    if lock is not None and not (lock["host"] == host and lock["pid"] == pid) and not _holder_alive(lock):
        conn.execute("UPDATE send_locks SET host = ?, pid = ? WHERE issue_slug = ?", (host, pid, issue_slug))
    conn.execute("UPDATE send_locks SET heartbeat_at = ? WHERE issue_slug = ? AND pid = ? AND host = ?", (stamp, issue_slug, pid, host))
    conn.execute("UPDATE send_senders SET heartbeat_at = ? WHERE issue_slug = ? AND sender = ?", (stamp, issue_slug, sender_id()))


def release_lock(conn: sqlite3.Connection, issue_slug: str) -> None:
    """This process stops sending: its sender row goes, and the lock if it holds it. When the
    lock holder stops while joined senders still run, one of them takes the lock over."""
    host = socket.gethostname()

    def release() -> None:
        with transaction(conn):
            conn.execute("DELETE FROM send_senders WHERE issue_slug = ? AND sender = ?", (issue_slug, sender_id()))
            heir = next((row for row in conn.execute("SELECT * FROM send_senders WHERE issue_slug = ? ORDER BY joined_at", (issue_slug,)) if _holder_alive(row)), None)
            if heir is not None:  # a joined sender still at work holds the lock from now on
                conn.execute(
                    "UPDATE send_locks SET host = ?, pid = ?, heartbeat_at = ? WHERE issue_slug = ? AND pid = ? AND host = ?",
                    (heir["host"], heir["pid"], heir["heartbeat_at"], issue_slug, os.getpid(), host),
                )
            else:
                conn.execute("DELETE FROM send_locks WHERE issue_slug = ? AND pid = ? AND host = ?", (issue_slug, os.getpid(), host))
            # Pending rows this process reserved and did not send go back to nobody.
            conn.execute(
                "UPDATE deliveries SET sender = NULL WHERE state = 'pending' AND sender = ?"
                " AND send_id = (SELECT id FROM sends WHERE issue_slug = ?)",
                (sender_id(), issue_slug),
            )

    write(conn, release)


def live_senders(conn: sqlite3.Connection, issue_slug: str) -> set[str]:
    rows = conn.execute("SELECT * FROM send_senders WHERE issue_slug = ?", (issue_slug,)).fetchall()
    return {row["sender"] for row in rows if _holder_alive(row)}


def senders(conn: sqlite3.Connection, issue_slug: str) -> list[tuple[str, str, bool]]:
    """(host:pid, joined_at, alive) of each process registered on this send."""
    rows = conn.execute("SELECT * FROM send_senders WHERE issue_slug = ? ORDER BY joined_at", (issue_slug,)).fetchall()
    return [(row["sender"], row["joined_at"], _holder_alive(row)) for row in rows]


def _holder_alive(row) -> bool:
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
