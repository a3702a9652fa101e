"""send.py + dispatch.py + reconcile.py + ledger: through the outbox and a Postmark fake."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter import clock
from newsletter.errors import ConfigError, ProviderAuthError, SendError
from newsletter.send.dispatch import Clock
from newsletter.send.plan import SendRequest, execute_send, plan_send, send_status, send_test
from newsletter.store import ledger, subscribers
from newsletter.store.db import open_store

pytestmark = [pytest.mark.usefixtures("approved_sample"), pytest.mark.both_engines]  # a real send requires an approval
ISSUE = Path("issues/2026-11-mdma-assisted-therapy.md")
TOKEN = "pm-test-token-123"
SECRET = "send-test-secret"
HELD = 600  # a stored batch's answer waits this long, i.e. until the fake stops: the client (1 s) gives up first


class FakeSleep:
    """Records the waits the dispatcher asks for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.t += seconds

    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


@pytest.fixture
def conn(settings):
    c = open_store(settings)
    yield c
    c.close()


def add_people(conn, n: int, *, prefix: str = "r", tags=()) -> list[int]:
    return [subscribers.add(conn, f"{prefix}{i}@example.com", source="test", first_name=f"Name{i}", tags=tags).id for i in range(n)]


def postmark_settings(settings, fake: FakePostmark, **options):
    table = {"base_url": fake.url, "message_stream": "broadcast", "batch_size": 10, "timeout": [1, 1], "reconcile_grace_seconds": 0, "workers": 2}
    table.update(options)
    return dataclasses.replace(settings, provider="postmark", providers={"postmark": table})


ENV = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": SECRET}


def run(settings, conn, request: SendRequest | None = None, env=ENV, clock: Clock | None = None):
    plan = plan_send(request or SendRequest(ISSUE), settings, conn, env=env)
    return execute_send(plan, conn, env=env, clock=clock or FakeSleep().clock())


# --- outbox -----------------------------------------------------------------------------------


def test_outbox_writes_one_message_per_active_subscriber(settings, conn):
    add_people(conn, 5)
    subscribers.unsubscribe(conn, "r2@example.com", source="test")
    report = run(settings, conn, env={})
    assert report.ok and report.counts["accepted"] == 4
    files = sorted((settings.outbox_dir / "2026-11-mdma-assisted-therapy").glob("*.eml"))
    assert len(files) == 4
    seen_urls = set()
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert "r2@" not in msg["To"]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https = [u for u in msg["List-Unsubscribe"].split(",") if "https://" in u]
        assert len(https) == 1
        seen_urls.add(https[0].strip())
        text = msg.get_body(("plain",)).get_content()
        assert https[0].strip()[1:-1] in text  # the body's link is the header's
    assert len(seen_urls) == 4  # each recipient has an own token


def test_second_send_is_refused_and_resend_to_new_only_adds_newcomers(settings, conn):
    add_people(conn, 3)
    run(settings, conn, env={})
    with pytest.raises(SendError, match="already sent"):
        plan_send(SendRequest(ISSUE), settings, conn, env={})
    add_people(conn, 2, prefix="new")
    conn.execute("UPDATE subscribers SET created_at = '2999-01-01T00:00:00Z' WHERE email LIKE 'new%'")  # joined later
    report = run(settings, conn, SendRequest(ISSUE, resend_to_new=True), env={})
    assert report.run.accepted == 2 and report.counts["accepted"] == 5
    names = sorted(p.name for p in (settings.outbox_dir / "2026-11-mdma-assisted-therapy").glob("*.eml"))
    assert len(names) == 5 and sum("new" in n for n in names) == 2


def test_draft_is_refused_but_can_be_tested(settings, conn, project):
    draft = project / "issues" / "draft.md"
    draft.write_text(ISSUE.read_text().replace("status: ready", "status: draft"))
    with pytest.raises(SendError, match="draft") as err:
        plan_send(SendRequest(draft), settings, conn, env={})
    assert str(draft) in err.value.message and err.value.hint
    results = send_test(draft, ("me@example.org",), settings, conn, env={})
    assert [r.status for _, r in results] == ["accepted"]
    sent = list((settings.outbox_dir / "2026-11-mdma-assisted-therapy-test").glob("*.eml"))
    msg = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("[TEST] ") and msg["List-Unsubscribe"]
    assert ledger.find_send(conn, "2026-11-mdma-assisted-therapy") is None  # not the issue's send


def test_segment_tags_include_and_exclude(settings, conn):
    add_people(conn, 3, prefix="a", tags=("clinicians",))
    add_people(conn, 2, prefix="b", tags=("clinicians", "staff"))
    add_people(conn, 4, prefix="c")
    report = run(settings, conn, SendRequest(ISSUE, include_tags=("clinicians",), exclude_tags=("staff",)), env={})
    assert report.counts["accepted"] == 3
    with pytest.raises(SendError, match="segment"):
        plan_send(SendRequest(ISSUE, include_tags=("other",)), settings, conn, env={})


def test_limit_leaves_the_rest_pending_and_the_next_run_continues(settings, conn):
    add_people(conn, 7)
    first = run(settings, conn, SendRequest(ISSUE, limit=3), env={})
    assert first.counts["accepted"] == 3 and first.counts["pending"] == 4 and not first.ok
    second = run(settings, conn, env={})
    assert second.ok and second.counts["accepted"] == 7 and second.run.accepted == 4


def test_unsubscribed_after_snapshot_is_skipped(settings, conn):
    add_people(conn, 4)
    plan = plan_send(SendRequest(ISSUE, limit=1), settings, conn, env={})
    execute_send(plan, conn, env={})  # snapshot taken, 1 sent
    subscribers.unsubscribe(conn, "r3@example.com", source="one-click")
    report = run(settings, conn, env={})
    assert report.counts == {**report.counts, "accepted": 3, "skipped": 1}
    assert not (settings.outbox_dir / "2026-11-mdma-assisted-therapy" / "4-r3@example.com.eml").exists()


def test_crash_leftovers_are_reconciled_with_the_outbox(settings, conn):
    add_people(conn, 4)
    plan = plan_send(SendRequest(ISSUE, limit=2), settings, conn, env={})
    execute_send(plan, conn, env={})
    send = ledger.find_send(conn, "2026-11-mdma-assisted-therapy")
    rows = ledger.rows_in_state(conn, send, "accepted")
    # Simulate a crash: one accepted row (its file exists) and one pending row (no file) left 'sending'.
    pending = ledger.rows_in_state(conn, send, "pending")
    conn.execute("UPDATE deliveries SET state = 'sending', sending_at = ? WHERE id IN (?, ?)", (clock.timestamp(), rows[0].id, pending[0].id))
    report = run(settings, conn, env={})
    assert report.ok and report.counts["accepted"] == 4
    assert report.reconciled[0].found == 1 and report.reconciled[0].absent == 1
    assert len(list((settings.outbox_dir / "2026-11-mdma-assisted-therapy").glob("*.eml"))) == 4


def test_a_concurrent_send_of_the_same_issue_is_refused(settings, conn):
    add_people(conn, 2)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        conn.execute(
            "INSERT INTO send_locks (issue_slug, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
            ("2026-11-mdma-assisted-therapy", __import__("socket").gethostname(), other.pid, clock.timestamp(), clock.timestamp()),
        )
        with pytest.raises(SendError, match="another send of this issue is running"):
            run(settings, conn, env={})
    finally:
        other.kill()
        other.wait()
    report = run(settings, conn, env={})  # the holder is gone: its lock is stale
    assert report.ok and report.counts["accepted"] == 2


def _other_sender(conn, pid: int, *, holds_lock: bool, rows: list[int] = (), state: str = "sending") -> None:
    """Another live process registered on this send, holding ``rows`` in ``state``."""
    import socket

    host, stamp, slug = socket.gethostname(), clock.timestamp(), "2026-11-mdma-assisted-therapy"
    if holds_lock:
        conn.execute("INSERT INTO send_locks (issue_slug, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)", (slug, host, pid, stamp, stamp))
    conn.execute("INSERT INTO send_senders (issue_slug, sender, host, pid, joined_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)", (slug, f"{host}:{pid}", host, pid, stamp, stamp))
    for row_id in rows:
        conn.execute("UPDATE deliveries SET state = ?, sender = ?, sending_at = ? WHERE id = ?", (state, f"{host}:{pid}", stamp, row_id))


def test_a_joined_sender_leaves_the_rows_a_live_sender_holds_and_status_names_each_sender(settings, conn):
    add_people(conn, 6)
    execute_send(plan_send(SendRequest(ISSUE, limit=1), settings, conn, env={}), conn, env={})  # the snapshot, one sent
    send = ledger.find_send(conn, "2026-11-mdma-assisted-therapy")
    pending = [d.id for d in ledger.rows_in_state(conn, send, "pending")]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _other_sender(conn, other.pid, holds_lock=True, rows=pending[:2])  # two rows in flight there
        _other_sender(conn, other.pid + 100000, holds_lock=False, rows=pending[2:3], state="pending")  # a dead one's reservation
        with pytest.raises(SendError, match="another send of this issue is running"):
            run(settings, conn, env={})  # without --join: refused
        report = run(settings, conn, SendRequest(ISSUE, join=True), env={})
        assert report.run.accepted == 3 and report.counts["sending"] == 2  # the live sender's rows untouched
        assert report.ok and report.with_others == 2
        status = send_status(conn, "2026-11-mdma-assisted-therapy")
        me = f"{__import__('socket').gethostname()}:{os.getpid()}"
        assert (me, 4, 0, False) in status.senders  # this process: 1 + 3 accepted, no longer sending
        assert any(sender.endswith(f":{other.pid}") and alive for sender, _, _, alive in status.senders)
    finally:
        other.kill()
        other.wait()
    # The other sender is gone: its in-flight rows are in doubt, then settled by the outbox's search.
    report = run(settings, conn, SendRequest(ISSUE, join=True), env={})  # nobody to join: carries on alone
    assert report.ok and report.counts["accepted"] == 6
    assert report.reconciled[0].absent == 2  # never sent there: the search says so, and they went out once


# --- postmark fake ---------------------------------------------------------------------------


@pytest.fixture
def fake():
    with FakePostmark(token=TOKEN) as server:
        yield server


def test_postmark_send_with_rejection_marks_the_subscriber_bounced(settings, conn, fake):
    add_people(conn, 25)
    fake.suppress("r7@example.com")
    report = run(postmark_settings(settings, fake), conn)
    assert report.counts["accepted"] == 24 and report.counts["rejected"] == 1
    assert report.rejected[0].email == "r7@example.com" and report.rejected[0].error_code == "406"
    assert subscribers.get(conn, "r7@example.com").status == "bounced"
    assert sorted(fake.per_recipient.values()) == [1] * 24
    batch = [r for r in fake.requests if r.path == "/email/batch"][0].json[0]
    headers = {h["Name"]: h["Value"] for h in batch["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert batch["MessageStream"] == "broadcast" and batch["Tag"] == "2026-11-mdma-assisted-therapy"
    assert batch["Metadata"]["subscriber_id"].isdigit()


def test_postmark_429_waits_for_retry_after_then_succeeds(settings, conn, fake):
    add_people(conn, 10)
    fake.script(Fault.status(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, {"Retry-After": "7"}, path="/email/batch"))
    sleeper = FakeSleep()
    report = run(postmark_settings(settings, fake), conn, clock=sleeper.clock())
    assert report.ok and report.counts["accepted"] == 10
    assert 7 in sleeper.calls
    assert sorted(fake.per_recipient.values()) == [1] * 10


def test_each_batch_has_one_identity_in_the_ledger_kept_across_its_retries(settings, conn, fake):
    add_people(conn, 25)
    fake.script(Fault.status(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, {"Retry-After": "1"}, path="/email/batch"))
    report = run(postmark_settings(settings, fake, workers=1), conn)
    assert report.ok and report.counts["accepted"] == 25
    posted = [[m["To"] for m in r.json] for r in fake.requests if r.path == "/email/batch"]
    assert len(posted) == 4 and posted[0] == posted[1]  # the refused batch went again, whole
    rows = conn.execute("SELECT batch_key, attempts FROM deliveries ORDER BY id").fetchall()
    keys = list(dict.fromkeys(r["batch_key"] for r in rows))
    assert [sum(r["batch_key"] == k for r in rows) for k in keys] == [10, 10, 5]  # one key per batch, rows in order
    send_id = conn.execute("SELECT id FROM sends").fetchone()[0]
    assert all(k.startswith(f"{send_id}-") for k in keys)
    assert all(r["attempts"] == 1 for r in rows)  # the retry was the same batch, not a new one


def test_postmark_500_backs_off_then_succeeds(settings, conn, fake):
    add_people(conn, 10)
    fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "boom"}, path="/email/batch"), times=2)
    sleeper = FakeSleep()
    report = run(postmark_settings(settings, fake), conn, clock=sleeper.clock())
    assert report.ok and report.counts["accepted"] == 10
    assert len(sleeper.calls) == 2 and all(0 <= s <= 1.0 for s in sleeper.calls)


def test_postmark_wrong_token_stops_at_once_without_printing_it(settings, conn, fake):
    add_people(conn, 30)
    env = {**ENV, "POSTMARK_SERVER_TOKEN": "wrong-secret-token"}
    report = run(postmark_settings(settings, fake), conn, env=env)
    assert isinstance(report.run.stopped_by, ProviderAuthError)
    assert "postmark" in report.run.stopped_by.message and "wrong-secret-token" not in report.run.stopped_by.message
    assert report.counts["accepted"] == 0 and report.counts["pending"] == 30  # nothing lost
    assert len([r for r in fake.requests if r.path == "/email/batch"]) <= 2  # one per worker at most


def test_postmark_timeout_becomes_unknown_then_reconciled_by_search(settings, conn, fake):
    add_people(conn, 20)
    # The first batch is stored by the server but answered only after the client gave up.
    fake.script(Fault(hang=HELD, path="/email/batch"))
    report = run(postmark_settings(settings, fake, workers=1), conn)
    assert report.ok, report.counts
    assert report.counts["accepted"] == 20
    assert sum(r.found for r in report.reconciled) == 10
    assert sorted(fake.per_recipient.values()) == [1] * 20  # nobody got two copies


def test_postmark_dropped_before_processing_is_resent_after_search(settings, conn, fake):
    add_people(conn, 10)
    fake.script(Fault(drop="before", path="/email/batch"))
    report = run(postmark_settings(settings, fake, workers=1), conn)
    assert report.ok and report.counts["accepted"] == 10
    assert sorted(fake.per_recipient.values()) == [1] * 10


def test_unknown_stays_unknown_without_search_until_retry_unknown(settings, conn, fake):
    add_people(conn, 10)
    fake.script(Fault(hang=HELD, path="/email/batch"))
    s = postmark_settings(settings, fake, workers=1, reconcile_grace_seconds=3600)
    fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "search down"}, path="/messages/outbound"), times=10)
    report = run(s, conn)
    assert report.counts["unknown"] == 10 and not report.ok
    status = send_status(conn, "2026-11-mdma-assisted-therapy")
    assert len(status.unknown) == 10
    fake.clear()
    report = run(s, conn, SendRequest(ISSUE, retry_unknown=True))
    assert report.ok and report.counts["accepted"] == 10
    assert sorted(fake.per_recipient.values()) == [2] * 10  # the knowing resend duplicates


def test_too_many_consecutive_failures_pause_the_run(settings, conn, fake):
    add_people(conn, 40)
    fake.script(Fault.status(503, {"ErrorCode": 503, "Message": "down"}, path="/email/batch"), times=1000)
    s = postmark_settings(settings, fake, workers=1, max_attempts=2, consecutive_failure_limit=2)
    report = run(s, conn)
    assert report.run.stopped_by is not None and report.counts["pending"] == 40
    assert report.counts["accepted"] == 0


def test_rate_limit_paces_batches(settings, conn, fake):
    add_people(conn, 30)
    sleeper = FakeSleep()
    report = run(postmark_settings(settings, fake, rate_limit=10, workers=1), conn, clock=sleeper.clock())
    assert report.ok
    assert sum(sleeper.calls) == pytest.approx(2.0)  # 3 batches of 10 at 10/s: waits of 1 s, 1 s


def test_missing_credentials_fail_before_anything_is_written(settings, conn, fake):
    add_people(conn, 3)
    with pytest.raises(ConfigError, match="POSTMARK_SERVER_TOKEN"):
        plan_send(SendRequest(ISSUE), postmark_settings(settings, fake), conn, env={"NEWSLETTER_SECRET": "x"})
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET"):
        plan_send(SendRequest(ISSUE), postmark_settings(settings, fake), conn, env={"POSTMARK_SERVER_TOKEN": TOKEN})
    assert ledger.find_send(conn, "2026-11-mdma-assisted-therapy") is None


def test_forget_erases_the_address_from_the_ledger_too(settings, conn):
    add_people(conn, 2)
    run(settings, conn, env={})
    from newsletter.store.subscriber_admin import forget

    forget(conn, "r1@example.com")
    emails = [row[0] for row in conn.execute("SELECT email FROM deliveries ORDER BY subscriber_id")]
    assert emails == ["r0@example.com", "(erased)"]
    assert not conn.execute("SELECT 1 FROM deliveries WHERE email LIKE '%r1@%'").fetchall()


def test_resend_to_new_leaves_out_old_subscribers_who_were_not_active_then(settings, conn):
    add_people(conn, 2)
    subscribers.unsubscribe(conn, "r1@example.com", source="test")
    run(settings, conn, env={})
    subscribers.add(conn, "r1@example.com", source="test", resubscribe=True)  # came back, but not new
    add_people(conn, 1, prefix="late")
    # Join times have whole seconds and this test runs within one: set them apart explicitly.
    conn.execute("UPDATE subscribers SET created_at = '2000-01-01T00:00:00Z' WHERE email LIKE 'r%'")
    conn.execute("UPDATE subscribers SET created_at = '2999-01-01T00:00:00Z' WHERE email LIKE 'late%'")
    report = run(settings, conn, SendRequest(ISSUE, resend_to_new=True), env={})
    assert report.run.accepted == 1
    names = sorted(p.name for p in (settings.outbox_dir / "2026-11-mdma-assisted-therapy").glob("*.eml"))
    assert [n for n in names if "late0" in n] and not [n for n in names if "r1@" in n]


def test_resend_to_new_orders_join_times_written_at_older_precisions(settings, conn):
    """Databases from before the one clock hold whole seconds (subscribers) and microseconds
    (the ledger): --resend-to-new must still compare them in time order."""
    add_people(conn, 1)
    run(settings, conn, env={})
    conn.execute("UPDATE sends SET created_at = '2026-11-03T14:30:05.123456Z'")
    joined = {"same-second": "2026-11-03T14:30:05Z", "next-second": "2026-11-03T14:30:06Z",
              "just-before": "2026-11-03T14:30:05.100Z", "just-after": "2026-11-03T14:30:05.200Z"}  # fmt: skip
    for name, at in joined.items():
        sub_id = subscribers.add(conn, f"{name}@example.com", source="test").id
        conn.execute("UPDATE subscribers SET created_at = ? WHERE id = ?", (at, sub_id))
    report = run(settings, conn, SendRequest(ISSUE, resend_to_new=True), env={})
    sent = {row[0] for row in conn.execute("SELECT email FROM deliveries")}
    assert report.run.accepted == 2 and sent == {"r0@example.com", "next-second@example.com", "just-after@example.com"}


def test_stored_timestamps_have_one_precision_and_old_ones_still_parse(settings, conn):
    add_people(conn, 1)
    run(settings, conn, env={})
    stamps = [*conn.execute("SELECT created_at, updated_at FROM subscribers").fetchone(), *conn.execute("SELECT created_at, completed_at FROM sends").fetchone()]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s) for s in stamps), stamps
    assert clock.normalize("2026-11-03T14:30:05Z") == "2026-11-03T14:30:05.000Z"
    assert clock.normalize("2026-11-03T14:30:05.123456Z") == "2026-11-03T14:30:05.123Z"


def test_a_failing_search_is_retried_before_rows_are_left_unknown(settings, conn, fake):
    add_people(conn, 10)
    fake.script(Fault(hang=HELD, path="/email/batch"))
    fake.script(Fault.status(429, {"ErrorCode": 429, "Message": "slow down"}, {"Retry-After": "3"}, path="/messages/outbound"))
    fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "oops"}, path="/messages/outbound"))
    sleeper = FakeSleep()
    report = run(postmark_settings(settings, fake, workers=1), conn, clock=sleeper.clock())
    assert report.ok and report.counts["accepted"] == 10
    assert sum(r.found for r in report.reconciled) == 10
    assert 3 in sleeper.calls  # the search's Retry-After was honoured
    assert sorted(fake.per_recipient.values()) == [1] * 10


def test_one_worker_uses_one_provider_instance_for_plan_reconcile_and_every_batch(settings, conn, fake):
    """The adapter built to check the credentials also reconciles and sends the batches."""
    add_people(conn, 20)
    fake.script(Fault(hang=HELD, path="/email/batch"))  # a batch in doubt: a reconcile, then a second dispatch
    s = postmark_settings(settings, fake, workers=1)
    plan = plan_send(SendRequest(ISSUE), s, conn, env=ENV)
    report = execute_send(plan, conn, env=ENV, clock=FakeSleep().clock())
    assert report.ok and report.counts["accepted"] == 20
    assert plan.providers.instances == 1


def test_each_worker_gets_its_own_provider_instance(settings, conn, fake):
    add_people(conn, 40)
    plan = plan_send(SendRequest(ISSUE), postmark_settings(settings, fake, workers=2), conn, env=ENV)
    execute_send(plan, conn, env=ENV, clock=FakeSleep().clock())
    assert 1 <= plan.providers.instances <= 2


class LedgerWatchingPostmark(FakePostmark):
    """The Postmark fake, reading the ledger from a connection of its own as each batch arrives:
    what it sees there was committed before the request left."""

    def __init__(self, settings, **kw) -> None:
        super().__init__(**kw)
        self.settings = settings
        self.seen: list[list[tuple[str, str | None, str]]] = []  # per batch: (state, stored Message-ID, sent Message-ID)

    def _send_batch(self, request):
        sent = {int(m["Metadata"]["subscriber_id"]): {h["Name"]: h["Value"] for h in m["Headers"]}["Message-ID"] for m in request.json}
        reader = open_store(self.settings)
        try:
            marks = f"({','.join('?' * len(sent))})"
            rows = reader.execute(f"SELECT subscriber_id, state, message_id FROM deliveries WHERE subscriber_id IN {marks}", list(sent)).fetchall()
        finally:
            reader.close()
        self.seen.append([(state, stored, sent[sid]) for sid, state, stored in rows])
        return super()._send_batch(request)


def test_each_batch_is_committed_as_sending_before_its_request_in_one_commit_with_the_last_results(settings, conn):
    add_people(conn, 40)
    transactions: list[list[str]] = []

    def trace(statement: str) -> None:
        if statement.startswith("BEGIN"):
            transactions.append([])
        elif transactions:
            transactions[-1].append(statement)

    with LedgerWatchingPostmark(settings, token=TOKEN) as fake:
        plan = plan_send(SendRequest(ISSUE), postmark_settings(settings, fake, workers=1), conn, env=ENV)
        conn.set_trace_callback(trace)
        report = execute_send(plan, conn, env=ENV, clock=FakeSleep().clock())
        conn.set_trace_callback(None)
    assert report.ok and report.counts["accepted"] == 40
    assert len(fake.seen) == 4
    for batch in fake.seen:  # durably marked, with the Message-ID that went out
        assert len(batch) == 10 and all(state == "sending" and stored == sent for state, stored, sent in batch)

    def has(txn: list[str], text: str) -> bool:
        return any(text in s for s in txn)

    ledger_txns = [t for t in transactions if has(t, "SET state = 'sending'") or has(t, "provider_message_id = COALESCE")]
    assert len(ledger_txns) == 4 + 1  # four claims, the last batch's results alone
    claims = [t for t in ledger_txns if has(t, "SET state = 'sending'")]
    assert len(claims) == 4 and all(has(t, "UPDATE send_locks SET heartbeat_at") for t in claims)
    assert not has(claims[0], "provider_message_id = COALESCE")
    assert all(has(t, "provider_message_id = COALESCE") for t in claims[1:])  # the previous batch's results
