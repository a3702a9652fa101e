"""The Postmark fake's own validation (it must be as strict as the documented API), and the
Postmark adapter's wire format, error mapping, outbound search and suppressions against it."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from fakes.messages import batch_of, make_batch, make_campaign, make_message, make_recipient
from fakes.postmark import EASTERN, FakePostmark
from fakes.server import Fault, RandomFaults
from newsletter.errors import ConfigError, ProviderRequestError
from newsletter.mime import full_message
from newsletter.models import Suppression
from newsletter.providers.base import create_provider
from newsletter.providers.postmark import encode_json, retry_after, stdlib_encode_json

TOKEN = "pm-server-token-9f2c"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakePostmark]:
    with FakePostmark(token=TOKEN) as server:
        yield server


@pytest.fixture
def api(fake: FakePostmark) -> Iterator[requests.Session]:
    """A raw HTTP client for poking the fake directly."""
    with requests.Session() as session:
        session.headers.update({"X-Postmark-Server-Token": TOKEN, "Accept": "application/json"})
        yield session


@pytest.fixture
def provider(fake: FakePostmark) -> Iterator[Any]:
    opts = {"base_url": fake.url, "timeout": (0.5, 2)}
    with closing(create_provider("postmark", opts, {"POSTMARK_SERVER_TOKEN": TOKEN})) as p:
        yield p


def item(to: str = "ann@example.org", **fields: Any) -> dict[str, Any]:
    return {"From": "news@clinic.example", "To": to, "Subject": "Hi", "TextBody": "Hello", **fields}


def search(api: requests.Session, fake: FakePostmark, **params: Any) -> requests.Response:
    return api.get(fake.url + "/messages/outbound", params={"count": 500, "offset": 0, **params})


# -- the fake's validation -----------------------------------------------------------------------
def test_token_is_required_and_checked(fake: FakePostmark) -> None:
    missing = requests.post(fake.url + "/email/batch", json=[item()])
    wrong = requests.post(fake.url + "/email/batch", json=[item()], headers={"X-Postmark-Server-Token": "nope"})
    assert (missing.status_code, missing.json()["ErrorCode"]) == (401, 10)
    assert (wrong.status_code, wrong.json()["ErrorCode"]) == (401, 10)
    assert fake.messages == []


def test_test_token_validates_but_stores_nothing(fake: FakePostmark) -> None:
    answer = requests.post(fake.url + "/email/batch", json=[item()], headers={"X-Postmark-Server-Token": "POSTMARK_API_TEST"})
    assert answer.status_code == 200 and answer.json()[0]["ErrorCode"] == 0
    assert fake.messages == []


def test_batch_over_500_is_refused_whole_with_410(api: requests.Session, fake: FakePostmark) -> None:
    answer = api.post(fake.url + "/email/batch", json=[item(f"r{i}@example.org") for i in range(501)])
    assert answer.status_code == 422 and answer.json()["ErrorCode"] == 410
    assert fake.messages == []


def test_batch_body_must_be_a_json_array(api: requests.Session, fake: FakePostmark) -> None:
    not_json = api.post(fake.url + "/email/batch", data=b"[{", headers={"Content-Type": "application/json"})
    not_array = api.post(fake.url + "/email/batch", json=item())
    assert (not_json.status_code, not_json.json()["ErrorCode"]) == (422, 402)
    assert (not_array.status_code, not_array.json()["ErrorCode"]) == (422, 403)


def test_batch_items_are_validated_one_by_one_in_order(api: requests.Session, fake: FakePostmark) -> None:
    fake.suppress("gone@example.org", stream="broadcast")
    too_many = ", ".join(f"r{i}@example.org" for i in range(51))
    batch = [
        item(MessageStream="broadcast"),
        item(Subject=""),
        item(TextBody=None),
        item(too_many),
        item("gone@example.org", MessageStream="broadcast"),
        item("gone@example.org", MessageStream="outbound"),  # suppressions are per stream
    ]
    answer = api.post(fake.url + "/email/batch", json=batch)
    assert answer.status_code == 200
    codes = [r["ErrorCode"] for r in answer.json()]
    assert codes == [0, 300, 300, 300, 406, 0]
    assert "Found inactive addresses: gone@example.org." in answer.json()[4]["Message"]
    assert [r.get("To") for r in answer.json()][::5] == ["ann@example.org", "gone@example.org"]
    assert [m["To"] for m in fake.messages] == ["ann@example.org", "gone@example.org"]
    assert fake.per_recipient["gone@example.org"] == 1


def test_single_send_answers_an_object_and_422_when_refused(api: requests.Session, fake: FakePostmark) -> None:
    ok = api.post(fake.url + "/email", json=item())
    fake.suppress("gone@example.org", stream="outbound")
    refused = api.post(fake.url + "/email", json=item("gone@example.org"))
    assert ok.status_code == 200 and ok.json()["MessageID"] == fake.messages[0]["MessageID"]
    assert (refused.status_code, refused.json()["ErrorCode"]) == (422, 406)


def test_outbound_search_pages_newest_first_and_enforces_the_limits(api: requests.Session, fake: FakePostmark) -> None:
    base = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
    for i in range(7):
        fake.add_accepted(f"r{i}@example.org", "issue-a", base + timedelta(minutes=i))
    fake.add_accepted("other@example.org", "issue-b", base)
    page = search(api, fake, tag="issue-a", count=3, offset=3).json()
    assert page["TotalCount"] == 7
    assert [m["Recipients"][0] for m in page["Messages"]] == ["r3@example.org", "r2@example.org", "r1@example.org"]
    assert search(api, fake, recipient="OTHER@example.org").json()["TotalCount"] == 1
    for params in ({"count": 501}, {"count": 500, "offset": 9501}, {"count": 0}):
        assert search(api, fake, **params).status_code == 422
    assert api.get(fake.url + "/messages/outbound").status_code == 422  # count and offset are required


@pytest.mark.parametrize(
    "received_utc, eastern_window",
    [
        (datetime(2026, 11, 3, 14, 30, tzinfo=timezone.utc), ("2026-11-03T09:00:00", "2026-11-03T10:00:00")),  # EST, UTC-5
        (datetime(2026, 7, 1, 14, 30, tzinfo=timezone.utc), ("2026-07-01T10:00:00", "2026-07-01T11:00:00")),  # EDT, UTC-4
    ],
)
def test_outbound_search_reads_dates_as_us_eastern(api: requests.Session, fake: FakePostmark, received_utc: datetime, eastern_window: tuple[str, str]) -> None:
    fake.add_accepted("ann@example.org", "t", received_utc)
    start, end = eastern_window
    assert search(api, fake, fromdate=start, todate=end).json()["TotalCount"] == 1
    utc_start = received_utc.strftime("%Y-%m-%dT%H:00:00")  # the same window read as UTC misses it
    assert search(api, fake, fromdate=utc_start, todate=utc_start.replace(":00:00", ":59:59")).json()["TotalCount"] == 0


def test_suppression_dump_is_per_stream_and_filters_by_date(api: requests.Session, fake: FakePostmark) -> None:
    fake.suppress("old@example.org", created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    fake.suppress("new@example.org", reason="SpamComplaint", created_at=datetime(2026, 6, 5, tzinfo=timezone.utc))
    fake.suppress("tx@example.org", stream="outbound")
    dump = api.get(fake.url + "/message-streams/broadcast/suppressions/dump").json()["Suppressions"]
    recent = api.get(fake.url + "/message-streams/broadcast/suppressions/dump", params={"FromDate": "2026-03-01"}).json()
    assert sorted(e["EmailAddress"] for e in dump) == ["new@example.org", "old@example.org"]
    assert [e["EmailAddress"] for e in recent["Suppressions"]] == ["new@example.org"]
    assert set(dump[0]) == {"EmailAddress", "SuppressionReason", "Origin", "CreatedAt"}


def test_scripted_and_random_faults(api: requests.Session, fake: FakePostmark) -> None:
    fake.script(Fault.status(500), Fault.status(429, headers={"Retry-After": "3"}))
    statuses = [api.post(fake.url + "/email/batch", json=[item()]).status_code for _ in range(3)]
    assert statuses == [500, 429, 200]
    seq = []
    for _ in range(2):
        fake.random_faults(RandomFaults(rate_429=0.3, rate_500=0.3, seed=42))
        seq.append([api.post(fake.url + "/email/batch", json=[item()]).status_code for _ in range(12)])
    assert seq[0] == seq[1] and {429, 500, 200} <= set(seq[0])  # seeded: reproducible, and mixed
    assert len(fake.requests) == 3 + 24


# -- the adapter against the fake ----------------------------------------------------------------
def test_adapter_wire_format(provider: Any, fake: FakePostmark) -> None:
    msg = make_message(7)
    provider.send(batch_of([make_recipient(7)]))
    request = fake.requests[-1]
    assert request.headers["x-postmark-server-token"] == TOKEN
    assert request.headers["content-type"] == "application/json" and request.headers["accept"] == "application/json"
    [sent] = request.json
    assert sent["To"] == msg.to and sent["From"] == msg.from_ and sent["ReplyTo"] == msg.reply_to
    assert sent["MessageStream"] == "broadcast" and sent["Tag"] == msg.tag
    assert sent["TrackOpens"] is False and sent["TrackLinks"] == "None"
    assert sent["Metadata"] == {"issue": msg.tag, "subscriber_id": "7"}
    names = [h["Name"] for h in sent["Headers"]]
    assert names == ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Message-ID"]
    assert sent["HtmlBody"] == msg.html and sent["TextBody"] == msg.text  # non-ASCII survives


def test_fast_and_stdlib_encoders_produce_the_same_json(provider: Any) -> None:
    campaign = make_campaign(html="<p>Größe ±12 % — “x” \\ \"q\"</p>\n")
    body = [provider._message(full_message(campaign, make_recipient(i))) for i in range(3)]
    assert json.loads(encode_json(body)) == json.loads(stdlib_encode_json(body)) == body


def test_adapter_maps_422_with_the_postmark_code(provider: Any) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        provider.send(make_batch(501))
    assert str(caught.value).startswith("postmark: HTTP 422 (code 410): Too many batch messages")


def test_adapter_needs_the_token_from_the_environment(fake: FakePostmark) -> None:
    with pytest.raises(ConfigError, match="POSTMARK_SERVER_TOKEN"):
        create_provider("postmark", {"base_url": fake.url}, {})


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 3, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after("12") == 12.0
    assert retry_after("Tue, 03 Nov 2026 12:00:30 GMT", now=lambda: now) == 30.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_search_accepted_sends_eastern_time_and_returns_records(provider: Any, fake: FakePostmark) -> None:
    provider.send(make_batch(3))
    fake.add_accepted("elsewhere@example.org", "another-issue", datetime.now(timezone.utc))
    now = datetime.now(timezone.utc)
    records = provider.search_accepted(make_message(1).tag, now - timedelta(minutes=1), now + timedelta(minutes=1))
    assert sorted(r.email for r in records) == [m.to for m in make_batch(3)]
    assert {r.metadata["subscriber_id"] for r in records} == {"1", "2", "3"}
    assert {r.provider_message_id for r in records} == {m["MessageID"] for m in fake.messages[:3]}
    query = fake.requests[-1].query
    expected = (now - timedelta(minutes=1)).astimezone(EASTERN).strftime("%Y-%m-%dT%H:%M:%S")
    assert query["fromdate"] == [expected] and query["count"] == ["500"]


def test_search_accepted_splits_windows_beyond_10000(provider: Any, fake: FakePostmark) -> None:
    start = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
    for i in range(12_000):
        fake.add_accepted(f"r{i}@example.org", "big", start + timedelta(seconds=i), Metadata={"subscriber_id": str(i)})
    records = provider.search_accepted("big", start, start + timedelta(seconds=12_000))
    assert len(records) == 12_000
    assert {r.metadata["subscriber_id"] for r in records} == {str(i) for i in range(12_000)}
    offsets = [int(r.query["offset"][0]) for r in fake.requests]
    assert max(offsets) + 500 <= 10_000  # never asked past the API's window
    assert offsets.count(0) == 3  # the whole window, then its two halves


def test_suppressions_since(provider: Any, fake: FakePostmark) -> None:
    fake.suppress("old@example.org", created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    fake.suppress("new@example.org", reason="SpamComplaint", origin="Recipient", created_at=datetime(2026, 6, 5, tzinfo=timezone.utc))
    found = list(provider.suppressions(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    assert found == [Suppression("new@example.org", "SpamComplaint", datetime(2026, 6, 5, tzinfo=timezone.utc), "Recipient")]
    assert len(list(provider.suppressions(None))) == 2
    assert fake.requests[-2].query["fromdate"] == ["2026-02-28"]  # the Eastern day, inclusive


# -- the standalone process ----------------------------------------------------------------------
def test_standalone_fake_process_reports_its_port_and_counts(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.postmark", "--port", "0", "--token", TOKEN, "--light", "--latency-ms", "1"],
        cwd=REPO / "tests",  # not tests.fakes: textstat's wheel installs a top-level package named tests
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "PORT"
        url = f"http://127.0.0.1:{first[1]}"
        opts = {"base_url": url, "timeout": (1, 5)}
        with closing(create_provider("postmark", opts, {"POSTMARK_SERVER_TOKEN": TOKEN})) as p:
            p.send(batch_of([*make_batch(3), make_recipient(1)]))
        counts = requests.get(url + "/_fake/messages").json()
        assert counts["count"] == 4 and counts["per_recipient"]["reader1@example.org"] == 2
        requests.post(url + "/_fake/reset")
        assert requests.get(url + "/_fake/messages").json()["count"] == 0
        script = {"status": 503, "body": {"ErrorCode": 100, "Message": "Maintenance"}}
        requests.post(url + "/_fake/script", data=json.dumps(script))
        assert requests.post(url + "/email/batch", json=[item()], headers={"X-Postmark-Server-Token": TOKEN}).status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()
    assert proc.returncode == 0
