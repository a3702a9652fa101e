"""``POST /webhooks/postmark`` over real HTTP: basic auth (good, wrong, missing, unset), Postmark's
record shapes (providers.md §1.10), redeliveries, and the counts `newsletter status` shows."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from typer.testing import CliRunner

from fakes.postmark import FakePostmark
from newsletter.cli import app as cli
from newsletter.store import subscribers
from newsletter.store.db import open_store
from newsletter.web.app import create_app
from web_server import serving

USER, PASSWORD = "postmark-hooks", "s3cret-w3bhook-pass"
pytestmark = [pytest.mark.usefixtures("approved_sample"), pytest.mark.both_engines]  # a real send requires an approval
GOOD = (USER, PASSWORD)
ENV = {"POSTMARK_WEBHOOK_USERNAME": USER, "POSTMARK_WEBHOOK_PASSWORD": PASSWORD, "NEWSLETTER_SECRET": "test-secret-not-for-production"}
ISSUE_SLUG = "2026-11-mdma-assisted-therapy"
ISSUE = f"issues/{ISSUE_SLUG}.md"


# -- Postmark's record shapes (postmark.js webhooks/payload/*) ------------------------------------
def bounce(email: str, type_: str = "HardBounce", *, inactive: bool = True, bounce_id: int | None = None, **extra) -> dict:
    codes = {"HardBounce": 1, "SoftBounce": 4096, "Transient": 2, "BadEmailAddress": 100000, "SpamNotification": 512}
    return {
        "RecordType": "Bounce", "ID": bounce_id or uuid.uuid4().int % 10**10, "Type": type_, "TypeCode": codes.get(type_, 2048),
        "Name": type_, "Tag": ISSUE_SLUG, "MessageID": str(uuid.uuid4()), "ServerID": 23, "MessageStream": "broadcast",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.", "Email": email,
        "From": "research@news.kairoswellness.org", "BouncedAt": "2026-11-20T09:21:03Z", "DumpAvailable": True,
        "Inactive": inactive, "CanActivate": True, "Subject": "MDMA therapy for PTSD", "Metadata": {"issue": ISSUE_SLUG}, **extra,
    }


def complaint(email: str, complaint_id: int = 77001) -> dict:
    record = bounce(email, "SpamComplaint", bounce_id=complaint_id)
    return {**record, "RecordType": "SpamComplaint", "TypeCode": 100001, "Description": "The subscriber explicitly marked this message as spam."}


def subscription_change(email: str, suppress: bool, reason: str = "ManualSuppression") -> dict:
    return {
        "RecordType": "SubscriptionChange", "MessageID": str(uuid.uuid4()), "ServerID": 23, "MessageStream": "broadcast",
        "ChangedAt": "2026-11-21T10:00:00Z", "Recipient": email, "Origin": "Recipient", "SuppressSending": suppress,
        "SuppressionReason": reason, "Tag": ISSUE_SLUG, "Metadata": {"issue": ISSUE_SLUG},
    }


def delivery(message: dict) -> dict:
    return {
        "RecordType": "Delivery", "ServerID": 23, "MessageStream": "broadcast", "MessageID": message["MessageID"],
        "Recipient": message["Recipients"][0], "Tag": message["Tag"], "DeliveredAt": "2026-11-20T09:20:00Z",
        "Details": "Test delivery webhook details", "Metadata": message["Metadata"],
    }


# -- helpers -------------------------------------------------------------------------------------
@pytest.fixture
def people(settings):
    conn = open_store(settings)
    for name in ("ann", "bob", "cy", "dee"):
        subscribers.add(conn, f"{name}@example.com", source="test", first_name=name.title())
    conn.close()


def post(base: str, record, auth=GOOD, raw: bytes | None = None) -> requests.Response:
    body = raw if raw is not None else json.dumps(record).encode()
    return requests.post(f"{base}/webhooks/postmark", data=body, auth=auth, headers={"Content-Type": "application/json"}, timeout=10)


def state(settings, email: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    conn = open_store(settings)
    sub = subscribers.get(conn, email)
    return sub.status, [(e.kind, e.source, e.detail) for e in subscribers.history(conn, sub.id)]


def events_stored(settings) -> int:
    from newsletter.store import events

    conn = open_store(settings)
    return sum(events.issue_counts(conn, ISSUE_SLUG).values())


# -- the acceptance test ---------------------------------------------------------------------------
def test_hard_bounce_and_complaint_with_good_credentials_suppress_and_bad_ones_change_nothing(settings, people):
    before = {email: state(settings, email) for email in ("ann@example.com", "bob@example.com")}
    with serving(create_app(settings, env=ENV)) as base:
        for auth in ((USER, "wrong-password"), ("someone", PASSWORD), None):
            for record in (bounce("ann@example.com"), complaint("bob@example.com")):
                refused = post(base, record, auth=auth)
                assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic ")
        garbled = requests.post(f"{base}/webhooks/postmark", data=b"{}", headers={"Authorization": "Basic !!!not-base64"}, timeout=10)
        assert garbled.status_code == 401
        assert {email: state(settings, email) for email in before} == before and events_stored(settings) == 0

        assert post(base, bounce("ann@example.com")).json() == {"result": "changed"}
        assert post(base, complaint("bob@example.com")).json() == {"result": "changed"}

    status, history = state(settings, "ann@example.com")
    assert status == "bounced"
    assert history[-1][:2] == ("bounced", "webhook") and "HardBounce" in history[-1][2] and f"issue {ISSUE_SLUG}" in history[-1][2]
    status, history = state(settings, "bob@example.com")
    assert status == "complained" and history[-1][:2] == ("complained", "webhook")
    assert state(settings, "cy@example.com")[0] == "active"


def test_without_configured_credentials_the_endpoint_is_closed(settings, people):
    with serving(create_app(settings, env={"NEWSLETTER_SECRET": "x"})) as base:
        answer = post(base, bounce("ann@example.com"))
    assert answer.status_code == 503 and "POSTMARK_WEBHOOK_USERNAME" in answer.text
    assert state(settings, "ann@example.com")[0] == "active"


def test_malformed_bodies_get_400_and_unknown_record_types_200(settings, people):
    with serving(create_app(settings, env=ENV)) as base:
        assert post(base, None, raw=b'{"RecordType": "Bounce", ').status_code == 400
        assert post(base, None, raw=b"\xff\xfe not json").status_code == 400
        assert post(base, ["not", "an", "object"]).status_code == 400
        assert post(base, {"no": "record type"}).status_code == 400
        assert post(base, {"RecordType": "Bounce", "ID": 5, "Type": "HardBounce"}).status_code == 400  # no address
        opened = post(base, {"RecordType": "Open", "Recipient": "ann@example.com", "MessageID": "x"})
        assert opened.status_code == 200 and opened.json() == {"result": "ignored"}
    assert state(settings, "ann@example.com")[0] == "active" and events_stored(settings) == 0


def test_a_redelivered_event_changes_nothing(settings, people):
    record = bounce("ann@example.com", bounce_id=424242)
    with serving(create_app(settings, env=ENV)) as base:
        assert post(base, record).json() == {"result": "changed"}
        after_first = state(settings, "ann@example.com")
        assert post(base, record).json() == {"result": "duplicate"}
        assert post(base, dict(record, Details="retried")).json() == {"result": "duplicate"}  # same ID, same record
    assert state(settings, "ann@example.com") == after_first


def test_soft_bounces_are_noted_not_suppressed(settings, people):
    with serving(create_app(settings, env=ENV)) as base:
        for type_ in ("SoftBounce", "Transient", "SpamNotification"):
            assert post(base, bounce("cy@example.com", type_, inactive=False)).json() == {"result": "noted"}
        # Whatever its type, a bounce after which Postmark deactivated the address is permanent.
        assert post(base, bounce("dee@example.com", "Blocked", inactive=True)).json() == {"result": "changed"}
    status, history = state(settings, "cy@example.com")
    assert status == "active" and [k for k, _, _ in history].count("soft bounce") == 3
    assert state(settings, "dee@example.com")[0] == "bounced"


def test_subscription_changes_suppress_and_a_reactivation_is_only_noted(settings, people):
    with serving(create_app(settings, env=ENV)) as base:
        assert post(base, subscription_change("ann@example.com", True)).json() == {"result": "changed"}
        assert post(base, subscription_change("bob@example.com", True, "HardBounce")).json() == {"result": "changed"}
        assert post(base, subscription_change("ann@example.com", False)).json() == {"result": "noted"}
        assert post(base, subscription_change("nobody@example.com", True)).json() == {"result": "unknown address"}
    status, history = state(settings, "ann@example.com")
    assert status == "unsubscribed"  # Postmark reactivating the address is not the person's consent
    assert [(k, s) for k, s, _ in history][-2:] == [("unsubscribed", "webhook"), ("reactivation noted", "webhook")]
    assert state(settings, "bob@example.com")[0] == "bounced"


def test_deliveries_of_a_real_send_are_counted_in_status(project, settings, people, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "tok-1")
    runner = CliRunner()
    with FakePostmark(token="tok-1") as fake:
        config = project / "newsletter.toml"
        text = config.read_text().replace('base_url = "https://api.postmarkapp.com"', f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0')
        config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))
        sent = runner.invoke(cli, ["send", ISSUE, "--yes"])
        assert sent.exit_code == 0, sent.output
        messages = list(fake.messages)
    assert len(messages) == 4 and all(m["Tag"] == ISSUE_SLUG for m in messages)
    assert "Reported by the provider: nothing yet" in runner.invoke(cli, ["status", ISSUE]).output
    by_address = {m["Recipients"][0]: m for m in messages}
    with serving(create_app(settings, env=ENV)) as base:
        for address in ("ann@example.com", "bob@example.com", "cy@example.com"):
            assert post(base, delivery(by_address[address])).json() == {"result": "noted"}
        assert post(base, delivery(by_address["ann@example.com"])).json() == {"result": "duplicate"}
        assert post(base, bounce("dee@example.com", MessageID=by_address["dee@example.com"]["MessageID"])).json() == {"result": "changed"}
    status = runner.invoke(cli, ["status", ISSUE])
    assert status.exit_code == 0, status.output
    assert re.search(r"3 delivered, 1 bounced, 0 complained", status.output), status.output


# -- the unsubscribe mailbox (Postmark inbound) -----------------------------------------------------
def inbound(sender: str, subject: str, text: str = "", message_id: str | None = None) -> dict:
    """Postmark's inbound webhook shape (postmark.js InboundWebhook.ts), trimmed to what matters."""
    return {
        "From": sender, "FromName": "", "FromFull": {"Email": sender, "Name": "", "MailboxHash": ""},
        "To": "unsubscribe@news.kairoswellness.org", "ToFull": [{"Email": "unsubscribe@news.kairoswellness.org", "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": "unsubscribe@news.kairoswellness.org", "Subject": subject, "MessageID": message_id or str(uuid.uuid4()),
        "Date": "Fri, 20 Nov 2026 09:30:00 -0500", "MailboxHash": "", "TextBody": text, "HtmlBody": "", "StrippedTextReply": "",
        "Headers": [], "Attachments": [], "MessageStream": "inbound",
    }


def mailto_subject(settings, subscriber_id: int) -> str:
    """The subject a mail client sends for this subscriber's List-Unsubscribe mailto: URI."""
    import dataclasses
    from pathlib import Path
    from urllib.parse import parse_qs, urlsplit

    from newsletter.build.personalize import Personalizer
    from newsletter.build.pipeline import compile_issue
    from newsletter.models import Recipient

    with_mailto = dataclasses.replace(settings, unsubscribe_mailto="unsubscribe@news.kairoswellness.org")
    compiled = compile_issue(Path(ISSUE), with_mailto)
    message = Personalizer(compiled, with_mailto, ENV["NEWSLETTER_SECRET"].encode()).message(Recipient(subscriber_id, "x@example.com", ""))
    mailto = re.search(r"<(mailto:[^>]+)>", dict(message.headers)["List-Unsubscribe"]).group(1)
    return parse_qs(urlsplit(mailto).query)["subject"][0]


def inbound_post(base: str, record, auth=GOOD) -> requests.Response:
    return requests.post(f"{base}/webhooks/postmark/inbound", json=record, auth=auth, timeout=10)


def test_an_email_to_the_unsubscribe_mailbox_unsubscribes(settings, people):
    ann = subscribers.get(open_store(settings), "ann@example.com")
    subject = mailto_subject(settings, ann.id)
    assert subject.startswith("unsubscribe ")
    forwarded = inbound("ann.at.work@example.org", subject, message_id="in-1")  # forwarded: the token decides
    with serving(create_app(settings, env=ENV)) as base:
        assert inbound_post(base, forwarded, auth=("x", "y")).status_code == 401
        assert state(settings, "ann@example.com")[0] == "active"
        assert inbound_post(base, forwarded).json() == {"result": "changed"}
        assert inbound_post(base, forwarded).json() == {"result": "duplicate"}
        # No token, but the sender asks for itself: honoured (CAN-SPAM).
        assert inbound_post(base, inbound("bob@example.com", "Unsubscribe please")).json() == {"result": "changed"}
        assert inbound_post(base, inbound("cy@example.com", "Re: MDMA", "unsubscribe\n\n> quoted issue")).json() == {"result": "changed"}
        # A forged token unsubscribes nobody else: only the sender's own address, if listed.
        forged = subject[:-1] + ("A" if subject[-1] != "A" else "B")
        assert inbound_post(base, inbound("stranger@example.net", forged)).json() == {"result": "unknown address"}
        assert inbound_post(base, inbound("dee@example.com", "A question about ketamine", "Is it covered?")).json() == {"result": "ignored"}
        assert inbound_post(base, None).status_code == 400
    status, history = state(settings, "ann@example.com")
    assert status == "unsubscribed" and history[-1][:2] == ("unsubscribed", "email") and "token" in history[-1][2]
    assert [state(settings, f"{n}@example.com")[0] for n in ("bob", "cy", "dee")] == ["unsubscribed", "unsubscribed", "active"]


def test_bounce_records_of_complaint_and_unsubscribe_types_mean_what_they_say(settings, people):
    with serving(create_app(settings, env=ENV)) as base:
        assert post(base, bounce("ann@example.com", "Unsubscribe", inactive=False)).json() == {"result": "changed"}
        assert post(base, bounce("bob@example.com", "SpamComplaint", inactive=False)).json() == {"result": "changed"}
    assert state(settings, "ann@example.com")[0] == "unsubscribed"
    assert state(settings, "bob@example.com")[0] == "complained"


def test_a_long_reply_to_the_unsubscribe_mailbox_fits_but_the_event_webhook_keeps_its_cap(settings, people):
    quoted = "> " + "the whole issue, quoted " * 8000  # ~190 KB, over the site's usual 64 KB cap
    with serving(create_app(settings, env=ENV)) as base:
        assert inbound_post(base, inbound("ann@example.com", "Unsubscribe", "unsubscribe me\n" + quoted)).json() == {"result": "changed"}
        assert post(base, bounce("bob@example.com", Content=quoted)).status_code == 413
    assert state(settings, "ann@example.com")[0] == "unsubscribed" and state(settings, "bob@example.com")[0] == "active"
