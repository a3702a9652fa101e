"""The SendGrid adapter against its fake: one request carries the parts once and a small set of
values per recipient, substitution gives each recipient their own message, errors map as
documented, suppressions are paged."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from fakes.messages import batch_of, make_batch, make_campaign, make_recipient
from fakes.sendgrid import FakeSendGrid
from fakes.server import Fault
from newsletter.build.personalize import Personalizer
from newsletter.build.pipeline import compile_issue
from newsletter.errors import ConfigError, ProviderRequestError
from newsletter.mime import full_message
from newsletter.models import Batch, Recipient
from newsletter.providers.base import create_provider
from newsletter.providers.sendgrid import _reset

KEY = "SG.adapter-test-key-51ab"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(key=KEY) as server:
        yield server


@pytest.fixture
def provider(fake: FakeSendGrid) -> Iterator[Any]:
    with closing(create_provider("sendgrid", {"base_url": fake.url, "timeout": (0.5, 2)}, {"SENDGRID_API_KEY": KEY})) as p:
        yield p


def mail_sends(fake: FakeSendGrid) -> list[Any]:
    return [r for r in fake.requests if r.path == "/v3/mail/send"]


def test_one_request_carries_the_parts_once_and_each_recipient_s_values(provider: Any, fake: FakeSendGrid) -> None:
    batch = make_batch(3)
    results = provider.send(batch)
    [request] = mail_sends(fake)
    body = request.json
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][1]["value"].count("%%first_name%%") == 1  # a tag where the field was
    assert body["headers"] == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "List-Id": "Clinic Research News <clinic-research-news.clinic.example>"}
    assert body["tracking_settings"]["click_tracking"]["enable"] is False and body["tracking_settings"]["subscription_tracking"]["enable"] is False
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "reader1@example.org"}]
    assert first["substitutions"] == {"%%first_name%%": "1"}  # the same HTML and plain value: one tag for both parts
    assert first["headers"] == {"Message-ID": "<1.2026-11-test-issue@clinic.example>", "List-Unsubscribe": batch[0].headers[0]}
    assert first["custom_args"] == {"issue": "2026-11-test-issue", "subscriber_id": "1", "batch": batch.key}
    message_id = fake.messages[0]["sg_message_id"].split(".")[0]
    assert [r.status for r in results] == ["accepted"] * 3 and {r.provider_message_id for r in results} == {message_id}
    for recipient, sent in zip(batch, fake.messages, strict=True):
        expected = full_message(batch.campaign, recipient)
        assert (sent["html"], sent["text"]) == (expected.html, expected.text)


def test_values_that_differ_between_the_parts_get_a_tag_per_part_and_shared_ones_none(provider: Any, fake: FakeSendGrid) -> None:
    campaign = make_campaign(tag="tags", html="<p>%%first_name%% %%webview_url%%</p>", text="%%first_name%% %%webview_url%%\n")
    people = [
        make_recipient(1, tag="tags")._replace(html={"first_name": "Tom &amp; Jerry", "webview_url": "https://x/i/"}, text={"first_name": "Tom & Jerry", "webview_url": "https://x/i/"}),
        make_recipient(2, tag="tags")._replace(html={"first_name": "Ann", "webview_url": "https://x/i/"}, text={"first_name": "Ann", "webview_url": "https://x/i/"}),
    ]
    provider.send(batch_of(people, campaign))
    body = mail_sends(fake)[0].json
    assert body["content"][1]["value"] == "<p>%%first_name.html%% https://x/i/</p>"  # the shared link filled in
    assert body["personalizations"][0]["substitutions"] == {"%%first_name.html%%": "Tom &amp; Jerry", "%%first_name.text%%": "Tom & Jerry"}
    assert [m["html"] for m in fake.messages] == ["<p>Tom &amp; Jerry https://x/i/</p>", "<p>Ann https://x/i/</p>"]
    assert [m["text"] for m in fake.messages] == ["Tom & Jerry https://x/i/\n", "Ann https://x/i/\n"]


def test_the_sample_issue_uploads_under_1_kb_per_recipient(project: Path, settings, provider: Any, fake: FakeSendGrid) -> None:
    personalizer = Personalizer(compile_issue(project / "issues" / "2026-11-mdma-assisted-therapy.md", settings), settings, b"s")
    people = tuple(personalizer.values(Recipient(i, f"reader{i}@example.com", f"Reader{i}")) for i in range(1, 1001))
    provider.send(Batch(personalizer.campaign, people, "size-test"))
    [request] = mail_sends(fake)
    content = sum(len(c["value"].encode()) for c in request.json["content"])
    per_recipient = (len(request.body) - content) / len(people)
    assert per_recipient < 1024, per_recipient
    assert len(fake.messages) == 1000 and fake.messages[999]["html"] == full_message(personalizer.campaign, people[999]).html


def test_a_400_about_the_request_as_a_whole_stops_the_run(provider: Any, fake: FakeSendGrid) -> None:
    fake.script(Fault.status(400, {"errors": [{"field": "from.email", "message": "The from email does not contain a valid address."}]}))
    with pytest.raises(ProviderRequestError, match=r"^sendgrid: HTTP 400: The from email does not contain a valid address"):
        provider.send(make_batch(2))


def test_a_non_ascii_local_part_is_rejected_without_being_sent(provider: Any, fake: FakeSendGrid) -> None:
    batch = batch_of([make_recipient(1), make_recipient(2, to="zoë@example.org", to_address="zoë@example.org")])
    results = provider.send(batch)
    assert [r.status for r in results] == ["accepted", "rejected"] and results[1].code == "smtputf8"
    assert [m["to"] for m in fake.messages] == ["reader1@example.org"]


def test_the_rate_limit_reset_is_a_unix_time_read_as_the_wait_until_then() -> None:
    assert _reset("1700000010", now=1700000003.5) == 6.5
    assert _reset("1700000000", now=1700000003.5) == 0.0  # already past: retry now
    assert _reset(None) is None and _reset("soon") is None


def test_sandbox_mode_validates_and_stores_nothing(fake: FakeSendGrid) -> None:
    with closing(create_provider("sendgrid", {"base_url": fake.url, "sandbox_mode": True}, {"SENDGRID_API_KEY": KEY})) as p:
        results = p.send(make_batch(2))
    assert [r.status for r in results] == ["accepted"] * 2 and fake.messages == []
    assert mail_sends(fake)[0].json["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_suppressions_are_paged_through_every_list(provider: Any, fake: FakeSendGrid) -> None:
    for i in range(1_100):
        fake.suppress(f"b{i}@example.org", "bounces", created=1_800_000_000 + i)
    fake.suppress("spam@example.org", "spam_reports", created=1_800_000_000)
    fake.suppress("left@example.org", "unsubscribes", created=1_700_000_000)
    found = list(provider.suppressions(None))
    reasons = {s.email: s.reason for s in found}
    assert len([s for s in found if s.origin == "bounces"]) == 1_100
    assert reasons["spam@example.org"] == "SpamComplaint" and reasons["left@example.org"] == "Unsubscribe"
    offsets = [r.query["offset"][0] for r in fake.requests if r.path == "/v3/suppression/bounces"]
    assert offsets == ["0", "500", "1000"]
    since = list(provider.suppressions(datetime.fromtimestamp(1_750_000_000, timezone.utc)))
    assert "left@example.org" not in {s.email for s in since} and len(since) == 1_101


def test_base_url_is_a_scheme_and_host_only() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        create_provider("sendgrid", {"base_url": "https://api.sendgrid.com/v3"}, {"SENDGRID_API_KEY": KEY})
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        create_provider("sendgrid", {}, {})
