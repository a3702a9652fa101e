"""The schema's history as Alembic revisions (``versions/``), and how to apply them.

Revision ids are the old registry's version numbers ("0001" is migration 1), so a database made
before Alembic is stamped at the last migration it had and upgraded from there. ``HEAD`` is the
newest revision, kept here so that opening a database compares one string and imports neither
Alembic nor SQLAlchemy (``tests/test_migrations.py`` checks it against ``versions/``).
"""

from __future__ import annotations

from pathlib import Path

HEAD = "0008"
FOLDER = Path(__file__).resolve().parent


def revision_id(legacy_version: int) -> str:
    """The Alembic revision of migration ``legacy_version`` of the old ``schema_version`` table."""
    return f"{legacy_version:04d}"


def statements(sql: str) -> list[str]:
    """One migration script as statements: each ends with ';' at the end of a line (our DDL
    holds no such semicolon inside a string)."""
    parts, buf = [], []
    for line in sql.splitlines():
        buf.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(buf).strip().rstrip(";").strip()
            if text and not all(part.strip().startswith("--") for part in text.splitlines()):
                parts.append(text)
            buf = []
    rest = "\n".join(buf).strip()
    if rest and not all(part.strip().startswith("--") for part in rest.splitlines()):
        parts.append(rest)
    return parts


def run(op, *, sqlite: str, postgresql: str) -> None:
    """Run this revision's DDL for the database it is applied to."""
    dialect = op.get_bind().dialect.name
    sql = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect)
    if sql is None:
        raise RuntimeError(f"no migration for the {dialect} dialect")
    for statement in statements(sql):
        op.execute(statement)
