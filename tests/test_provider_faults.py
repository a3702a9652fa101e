"""A failing outbox or SMTP server stops `newsletter send` at its first batch with the cause.

A real read-only outbox folder (chmod; as root, whom chmod does not stop, the immutable
attribute), and a real aiosmtpd server that refuses the login or the sender, a port where
nothing listens, a TLS handshake with a server that does not speak TLS. Each time: one `Error:`
line naming the folder or server and the cause, a hint, no traceback, no secret, only the first
batch tried (the run does not go on failing batch after batch), and every row pending, since
nothing was sent.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from test_send_e2e import _configure
from typer.testing import CliRunner

from fakes.smtp import FakeSmtp, free_port
from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.store import ledger, subscribers
from newsletter.store.db import open_store

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"
PEOPLE = 30
BATCH = 5
PASSWORD = "smtp-password-not-to-print-41"
# One worker, small batches, two quick tries per batch: the first batch gives up at once.
SEND = f"batch_size = {BATCH}\nworkers = 1\nmax_attempts = 2\nbackoff_base = 0.01\n"


@pytest.fixture
def people(project: Path, approved_sample) -> Path:  # a real send requires an approval
    conn = open_store(load_settings(project / "newsletter.toml"))
    for i in range(PEOPLE):
        subscribers.add(conn, f"reader{i}@example.com", source="test", first_name=f"Reader{i}")
    conn.close()
    return project


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder refuses new files: mode 0555, or for root the immutable attribute (chattr +i)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root, and this filesystem has no immutable attribute (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def send(*extra: str, env: dict | None = None):
    result = CliRunner().invoke(app, ["send", ISSUE, "--yes", *extra], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def one_error(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert "\nHint: " in result.output
    return errors[0]


def assert_all_pending_and_one_batch_tried(project: Path, result) -> None:
    conn = open_store(load_settings(project / "newsletter.toml"))
    try:
        counts = ledger.counts(conn, ledger.find_send(conn, SLUG))
    finally:
        conn.close()
    assert counts["pending"] == PEOPLE and counts["accepted"] == counts["unknown"] == counts["sending"] == 0, counts
    assert re.search(rf"^{BATCH} recipient\(s\) went back to pending", result.output, re.M), result.output


# --- outbox ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["outbox", f"outbox/{SLUG}"])
def test_a_read_only_outbox_stops_the_send_at_once_naming_the_folder(people: Path, which: str) -> None:
    config = people / "newsletter.toml"
    config.write_text(config.read_text().replace("[provider]\n", "[providers.outbox]\n" + SEND + "\n[provider]\n", 1))
    folder = people / which
    with read_only(folder):
        result = send()
    error = one_error(result)
    assert str(folder) in error and ("cannot write" in error or "cannot create" in error), error
    assert not list((people / "outbox").rglob("*.eml"))
    assert_all_pending_and_one_batch_tried(people, result)
    again = send()  # the folder is writable again: the same command finishes the send
    assert again.exit_code == 0, again.output
    assert len(list((people / "outbox" / SLUG).glob("*.eml"))) == PEOPLE


# --- SMTP ------------------------------------------------------------------------------------


def use_smtp(project: Path, port: int, **table: str) -> None:
    lines = {"host": '"127.0.0.1"', "port": str(port), "security": '"none"', "timeout": "5", **table}
    _configure(project, "smtp", "[providers.smtp]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items()) + SEND)


def test_a_refused_connection_stops_the_send_after_the_first_batch(people: Path) -> None:
    port = free_port()  # nothing listens there
    use_smtp(people, port)
    result = send()
    error = one_error(result)
    assert error.startswith(f"Error: smtp: 127.0.0.1:{port}: cannot connect:") and "refused" in error.lower(), error
    assert_all_pending_and_one_batch_tried(people, result)


def test_a_refused_login_stops_at_once_without_the_password(people: Path) -> None:
    with FakeSmtp(username="newsletter", password="the-right-one") as smtp:
        use_smtp(people, smtp.port)
        result = send(env={"SMTP_USERNAME": "newsletter", "SMTP_PASSWORD": PASSWORD})
        assert not smtp.received
    error = one_error(result)
    assert error.startswith(f"Error: smtp: 127.0.0.1:{smtp.port}: login as 'newsletter' refused: 535"), error
    assert PASSWORD not in result.output
    assert_all_pending_and_one_batch_tried(people, result)


def test_a_refused_sender_stops_at_once(people: Path) -> None:
    with FakeSmtp() as smtp:
        smtp.script("MAIL", "550 5.7.1 Sender address not allowed")
        use_smtp(people, smtp.port)
        result = send()
        assert not smtp.received
    error = one_error(result)
    assert f"127.0.0.1:{smtp.port}: MAIL FROM" in error and "550 5.7.1 Sender address not allowed" in error, error
    assert "from_address" in result.output  # the hint
    assert_all_pending_and_one_batch_tried(people, result)


def test_a_failed_tls_handshake_stops_at_once(people: Path) -> None:
    with FakeSmtp() as smtp:  # plain SMTP where the client expects TLS from the start
        use_smtp(people, smtp.port, security='"ssl"')
        result = send()
        assert not smtp.received
    error = one_error(result)
    assert error.startswith(f"Error: smtp: 127.0.0.1:{smtp.port}: TLS handshake failed:"), error
    assert "security" in result.output  # the hint names the setting
    assert_all_pending_and_one_batch_tried(people, result)
