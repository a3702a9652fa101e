"""SQLite connection, transactions and schema migrations.

Callers use ``open_db`` and ``transaction``; nothing outside ``store/`` writes SQL, so another
database could replace this module without touching them.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from ..errors import StoreError
from .schema import MIGRATIONS

T = TypeVar("T")


def open_db(path: Path) -> sqlite3.Connection:
    """Connect (creating the file and its folder), set WAL and foreign keys, run migrations."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        migrate(conn)
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path}: cannot open the database: {err}", hint="Check the path in [storage] database or NEWSLETTER_DATABASE.") from err
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt included)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def make_durable(conn: sqlite3.Connection) -> None:
    """Each COMMIT on this connection waits for the disk (synchronous=FULL): in WAL mode NORMAL
    may lose the last commits on a power cut, which the site's "answered 200 holds" cannot allow."""
    conn.execute("PRAGMA synchronous=FULL")


def apply_each(conn: sqlite3.Connection, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[tuple[bool, T | Exception]]:
    """Every work in one transaction, each in a savepoint: one that raises has its own writes
    undone and its exception returned, the others stand. Returns after the COMMIT; raises (with
    nothing applied) when the transaction itself fails. The site's writer batches requests so."""
    outcomes: list[tuple[bool, T | Exception]] = []
    try:
        with transaction(conn):
            for work in works:
                conn.execute("SAVEPOINT one")
                try:
                    outcomes.append((True, work(conn)))
                except Exception as err:
                    conn.execute("ROLLBACK TO one")
                    outcomes.append((False, err))
                conn.execute("RELEASE one")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT leaves the transaction open
            conn.execute("ROLLBACK")
        raise
    return outcomes


def ping(conn: sqlite3.Connection) -> None:
    """A trivial query: raises when the database cannot be read (the site's health check)."""
    conn.execute("SELECT 1").fetchone()


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the pending migrations, each atomically with its version row; return the version."""
    current = schema_version(conn)
    for version, description, sql in MIGRATIONS:
        if version <= current:
            continue
        with transaction(conn):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", (version, description))
        current = version
    return current


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (executescript would commit on its own)."""
    parts, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            parts.append(buf.strip())
            buf = ""
    if buf.strip():
        parts.append(buf.strip())
    return parts


def retry_locked(work: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``work`` (one whole transaction) again when SQLite's writer lock stays taken past
    busy_timeout: a change the site answered for must never be lost to a busy moment."""
    for _ in range(attempts - 1):
        try:
            return work()
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
    return work()
