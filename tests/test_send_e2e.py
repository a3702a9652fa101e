"""End to end: 1,000 subscribers, the real `newsletter send` process killed with SIGKILL at random
points and run again until done, through the outbox, a real SMTP server and the Postmark fake
(with random 429s, 500s, slow replies and dropped connections).

Every active subscriber must receive exactly one message, except those the ledger reports as
unknown; no suppressed subscriber may receive any.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from fakes.postmark import FakePostmark
from fakes.server import RandomFaults
from fakes.smtp import FakeSmtp
from newsletter.config import load_settings
from newsletter.lists.importer import import_file
from newsletter.send.plan import send_status
from newsletter.store import ledger
from newsletter.store.db import open_db

pytestmark = pytest.mark.slow

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"
ACTIVE, SUPPRESSED = 1000, 30
TOKEN = "e2e-postmark-token"


def _subscribers_csv(path: Path) -> None:
    lines = ["email,first_name,last_name,tags,status"]
    lines += [f"reader{i}@example.com,Reader{i},Test,,subscribed" for i in range(ACTIVE)]
    lines += [f"gone{i}@example.org,Gone{i},Test,,unsubscribed" for i in range(SUPPRESSED)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _configure(project: Path, provider: str, table: str) -> None:
    config = project / "newsletter.toml"
    text = config.read_text()
    text = re.sub(r'\[provider\]\nname = "outbox"', f'[provider]\nname = "{provider}"', text)
    text = re.sub(r"\[providers\.postmark\][^\[]*", "", text)
    text = re.sub(r"\[providers\.smtp\][^\[]*", "", text)
    config.write_text(text + "\n" + table)


def _send(project: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _kill_and_rerun(project: Path, env: dict, seed: int, kills: int = 4) -> list[str]:
    """SIGKILL the send at random moments, then run it to the end; returns the final outputs."""
    rng = random.Random(seed)
    for _ in range(kills):
        proc = _send(project, env)
        time.sleep(rng.uniform(0.8, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    outputs = []
    for _ in range(6):  # later runs settle what earlier ones left in doubt
        proc = _send(project, env)
        out, _ = proc.communicate(timeout=240)
        outputs.append(out.decode(errors="replace"))
        if proc.returncode == 0:
            break
    return outputs


def _assert_exactly_once(project: Path, received: Counter, *, max_unknown: int) -> None:
    settings = load_settings(project / "newsletter.toml")
    conn = open_db(settings.database)
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
    conn = open_db(settings.database)
    import_file(conn, csv, source="e2e")
    conn.close()
    return project


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "POSTMARK_", "SMTP_"))}
    env.update(NEWSLETTER_SECRET="e2e-secret", PYTHONPATH=str(Path(__file__).resolve().parent.parent), **extra)
    return env


def test_outbox_survives_sigkill(e2e_project: Path) -> None:
    _configure(e2e_project, "outbox", "")
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
        _configure(e2e_project, "smtp", f'[providers.smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\ntimeout = 5\nworkers = 4\n')
        _kill_and_rerun(e2e_project, _env(), seed=2)
        received = Counter(rcpt.lower() for rcpts, _ in smtp.received for rcpt in rcpts)
    # SMTP cannot be asked what it accepted: each kill may leave the in-flight batches
    # (workers x batch_size = 4 x 10) unknown, and they are reported, never resent.
    _assert_exactly_once(e2e_project, received, max_unknown=4 * 4 * 10)


def test_postmark_with_faults_survives_sigkill(e2e_project: Path) -> None:
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        # A slow reply is handled by the server after the client gave up (2.5 s > the 1.5 s read
        # timeout): the grace period must outlast that, or "absent" in a search is not reliable.
        fake.random_faults(RandomFaults(rate_429=0.05, rate_500=0.05, slow_rate=0.04, slow_seconds=2.5, drop_rate=0.03, seed=7))
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nmessage_stream = "broadcast"\nbatch_size = 50\n'
            f"timeout = [2, 1.5]\nreconcile_grace_seconds = 5\nbackoff_base = 0.2\nworkers = 4\n",
        )
        outputs = _kill_and_rerun(e2e_project, _env(POSTMARK_SERVER_TOKEN=TOKEN), seed=3)
        assert TOKEN not in "".join(outputs)
        received = Counter(fake.per_recipient)
    # The search answers for almost everything; only what it could not be asked about stays.
    _assert_exactly_once(e2e_project, received, max_unknown=50)


def test_ctrl_c_stops_cleanly_and_the_next_run_continues(e2e_project: Path) -> None:
    with FakePostmark(token=TOKEN, latency=0.05) as fake:
        _configure(
            e2e_project, "postmark",
            f'[providers.postmark]\nbase_url = "{fake.url}"\nbatch_size = 20\nworkers = 2\nreconcile_grace_seconds = 0\n',
        )
        env = _env(POSTMARK_SERVER_TOKEN=TOKEN)
        proc = _send(e2e_project, env)
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out.decode()
        assert "pending" in out.decode() and "Traceback" not in out.decode()
        first = sum(fake.per_recipient.values())
        assert 0 < first < ACTIVE
        final = _send(e2e_project, env)
        final.communicate(timeout=120)
        assert final.returncode == 0
        received = Counter(fake.per_recipient)
    _assert_exactly_once(e2e_project, received, max_unknown=0)
