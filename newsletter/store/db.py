"""SQLite connection, transactions, and the schema check on opening.

Callers use ``open_db`` and ``transaction``; nothing outside ``store/`` writes SQL, so another
database could replace this module without touching them.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from ..errors import StoreError
from . import migrate

T = TypeVar("T")
DEFAULT_BUSY_TIMEOUT = 30.0  # seconds; [storage] busy_timeout_seconds


class StoreConnection(sqlite3.Connection):
    """A connection that knows its file and its busy timeout, for error locations and waits."""

    path: Path = Path("database")
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT


def open_db(path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    """Connect (creating the file and its folder), set WAL and foreign keys; a new file gets the
    whole schema, an older one is refused until ``newsletter db upgrade`` (store/migrate.py).
    ``busy_timeout``: how long a statement waits for another process's write lock."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout, check_same_thread=False, factory=StoreConnection)
        conn.path, conn.busy_timeout = Path(path), busy_timeout
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        state = sqlite_revision(conn)
        if state.empty:
            migrate.upgrade_sqlite(Path(path), busy_timeout=busy_timeout)
            state = sqlite_revision(conn)
        migrate.refuse_unless_current(state, str(path))
    except sqlite3.DatabaseError as err:
        raise fault_error(err, path, opening=True) from err
    except OSError as err:
        raise StoreError(f"{path}: cannot open the database: {err.strerror}", hint="Check the path in [storage] database or NEWSLETTER_DATABASE.") from err
    return conn


def open_store(settings):
    """The configured store: PostgreSQL when ``[storage] url`` / NEWSLETTER_DATABASE_URL is set
    (no SQLite file is created then), else the SQLite file. Refused unless its schema is current."""
    url = getattr(settings, "database_url", None)
    if not url:
        return open_db(settings.database, busy_timeout=settings.busy_timeout)
    from .postgres import open_pg

    conn = open_pg(url, busy_timeout=settings.busy_timeout)
    conn.journal = Path(settings.database).parent / "postgresql.unrecorded.jsonl"
    try:
        migrate.refuse_unless_current(pg_revision(conn), conn.shown)
    except BaseException:
        conn.close()
        raise
    return conn


def pg_revision(conn) -> migrate.RevisionState:
    tables = {row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
    return migrate.revision_state(tables, lambda sql: conn.execute(sql).fetchall())


def is_postgres(conn) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt included), a failed
    COMMIT (database full) too, so the connection is never left inside a transaction."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# --- faults: locked, full, damaged ------------------------------------------------------------

RETRIED_FAULTS = ("busy", "full")


def fault_kind(err: BaseException) -> str | None:
    """What an sqlite3 error means for the operator: busy, full, corrupt, readonly, io, or None
    (a bug or a constraint: not a fault of the storage)."""
    if not isinstance(err, sqlite3.DatabaseError) or isinstance(err, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return None
    name = getattr(err, "sqlite_errorname", None) or ""
    text = str(err).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return "busy"
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return "full"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return "corrupt"
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return "readonly"
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "disk i/o error" in text or "unable to open" in text:
        return "io"
    return None


def recover_hint(path: Path) -> str:
    return (
        f"Restore {path.name} from a backup, or copy out what can still be read: "
        f"sqlite3 {path} \".recover\" | sqlite3 recovered.db, then point [storage] database "
        "(or NEWSLETTER_DATABASE) at recovered.db; keep the damaged file until you are sure."
    )


def fault_error(err: BaseException, path: Path | str | None, *, waited: float | None = None, opening: bool = False) -> StoreError:
    """The one StoreError an operator sees for a storage fault: the file first, then what to do."""
    path = Path(path or "database")
    kind = fault_kind(err)
    if kind == "busy":
        after = f" (waited {waited:g} s)" if waited is not None else ""
        return StoreError(
            f"{path}: the database is locked by another process{after}",
            hint="Another newsletter command, a sqlite3 shell, a backup or a sync tool holds a write transaction "
            "on it: let it finish or close it, then run the same command again. "
            "[storage] busy_timeout_seconds sets how long to wait.",
        )
    if kind == "full":
        return StoreError(
            f"{path}: the database or the disk is full ({err})",
            hint=f"Free disk space where the database lives ({path.parent}; see 'df -h'), then run the same command again.",
        )
    if kind == "corrupt":
        return StoreError(f"{path}: the database file is damaged ({err})", hint=recover_hint(path))
    if kind == "readonly":
        return StoreError(f"{path}: the database cannot be written ({err})", hint="Check the permissions of the file and its folder (the -wal and -shm files are written beside it).")
    if kind == "io":
        return StoreError(f"{path}: the database cannot be read or written ({err})", hint="Check the disk and the path in [storage] database or NEWSLETTER_DATABASE.")
    what = "cannot open the database" if opening else "database error"
    return StoreError(f"{path}: {what}: {err}", hint="Check the path in [storage] database or NEWSLETTER_DATABASE.")


def write(conn: sqlite3.Connection, work: Callable[[], T]) -> T:
    """Run ``work`` (one whole transaction); while SQLite reports the database locked or full,
    run it again until the busy timeout has passed since the first try (space may be freed, the
    other writer may finish), then raise one StoreError naming the file and what to do."""
    budget = getattr(conn, "busy_timeout", DEFAULT_BUSY_TIMEOUT)
    started = time.monotonic()
    pause = 0.02
    while True:
        try:
            return work()
        except sqlite3.DatabaseError as err:
            kind = fault_kind(err)
            if kind is None:
                raise
            waited = time.monotonic() - started
            if kind not in RETRIED_FAULTS or waited >= budget:
                raise fault_error(err, getattr(conn, "path", None), waited=round(waited, 1)) from err
            time.sleep(min(pause, budget - waited))
            pause = min(pause * 2, 1.0)


def quick_check(conn: sqlite3.Connection) -> None:
    """PRAGMA quick_check (every page read, no index cross-check): raises a StoreError with the
    way to recover when the file is damaged."""
    if is_postgres(conn):
        return  # the server checks its own pages (data checksums); nothing to read through here
    path = getattr(conn, "path", None)
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as err:
        raise fault_error(err, path) from err
    if rows != ["ok"]:
        raise StoreError(f"{Path(path or 'database')}: the database file is damaged ({'; '.join(rows)[:300]})", hint=recover_hint(Path(path or "database")))


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


def sqlite_revision(conn: sqlite3.Connection) -> migrate.RevisionState:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    return migrate.revision_state(tables, lambda sql: conn.execute(sql).fetchall())


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
