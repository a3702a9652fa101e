"""Storage faults: the database locked by another process, full, or damaged.

Real SQLite files; the lock is held by a real second process; "full" is SQLite's own
SQLITE_FULL from ``PRAGMA max_page_count`` on the writing connection; damage is garbage written
over pages of the file. Every command must end with one ``Error:`` line naming the file and what
to do, never a traceback, and a write that fails must leave the ledger as it was.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.errors import StoreError
from newsletter.models import Recipient, SendResult
from newsletter.send.plan import send_status
from newsletter.store import ledger, unrecorded
from newsletter.store.db import open_db, quick_check

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def write_lock_held(database: Path):
    """Another process holds a write transaction on the database until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def _ledger_with_rows(path: Path, n: int = 40, *, busy_timeout: float = 0.3):
    conn = open_db(path, busy_timeout=busy_timeout)
    send, _ = ledger.create_send(conn, "issue", "Subject", "outbox", {}, [Recipient(i, f"r{i}@example.com", "") for i in range(1, n + 1)])
    rows = ledger.rows_in_state(conn, send, "pending")
    ledger.mark_sending(conn, [(d.id, f"<m{d.id}@example>") for d in rows])
    return conn, send, rows


def _accepted(rows, detail: str = "") -> list:
    return [(d.id, "accepted", SendResult("accepted", provider_message_id=f"pm-{d.id}", detail=detail or None), None) for d in rows]


def test_a_write_on_a_locked_database_waits_then_gives_one_error_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "newsletter.db"
    conn, send, rows = _ledger_with_rows(database)
    with write_lock_held(database):
        with pytest.raises(StoreError) as caught:
            ledger.record_results(conn, _accepted(rows))
    assert caught.value.message.startswith(f"{database}: the database is locked by another process (waited ")
    assert "busy_timeout_seconds" in caught.value.hint and "holds a write transaction" in caught.value.hint
    assert not conn.in_transaction
    assert ledger.counts(conn, send)["sending"] == len(rows)
    ledger.record_results(conn, _accepted(rows))  # the lock is gone: the same write goes through
    assert ledger.counts(conn, send)["accepted"] == len(rows)


def test_a_full_database_is_retried_until_the_timeout_then_one_error_and_nothing_half_written(tmp_path: Path) -> None:
    database = tmp_path / "newsletter.db"
    conn, send, rows = _ledger_with_rows(database, 200)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL on the next new page
    with pytest.raises(StoreError) as caught:
        ledger.record_results(conn, _accepted(rows, detail="x" * 400))
    assert caught.value.message.startswith(f"{database}: the database or the disk is full")
    assert "Free disk space" in caught.value.hint and str(tmp_path) in caught.value.hint
    assert not conn.in_transaction
    assert ledger.counts(conn, send)["sending"] == len(rows)  # all rows or none
    conn.execute(f"PRAGMA max_page_count = {pages * 100}")  # space was freed
    ledger.record_results(conn, _accepted(rows, detail="x" * 400))
    assert ledger.counts(conn, send)["accepted"] == len(rows)


def test_the_busy_timeout_is_a_setting_with_a_range(project: Path) -> None:
    from newsletter.config import load_settings
    from newsletter.errors import ConfigError

    config = project / "newsletter.toml"
    text = config.read_text()
    assert load_settings(config).busy_timeout == 30.0
    config.write_text(text.replace('[storage]\n', '[storage]\nbusy_timeout_seconds = 2.5\n'))
    assert load_settings(config).busy_timeout == 2.5
    config.write_text(text.replace('[storage]\n', '[storage]\nbusy_timeout_seconds = 0\n'))
    with pytest.raises(ConfigError, match="busy_timeout_seconds"):
        load_settings(config)


def test_results_kept_beside_the_ledger_are_replayed_once_by_status(tmp_path: Path) -> None:
    database = tmp_path / "newsletter.db"
    conn, send, rows = _ledger_with_rows(database, 6)
    outcomes = _accepted(rows[:3]) + [(rows[3].id, "rejected", SendResult("rejected", code="406", detail="inactive"), None)]
    outcomes += [(rows[4].id, "pending", None, "never sent"), (rows[5].id, "unknown", None, "timed out")]
    journal = unrecorded.keep(conn, outcomes)
    assert journal == Path(f"{database}.unrecorded.jsonl") and journal.stat().st_mode & 0o777 == 0o600
    report = send_status(conn, "issue")
    assert not journal.exists()
    assert report.counts == {**report.counts, "accepted": 3, "rejected": 1, "pending": 1, "unknown": 1, "sending": 0}
    assert {d.provider_message_id for d in ledger.rows_in_state(conn, send, "accepted")} == {f"pm-{d.id}" for d in rows[:3]}
    unrecorded.keep(conn, outcomes)  # the same lines again change nothing
    assert unrecorded.replay(conn) == 0
    assert ledger.counts(conn, send) == report.counts


def test_a_known_answer_replaces_unknown_but_nothing_goes_back_to_pending(tmp_path: Path) -> None:
    conn, send, rows = _ledger_with_rows(tmp_path / "newsletter.db", 2)
    ledger.interrupted_to_unknown(conn, send)
    unrecorded.keep(conn, _accepted(rows[:1]) + [(rows[1].id, "pending", None, "never sent")])
    assert unrecorded.replay(conn) == 1
    assert [d.state for d in ledger.rows_in_state(conn, send, "accepted")] == ["accepted"]
    assert ledger.counts(conn, send)["unknown"] == 1


# --- a damaged file ---------------------------------------------------------------------------


def _damage(database: Path) -> None:
    """Garbage over every fourth page after the first twelve (the schema's: Alembic's version
    table and its index come first), so that the subscribers' pages and the ledger's are both hit."""
    page = 4096
    pages = database.stat().st_size // page
    rng = random.Random(9)
    with database.open("r+b") as f:
        for n in range(12, pages, 4):
            f.seek(n * page)
            f.write(rng.randbytes(page))


@pytest.fixture
def damaged(project: Path) -> Path:
    """The project's database with 3,000 subscribers and a send, then pages overwritten."""
    csv = project / "many.csv"
    csv.write_text("email,first_name\n" + "".join(f"reader{i}@example.com,Reader{i}\n" for i in range(3000)))
    run = _cli(project, "subscribers", "import", str(csv))
    assert run.returncode == 0, run.stderr
    database = project / "data" / "newsletter.db"
    conn = open_db(database)
    ledger.create_send(conn, "2026-11-mdma-assisted-therapy", "S", "outbox", {"include": [], "exclude": []}, [Recipient(i, f"reader{i}@example.com", "") for i in range(1, 3001)])
    conn.close()  # the last close checkpoints the WAL into the file
    assert not Path(f"{database}-wal").exists()
    _damage(database)
    return database


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSLETTER_SECRET": "test-secret-not-for-production"}
    return subprocess.run([sys.executable, "-m", "newsletter.cli", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)


COMMANDS = [
    ("subscribers", "count"),
    ("subscribers", "list"),
    ("subscribers", "export", "out.csv"),
    ("subscribers", "import", "more.csv"),
    ("subscribers", "show", "reader2000@example.com"),
    ("status", "2026-11-mdma-assisted-therapy"),
    ("send", "issues/2026-11-mdma-assisted-therapy.md", "--yes"),
    ("serve", "--port", "0"),
]


def test_every_command_on_a_damaged_database_gives_one_clean_error_with_how_to_recover(project: Path, damaged: Path) -> None:
    (project / "more.csv").write_text("email\nnew1@example.com\nreader5@example.com\n")
    for command in COMMANDS:
        run = _cli(project, *command)
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
        assert run.returncode == 1, (command, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr, (command, run.stderr)
        assert len(errors) == 1 and errors[0].startswith(f"Error: {damaged}: the database file is damaged"), (command, run.stderr)
        assert f'sqlite3 {damaged} ".recover" | sqlite3 recovered.db' in run.stderr and "backup" in run.stderr, command


def test_quick_check_finds_the_damage_and_passes_a_sound_file(tmp_path: Path, damaged: Path) -> None:
    sound = open_db(tmp_path / "sound.db")
    quick_check(sound)
    with pytest.raises(StoreError, match=f"{damaged}: the database file is damaged") as caught:
        quick_check(open_db(damaged))
    assert ".recover" in caught.value.hint
