"""End to end: 1,000 subscribers, the real `newsletter send` process killed with SIGKILL at random
points of the send (a seeded number of accepted rows in the ledger) and run again until done,
through the outbox, a real SMTP server, and the Postmark and SendGrid fakes (with random 429s,
500s, slow replies and dropped connections); and Ctrl-C before and during sending.

Every active subscriber must receive exactly one message, except those the ledger reports as
unknown; no suppressed subscriber may receive any. The tests wait for states (ledger rows, a
prompt, a file, a request held by the fake), never for fixed times.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from conftest import approve, no_sqlite_file, set_checks
from fakes.mailgun import FakeMailgun
from fakes.postmark import FakePostmark
from fakes.sendgrid import FakeSendGrid
from fakes.server import Fault, RandomFaults
from fakes.ses import FakeSes
from fakes.smtp import FakeSmtp
from newsletter.config import load_settings
from newsletter.lists.importer import import_file
from newsletter.send.plan import send_status
from newsletter.store import ledger
from newsletter.store.db import open_store

# SQLite for every provider; the Postmark case (faults, kills, reconcile) on both engines too, with
# the PostgreSQL-only cases below: the ledger under SIGKILL is the engine's part, and it is the same
# for every adapter, so running each provider twice would double the suite's slowest tests.
pytestmark = [pytest.mark.slow]

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"
ACTIVE, SUPPRESSED = 1000, 30
TOKEN = "e2e-postmark-token"
SENDGRID_KEY = "SG.e2e-sendgrid-key"
MAILGUN_KEY = "key-e2e-mailgun"
# Messages per second ([provider] rate_limit): even on a fast machine a send lasts long enough to
# be killed part-way (here they run at about 100-300/s anyway).
PACE = 400


def _subscribers_csv(path: Path) -> None:
    lines = ["email,first_name,last_name,tags,status"]
    lines += [f"reader{i}@example.com,Reader{i},Test,,subscribed" for i in range(ACTIVE)]
    lines += [f"gone{i}@example.org,Gone{i},Test,,unsubscribed" for i in range(SUPPRESSED)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _configure(project: Path, provider: str, table: str, *, rate_limit: float = 0) -> None:
    config = project / "newsletter.toml"
    text = config.read_text()
    text = re.sub(r'\[provider\]\nname = "outbox"', f'[provider]\nname = "{provider}"', text)
    text = re.sub(r"^rate_limit = 0\b", f"rate_limit = {rate_limit}", text, flags=re.M)
    text = re.sub(r"\[providers\.postmark\][^\[]*", "", text)
    text = re.sub(r"\[providers\.smtp\][^\[]*", "", text)
    config.write_text(text + "\n" + table)


def _send(project: Path, env: dict, *, confirm: bool = False, join: bool = False) -> subprocess.Popen:
    """`newsletter send` in its own process; with ``confirm`` it asks (stdin is a pipe), else --yes;
    ``join``: `send --join`, sharing the send another process runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "send", ISSUE, *([] if confirm else ["--yes"]), *(["--join"] if join else [])],
        cwd=project, env=env, stdin=subprocess.PIPE if confirm else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _wait_for(proc: subprocess.Popen, what: str, predicate, *, deadline: float = 120.0) -> bool:
    """Poll for a state of the running send; False when the process ended before reaching it."""
    give_up = time.monotonic() + deadline
    while not predicate():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < give_up, f"the send never reached: {what}"
        time.sleep(0.005)
    return True


def _accepted(conn) -> int:
    """Accepted rows in the ledger, read from the real store (SQLite file or PostgreSQL) the send process writes."""
    send = ledger.find_send(conn, SLUG)
    return ledger.counts(conn, send)["accepted"] if send else 0


def _ledger(project: Path):
    return open_store(load_settings(project / "newsletter.toml"))


def _counts(project: Path) -> dict[str, int]:
    conn = _ledger(project)
    try:
        return ledger.counts(conn, ledger.find_send(conn, SLUG))
    finally:
        conn.close()


def _kill_and_rerun(project: Path, env: dict, seed: int, kills: int = 4) -> list[str]:
    """SIGKILL the send once the ledger shows a seeded, growing number of accepted rows, then run
    it to the end; returns the outputs of the runs that were not killed."""
    thresholds = sorted(random.Random(seed).sample(range(1, ACTIVE * 3 // 4), kills))
    conn = _ledger(project)
    try:
        for threshold in thresholds:
            proc = _send(project, env)
            if not _wait_for(proc, f"{threshold} accepted", lambda threshold=threshold: _accepted(conn) >= threshold):
                out, _ = proc.communicate()  # it ended before the threshold (e.g. in-doubt rows left)
                if proc.returncode == 0:
                    return [out.decode(errors="replace")]
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    finally:
        conn.close()
    outputs, before = [], None
    for _ in range(6):  # later runs settle what earlier ones left in doubt
        proc = _send(project, env)
        out, _ = proc.communicate(timeout=240)
        outputs.append(out.decode(errors="replace"))
        after = _counts(project)
        if proc.returncode == 0 or after == before:  # done, or only what no run can settle is left
            break
        before = after
    return outputs


def _assert_exactly_once(project: Path, received: Counter, *, max_unknown: int) -> None:
    settings = load_settings(project / "newsletter.toml")
    conn = open_store(settings)
    report = send_status(conn, SLUG, limit=10_000)
    send = ledger.find_send(conn, SLUG)
    accepted = {d.email.lower() for d in ledger.rows_in_state(conn, send, "accepted")}
    unknown = {d.email.lower() for d in report.unknown}
    assert report.counts["pending"] == 0 and report.counts["sending"] == 0, report.counts
    duplicates = {a: n for a, n in received.items() if n > 1}
    assert not duplicates, f"sent twice: {sorted(duplicates)[:5]}"
    assert not [a for a in received if a.startswith("gone")], "a suppressed subscriber received mail"
    missing = {f"reader{i}@example.com" for i in range(ACTIVE)} - set(received)
    assert missing <= unknown, f"lost without a record: {sorted(missing - unknown)[:5]}"
    assert accepted <= set(received), f"recorded as accepted but never received: {sorted(accepted - set(received))[:5]}"
    assert set(received) - accepted <= unknown  # delivered but in doubt: listed by `status`
    assert len(unknown) <= max_unknown, f"too many unknown: {len(unknown)}"


@pytest.fixture
def e2e_project(project: Path) -> Path:
    settings = load_settings(project / "newsletter.toml")
    csv = project / "subs.csv"
    _subscribers_csv(csv)
    conn = open_store(settings)
    import_file(conn, csv, source="e2e")
    conn.close()
    approve(settings)  # a real send requires an approval
    return project


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "POSTMARK_", "SMTP_", "SENDGRID_", "AWS_", "MAILGUN_")) or k == "NEWSLETTER_DATABASE_URL"}
    env.update(NEWSLETTER_SECRET="e2e-secret", PYTHONPATH=str(Path(__file__).resolve().parent.parent), **extra)
    return env


def test_outbox_survives_sigkill(e2e_project: Path) -> None:
    _configure(e2e_project, "outbox", "", rate_limit=PACE)
    outputs = _kill_and_rerun(e2e_project, _env(), seed=1)
    assert "accepted" in outputs[-1]
    folder = e2e_project / "outbox" / SLUG
    received = Counter()
    for path in folder.glob("*.eml"):
        msg = message_from_bytes(path.read_bytes(), policy=default_policy)
        received[msg["To"].addresses[0].addr_spec.lower()] += 1
    _assert_exactly_once(e2e_project, received, max_unknown=0)
    assert len(received) == ACTIVE  # the outbox can always say what it wrote: nothing unknown


def test_smtp_survives_sigkill(e2e_project: Path) -> None:
    with FakeSmtp() as smtp:
        _configure(e2e_project, "smtp", f'[providers.smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\ntimeout = 5\nworkers = 4\n', rate_limit=PACE)
        _kill_and_rerun(e2e_project, _env(), seed=2)
        received = Counter(rcpt.lower() for rcpts, _ in smtp.received for rcpt in rcpts)
    # SMTP cannot be asked what it accepted: each kill may leave the in-flight batches
    # (workers x batch_size = 4 x 10) unknown, and they are reported, never resent.
    _assert_exactly_once(e2e_project, received, max_unknown=4 * 4 * 10)


@pytest.mark.both_engines
def test_postmark_with_faults_survives_sigkill(e2e_project: Path, engine: str) -> None:
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        # A slow reply is handled by the server after the client gave up (2.5 s > the 1.5 s read
        # timeout): the grace period must outlast that, or "absent" in a search is not reliable.
        fake.random_faults(RandomFaults(rate_429=0.05, rate_500=0.05, slow_rate=0.04, slow_seconds=2.5, drop_rate=0.03, seed=7))
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nmessage_stream = "broadcast"\nbatch_size = 50\n'
            f"timeout = [2, 1.5]\nreconcile_grace_seconds = 5\nbackoff_base = 0.2\nworkers = 4\n",
            rate_limit=PACE,
        )
        outputs = _kill_and_rerun(e2e_project, _env(POSTMARK_SERVER_TOKEN=TOKEN), seed=3)
        assert TOKEN not in "".join(outputs)
        received = Counter(fake.per_recipient)
    # The search answers for almost everything; only what it could not be asked about stays.
    _assert_exactly_once(e2e_project, received, max_unknown=50)
    if engine == "postgresql":
        assert no_sqlite_file(e2e_project)  # the whole run wrote no SQLite file anywhere


def test_postmark_bulk_with_faults_survives_sigkill(e2e_project: Path) -> None:
    """The same faults through ``mode = "bulk"``: they hit the bulk requests, their status polls
    and the searches alike; a lost reply leaves its whole request in doubt, which the search by
    metadata settles."""
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        fake.random_faults(RandomFaults(rate_429=0.05, rate_500=0.05, slow_rate=0.04, slow_seconds=2.5, drop_rate=0.03, seed=11))
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nmessage_stream = "broadcast"\nmode = "bulk"\nbulk_size = 50\n'
            f"bulk_poll_interval = 0.05\ntimeout = [2, 1.5]\nreconcile_grace_seconds = 5\nbackoff_base = 0.2\nworkers = 4\n",
            rate_limit=PACE,
        )
        outputs = _kill_and_rerun(e2e_project, _env(POSTMARK_SERVER_TOKEN=TOKEN), seed=4)
        assert TOKEN not in "".join(outputs)
        assert [r for r in fake.requests if r.path == "/email/bulk"] and not [r for r in fake.requests if r.path == "/email/batch"]
        received = Counter(fake.per_recipient)
    _assert_exactly_once(e2e_project, received, max_unknown=50)


def test_sendgrid_with_faults_survives_sigkill(e2e_project: Path) -> None:
    with FakeSendGrid(key=SENDGRID_KEY, latency=0.02) as fake:
        fake.random_faults(RandomFaults(rate_429=0.05, rate_500=0.05, slow_rate=0.01, slow_seconds=2.5, drop_rate=0.01, seed=11))
        _configure(
            e2e_project, "sendgrid",
            f'[providers.sendgrid]\nbase_url = "{fake.url}"\nbatch_size = 10\ntimeout = [2, 1.5]\nbackoff_base = 0.2\nworkers = 4\n',
            rate_limit=PACE,
        )
        outputs = _kill_and_rerun(e2e_project, _env(SENDGRID_API_KEY=SENDGRID_KEY), seed=4)
        assert SENDGRID_KEY not in "".join(outputs)
        received = Counter(fake.per_recipient)
        assert all(len(m["to"].split(",")) == 1 for m in fake.messages)  # each message to its own recipient only
    # SendGrid cannot be asked what it accepted: each kill may leave the batches in flight
    # (workers x batch_size) unknown, and so may a lost reply; they are reported, never resent.
    _assert_exactly_once(e2e_project, received, max_unknown=4 * 4 * 10 + 60)


def test_ses_with_faults_survives_sigkill(e2e_project: Path) -> None:
    sender = load_settings(e2e_project / "newsletter.toml").from_address
    with FakeSes(secret_key="e2e-ses-secret-key-0000", senders=(sender,)) as fake:
        # A slow reply is taken by SES after the client gave up (2.5 s > the 1.5 s read timeout).
        # Few 429s: SES gives no hint, so each one costs a worker a second of backoff.
        fake.random_ses_faults(rate_429=0.01, rate_500=0.03, slow_rate=0.005, slow_seconds=2.5, drop_rate=0.01, seed=11)
        _configure(
            e2e_project, "ses",
            f'[providers.ses]\nbase_url = "{fake.url}"\nbatch_size = 5\ntimeout = [2, 1.5]\nbackoff_base = 0.1\nworkers = 2\n',
            rate_limit=PACE,
        )
        outputs = _kill_and_rerun(e2e_project, _env(**fake.env()), seed=4, kills=3)
        assert "e2e-ses-secret-key-0000" not in "".join(outputs)
        received = Counter(fake.per_recipient)
    # SES cannot be asked what it took: each kill leaves the claimed batches (2 workers x 5)
    # unknown, and each slow or dropped reply its one message (1.5% of 1,000, a few times that
    # allowed for the seed); all listed, none resent.
    _assert_exactly_once(e2e_project, received, max_unknown=3 * 2 * 5 + 60)


def _output(proc: subprocess.Popen) -> str:
    """The last lines a send that ended printed (its table rows left out)."""
    lines = proc.communicate(timeout=60)[0].decode(errors="replace").splitlines()
    return "\n".join(line for line in lines if not line.startswith(("│", "┏", "┃", "┡", "└", "├")))[-2000:]


def _accepted_by(conn, proc: subprocess.Popen) -> int:
    send = ledger.find_send(conn, SLUG)
    mine = [accepted for sender, accepted, _ in (ledger.sent_by(conn, send) if send else []) if sender.endswith(f":{proc.pid}")]
    return mine[0] if mine else 0


@pytest.mark.postgresql_only  # the shared store's case (on SQLite the same code runs: test_send.py's join tests)
def test_joined_senders_killed_in_turn_share_the_send_and_send_each_message_once(e2e_project: Path, engine: str) -> None:
    """Two processes share one send (`send --join`); each is SIGKILLed in its turn while the
    other carries on, and a new joined process replaces it. The last two both run to the end
    and exit 0; nobody gets two copies and nobody is lost."""
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nbatch_size = 10\nworkers = 2\nreconcile_grace_seconds = 0\n',
            rate_limit=40,  # per sender: the send outlasts every start-up below, even on a busy machine
        )
        env = _env(POSTMARK_SERVER_TOKEN=TOKEN)
        conn = _ledger(e2e_project)
        try:
            first = _send(e2e_project, env)
            assert _wait_for(first, "the first sender's batches accepted", lambda: _accepted(conn) >= 30), _output(first)
            second = _send(e2e_project, env, join=True)
            assert _wait_for(second, "the joined sender's batches accepted", lambda: _accepted_by(conn, second) >= 20), _output(second)
            first.send_signal(signal.SIGKILL)
            first.wait()
            third = _send(e2e_project, env, join=True)  # joins the survivor
            assert _wait_for(third, "the replacement's batches accepted", lambda: _accepted_by(conn, third) >= 20), _output(third)
            second.send_signal(signal.SIGKILL)
            second.wait()
            fourth = _send(e2e_project, env, join=True)
            outputs = [proc.communicate(timeout=240)[0].decode(errors="replace") for proc in (third, fourth)]
            assert [third.returncode, fourth.returncode] == [0, 0], outputs
        finally:
            conn.close()
        received = Counter(fake.per_recipient)
        assert TOKEN not in "".join(outputs)
    _assert_exactly_once(e2e_project, received, max_unknown=0)
    settings = load_settings(e2e_project / "newsletter.toml")
    status = open_store(settings)
    try:
        by_sender = {sender: accepted for sender, accepted, _ in ledger.sent_by(status, ledger.find_send(status, SLUG))}
    finally:
        status.close()
    assert sum(by_sender.values()) == ACTIVE, by_sender
    for proc in (first, second, third):  # each had its share (the last may find nothing left)
        assert any(sender.endswith(f":{proc.pid}") and n > 0 for sender, n in by_sender.items()), (proc.pid, by_sender)
    if engine == "postgresql":
        assert no_sqlite_file(e2e_project)


@pytest.mark.postgresql_only
def test_the_database_server_restarted_mid_send_stops_it_cleanly_and_a_rerun_loses_nothing(e2e_project: Path, pg_server) -> None:
    """The server goes down under a running send (pg_ctl restart: every connection cut): the
    send stops with one Error line naming the database (no password), keeps the provider's
    answers it could not record in the side journal, and the next run completes with no copy
    sent twice and nobody lost."""
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nbatch_size = 20\nworkers = 2\nreconcile_grace_seconds = 0\n',
            rate_limit=PACE,
        )
        env = _env(POSTMARK_SERVER_TOKEN=TOKEN)
        conn = _ledger(e2e_project)
        try:
            proc = _send(e2e_project, env)
            assert _wait_for(proc, "the first batches accepted", lambda: _accepted(conn) >= 100), _output(proc)
        finally:
            conn.close()
        pg_server.restart()
        out = _output(proc)
        assert proc.returncode == 1, out
        errors = [line for line in out.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "the database server closed the connection" in errors[0], out
        assert pg_server.password not in out and "Traceback" not in out
        rerun = _send(e2e_project, env)
        final = _output(rerun)
        assert rerun.returncode == 0, final
        received = Counter(fake.per_recipient)
    _assert_exactly_once(e2e_project, received, max_unknown=0)
    assert no_sqlite_file(e2e_project)


def test_mailgun_with_faults_survives_sigkill(e2e_project: Path) -> None:
    with FakeMailgun(key=MAILGUN_KEY, domain="news.kairoswellness.org", latency=0.02) as fake:
        fake.random_faults(RandomFaults(rate_429=0.05, rate_500=0.05, slow_rate=0.02, slow_seconds=2.5, drop_rate=0.02, seed=12))
        # The fake stores events at once: no polling threshold to wait for (Mailgun's is ~30 min).
        _configure(
            e2e_project, "mailgun",
            f'[providers.mailgun]\nbase_url = "{fake.url}"\ndomain = "news.kairoswellness.org"\nbatch_size = 25\n'
            f"timeout = [2, 1.5]\nreconcile_grace_seconds = 3\nbackoff_base = 0.2\nworkers = 4\n",
            rate_limit=PACE,
        )
        outputs = _kill_and_rerun(e2e_project, _env(MAILGUN_API_KEY=MAILGUN_KEY), seed=5)
        assert MAILGUN_KEY not in "".join(outputs)
        received = Counter(fake.per_recipient)
        assert all(", " not in m["to"] for m in fake.messages)  # each message to its own recipient only
    # The Events API answers for what was accepted: in-doubt batches are settled, not left unknown.
    _assert_exactly_once(e2e_project, received, max_unknown=50)


def _postmark_project(project: Path, fake: FakePostmark) -> dict:
    """One worker, batches of 20, no search grace: the environment for `send` through ``fake``."""
    _configure(project, "postmark", f'[providers.postmark]\nbase_url = "{fake.url}"\nbatch_size = 20\nworkers = 1\nreconcile_grace_seconds = 0\n')
    return _env(POSTMARK_SERVER_TOKEN=TOKEN)


def _interrupted(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    text = out.decode(errors="replace")
    assert proc.returncode == 130 and "Traceback" not in text, text
    return text


def _nothing_was_sent(project: Path, fake: FakePostmark, output: str) -> None:
    assert "Interrupted before sending: nothing was sent." in output
    assert not [r for r in fake.requests if r.path == "/email/batch"]
    conn = _ledger(project)
    try:
        assert ledger.find_send(conn, SLUG) is None  # not even the recipient snapshot
    finally:
        conn.close()


def test_ctrl_c_at_the_confirmation_prompt_sends_nothing(e2e_project: Path) -> None:
    with FakePostmark(token=TOKEN) as fake:
        proc = _send(e2e_project, _postmark_project(e2e_project, fake), confirm=True)
        seen = b""
        while b"to confirm" not in seen:  # the prompt has no newline: read what is there
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"the send ended before asking: {seen.decode(errors='replace')}"
            seen += chunk
        output = seen.decode() + _interrupted(proc)
        _nothing_was_sent(e2e_project, fake, output)


def test_ctrl_c_while_planning_sends_nothing(e2e_project: Path) -> None:
    """The moment the old fixed-time test hit by chance: planning runs SpamAssassin, a child
    process. A stand-in that says it started and then never finishes holds planning there."""
    started = e2e_project / "spamassassin-started"
    bin_dir = e2e_project / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "spamassassin"
    # Never finishes on its own: the check writes the message and closes stdin, so a stand-in that
    # read to end of input (as this one once did) let planning go on and the send beat the Ctrl-C.
    stand_in.write_text(f"#!/bin/sh\ntouch '{started}'\nexec sleep 3600\n")
    stand_in.chmod(0o755)
    set_checks(e2e_project, "spamassassin = true")
    with FakePostmark(token=TOKEN) as fake:
        env = _postmark_project(e2e_project, fake)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        proc = _send(e2e_project, env)
        assert _wait_for(proc, "SpamAssassin started", started.exists)
        _nothing_was_sent(e2e_project, fake, _interrupted(proc))


def test_ctrl_c_while_sending_stops_after_the_batch_in_flight_and_the_next_run_completes(e2e_project: Path) -> None:
    release = threading.Event()
    with FakePostmark(token=TOKEN) as fake:
        env = _postmark_project(e2e_project, fake)
        # The first batch goes through; the second is held by the fake until after Ctrl-C.
        fake.script(Fault(path="/email/batch"), Fault(hold=release, path="/email/batch"))
        batches = lambda: len([r for r in fake.requests if r.path == "/email/batch"])  # noqa: E731
        proc = _send(e2e_project, env)
        conn = _ledger(e2e_project)
        try:
            assert _wait_for(proc, "the first batch accepted, the second in flight", lambda: _accepted(conn) == 20 and batches() == 2)
            proc.send_signal(signal.SIGINT)
            release.set()
            out, _ = proc.communicate(timeout=120)
            output = out.decode(errors="replace")
            assert proc.returncode == 130 and "Traceback" not in output, output
            assert "Stopped by Ctrl-C" in output and "still pending" in output
            # Nothing new after Ctrl-C; the batch the provider already had is recorded.
            assert sorted(fake.per_recipient.values()) == [1] * 40 and batches() == 2
            send = ledger.find_send(conn, SLUG)
            assert ledger.counts(conn, send) == {**ledger.counts(conn, send), "accepted": 40, "pending": ACTIVE - 40, "sending": 0}
        finally:
            conn.close()
        final = _send(e2e_project, env)
        out, _ = final.communicate(timeout=240)
        assert final.returncode == 0, out.decode(errors="replace")
        received = Counter(fake.per_recipient)
    _assert_exactly_once(e2e_project, received, max_unknown=0)
    assert len(received) == ACTIVE
