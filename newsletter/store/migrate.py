"""Where a database's schema stands, and bringing it up to date with Alembic.

Opening a database reads its revision with one query (``revision_state``) and compares it with
``migrations.HEAD``; only ``upgrade`` (``newsletter db upgrade``, or a brand-new SQLite file)
imports Alembic. A file made before Alembic has the old ``schema_version`` table instead: it is
stamped at the last migration it holds and upgraded from there, in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from . import migrations

UPGRADE_LOCK = 0x6E6C7570  # the advisory lock key of an upgrade on PostgreSQL ("nlup")
UPGRADE_HINT = "Back the database up, then run 'newsletter db upgrade' (it applies the missing migrations in place)."


@dataclass(frozen=True)
class RevisionState:
    """``revision``: the Alembic revision stored in the database, or for a file from before
    Alembic the revision of its last old-style migration; ``empty``: no table at all."""

    revision: str | None
    empty: bool = False
    legacy: bool = False

    @property
    def current(self) -> bool:
        return self.revision == migrations.HEAD and not self.legacy


def revision_state(tables: set[str], read) -> RevisionState:
    """``tables``: the database's table names; ``read(sql)``: the rows of a query."""
    if "alembic_version" in tables:
        rows = read("SELECT version_num FROM alembic_version")
        return RevisionState(rows[0][0] if rows else None)
    if "schema_version" in tables:
        applied = [row[0] for row in read("SELECT version FROM schema_version")]
        return RevisionState(migrations.revision_id(max(applied)) if applied else None, legacy=True)
    return RevisionState(None, empty=not tables)


def refuse_unless_current(state: RevisionState, where: str) -> None:
    """Every command runs only on a database at this version's schema."""
    if state.current:
        return
    if state.revision is not None and not state.legacy and not _known(state.revision):
        raise StoreError(
            f"{where}: the database was upgraded by a newer version of newsletter (schema {state.revision}; this one knows up to {migrations.HEAD})",
            hint="Install the newer newsletter version that upgraded it (pip install -U newsletter).",
        )
    was = state.revision or "none"
    raise StoreError(
        f"{where}: the database schema is behind this version of newsletter (at {was}, needs {migrations.HEAD})",
        hint=UPGRADE_HINT,
    )


def _known(revision: str) -> bool:
    return any(path.name.startswith(f"{revision}_") for path in (migrations.FOLDER / "versions").glob("*.py"))


# --- applying ---------------------------------------------------------------------------------


def upgrade_engine(engine) -> tuple[str | None, str]:
    """Apply every missing migration, all in one transaction (on SQLite under the write lock,
    on PostgreSQL under an advisory lock): two processes upgrading at once apply them once, and
    a failed upgrade leaves the database as it was. Returns (revision before, revision after).
    ``engine``: a SQLAlchemy engine."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK})")
        tables = set(inspect(conn).get_table_names())
        state = revision_state(tables, lambda sql: conn.exec_driver_sql(sql).fetchall())
        config = Config()
        config.set_main_option("script_location", str(migrations.FOLDER))
        config.attributes["connection"] = conn
        if state.legacy:
            _stamp_legacy(conn, config)
        command.upgrade(config, "head")
    return state.revision, migrations.HEAD


def _stamp_legacy(conn, config) -> None:
    """The old schema_version table -> Alembic's version table at its highest version, inside
    the upgrade's transaction. The old registry applied a version numbered below the highest one
    when it was missing (two branches landing in either order): such gaps are filled first."""
    from alembic.script import ScriptDirectory

    applied = {row[0] for row in conn.exec_driver_sql("SELECT version FROM schema_version")}
    scripts = ScriptDirectory.from_config(config)
    for version in range(1, max(applied, default=0)):
        if version not in applied:
            module = scripts.get_revision(migrations.revision_id(version)).module
            for statement in migrations.statements(module.SQLITE):
                conn.exec_driver_sql(statement)
    conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    if applied:
        conn.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{migrations.revision_id(max(applied))}')")
    conn.exec_driver_sql("DROP TABLE schema_version")


def sqlite_engine(path: Path, *, busy_timeout: float):
    """An engine on the SQLite file whose transactions really begin (BEGIN IMMEDIATE): the
    standard-library driver would otherwise commit each DDL statement on its own."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade_sqlite(path: Path, *, busy_timeout: float) -> tuple[str | None, str]:
    engine = sqlite_engine(path, busy_timeout=busy_timeout)
    try:
        return upgrade_engine(engine)
    finally:
        engine.dispose()


def upgrade_database(settings) -> tuple[str | None, str]:
    """``newsletter db upgrade``: the configured database brought to ``migrations.HEAD``."""
    from sqlalchemy.exc import DBAPIError

    from .db import fault_error

    if getattr(settings, "database_url", None):
        return _upgrade_postgres(settings.database_url)
    path = Path(settings.database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return upgrade_sqlite(path, busy_timeout=settings.busy_timeout)
    except DBAPIError as err:
        raise fault_error(err.orig, path) from err
    except OSError as err:
        raise StoreError(f"{path}: cannot open the database: {err.strerror}", hint="Check the path in [storage] database or NEWSLETTER_DATABASE.") from err


def _upgrade_postgres(url: str) -> tuple[str | None, str]:
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from ..storage_url import without_password
    from .postgres import connection_error, engine_for

    engine = engine_for(url)
    try:
        return upgrade_engine(engine)
    except psycopg.OperationalError as err:
        raise connection_error(err, without_password(url)) from None
    except DBAPIError as err:
        if isinstance(err.orig, psycopg.OperationalError):
            raise connection_error(err.orig, without_password(url)) from None
        raise StoreError(f"{without_password(url)}: the upgrade failed and changed nothing: {' '.join(str(err.orig).split())[:300]}", hint="Check that the URL's user may create tables in this database.") from None
    finally:
        engine.dispose()
