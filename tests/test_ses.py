"""The Amazon SES adapter beyond the shared contract: against moto's SES v2 server behind the
fault proxy (tests/fakes/ses.py), which checks every request's SigV4 signature."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from typer.testing import CliRunner

from fakes.messages import make_batch
from fakes.server import Fault
from fakes.ses import SENDER, FakeSes, aws_error, internal_failure
from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.errors import ConfigError, ProviderAuthError, ProviderDeliveryUnknown, ProviderRequestError, ProviderUnavailable
from newsletter.providers.base import check_provider_table, create_provider
from newsletter.send.sync import sync_suppressions
from newsletter.store import subscribers
from newsletter.store.db import open_db

SECRET = "ses-test-secret-key-5b3e1111"
ISSUE = "issues/2026-11-mdma-assisted-therapy.md"


@pytest.fixture
def fake():
    with FakeSes(secret_key=SECRET) as server:
        yield server


def ses(fake: FakeSes, **options):
    return closing(create_provider("ses", fake.options(timeout=(0.5, 0.5), **options), fake.env()))


def test_a_lost_reply_is_sent_once_botocore_does_not_retry_it(fake):
    fake.script(Fault(hang=1.5))  # SES takes the message, the answer comes after the read timeout
    with ses(fake) as provider, pytest.raises(ProviderDeliveryUnknown) as caught:
        provider.send(make_batch(3))
    assert caught.value.in_doubt == 1 and caught.value.partial_results == ()
    assert len(fake.requests) == 1  # botocore's retries would have sent it again


def test_a_server_error_is_one_request_and_settles_the_messages_before_it(fake):
    fake.script(Fault(), Fault(respond=internal_failure()))
    with ses(fake) as provider, pytest.raises(ProviderUnavailable) as caught:
        provider.send(make_batch(3))
    assert [r.status for r in caught.value.partial_results] == ["accepted"]
    assert len(fake.requests) == 2 and len(fake.messages) == 1


def test_the_raw_message_carries_tags_and_the_sender_address(fake):
    batch = make_batch(1)
    with ses(fake, configuration_set="newsletter-events") as provider:
        [result] = provider.send(batch)
    [sent] = fake.messages
    body = fake.requests[0].json
    assert body["ConfigurationSetName"] == "newsletter-events"
    assert sent["From"] == SENDER and sent["To"] == [batch[0].to_address]
    assert {t["Name"]: t["Value"] for t in sent["Tags"]} == {"issue": batch.campaign.tag, "subscriber": str(batch[0].subscriber_id)}
    mime = message_from_bytes(sent["Raw"], policy=default_policy)
    assert mime["Message-ID"] == batch[0].message_id and result.provider_message_id == sent["MessageId"]


def test_an_unknown_access_key_is_refused(fake):
    env = fake.env(access_key="AKIANOTKNOWN00000000")
    with closing(create_provider("ses", fake.options(), env)) as provider, pytest.raises(ProviderAuthError) as caught:
        provider.send(make_batch(1))
    assert "UnrecognizedClientException" in str(caught.value) and "AKIANOTKNOWN" not in str(caught.value)
    assert fake.messages == []


def test_an_unverified_sender_stops_the_run_instead_of_rejecting_everyone(fake):
    batch = make_batch(2)
    fake.script(Fault(respond=aws_error(400, "MessageRejected", f"Email address is not verified. The following identities failed the check in region US-EAST-1: {SENDER}")))
    with ses(fake) as provider, pytest.raises(ProviderRequestError) as caught:
        provider.send(batch)
    assert "MessageRejected" in str(caught.value) and "verif" in caught.value.hint


def test_the_daily_quota_stops_the_run_and_a_throttle_does_not(fake):
    fake.script(Fault(respond=aws_error(400, "LimitExceededException", "Daily message quota exceeded.")))
    with ses(fake) as provider, pytest.raises(ProviderRequestError) as caught:
        provider.send(make_batch(1))
    assert "24-hour" in caught.value.hint


def test_suppression_list_is_read_page_by_page(fake):
    old = datetime.now(timezone.utc) - timedelta(days=30)
    for i in range(7):
        fake.suppress(f"bounced{i}@example.org", when=old)
    fake.suppress("angry@example.org", reason="COMPLAINT")
    with ses(fake, suppression_page_size=3) as provider:
        everything = provider.suppressions(None)
        recent = provider.suppressions(datetime.now(timezone.utc) - timedelta(days=1))
    assert sorted(s.email for s in everything) == sorted(["angry@example.org", *(f"bounced{i}@example.org" for i in range(7))])
    assert len([r for r in fake.requests if r.path.endswith("/suppression/addresses")]) == 3 + 1
    assert [(s.email, s.reason) for s in recent] == [("angry@example.org", "COMPLAINT")]


def test_sync_marks_bounces_and_complaints(fake, settings):
    conn = open_db(settings.database)
    for email in ("gone@example.org", "angry@example.org", "fine@example.org"):
        subscribers.add(conn, email, source="test")
    fake.suppress("gone@example.org")
    fake.suppress("angry@example.org", reason="COMPLAINT")
    with ses(fake) as provider:
        report = sync_suppressions(conn, provider)
    assert report.pulled == 2
    status = dict(conn.execute("SELECT email, status FROM subscribers").fetchall())
    assert status == {"gone@example.org": "bounced", "angry@example.org": "complained", "fine@example.org": "active"}
    conn.close()


@pytest.mark.parametrize("value", ["https://email.eu-west-1.amazonaws.com/v2", "ftp://email.example", "https://x.example/?a=1"])
def test_base_url_takes_a_scheme_and_host_only(value):
    _, problems = check_provider_table("ses", {"base_url": value})
    assert [p.key for p in problems] == ["base_url"]
    assert check_provider_table("ses", {"base_url": "https://email.eu-west-1.amazonaws.com"})[1] == []


def test_limits_are_checked():
    _, problems = check_provider_table("ses", {"batch_size": 0, "suppression_page_size": 5000})
    assert sorted(p.key for p in problems) == ["batch_size", "suppression_page_size"]


def test_missing_credentials_name_the_variable(fake):
    with pytest.raises(ConfigError) as caught:
        create_provider("ses", fake.options(), {"AWS_ACCESS_KEY_ID": "AKIAFAKESES000000001"})
    assert "AWS_SECRET_ACCESS_KEY" in str(caught.value)


@pytest.mark.usefixtures("approved_sample")
def test_a_wrong_secret_stops_the_send_with_one_error_line_and_no_key(project, fake, monkeypatch):
    config = project / "newsletter.toml"
    text = config.read_text().replace('name = "outbox"', 'name = "ses"')
    config.write_text(text + f'\n[providers.ses]\nbase_url = "{fake.url}"\ntimeout = [1, 1]\n')
    conn = open_db(load_settings(config).database)
    subscribers.add(conn, "p1@example.com", source="test")
    conn.close()
    fake.keys = {"AKIAFAKESES000000001": SECRET}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKESES000000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-wrong-secret-key-0042")
    result = CliRunner().invoke(app, ["send", ISSUE, "--yes"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: ses") and "403" in errors[0], result.output
    assert "the-wrong-secret-key-0042" not in result.output and "Traceback" not in result.output
    assert fake.messages == []
