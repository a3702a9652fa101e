"""Suppression sync against the Postmark fake: the dump split when an answer is full (Postmark
documents no paging), `subscribers sync` counts, and `send` syncing first or refusing to start."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from conftest import add_readers
from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter.cli import app
from newsletter.errors import ProviderUnavailable
from newsletter.providers.postmark import PostmarkProvider
from newsletter.store import subscribers
from newsletter.store.db import open_store

pytestmark = [pytest.mark.usefixtures("approved_sample"), pytest.mark.both_engines]  # a real send requires an approval
TOKEN = "sync-token-7"
ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
DAY0 = datetime(2026, 1, 1, 15, tzinfo=timezone.utc)
REASONS = ("HardBounce", "SpamComplaint", "ManualSuppression")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def provider(fake: FakePostmark, cap: int) -> PostmarkProvider:
    return PostmarkProvider(
        {"base_url": fake.url, "message_stream": "broadcast", "batch_size": 500, "timeout": (5.0, 5.0), "suppression_dump_cap": cap, "deadline": 120.0},
        {"POSTMARK_SERVER_TOKEN": TOKEN},
    )


def fill(fake: FakePostmark, count: int, *, days: int = 40) -> list[str]:
    """``count`` suppressions over ``days`` days and every reason; their addresses."""
    addresses = [f"s{i}@example.net" for i in range(count)]
    for i, address in enumerate(addresses):
        fake.suppress(address, reason=REASONS[i % 3], created_at=DAY0 + timedelta(days=i % days, minutes=i))
    return addresses


def use_postmark(project, fake: FakePostmark, cap: int | None = None) -> None:
    config = project / "newsletter.toml"
    extra = f"\nsuppression_dump_cap = {cap}" if cap else ""
    text = config.read_text().replace('base_url = "https://api.postmarkapp.com"', f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0{extra}')
    config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))


def dumps(fake: FakePostmark) -> list:
    return [r for r in fake.requests if r.path.endswith("/suppressions/dump")]


def test_a_full_dump_answer_is_asked_again_in_parts_until_every_suppression_is_read():
    with FakePostmark(token=TOKEN) as fake:
        fake.dump_cap = 25
        addresses = fill(fake, 180)
        found = provider(fake, cap=25).suppressions(None)
        asked = dumps(fake)
    assert sorted(s.email for s in found) == sorted(addresses)
    assert {s.reason for s in found} == set(REASONS)
    assert len(asked) > 1 + len(REASONS)  # whole, per reason, then by dates
    assert all("fromdate" in r.query and "todate" in r.query for r in asked[1:])


def test_a_small_dump_is_one_request():
    with FakePostmark(token=TOKEN) as fake:
        fill(fake, 10)
        assert len(provider(fake, cap=500).suppressions(None)) == 10
        assert len(dumps(fake)) == 1


def test_a_day_too_full_to_split_fails_rather_than_missing_addresses():
    with FakePostmark(token=TOKEN) as fake:
        fake.dump_cap = 3
        for i in range(4):
            fake.suppress(f"same{i}@example.net", reason="HardBounce", created_at=DAY0)
        with pytest.raises(ProviderUnavailable, match="suppression dump"):
            provider(fake, cap=3).suppressions(None)


def test_subscribers_sync_applies_more_suppressions_than_one_answer_holds(project, settings, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", TOKEN)
    conn = open_store(settings)
    for i in range(0, 120, 2):  # every second suppressed address is on our list
        subscribers.add(conn, f"s{i}@example.net", source="test")
    subscribers.unsubscribe(conn, "s0@example.net", source="test")  # already suppressed
    with FakePostmark(token=TOKEN) as fake:
        fake.dump_cap = 40
        use_postmark(project, fake, cap=40)
        fill(fake, 120)
        first = invoke("subscribers", "sync")
        again = invoke("subscribers", "sync")
    assert first.exit_code == 0, first.output
    assert "Synced 120 suppression(s) from postmark: 59 new, 1 already suppressed, 60 unknown address(es)" in first.output
    assert "0 new, 60 already suppressed, 60 unknown" in again.output
    statuses = {s: subscribers.get(conn, f"s{s}@example.net").status for s in (2, 4, 6)}
    assert statuses == {2: "unsubscribed", 4: "complained", 6: "bounced"}  # ManualSuppression, SpamComplaint, HardBounce
    history = subscribers.history(conn, subscribers.get(conn, "s6@example.net").id)
    assert [(e.kind, e.source) for e in history][-1] == ("bounced", "sync") and "HardBounce" in history[-1].detail
    assert len(history) == 2  # the second sync wrote nothing


def test_sync_for_a_provider_without_a_suppression_list(project):
    result = invoke("subscribers", "sync")
    assert result.exit_code == 0 and "nothing to sync" in result.output


@pytest.fixture
def people(settings):
    add_readers(settings, 4, named=False)


def test_send_syncs_first_so_a_suppressed_address_is_not_planned(project, settings, people, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", TOKEN)
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        fake.suppress("p1@example.com")
        result = invoke("send", ISSUE, "--yes")
        sent_to = set(fake.per_recipient)
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output and re.search(r"Recipients\s+3", result.output)
    assert sent_to == {"p0@example.com", "p2@example.com", "p3@example.com"}
    assert subscribers.get(open_store(settings), "p1@example.com").status == "bounced"


def test_send_refuses_to_start_when_the_sync_fails_and_goes_on_with_skip_sync(project, settings, people, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", TOKEN)
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        fake.suppress("p1@example.com")
        fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "Internal server error."}, path="/message-streams/"))
        refused = invoke("send", ISSUE, "--yes")
        assert refused.exit_code == 1
        assert "Error: postmark: suppression sync failed: HTTP 500" in refused.output and "--skip-sync" in refused.output
        assert not fake.per_recipient and invoke("status", ISSUE).exit_code == 1  # nothing sent, no send started

        fake.script(Fault.status(500, path="/message-streams/"))
        skipped = invoke("send", ISSUE, "--yes", "--skip-sync")
        sent_to = set(fake.per_recipient)
    assert skipped.exit_code == 0, skipped.output
    assert "Synced" not in skipped.output and re.search(r"Recipients\s+4", skipped.output)
    # Postmark refuses the suppressed address itself (406); the send marks it.
    assert sent_to == {"p0@example.com", "p2@example.com", "p3@example.com"}
    assert subscribers.get(open_store(settings), "p1@example.com").status == "bounced"
