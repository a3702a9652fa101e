"""Reconcile never calls a delivered message absent (issue 16): search windows across the autumn
daylight-saving change and a provider clock minutes off from ours, with an injected clock.

A batch whose answer is lost (the fake stores it, then answers only after the client gave up)
becomes ``unknown``; the send then asks the fake's outbound search, which reads its dates in US
Eastern time and an ambiguous wall time whichever way ``ambiguous_fold`` says. Whatever the case,
every recipient must end with exactly one copy.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from typer.testing import CliRunner

from fakes.postmark import FakePostmark
from fakes.server import Fault, Response
from newsletter import clock
from newsletter.cli import app
from newsletter.providers.base import create_provider
from newsletter.providers.search_window import readings, wall_window
from newsletter.send.dispatch import Clock
from newsletter.send.plan import SendRequest, execute_send, plan_send
from newsletter.store import ledger, subscribers
from newsletter.store.db import open_store

pytestmark = pytest.mark.usefixtures("approved_sample")  # a real send requires an approval
EASTERN = ZoneInfo("America/New_York")
ISSUE = Path("issues/2026-11-mdma-assisted-therapy.md")
TOKEN = "pm-reconcile-token"
ENV = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": "reconcile-test-secret"}
HELD = 600  # the stored batch's answer waits until the fake stops: the client gives up first
PEOPLE = 10

EDT_0130 = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)  # 01:30 EDT, the hour's first pass
EST_0130 = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)  # 01:30 EST, its second pass
SKEWS = {"provider 5 min ahead": timedelta(minutes=5), "in step": timedelta(0), "provider 5 min behind": timedelta(minutes=-5)}


class WallClock:
    """The injected time: newsletter.clock.utc_now and the fake's clock read it; the send's
    sleeps move it forward (nothing waits for real)."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.monotonic = 0.0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.monotonic += seconds

    def send_clock(self) -> Clock:
        return Clock(now=lambda: self.monotonic, sleep=self.advance)


@pytest.fixture
def conn(settings):
    c = open_store(settings)
    yield c
    c.close()


def start_at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> WallClock:
    wall = WallClock(when)
    monkeypatch.setattr(clock, "utc_now", wall)
    return wall


def postmark(settings, fake: FakePostmark, **options):
    table = {"base_url": fake.url, "batch_size": PEOPLE, "timeout": [1, 0.5], "workers": 1, **options}
    return dataclasses.replace(settings, provider="postmark", providers={"postmark": table})


def send(settings, conn, wall: WallClock):
    plan = plan_send(SendRequest(ISSUE), settings, conn, env=ENV)
    return execute_send(plan, conn, env=ENV, clock=wall.send_clock())


def add_people(conn, n: int = PEOPLE) -> None:
    for i in range(n):
        subscribers.add(conn, f"r{i}@example.com", source="test", first_name=f"Name{i}")


def lose_the_first_batch_answer(fake: FakePostmark) -> None:
    fake.script(Fault(hang=HELD, path="/email/batch"))


# --- the issue's cases: 01:30 EDT and 01:30 EST on 2026-11-01, the provider's clock off by 5 min ---


@pytest.mark.parametrize("fold", [0, 1], ids=["fake reads ambiguous as EDT", "fake reads ambiguous as EST"])
@pytest.mark.parametrize("skew", list(SKEWS.values()), ids=list(SKEWS))
@pytest.mark.parametrize("accepted_at", [EDT_0130, EST_0130], ids=["01:30 EDT", "01:30 EST"])
def test_a_batch_in_the_repeated_hour_is_found_and_sent_once(settings, conn, monkeypatch, accepted_at, skew, fold):
    """Searched in the same run, a minute later (after the grace period)."""
    wall = start_at(monkeypatch, accepted_at)
    add_people(conn)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        fake.clock_offset, fake.ambiguous_fold = skew, fold
        lose_the_first_batch_answer(fake)
        report = send(postmark(settings, fake, reconcile_grace_seconds=60), conn, wall)
        assert report.run.unknown == PEOPLE  # the case under test did happen
        assert sum(r.found for r in report.reconciled) == PEOPLE
        assert sum(r.absent for r in report.reconciled) == 0
        assert report.counts["accepted"] == PEOPLE and report.ok
        assert sorted(fake.per_recipient.values()) == [1] * PEOPLE  # nobody got two copies


@pytest.mark.parametrize("fold", [0, 1], ids=["fake reads ambiguous as EDT", "fake reads ambiguous as EST"])
@pytest.mark.parametrize("skew", list(SKEWS.values()), ids=list(SKEWS))
@pytest.mark.parametrize("accepted_at", [EDT_0130, EST_0130], ids=["01:30 EDT", "01:30 EST"])
def test_a_batch_in_the_repeated_hour_is_found_by_a_later_run(settings, conn, monkeypatch, accepted_at, skew, fold):
    """Left unknown by a run whose search was down, settled by the next run 35 minutes later."""
    wall = start_at(monkeypatch, accepted_at)
    add_people(conn)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        fake.clock_offset, fake.ambiguous_fold = skew, fold
        lose_the_first_batch_answer(fake)
        fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "search down"}, path="/messages/outbound"), times=20)
        s = postmark(settings, fake, reconcile_grace_seconds=60)
        first = send(s, conn, wall)
        assert first.counts["unknown"] == PEOPLE and any(r.error for r in first.reconciled)
        fake.clear()  # the search is back
        wall.advance(35 * 60)  # the next run (out of the repeated hour by now)
        second = send(s, conn, wall)
        assert sum(r.found for r in second.reconciled) == PEOPLE
        assert second.counts["accepted"] == PEOPLE and second.ok
        assert sorted(fake.per_recipient.values()) == [1] * PEOPLE


def test_a_batch_the_provider_never_got_is_still_resent(settings, conn, monkeypatch):
    """The widening does not make reconcile timid: a request dropped before Postmark read it is
    provably absent once the grace period passed, and is sent (once)."""
    wall = start_at(monkeypatch, EDT_0130)
    add_people(conn)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        fake.clock_offset, fake.ambiguous_fold = timedelta(minutes=5), 1
        fake.script(Fault(drop="before", path="/email/batch"))
        report = send(postmark(settings, fake, reconcile_grace_seconds=60), conn, wall)
        assert report.ok and report.counts["accepted"] == PEOPLE
        assert sorted(fake.per_recipient.values()) == [1] * PEOPLE


# --- what a search could not settle stays unknown, and `newsletter status` says so ------------


def test_an_incomplete_search_leaves_rows_unknown_and_status_lists_them(project, settings, conn, monkeypatch):
    wall = start_at(monkeypatch, EST_0130)
    add_people(conn)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        lose_the_first_batch_answer(fake)
        # Every search answers a total it then does not list: some messages were left unread.
        short_page = Fault(respond=Response(200, {"TotalCount": PEOPLE, "Messages": []}), path="/messages/outbound")
        fake.script(short_page, times=20)
        report = send(postmark(settings, fake, reconcile_grace_seconds=60), conn, wall)
        assert report.counts["unknown"] == PEOPLE and report.counts["pending"] == 0
        assert any(r.doubt and "incomplete" in r.doubt for r in report.reconciled)
        assert sorted(fake.per_recipient.values()) == [1] * PEOPLE  # stored once, never resent
    status = CliRunner().invoke(app, ["status", str(ISSUE)])
    assert status.exit_code == 0, status.output
    assert "Unknown" in status.output and "r0@example.com" in status.output
    assert "search was incomplete" in status.output


def test_a_message_without_our_identity_to_the_address_keeps_the_row_unknown(settings, conn, monkeypatch):
    """Matched by identity only: a same-tag message to the address without our metadata is
    neither taken as ours nor allowed to prove the row absent."""
    wall = start_at(monkeypatch, EDT_0130)
    add_people(conn, 1)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        fake.script(Fault(drop="before", path="/email/batch"))
        fake.add_accepted("r0@example.com", ISSUE.stem, wall() + timedelta(seconds=1))  # no Metadata
        report = send(postmark(settings, fake, reconcile_grace_seconds=60), conn, wall)
        assert report.counts["unknown"] == 1 and report.counts["pending"] == 0
        assert fake.per_recipient["r0@example.com"] == 1  # only the foreign message
        row = ledger.rows_in_state(conn, ledger.find_send(conn, ISSUE.stem), "unknown")[0]
        assert "without our identity" in (row.error_detail or "")


# --- the adapter's search and the fake's reading of Eastern dates -------------------------------


def test_the_fake_reads_an_ambiguous_wall_time_as_told():
    """01:15-01:45 happens twice on 2026-11-01; the fake searches the pass it is told to."""
    with FakePostmark(token=TOKEN) as fake:
        fake.add_accepted("a@example.org", "t", EDT_0130)
        fake.add_accepted("b@example.org", "t", EST_0130)
        params = {"count": 10, "offset": 0, "tag": "t", "fromdate": "2026-11-01T01:15:00", "todate": "2026-11-01T01:45:00"}
        found = {}
        for fold in (0, 1):
            fake.ambiguous_fold = fold
            answer = requests.get(f"{fake.url}/messages/outbound", params=params, headers={"X-Postmark-Server-Token": TOKEN}, timeout=5)
            found[fold] = [m["Recipients"][0] for m in answer.json()["Messages"]]
    assert found == {0: ["a@example.org"], 1: ["b@example.org"]}


def test_the_fake_stamps_messages_with_its_own_clock():
    wall = WallClock(EDT_0130)
    with FakePostmark(token=TOKEN, clock=wall) as fake:
        fake.clock_offset = timedelta(minutes=-5)
        stored = fake.add_accepted("a@example.org", "t", fake.now())
    assert stored["ReceivedAt"] == EDT_0130 - timedelta(minutes=5)


@pytest.mark.parametrize("fold", [0, 1])
def test_the_adapter_reports_what_it_covered_and_finds_both_passes_of_the_hour(fold):
    with FakePostmark(token=TOKEN) as fake:
        fake.ambiguous_fold = fold
        fake.add_accepted("a@example.org", "t", EDT_0130, Metadata={"subscriber_id": "1"})
        fake.add_accepted("b@example.org", "t", EST_0130, Metadata={"subscriber_id": "2"})
        provider = create_provider("postmark", {"base_url": fake.url}, ENV)
        try:
            edt = provider.search_accepted("t", EDT_0130 - timedelta(minutes=1), EDT_0130 + timedelta(minutes=1))
            est = provider.search_accepted("t", EST_0130 - timedelta(minutes=1), EST_0130 + timedelta(minutes=1))
        finally:
            provider.close()
    assert "a@example.org" in {r.email for r in edt} and "b@example.org" in {r.email for r in est}
    for result, at in ((edt, EDT_0130), (est, EST_0130)):
        assert result.complete and result.covered_since <= at - timedelta(minutes=1) and result.covered_until >= at + timedelta(minutes=1)


def test_the_adapter_marks_a_search_with_a_short_page_incomplete():
    with FakePostmark(token=TOKEN) as fake:
        fake.script(Fault(respond=Response(200, {"TotalCount": 3, "Messages": []}), path="/messages/outbound"))
        provider = create_provider("postmark", {"base_url": fake.url}, ENV)
        try:
            result = provider.search_accepted("t", EDT_0130, EST_0130)
        finally:
            provider.close()
    assert not result.complete and "0 of 3" in (result.note or "")


# --- the windows themselves -------------------------------------------------------------------


def minutes(start: datetime, hours: int, step: int = 7):
    return [start + timedelta(minutes=m) for m in range(0, hours * 60, step)]


@pytest.mark.parametrize("day", [datetime(2026, 11, 1, 3, tzinfo=timezone.utc), datetime(2026, 3, 8, 5, tzinfo=timezone.utc)], ids=["autumn", "spring"])
def test_every_reading_of_a_wall_window_covers_the_instants_asked_for(day):
    for since in minutes(day, 5):
        for length in (timedelta(0), timedelta(seconds=1.5), timedelta(minutes=20), timedelta(hours=1)):
            until = since + length
            window = wall_window(since, until, EASTERN)
            assert max(readings(window.start, EASTERN)) <= since, (since, window)
            assert min(readings(window.end, EASTERN)) >= until, (until, window)
            assert window.covered_since <= since and window.covered_until >= until
            assert window.end - window.start <= length + timedelta(hours=2, seconds=2)  # widened by at most the repeated hour on each side


def test_outside_the_transitions_the_wall_window_is_the_plain_eastern_time():
    since = datetime(2026, 11, 3, 14, 30, 5, 250000, tzinfo=timezone.utc)
    window = wall_window(since, since + timedelta(minutes=1), EASTERN)
    assert window.start == datetime(2026, 11, 3, 9, 30, 5) and window.end == datetime(2026, 11, 3, 9, 31, 6)


def test_a_repeated_hour_too_crowded_to_page_gives_an_incomplete_answer_not_a_partial_one():
    """Every window touching the repeated hour may be read an hour wide; with more messages in
    it than the API can page, the answer must say it is incomplete (the rows stay unknown)."""
    with FakePostmark(token=TOKEN) as fake:
        fake.ambiguous_fold = 0  # 01:xx is read as EDT: a window in the EST pass also reads the EDT one
        for i in range(10_200):
            fake.add_accepted(f"r{i}@example.org", "t", EDT_0130 + timedelta(seconds=0.35 * i))
        provider = create_provider("postmark", {"base_url": fake.url}, ENV)
        try:
            result = provider.search_accepted("t", EST_0130 - timedelta(seconds=30), EST_0130)
        finally:
            provider.close()
        assert not result.complete and result.note
        assert len(fake.requests) <= 401
