"""Fault injection, end to end: the real `newsletter send` process through a real SMTP server
(aiosmtpd) with the database locked by another process mid-send, or full mid-send (SQLite's
own SQLITE_FULL, from ``PRAGMA max_page_count`` on the send's connections); and through the
Postmark fake answering one byte at a time.

Whatever the fault, once it is gone and `send` has run again: no duplicates, nobody lost, and
every message the server accepted is recorded as accepted, none left `unknown` because the
ledger could not be written at the moment. The tests wait for states (the server having
received N messages), never for fixed times.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_send_e2e import ISSUE, SLUG, TOKEN, _configure, _env
from test_storage_faults import write_lock_held

from fakes.postmark import FakePostmark
from fakes.server import Fault
from fakes.smtp import FakeSmtp
from newsletter.config import load_settings
from newsletter.lists.importer import import_file
from newsletter.store import ledger, unrecorded
from newsletter.store.db import open_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("approved_sample")]  # a real send requires an approval

READERS = 300
BUSY_TIMEOUT = 0.5  # [storage] busy_timeout_seconds: short, so a test waits half a second per fault

# `newsletter` with every database connection limited to its size at opening plus a few pages:
# the send's writes then meet SQLite's SQLITE_FULL part-way, as on a full disk.
FULL_AFTER_PAGES = """
import sys
from newsletter.store import db
opened, room = db.open_db, int(sys.argv[1])
def open_db(path, **options):
    conn = opened(path, **options)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + room}")
    return conn
db.open_db = open_db
sys.argv = ["newsletter", *sys.argv[2:]]
from newsletter.cli import main
main()
"""


@pytest.fixture
def smtp_project(project: Path):
    csv = project / "subs.csv"
    csv.write_text("email,first_name\n" + "".join(f"reader{i}@example.com,Reader{i}\n" for i in range(READERS)))
    conn = open_store(load_settings(project / "newsletter.toml"))
    import_file(conn, csv, source="e2e")
    conn.close()
    with FakeSmtp() as smtp:
        _configure(project, "smtp", f'[providers.smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\ntimeout = 5\nworkers = 2\n')
        config = project / "newsletter.toml"
        config.write_text(config.read_text().replace("[storage]\n", f"[storage]\nbusy_timeout_seconds = {BUSY_TIMEOUT}\n"))
        yield project, smtp


def _newsletter(project: Path, *args: str, full_after: int | None = None) -> subprocess.CompletedProcess:
    prefix = ["-m", "newsletter.cli"] if full_after is None else ["-c", FULL_AFTER_PAGES, str(full_after)]
    run = subprocess.run([sys.executable, *prefix, *args], cwd=project, env=_env(), capture_output=True, text=True, timeout=300)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def _received(smtp: FakeSmtp) -> Counter:
    return Counter(rcpt.lower() for rcpts, _ in smtp.received for rcpt in rcpts)


def _one_error(run: subprocess.CompletedProcess) -> str:
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert run.returncode == 1 and len(errors) == 1, (run.returncode, run.stdout, run.stderr)
    return errors[0]


def _assert_everything_received_is_recorded(project: Path, smtp: FakeSmtp) -> None:
    """After `status` (which writes in what a stopped run kept aside): each message the server
    has is accepted in the ledger, none is unknown or left sending."""
    run = _newsletter(project, "status", SLUG)
    assert run.returncode == 0, run.stderr
    conn = open_store(load_settings(project / "newsletter.toml"))
    try:
        assert not unrecorded.journal_path(conn).exists()
        send = ledger.find_send(conn, SLUG)
        counts = ledger.counts(conn, send)
        accepted = {d.email.lower() for d in ledger.rows_in_state(conn, send, "accepted")}
    finally:
        conn.close()
    assert counts["unknown"] == 0 and counts["sending"] == 0, counts
    assert accepted == set(_received(smtp)), sorted(set(_received(smtp)) ^ accepted)[:5]


def _finish_and_assert_exactly_once(project: Path, smtp: FakeSmtp) -> None:
    run = _newsletter(project, "send", ISSUE, "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    received = _received(smtp)
    assert not {a: n for a, n in received.items() if n > 1}, "sent twice"
    assert set(received) == {f"reader{i}@example.com" for i in range(READERS)}
    _assert_everything_received_is_recorded(project, smtp)


def test_database_locked_mid_send_records_what_the_server_accepted_and_the_next_run_completes(smtp_project) -> None:
    project, smtp = smtp_project
    database = load_settings(project / "newsletter.toml").database
    with contextlib.ExitStack() as lock:
        def lock_at_the_40th(n: int) -> None:  # before the 40th message's 250: its answer must be kept
            if n == 40:
                lock.enter_context(write_lock_held(database))

        smtp.handler.on_message = lock_at_the_40th
        run = _newsletter(project, "send", ISSUE, "--yes")
        error = _one_error(run)
        assert error.startswith(f"Error: {database}: the database is locked by another process (waited ")
        assert f"kept in {database}.unrecorded.jsonl" in error
        assert "Hint: Another newsletter command" in run.stderr
        assert 40 <= len(smtp.received) < READERS
        assert Path(f"{database}.unrecorded.jsonl").exists()
        # While the lock is still held, status says so too (one line, no traceback).
        assert _one_error(_newsletter(project, "status", SLUG)).startswith(f"Error: {database}: the database is locked")
    smtp.handler.on_message = None
    _assert_everything_received_is_recorded(project, smtp)
    _finish_and_assert_exactly_once(project, smtp)


def test_database_full_mid_send_records_what_the_server_accepted_and_the_next_run_completes(smtp_project) -> None:
    project, smtp = smtp_project
    database = load_settings(project / "newsletter.toml").database
    first = _newsletter(project, "send", ISSUE, "--yes", "--limit", "10")  # the snapshot, with room
    assert first.returncode == 1 and len(smtp.received) == 10, first.stderr  # exit 1: some still pending
    run = _newsletter(project, "send", ISSUE, "--yes", full_after=2)
    error = _one_error(run)
    assert error.startswith(f"Error: {database}: the database or the disk is full"), error
    assert "Hint: Free disk space" in run.stderr
    assert 10 < len(smtp.received) < READERS, len(smtp.received)
    _assert_everything_received_is_recorded(project, smtp)
    _finish_and_assert_exactly_once(project, smtp)


def test_a_trickling_postmark_stops_the_send_at_the_deadline_and_the_next_run_settles_it(project: Path) -> None:
    csv = project / "subs.csv"
    csv.write_text("email,first_name\n" + "".join(f"reader{i}@example.com,Reader{i}\n" for i in range(READERS)))
    conn = open_store(load_settings(project / "newsletter.toml"))
    import_file(conn, csv, source="e2e")
    conn.close()
    with FakePostmark(token=TOKEN) as fake:
        _configure(project, "postmark", f'[providers.postmark]\nbase_url = "{fake.url}"\nbatch_size = 20\nworkers = 1\n'
                   "reconcile_grace_seconds = 0\ntimeout = [2, 2]\ndeadline = 1\n")
        # Two batches answered, the third answered one byte every 0.25 s: each read is quick,
        # the whole answer would take minutes.
        fake.script(Fault(path="/email/batch"), Fault(path="/email/batch"), Fault(trickle=0.25, path="/email/batch"))
        env = _env(POSTMARK_SERVER_TOKEN=TOKEN)
        run = subprocess.run([sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
        error = _one_error(run)
        assert error.startswith("Error: postmark: no complete answer within the 1 s deadline"), error
        assert "Traceback" not in run.stderr and TOKEN not in run.stdout + run.stderr
        conn = open_store(load_settings(project / "newsletter.toml"))
        try:
            send = ledger.find_send(conn, SLUG)
            assert ledger.counts(conn, send) == {**ledger.counts(conn, send), "accepted": 40, "unknown": 20, "pending": READERS - 60, "sending": 0}
            assert conn.execute("SELECT COUNT(*) FROM send_locks").fetchone()[0] == 0  # the lock was let go
        finally:
            conn.close()
        again = subprocess.run([sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Reconciled with postmark: 20 found (accepted)" in again.stdout
        received = Counter(fake.per_recipient)
    assert sorted(set(received.values())) == [1] and len(received) == READERS
    conn = open_store(load_settings(project / "newsletter.toml"))
    try:
        send = ledger.find_send(conn, SLUG)
        assert ledger.counts(conn, send)["accepted"] == READERS
    finally:
        conn.close()
