"""A SQLite file as the code before Alembic left it: the old ``schema_version`` table and the
DDL of each old migration (the SQLite SQL kept verbatim in the Alembic revision of that number)."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

from newsletter.store import migrations

VERSIONS = migrations.FOLDER / "versions"


def old_migration_sql(version: int) -> str:
    [path] = VERSIONS.glob(f"{migrations.revision_id(version)}_*.py")
    spec = importlib.util.spec_from_file_location(f"old_migration_{version}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SQLITE


def legacy_database(path: Path, versions=range(1, 7)) -> sqlite3.Connection:
    """Apply the old migrations ``versions`` as the old registry did; returns an open raw
    connection (autocommit) for the test to add rows with."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT 'then')")
    for version in versions:
        for statement in migrations.statements(old_migration_sql(version)):
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", (version, f"migration {version}"))
    return raw
