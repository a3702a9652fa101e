"""`newsletter db copy --to postgresql://...`: a real SQLite list (imported, one erasure, an
approval, a send) copied into an empty database on the test server, counts checked, then used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE_ISSUE, approve

SLUG = "2026-11-mdma-assisted-therapy"


def cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_DATABASE_URL"}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "newsletter.cli", *args], cwd=project, env=full, capture_output=True, text=True, timeout=180)


@pytest.fixture
def filled(project: Path, settings) -> Path:
    people = project / "people.csv"
    people.write_text("email,first_name,tags\n" + "".join(f"p{i}@example.com,P{i},{'research' if i % 2 else ''}\n" for i in range(40)))
    assert cli(project, "subscribers", "import", str(people)).returncode == 0
    assert cli(project, "subscribers", "forget", "p39@example.com").returncode == 0
    approve(settings)
    sent = cli(project, "send", SAMPLE_ISSUE, "--yes")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    return project


def test_the_whole_store_moves_and_is_used_from_postgresql(filled: Path, pg_server) -> None:
    target = pg_server.url(pg_server.empty_database())
    copied = cli(filled, "db", "copy", "--to", target)
    assert copied.returncode == 0, copied.stderr
    assert "counts checked" in copied.stdout and pg_server.password not in copied.stdout + copied.stderr
    assert "subscribers        39" in copied.stdout and "deliveries         39" in copied.stdout
    on_pg = {"NEWSLETTER_DATABASE_URL": target}
    assert cli(filled, "subscribers", "count", **on_pg).stdout.split()[0:1] == cli(filled, "subscribers", "count").stdout.split()[0:1]
    status = cli(filled, "status", SLUG, **on_pg)
    assert status.returncode == 0 and "39" in status.stdout, status.stdout + status.stderr
    shown = cli(filled, "subscribers", "show", "p3@example.com", **on_pg)
    assert "research" in shown.stdout and "imported" in shown.stdout  # tags and history came along
    # The erasure came along: a re-import keeps the forgotten address out.
    again = filled / "again.csv"
    again.write_text("email\np39@example.com\nnew@example.com\n")
    imported = cli(filled, "subscribers", "import", str(again), **on_pg)
    assert imported.returncode == 0 and re.search(r"kept suppressed\W+1\b", imported.stdout), imported.stdout
    # New ids continue past the copied ones (and past the forgotten one's).
    import psycopg

    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT id FROM subscribers WHERE email = 'new@example.com'").fetchone()[0] > 40
    # The send is done and stays done.
    assert "already sent" in cli(filled, "send", SAMPLE_ISSUE, "--yes", **on_pg).stderr


def test_a_target_that_holds_rows_is_refused_and_left_as_it_was(filled: Path, pg_server) -> None:
    database = pg_server.new_database()
    target = pg_server.url(database)
    assert cli(filled, "subscribers", "add", "only@example.org", NEWSLETTER_DATABASE_URL=target).returncode == 0
    refused = cli(filled, "db", "copy", "--to", target)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert refused.returncode == 1 and len(errors) == 1, refused.stderr
    assert "the target database is not empty (subscriber_events, subscribers hold rows)" in errors[0] and pg_server.password not in refused.stderr
    assert "1" in cli(filled, "subscribers", "count", NEWSLETTER_DATABASE_URL=target).stdout
