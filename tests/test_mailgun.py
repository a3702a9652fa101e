"""The Mailgun adapter against its fake: one form request with the parts once and
recipient-variables for every recipient (always: without it everyone sees everyone), errors as
documented, the Events API for in-doubt batches, the suppression tables paged."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from fakes.mailgun import FakeMailgun, form_fields
from fakes.messages import batch_of, make_batch, make_campaign, make_recipient
from newsletter.build.personalize import Personalizer
from newsletter.build.pipeline import compile_issue
from newsletter.errors import ConfigError
from newsletter.mime import full_message
from newsletter.models import Batch, Recipient
from newsletter.providers.base import create_provider
from newsletter.providers.mailgun import retry_after_text

KEY, DOMAIN = "key-adapter-test-3e4f", "news.clinic.example"


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun(key=KEY, domain=DOMAIN) as server:
        yield server


@pytest.fixture
def provider(fake: FakeMailgun) -> Iterator[Any]:
    with closing(create_provider("mailgun", {"base_url": fake.url, "domain": DOMAIN, "timeout": (0.5, 2)}, {"MAILGUN_API_KEY": KEY})) as p:
        yield p


def sent_forms(fake: FakeMailgun) -> list[list[tuple[str, str]]]:
    return [form_fields(r, light=False) for r in fake.requests if r.path.endswith("/messages")]


def test_the_fake_leaks_every_address_without_recipient_variables(fake: FakeMailgun) -> None:
    form = {"from": "a@clinic.example", "to": ["x@example.org", "y@example.org"], "subject": "s", "text": "t"}
    answer = requests.post(f"{fake.url}/v3/{DOMAIN}/messages", data=form, auth=("api", KEY), timeout=5)
    assert answer.status_code == 200 and [m["to"] for m in fake.messages] == ["x@example.org, y@example.org"]


def test_one_request_with_recipient_variables_for_everyone_and_each_message_to_one_address(provider: Any, fake: FakeMailgun) -> None:
    batch = make_batch(3)
    results = provider.send(batch)
    [form] = sent_forms(fake)
    keys = [k for k, _ in form]
    assert keys.count("html") == 1 and "recipient-variables" in keys
    fields = dict(form)
    assert fields["to"] == "reader1@example.org, reader2@example.org, reader3@example.org"
    assert fields["html"].count("%recipient.first_name%") == 1 and fields["o:tag"] == batch.campaign.tag
    assert (fields["o:tracking"], fields["o:tracking-clicks"], fields["o:tracking-opens"]) == ("no", "no", "no")
    assert fields["v:batch"] == batch.key and fields["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [m["to"] for m in fake.messages] == [r.to_address for r in batch]  # never one message to all
    for recipient, sent in zip(batch, fake.messages, strict=True):
        expected = full_message(batch.campaign, recipient)
        assert (sent["html"], sent["text"]) == (expected.html, expected.text)
        assert sent["headers"]["List-Unsubscribe"] == recipient.headers[0] and sent["headers"]["Message-Id"] == recipient.message_id
        assert sent["user-variables"] == {"issue": batch.campaign.tag, "batch": batch.key, "subscriber_id": str(recipient.subscriber_id)}
    message_id = fake.messages[0]["id"]
    assert [r.status for r in results] == ["accepted"] * 3 and {r.provider_message_id for r in results} == {message_id}


def test_a_single_recipient_still_gets_recipient_variables(provider: Any, fake: FakeMailgun) -> None:
    provider.send(make_batch(1))
    assert "recipient-variables" in dict(sent_forms(fake)[0])


def test_values_that_differ_between_the_parts_get_a_key_per_part(provider: Any, fake: FakeMailgun) -> None:
    campaign = make_campaign(tag="keys", html="<p>%%first_name%%</p>", text="%%first_name%%\n")
    people = [
        make_recipient(1, tag="keys")._replace(html={"first_name": "Tom &amp; Jerry"}, text={"first_name": "Tom & Jerry"}),
        make_recipient(2, tag="keys")._replace(html={"first_name": "Ann"}, text={"first_name": "Ann"}),
    ]
    provider.send(batch_of(people, campaign))
    assert dict(sent_forms(fake)[0])["html"] == "<p>%recipient.first_name_html%</p>"
    assert [(m["html"], m["text"]) for m in fake.messages] == [("<p>Tom &amp; Jerry</p>", "Tom & Jerry\n"), ("<p>Ann</p>", "Ann\n")]


def test_the_sample_issue_uploads_under_1_kb_per_recipient(project: Path, settings, provider: Any, fake: FakeMailgun) -> None:
    personalizer = Personalizer(compile_issue(project / "issues" / "2026-11-mdma-assisted-therapy.md", settings), settings, b"s")
    people = tuple(personalizer.values(Recipient(i, f"reader{i}@example.com", f"Reader{i}")) for i in range(1, 1001))
    provider.send(Batch(personalizer.campaign, people, "size-test"))
    form = dict(sent_forms(fake)[0])
    parts = len(form["html"].encode()) + len(form["text"].encode())
    assert (fake.uploaded - parts) / len(people) < 1024
    assert len(fake.messages) == 1000 and fake.messages[-1]["html"] == full_message(personalizer.campaign, people[-1]).html


def test_the_retry_time_is_the_date_inside_the_429_message() -> None:
    now = datetime(2021, 12, 20, 20, 33, 0, tzinfo=timezone.utc)
    text = "Domain example.com is not allowed to send: recipient limit exceeded, try again after Mon, 20 Dec 2021 20:33:21 UTC"
    assert retry_after_text(text, now=now) == 21.0
    assert retry_after_text("request limit exceeded", now=now) is None


def test_the_events_api_says_what_was_accepted_over_every_page(provider: Any, fake: FakeMailgun) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    provider.send(make_batch(700))
    found = provider.search_accepted("2026-11-test-issue", start, datetime.now(timezone.utc) + timedelta(seconds=5))
    assert found.complete and len(found) == 700
    assert {r.metadata["subscriber_id"] for r in found} == {str(i) for i in range(1, 701)}
    assert found.records[0].message_id == "<1.2026-11-test-issue@clinic.example>"
    pages = [r for r in fake.requests if r.path.endswith("/events")]
    assert len(pages) == 4 and pages[0].query["event"] == ["accepted"] and pages[0].query["ascending"] == ["yes"]
    assert len(provider.search_accepted("another-issue", start, datetime.now(timezone.utc))) == 0


def test_suppressions_are_read_from_every_table_with_paging(provider: Any, fake: FakeMailgun) -> None:
    for i in range(1_500):
        fake.suppress(f"b{i:04d}@example.org", "bounces", code="550", error="No such mailbox")
    fake.suppress("spam@example.org", "complaints")
    fake.suppress("left@example.org", "unsubscribes", tag="*", created_at=datetime(2020, 1, 1, tzinfo=timezone.utc))
    found = {s.email: s for s in provider.suppressions(None)}
    assert len(found) == 1_502 and found["spam@example.org"].reason == "SpamComplaint" and found["b0001@example.org"].reason == "HardBounce"
    assert "left@example.org" not in {s.email for s in provider.suppressions(datetime(2025, 1, 1, tzinfo=timezone.utc))}


def test_the_domain_is_required_and_base_url_is_a_scheme_and_host() -> None:
    with pytest.raises(ConfigError, match="domain is required"):
        create_provider("mailgun", {}, {"MAILGUN_API_KEY": KEY})
    with pytest.raises(ConfigError, match="base_url"):
        create_provider("mailgun", {"domain": DOMAIN, "base_url": "https://api.mailgun.net/v3"}, {"MAILGUN_API_KEY": KEY})
