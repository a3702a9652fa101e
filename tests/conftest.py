"""Shared fixtures: a throwaway project folder with the real config, templates and sample issue."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# SpamAssassin takes one to three seconds a message: only the tests about it switch it on.
SPAMASSASSIN_OFF = "spamassassin = false"
CHECKS_TABLE_RE = re.compile(r"^\[checks\]\n(?:(?!\[).*\n?)*", re.M)  # up to the next table

# A shell starts a background job with SIGINT ignored, and exec keeps a signal ignored: the
# commands the Ctrl-C tests start would never see one. A handler here is reset to the default
# in every child, where Python turns SIGINT into KeyboardInterrupt as at a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --- the two engines (tests/pg_server.py) ---------------------------------------------------
# A module marked ``pytestmark = pytest.mark.both_engines`` runs each of its tests that uses the
# project (or ``engine``) twice: on a SQLite file and on a database of its own on a real
# PostgreSQL server started once per session. ``open_store(settings)`` opens either.

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run on SQLite and on PostgreSQL (tests/pg_server.py)")
    config.addinivalue_line("markers", "postgresql_only: a test of PostgreSQL's own faults (the project's store on the test server)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgresql_only"):
        metafunc.parametrize("engine", ("postgresql",), indirect=True)
    elif metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (skips the PostgreSQL cases, saying why, when it cannot start)."""
    import pg_server as servers

    try:
        server = servers.start_server()
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", None) or str(err)
        pytest.skip(f"no PostgreSQL server for the tests: {' '.join(str(detail).split())[:300]}")
    yield server
    servers.remove(server)


@pytest.fixture
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """'sqlite' (the default) or 'postgresql': then NEWSLETTER_DATABASE_URL names a fresh
    database at the schema's head, for the library and for every command a test starts."""
    name = getattr(request, "param", "sqlite")
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    if name == "postgresql":
        server = request.getfixturevalue("pg_server")
        monkeypatch.setenv("NEWSLETTER_DATABASE_URL", server.url(server.new_database()))
    return name


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> Path:
    """A copy of the repository's config and templates in tmp_path, as the current folder.

    Paths in the copied newsletter.toml are relative, so build output, the database and the
    outbox all land inside tmp_path. Its ``[checks]`` table switches SpamAssassin off (see
    ``set_checks`` and the ``spamassassin_on`` fixture for the tests that are about it).
    """
    config = (REPO / "newsletter.toml").read_text(encoding="utf-8")
    (tmp_path / "newsletter.toml").write_text(f"{config.rstrip()}\n\n[checks]\n{SPAMASSASSIN_OFF}\n", encoding="utf-8")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    (tmp_path / "issues").mkdir()
    for issue in (REPO / "issues").glob("*.md"):
        shutil.copy(issue, tmp_path / "issues" / issue.name)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    for var in ("NEWSLETTER_CONFIG", "NEWSLETTER_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-secret-not-for-production")
    return tmp_path


@pytest.fixture
def settings(project: Path):
    from newsletter.config import load_settings

    return load_settings(project / "newsletter.toml")


@pytest.fixture
def store(settings):
    """An open connection to the project's store (SQLite or PostgreSQL, as ``engine`` says)."""
    from newsletter.store.db import open_store

    conn = open_store(settings)
    yield conn
    conn.close()


def open_test_store(path: Path):
    """The test's store: the SQLite file at ``path``, or on a PostgreSQL run (``engine``) the
    database NEWSLETTER_DATABASE_URL names (``path`` then only places the side journal)."""
    import os
    from types import SimpleNamespace

    from newsletter.store.db import open_store

    return open_store(SimpleNamespace(database=path, database_url=os.environ.get("NEWSLETTER_DATABASE_URL"), busy_timeout=30.0))


def dump_rows(conn) -> list[tuple]:
    """Every row of every table, in order, on either engine: what "nothing was written" compares."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")]
    else:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
    return [(table, *tuple(row)) for table in tables for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]


def no_sqlite_file(root: Path) -> bool:
    """No SQLite database anywhere under ``root`` (a PostgreSQL run must create none)."""
    return not any(path.read_bytes()[:16] == b"SQLite format 3\x00" for path in root.rglob("*") if path.is_file() and path.stat().st_size >= 16)


@pytest.fixture
def spamassassin_on(project: Path):
    """The project's settings with ``[checks] spamassassin = true`` (for the tests about it)."""
    return set_checks(project, "spamassassin = true")


def write_checks(project: Path, text: str) -> Path:
    """Replace the body of the project's ``[checks]`` table with these lines; SpamAssassin stays
    off unless the lines set ``spamassassin`` themselves. Returns the config's path."""
    lines = textwrap.dedent(text).strip("\n")
    if not re.search(r"^\s*spamassassin\s*=", lines, re.M):
        lines += f"\n{SPAMASSASSIN_OFF}"
    config = project / "newsletter.toml"
    body = config.read_text(encoding="utf-8")
    new, found = CHECKS_TABLE_RE.subn(lambda _: f"[checks]\n{lines}\n\n", body, count=1)
    assert found, f"{config} has no [checks] table"
    config.write_text(new, encoding="utf-8")
    return config


def set_checks(project: Path, text: str):
    """``write_checks``, then the settings loaded from it."""
    from newsletter.config import load_settings

    return load_settings(write_checks(project, text))


def write(path: Path, text: str) -> Path:
    """Write dedented text (inputs are written inline in tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- golden files (tests/golden/) ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/* from the current output instead of comparing against them.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when pytest runs with --update-golden (golden tests then write instead of compare)."""
    return bool(request.config.getoption("--update-golden"))


# --- subscribers -------------------------------------------------------------------------------

def add_readers(settings, count: int, prefix: str = "p", *, named: bool = True) -> None:
    """``count`` active subscribers ``p0@example.com``… (first names ``P0``… when ``named``) in
    the settings' database."""
    from newsletter.store import subscribers
    from newsletter.store.db import open_store

    conn = open_store(settings)
    try:
        for i in range(count):
            subscribers.add(conn, f"{prefix}{i}@example.com", source="test", first_name=f"{prefix.upper()}{i}" if named else "")
    finally:
        conn.close()


# --- approvals (a real send requires one) -------------------------------------------------------

SAMPLE_ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
REVIEWER = "Dr. A. Rivera, MD"


def approve(settings, issue: str | Path = SAMPLE_ISSUE, reviewer: str = REVIEWER):
    """Record ``newsletter approve`` for the issue as it is now, in the settings' database."""
    from newsletter.send.approval import approve_issue
    from newsletter.store.db import open_store

    conn = open_store(settings)
    try:
        return approve_issue(Path(issue), reviewer, (), settings, conn)[0]
    finally:
        conn.close()


@pytest.fixture
def approved_sample(settings):
    """The sample issue approved as the project holds it (for tests of real sends)."""
    return approve(settings)
