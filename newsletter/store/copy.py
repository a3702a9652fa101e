"""``newsletter db copy --to postgresql://...``: the SQLite list, its history, consent and erasure
records, approvals and send ledgers, moved into an empty PostgreSQL database.

The schema first (``db upgrade``'s migrations, when the database is empty), then one transaction
for the rows: every table streamed with COPY in id order (constant memory however long the list),
the identity sequences moved past the copied ids, and the row counts of both sides compared
before the COMMIT, so the target has all the rows or none of them (a failed copy leaves an empty
schema, which the next try accepts). A target that already holds rows is refused: a copy never
merges two lists. The source is only read (in one read transaction: a consistent picture even
if a command writes to it meanwhile).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from ..storage_url import without_password

# Parents before children (foreign keys). The send lock and the live senders are the state of a
# running process on this machine, not data: they are not copied.
TABLES = (
    "subscribers", "subscriber_tags", "subscriber_events", "forgotten", "subscriber_meta",
    "sends", "deliveries", "signup_requests", "signup_attempts", "provider_events", "approvals",
)
WITH_IDENTITY = ("subscribers", "subscriber_events", "sends", "deliveries", "provider_events", "approvals")


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    rows: dict[str, int]  # table -> rows copied (and counted again on the target)


def copy_to_postgres(source: sqlite3.Connection, url: str) -> CopyReport:
    """Copy every table of ``source`` (an open, current SQLite store) into the empty database at
    ``url``; raises StoreError with nothing written when the target is not empty or a count differs."""
    from sqlalchemy.exc import DBAPIError

    from .migrate import upgrade_engine
    from .postgres import connection_error, engine_for

    shown = without_password(url)
    engine = engine_for(url)
    try:
        _refuse_unless_empty(engine, shown)
        upgrade_engine(engine)  # the schema first (a database that has it and no rows is fine)
        with engine.connect() as conn, conn.begin():
            pg = conn.connection.driver_connection
            rows = _copy_tables(source, pg, shown)
        return CopyReport(str(getattr(source, "path", "database")), shown, rows)
    except DBAPIError as err:
        raise _target_error(err.orig, shown, connection_error) from None
    except Exception as err:
        import psycopg

        if isinstance(err, psycopg.Error):
            raise _target_error(err, shown, connection_error) from None
        raise
    finally:
        engine.dispose()


def _target_error(err, shown: str, connection_error) -> StoreError:
    import psycopg

    if isinstance(err, psycopg.OperationalError):
        return connection_error(err, shown)
    return StoreError(f"{shown}: the copy failed and wrote nothing: {' '.join(str(err).split())[:300]}", hint="Fix the cause, then run the same db copy again.")


def _refuse_unless_empty(engine, shown: str) -> None:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names()) & set(TABLES)
        filled = [t for t in sorted(present) if conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {t})").scalar()]
    if filled:
        raise StoreError(
            f"{shown}: the target database is not empty ({', '.join(filled)} hold rows): db copy only fills an empty database",
            hint="Give an empty database (createdb a new one), or drop this one's tables if you are sure it holds nothing you need.",
        )


def _copy_tables(source: sqlite3.Connection, pg, shown: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    source.execute("BEGIN")  # one read transaction: every table as of the same moment
    try:
        for table in TABLES:
            rows[table] = _copy_table(source, pg, table)
        counted = {table: pg.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}
        expected = {table: source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}
    finally:
        source.execute("COMMIT")
    differ = {t: (expected[t], counted[t]) for t in TABLES if expected[t] != counted[t] or rows[t] != counted[t]}
    if differ:
        listing = ", ".join(f"{t}: {a} in the file, {b} copied" for t, (a, b) in differ.items())
        raise StoreError(f"{shown}: the counts differ after the copy ({listing}); nothing was kept", hint="Run the same db copy again; if it repeats, report it.")
    for table in WITH_IDENTITY:
        pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1), (SELECT COUNT(*) > 0 FROM {table}))")
    _copy_sequence_floor(source, pg)
    return rows


def _copy_table(source: sqlite3.Connection, pg, table: str) -> int:
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    cursor = source.cursor()
    cursor.row_factory = None
    count = 0
    with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in cursor.execute(f"SELECT {names} FROM {table} ORDER BY rowid" if _has_rowid(source, table) else f"SELECT {names} FROM {table}"):
            copy.write_row(row)
            count += 1
    return count


def _has_rowid(source: sqlite3.Connection, table: str) -> bool:
    return table != "subscriber_tags"  # WITHOUT ROWID (revision 0001)


def _copy_sequence_floor(source: sqlite3.Connection, pg) -> None:
    """AUTOINCREMENT never reuses an id, even a forgotten subscriber's: the target's sequence
    starts past the highest id SQLite ever gave, not only past those still present."""
    row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'").fetchone()
    if row and row[0]:
        pg.execute("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), GREATEST(%s, (SELECT COALESCE(MAX(id), 1) FROM subscribers)))", (row[0],))


def open_source(settings) -> sqlite3.Connection:
    """The SQLite file to copy from (``[storage] database``): it must exist (a copy never
    creates an empty one) and be at the current schema."""
    from .db import open_db

    path = Path(settings.database)
    if not path.is_file():
        raise StoreError(f"{path}: no SQLite database here to copy", hint="Point [storage] database (or NEWSLETTER_DATABASE) at the file that holds the list.")
    return open_db(path, busy_timeout=settings.busy_timeout)
