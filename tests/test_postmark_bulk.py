"""Postmark ``mode = "bulk"`` (POST /email/bulk) against the fake: each recipient's final message,
as the fake compiles it from the one body and their model, is byte for byte the message batch mode
sends; the status is polled; a Failed request is in doubt and settled by the outbound search;
an account without the Bulk API stops with a hint."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from fakes.messages import batch_of, make_batch, make_campaign, make_recipient
from fakes.postmark import FakePostmark
from newsletter.build.personalize import Personalizer
from newsletter.build.pipeline import compile_issue
from newsletter.config import load_settings
from newsletter.errors import ConfigError, ProviderDeliveryUnknown, ProviderRequestError
from newsletter.models import Batch, MergeTemplate, Recipient
from newsletter.providers.base import check_provider_table, create_provider
from newsletter.providers.postmark import encode_json
from newsletter.providers.postmark_bulk import EntryEncoder, Layout, bulk_template, entry, mustachio_part

REPO = Path(__file__).resolve().parent.parent
TOKEN = "pm-bulk-token-41c7"
SECRET = b"bulk-test-secret"
# Everything of a message but Postmark's own id and the bulk request it came from.
COMPARED = ("From", "To", "ReplyTo", "Subject", "HtmlBody", "TextBody", "Headers", "Tag", "Metadata",
            "MessageStream", "TrackOpens", "TrackLinks")
NAMES = ["Alex", "", "O'Brien & <Sons>", "{{first_name}}", "}}}", "{{{lb}}}", "Zoë", 'Dr. "Bob" {Smith}']


def provider(fake: FakePostmark, mode: str, **options: Any) -> Any:
    opts = {"base_url": fake.url, "timeout": (2, 5), "mode": mode, "bulk_poll_interval": 0, **options}
    return create_provider("postmark", opts, {"POSTMARK_SERVER_TOKEN": TOKEN})


def final_messages(batch: Batch, mode: str) -> dict[str, dict[str, Any]]:
    """What each recipient of ``batch`` would receive through ``mode``, by address."""
    with FakePostmark(token=TOKEN) as fake:
        sender = provider(fake, mode)
        try:
            assert [r.status for r in sender.send(batch)] == ["accepted"] * len(batch)
        finally:
            sender.close()
        return {m["To"]: {k: m.get(k) for k in COMPARED} for m in fake.messages}


def assert_identical(batch: Batch) -> None:
    batched, bulked = final_messages(batch, "batch"), final_messages(batch, "bulk")
    assert sorted(bulked) == sorted(batched) == sorted(v.to for v in batch)
    for to, message in batched.items():
        for key in COMPARED:
            assert bulked[to][key] == message[key], (to, key)


@pytest.mark.parametrize("issue", sorted((REPO / "issues").glob("*.md"))[:2], ids=lambda p: p.stem)
@pytest.mark.parametrize("mailto", [None, "unsubscribe@news.kairoswellness.org"])
def test_the_sample_issues_arrive_as_batch_mode_sends_them(issue: Path, mailto: str | None) -> None:
    settings = dataclasses.replace(load_settings(REPO / "newsletter.toml"), unsubscribe_mailto=mailto)
    personalizer = Personalizer(compile_issue(issue, settings), settings, SECRET)
    values = [personalizer.values(Recipient(i + 1, f"reader{i}@example.org", name)) for i, name in enumerate(NAMES)]
    assert_identical(Batch(personalizer.campaign, tuple(values), "sample"))


@pytest.mark.parametrize(
    "html, text, subject",
    [
        ("<style>a{color:red}</style><p>{{ %%first_name%% }}</p>", "{%%first_name%%}\n", "Notes {{ not a tag }}"),
        ("<p>{{{%%first_name%%}}}{{%%first_name%%}}{%%first_name%%}%%first_name%%}}}</p>", "{{{{%%first_name%%}}}}", "{{{x}}} }}} {"),
        ("<p>%%first_name%%%%first_name%%}{{#each}}{{/each}}</p>", "{{& x}} {{! c}} %%first_name%%", "{"),
        ("<p>no fields at all {{</p>", "plain {{{", "}}"),
    ],
)
def test_braces_of_the_issue_are_not_read_as_template_tags(html: str, text: str, subject: str) -> None:
    campaign = make_campaign(html=html, text=text, subject=subject)
    assert_identical(batch_of([make_recipient(i, first_name=name) for i, name in enumerate(NAMES, 1)], campaign))


def test_the_part_keeps_no_brace_mustachio_could_read() -> None:
    escaped, keys, braces = mustachio_part(MergeTemplate.split("a{{b{%%first_name%%}c"), {"first_name": "h0"})
    assert braces and keys == (("h0", "first_name"),)
    assert escaped == "a{{{lb}}}{b{{{lb}}}{{{h0}}}{{{rb}}}c"


@pytest.mark.parametrize("braces", [False, True])
def test_the_fast_entry_encoder_writes_what_encoding_the_entry_writes(braces: bool) -> None:
    html = "<p>{{ %%first_name%% }}</p>" if braces else "<p>%%first_name%%</p>"
    campaign = make_campaign(html=html, text="%%first_name%%\n")
    recipients = [make_recipient(i, first_name=name) for i, name in enumerate(NAMES, 1)]
    recipients.append(make_recipient(99, to="Zoë Name <zoe@bücher.example>", first_name="\u2028\x00\"\\"))
    template = bulk_template(campaign, Layout.of(campaign, recipients), "broadcast", encode_json)
    fast = EntryEncoder(campaign, template, encode_json)
    for values in recipients:
        assert fast(values) == encode_json(entry(campaign, template, values))
    no_headers = dataclasses.replace(campaign, headers=(), recipient_headers=())
    bare = make_recipient(5)._replace(headers=(), metadata=())
    assert EntryEncoder(no_headers, template, encode_json)(bare) == encode_json(entry(no_headers, template, bare))


def test_one_request_carries_the_body_once_and_small_entries() -> None:
    with FakePostmark(token=TOKEN) as fake:
        sender = provider(fake, "bulk")
        results = sender.send(make_batch(30))
        sender.close()
        posts = [r for r in fake.requests if r.path == "/email/bulk"]
    assert len(posts) == 1 and len(posts[0].json["Messages"]) == 30
    request_id = fake.messages[0]["BulkRequestID"]
    assert {r.provider_message_id for r in results} == {f"bulk:{request_id}"}
    entry = posts[0].json["Messages"][0]
    assert set(entry) == {"To", "TemplateModel", "Metadata", "Headers"}
    assert entry["TemplateModel"] == {"v0": "1"}  # HTML and text values equal: one key for both
    assert entry["Metadata"] == {"issue": make_campaign().tag, "subscriber_id": "1"}
    assert [h["Name"] for h in entry["Headers"]] == ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Message-ID"]
    assert "Headers" not in posts[0].json and "Metadata" not in posts[0].json


def test_bulk_size_is_the_batch_size_the_send_loop_uses() -> None:
    with FakePostmark(token=TOKEN) as fake:
        sender = provider(fake, "bulk", bulk_size=10)
        assert sender.max_batch == 10
        sender.close()


def test_the_status_is_polled_until_completed() -> None:
    with FakePostmark(token=TOKEN) as fake:
        fake.bulk.pending_polls = 3
        sender = provider(fake, "bulk")
        results = sender.send(make_batch(2))
        sender.close()
        polls = [r for r in fake.requests if r.method == "GET" and r.path.startswith("/email/bulk/")]
    assert len(polls) == 4 and [r.detail for r in results] == [None, None]


def test_a_request_still_processing_when_the_wait_ends_is_accepted_and_says_so() -> None:
    with FakePostmark(token=TOKEN) as fake:
        fake.bulk.pending_polls = 10**9
        sender = provider(fake, "bulk", bulk_status_wait=0.001)
        results = sender.send(make_batch(2))
        sender.close()
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert "still Processing" in (results[0].detail or "")


def test_a_failed_request_is_in_doubt_and_the_search_finds_what_went_out() -> None:
    with FakePostmark(token=TOKEN) as fake:
        fake.bulk.fail_after = 2
        sender = provider(fake, "bulk")
        batch = make_batch(5)
        with pytest.raises(ProviderDeliveryUnknown) as caught:
            sender.send(batch)
        assert "Failed" in str(caught.value) and caught.value.partial_results == ()
        found = sender.search_accepted(make_campaign().tag, fake.now().replace(year=2020), fake.now().replace(year=2030))
        sender.close()
    assert found.complete
    assert sorted(int(r.metadata["subscriber_id"]) for r in found) == [1, 2]


def test_an_account_without_the_bulk_api_stops_with_a_hint_to_use_batch_mode() -> None:
    with FakePostmark(token=TOKEN) as fake:
        fake.bulk.enabled = False
        sender = provider(fake, "bulk")
        with pytest.raises(ProviderRequestError) as caught:
            sender.send(make_batch(1))
        sender.close()
    assert "code 14" in str(caught.value) and 'mode = "batch"' in (caught.value.hint or "")
    assert fake.messages == []


def test_a_transactional_stream_is_refused() -> None:
    with FakePostmark(token=TOKEN) as fake:
        sender = provider(fake, "bulk", message_stream="outbound")
        with pytest.raises(ProviderRequestError) as caught:
            sender.send(make_batch(1))
        sender.close()
    assert "Broadcast" in str(caught.value)


def test_a_recipient_postmark_cannot_carry_is_rejected_and_the_others_go_out() -> None:
    with FakePostmark(token=TOKEN) as fake:
        sender = provider(fake, "bulk")
        recipients = [make_recipient(1), make_recipient(2, to="zoë@example.org"), make_recipient(3)]
        results = sender.send(batch_of(recipients))
        sender.close()
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"] and results[1].code == "smtputf8"
    assert sorted(m["To"] for m in fake.messages) == ["reader1@example.org", "reader3@example.org"]


def test_mode_is_checked_when_the_config_loads() -> None:
    _, problems = check_provider_table("postmark", {"mode": "bulky"})
    assert len(problems) == 1 and "mode" in problems[0].text and "bulk" in problems[0].text
    with pytest.raises(ConfigError):
        create_provider("postmark", {"mode": "bulk", "bulk_size": 0}, {"POSTMARK_SERVER_TOKEN": TOKEN})
    values, problems = check_provider_table("postmark", {})
    assert values["mode"] == "batch" and not problems
