"""The shared store on PostgreSQL: a connection that the store's modules use exactly as they use
SQLite's, so both engines run the same functions with the same transactions.

The engine is SQLAlchemy Core's (``postgresql+psycopg``): it turns the URL into a connection and
Alembic migrates through it (store/migrate.py). The statements themselves go to the psycopg
connection underneath, in autocommit mode so that ``db.transaction``'s own BEGIN / COMMIT /
SAVEPOINT are the transactions, as on SQLite. The few SQLite words in our SQL are translated
once per statement (``translate``):

- ``?`` placeholders -> ``%s``; ``INSERT OR IGNORE`` -> ``ON CONFLICT DO NOTHING``; ``LIKE`` ->
  ``ILIKE`` (SQLite's LIKE ignores ASCII case); an INSERT whose ``lastrowid`` is read gets
  ``RETURNING id``;
- ``BEGIN IMMEDIATE`` (SQLite: take the write lock now) -> ``BEGIN`` plus a transaction-scoped
  advisory lock that every such transaction takes: one writer at a time, as on SQLite, so every
  read-then-write promise (an import's plan, the send lock, a sign-up's rate limit) holds across
  machines. Plain ``BEGIN`` (reads, the ledger's row claims) takes no lock.

Errors: a constraint violation is raised as ``sqlite3.IntegrityError`` (the store's modules catch
that one type), a lost or refused connection as one StoreError naming the URL without its password.
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from typing import Any, Iterable, Iterator, Sequence

from ..errors import StoreError
from ..storage_url import without_password

WRITER_LOCK = 0x6E6C7772  # the advisory lock key of a writing transaction ("nlwr")
CONNECT_TIMEOUT = 10  # seconds to reach the server and log in
TABLES_WITH_ID = ("subscribers", "subscriber_events", "sends", "deliveries", "provider_events", "approvals")


class Row(tuple):
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    __slots__ = ()
    names: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor):
    description = cursor.description
    if description is None:
        return tuple
    names = {column.name: index for index, column in enumerate(description)}
    row_class = type("Row", (Row,), {"__slots__": (), "names": names})
    return row_class


def _plain_rows(cursor):
    return tuple


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """One statement in SQLite's words -> PostgreSQL's (see the module's docstring)."""
    text = sql.replace("%", "%%").replace("?", "%s")
    if re.match(r"\s*INSERT\s+OR\s+IGNORE\s+INTO", text, re.I):
        text = re.sub(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", "INSERT INTO", text, count=1, flags=re.I).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    text = re.sub(r"\bLIKE\b", "ILIKE", text)
    text = re.sub(r"\btemp\.(\w+)", r"pg_temp.\1", text)
    create = re.match(r"\s*CREATE TEMP TABLE (\w+) \((.*)\)\s*$", text, re.S)
    if create:
        text = f"CREATE TEMP TABLE {create.group(1)} ({_typed_columns(create.group(2))})"
    return text


def _typed_columns(columns: str) -> str:
    """SQLite's untyped temporary columns, typed for PostgreSQL (``line``: a number, the rest
    text), after a ``rowid`` SQLite gives every table and the staging reads its order by."""
    typed = ["rowid BIGSERIAL"]
    for column in (c.strip() for c in columns.split(",")):
        name, _, rest = column.partition(" ")
        typed.append(column if rest else f"{name} {'BIGINT' if name == 'line' else 'TEXT'}")
    return ", ".join(typed)


def _returns_id(sql: str) -> bool:
    match = re.match(r"\s*INSERT\s+INTO\s+(\w+)", sql, re.I)
    return bool(match) and match.group(1) in TABLES_WITH_ID and "RETURNING" not in sql.upper()


class PgCursor:
    """What the store reads from a statement: rows, ``rowcount``, ``lastrowid``."""

    def __init__(self, cursor, lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount if cursor is not None else -1

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor is not None and self._cursor.description else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor is not None and self._cursor.description else []

    def __iter__(self) -> Iterator:
        return iter(self.fetchall())


class _Empty(PgCursor):
    def __init__(self, rows: Sequence = ()) -> None:
        self._rows = list(rows)
        self.lastrowid, self.rowcount = None, -1

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list:
        return list(self._rows)


class PgConnection:
    """The subset of ``sqlite3.Connection`` the store uses, on one psycopg connection."""

    dialect = "postgresql"

    def __init__(self, raw, url: str, engine, *, busy_timeout: float) -> None:
        # The engine made the connection; detached from its pool, so no pool logic (a reset on a
        # connection the server dropped, logged with a traceback) runs when it is closed or collected.
        self._pg = raw.driver_connection
        raw.detach()
        self._raw = raw
        self._pg.autocommit = True
        self._pg.row_factory = _row_factory
        self._engine = engine
        self.url = url
        self.shown = without_password(url)
        self.path = self.shown  # where error messages say the database is
        self.busy_timeout = busy_timeout
        self.total_changes = 0
        self.journal = None  # where a send keeps answers the ledger could not take (store/unrecorded.py)
        self._trace = None

    def set_trace_callback(self, callback) -> None:
        """As sqlite3's: ``callback(sql)`` for every statement run, in our SQL's words."""
        self._trace = callback
        self.row_factory = None  # accepted for compatibility; rows always read by name and position

    # -- statements --------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        if self._trace is not None:
            self._trace(sql)
        special = self._special(sql)
        if special is not None:
            return special
        wants_id = params is not None and _returns_id(sql)
        text = translate(sql) + (" RETURNING id" if wants_id else "")
        cursor = self._run(lambda: self._pg.execute(text, tuple(params or ())))
        lastrowid = None
        if wants_id:
            row = cursor.fetchone()
            lastrowid = row[0] if row else None
        if cursor.rowcount and cursor.rowcount > 0 and not cursor.description:
            self.total_changes += cursor.rowcount
        elif wants_id and lastrowid is not None:
            self.total_changes += 1
        return PgCursor(cursor, lastrowid)

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any]]) -> PgCursor:
        if self._trace is not None:
            self._trace(sql)
        values = [tuple(p) for p in seq_of_params]
        if not values:
            return _Empty()
        text = translate(sql)
        cursor = self._pg.cursor()

        def run():
            cursor.executemany(text, values)
            return cursor

        self._run(run)
        if cursor.rowcount and cursor.rowcount > 0:
            self.total_changes += cursor.rowcount
        return PgCursor(cursor)

    def cursor(self) -> "_PlainCursor":
        return _PlainCursor(self)

    def _special(self, sql: str) -> PgCursor | None:
        """Statements with no PostgreSQL twin: SQLite's pragmas and bookkeeping tables."""
        head = sql.lstrip()[:40].upper()
        if head.startswith("BEGIN IMMEDIATE"):
            self._run(lambda: self._pg.execute("BEGIN"))
            self._run(lambda: self._pg.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})"))
            return _Empty()
        if head.startswith("PRAGMA DATABASE_LIST"):
            return _Empty([{"file": self.shown, "name": "main"}])
        if head.startswith("PRAGMA"):
            return _Empty()
        if "FROM SQLITE_SEQUENCE" in sql.upper():
            return _Empty()  # no such table: the callers fall back to MAX(id)
        return None

    def _run(self, work):
        import psycopg

        try:
            return work()
        except psycopg.IntegrityError as err:
            raise sqlite3.IntegrityError(str(err).strip()) from err
        except psycopg.OperationalError as err:
            raise connection_error(err, self.shown) from err

    # -- transactions and lifetime -----------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._pg.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        try:
            self._pg.close()
        except Exception:  # closing a connection the server already dropped
            pass

    def commit(self) -> None:
        if self.in_transaction:
            self._pg.execute("COMMIT")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _PlainCursor:
    """``conn.cursor()`` with plain tuples (the importer reads a row per line of its file)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self.row_factory = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        cursor = self._conn._pg.cursor(row_factory=_plain_rows)
        self._conn._run(lambda: cursor.execute(translate(sql), tuple(params)))
        return PgCursor(cursor)


# --- connecting -------------------------------------------------------------------------------


def engine_for(url: str, *, connect_timeout: float = CONNECT_TIMEOUT):
    """The SQLAlchemy engine on this URL (psycopg 3): no pool (each command holds one or two
    connections for its whole run), a bound on connecting, our name in pg_stat_activity."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    given = dict(parsed.query)  # libpq parameters in the URL (?connect_timeout=5&sslmode=require) win
    defaults = {"connect_timeout": str(max(1, int(connect_timeout))), "application_name": "newsletter"}
    return create_engine(
        parsed, poolclass=NullPool,
        connect_args={
            **{key: value for key, value in defaults.items() if key not in given},
            # a server that stops answering mid-statement is noticed by the kernel, not waited on forever
            "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
        },
    )


def open_pg(url: str, *, busy_timeout: float) -> PgConnection:
    """A connection to the shared store (the schema's revision is checked by db.open_store)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    engine = engine_for(url)
    shown = without_password(url)
    try:
        raw = engine.raw_connection()
    except DBAPIError as err:
        raise connection_error(err.orig, shown) from None
    except psycopg.OperationalError as err:  # a connect timeout reaches us unwrapped
        raise connection_error(err, shown) from None
    return PgConnection(raw, url, engine, busy_timeout=busy_timeout)


def connection_error(err: BaseException, shown: str) -> StoreError:
    """One line for a server we cannot reach, log in to, or that dropped us; the password never
    appears (libpq does not repeat it, and ``shown`` has it masked)."""
    text = " ".join(str(err).split())
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return StoreError(
            f"{shown}: the database server refused the login ({_first_clause(text)})",
            hint="Check the user in the URL and the password in PGPASSWORD, ~/.pgpass or NEWSLETTER_DATABASE_URL.",
        )
    if "does not exist" in lowered and "database" in lowered:
        return StoreError(f"{shown}: {_first_clause(text)}", hint="Create it (createdb), or fix the database name at the end of the URL.")
    if "timeout expired" in lowered or "timed out" in lowered:
        return StoreError(
            f"{shown}: the database server did not answer in time (connect_timeout)",
            hint="Check the host and port in the URL, and that the server is running and reachable from here.",
        )
    if "terminat" in lowered or "closed the connection" in lowered or "server closed" in lowered or "connection is closed" in lowered or "consuming input failed" in lowered:
        return StoreError(
            f"{shown}: the database server closed the connection ({_first_clause(text)})",
            hint="The server restarted or dropped us. Nothing committed is lost: run the same command again once the server is back.",
        )
    return StoreError(
        f"{shown}: cannot reach the database server ({_first_clause(text)})",
        hint="Check the host and port in the URL, and that the server is running and reachable from here.",
    )


def _first_clause(text: str) -> str:
    """libpq's message without its 'connection to server at ... failed:' preamble, kept short."""
    text = re.sub(r'^connection to server (at|on) [^,]*(, port \d+)? failed:\s*', "", text)
    text = re.sub(r"^connection failed:\s*", "", text)
    return text[:200]
