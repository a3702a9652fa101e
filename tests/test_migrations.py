"""The schema's history as Alembic revisions: a new file gets all of them, a file made before
Alembic (the old schema_version registry) is upgraded in place by `newsletter db upgrade`, and
every command refuses a database that is behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from legacy_schema import legacy_database
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.errors import StoreError
from newsletter.store import migrations
from newsletter.store.db import open_db
from newsletter.store.migrate import upgrade_sqlite


def schema_of(path: Path) -> dict[str, str]:
    """Every table and index with its DDL, but the version bookkeeping."""
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT IN ('alembic_version', 'schema_version')").fetchall()
    return dict(rows)


def test_head_is_the_newest_revision_in_the_versions_folder():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations.FOLDER))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [migrations.HEAD]
    # one unbroken chain 0001 -> HEAD, named as the old registry's versions
    chain = [script.revision for script in scripts.walk_revisions()]
    assert chain == [migrations.revision_id(n) for n in range(len(chain), 0, -1)]


def test_a_new_file_gets_the_whole_schema_at_head(tmp_path):
    conn = open_db(tmp_path / "new.db")
    assert [tuple(r) for r in conn.execute("SELECT version_num FROM alembic_version")] == [(migrations.HEAD,)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_an_old_file_is_refused_until_db_upgrade_then_keeps_its_rows(tmp_path, project):
    database = project / "data" / "newsletter.db"
    raw = legacy_database(database, versions=range(1, 5))
    raw.execute(
        "INSERT INTO subscribers (email, email_key, status, consent_source, consented_at, created_at, updated_at)"
        " VALUES ('ann@example.org', 'ann@example.org', 'active', 'test', 'then', 'then', 'then')"
    )
    raw.execute("INSERT INTO forgotten (email_hash, forgotten_at) VALUES ('abc', 'then')")
    raw.close()
    with pytest.raises(StoreError) as refused:
        open_db(database)
    assert "the database schema is behind this version of newsletter (at 0004, needs" in refused.value.message
    assert "newsletter db upgrade" in refused.value.hint

    runner = CliRunner()
    listed = runner.invoke(app, ["--config", str(project / "newsletter.toml"), "subscribers", "list"])
    assert listed.exit_code == 1
    assert "newsletter db upgrade" in listed.output

    upgraded = runner.invoke(app, ["--config", str(project / "newsletter.toml"), "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded the schema from revision 0004 to {migrations.HEAD}" in upgraded.output
    again = runner.invoke(app, ["--config", str(project / "newsletter.toml"), "db", "upgrade"])
    assert "the schema is up to date" in again.output

    conn = open_db(database)
    assert [tuple(r) for r in conn.execute("SELECT email FROM subscribers")] == [("ann@example.org",)]
    assert [tuple(r) for r in conn.execute("SELECT keyed_by FROM forgotten")] == [("legacy",)]  # migration 5 ran
    conn.close()
    assert schema_of(database) == schema_of(_fresh(tmp_path))


def test_a_gap_in_the_old_registry_is_filled_as_the_old_code_did(tmp_path):
    database = tmp_path / "gap.db"
    legacy_database(database, versions=(1, 2, 3, 5, 6)).close()  # 4 landed after 6 on another branch
    assert upgrade_sqlite(database, busy_timeout=5) == ("0006", migrations.HEAD)
    conn = open_db(database)
    assert conn.execute("SELECT COUNT(*) FROM provider_events").fetchone()[0] == 0
    conn.close()
    assert schema_of(database) == schema_of(_fresh(tmp_path))


def test_a_failed_upgrade_leaves_the_file_as_it_was(tmp_path):
    database = tmp_path / "half.db"
    raw = legacy_database(database, versions=range(1, 5))
    raw.execute("ALTER TABLE forgotten ADD COLUMN keyed_by TEXT")  # migration 5 cannot run now
    raw.close()
    before = schema_of(database)
    with pytest.raises(Exception, match="duplicate column"):
        upgrade_sqlite(database, busy_timeout=5)
    assert schema_of(database) == before
    with sqlite3.connect(database) as raw:
        assert raw.execute("SELECT MAX(version) FROM schema_version").fetchone() == (4,)


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    database = tmp_path / "newer.db"
    open_db(database).close()
    with sqlite3.connect(database) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="upgraded by a newer version of newsletter"):
        open_db(database)


def _fresh(tmp_path: Path) -> Path:
    path = tmp_path / "fresh.db"
    open_db(path).close()
    return path

