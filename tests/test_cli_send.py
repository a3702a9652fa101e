"""`newsletter send` and `newsletter status` through the CLI (Typer's CliRunner)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.postmark import FakePostmark
from fakes.sendgrid import FakeSendGrid
from newsletter.cli import app
from newsletter.store import subscribers
from newsletter.store.db import open_store

pytestmark = pytest.mark.usefixtures("approved_sample")  # a real send requires an approval
ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
TOKEN = "cli-token-value-42"


@pytest.fixture
def people(settings):
    conn = open_store(settings)
    for i in range(6):
        subscribers.add(conn, f"p{i}@example.com", source="test", first_name=f"P{i}")
    subscribers.unsubscribe(conn, "p5@example.com", source="test")
    conn.close()


def invoke(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(app, list(args), input=input, env=env)


def use_postmark(project: Path, fake: FakePostmark) -> None:
    config = project / "newsletter.toml"
    text = config.read_text().replace('base_url = "https://api.postmarkapp.com"', f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0\ntimeout = [1, 1]')
    config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))


def test_outbox_send_needs_no_confirmation_and_reports(project, people):
    result = invoke("send", ISSUE)
    assert result.exit_code == 0, result.output
    assert "Recipients 5" in result.output and "accepted" in result.output
    assert len(list((project / "outbox" / "2026-11-mdma-assisted-therapy").glob("*.eml"))) == 5
    again = invoke("send", ISSUE)
    assert again.exit_code == 1 and "Error:" in again.output and "already sent" in again.output and "Hint:" in again.output
    status = invoke("status", ISSUE)
    assert status.exit_code == 0 and re.search(r"\b5\b", status.output)


def test_dry_run_sends_nothing(project, people):
    result = invoke("send", ISSUE, "--dry-run")
    assert result.exit_code == 0 and "Dry run: nothing was sent." in result.output
    assert not (project / "outbox").exists()
    assert invoke("status", ISSUE).exit_code == 1  # no send was started


def test_real_provider_asks_to_type_the_count(project, people, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", TOKEN)
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        cancelled = invoke("send", ISSUE, input="yes\n")
        assert cancelled.exit_code == 1 and "Cancelled: nothing was sent." in cancelled.output
        assert not fake.per_recipient
        confirmed = invoke("send", ISSUE, input="5\n")
        assert confirmed.exit_code == 0, confirmed.output
        assert sorted(fake.per_recipient.values()) == [1] * 5


def test_wrong_token_stops_with_an_error_naming_the_provider_not_the_token(project, people, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "not-the-right-token-9")
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        result = invoke("send", ISSUE, "--yes")
    assert result.exit_code == 1
    assert "Error: postmark" in result.output and "401" in result.output
    assert "not-the-right-token-9" not in result.output
    assert "Traceback" not in result.output


def test_a_wrong_sendgrid_key_stops_at_once_naming_sendgrid_not_the_key(project, people, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.not-the-right-key-7")
    with FakeSendGrid(key="SG.the-right-key") as fake:
        config = project / "newsletter.toml"
        config.write_text(config.read_text().replace('name = "outbox"', 'name = "sendgrid"') + f'\n[providers.sendgrid]\nbase_url = "{fake.url}"\ntimeout = [1, 1]\n')
        result = invoke("send", ISSUE, "--yes")
        sends = [r for r in fake.requests if r.path == "/v3/mail/send"]
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"^Error: sendgrid.*401", result.output, re.M), result.output
    assert "not-the-right-key-7" not in result.output and fake.messages == [] and len(sends) <= 1


def test_test_send_goes_only_to_the_given_addresses(project, people):
    result = invoke("send", ISSUE, "--test", "me@example.org", "--test", "p1@example.com")
    assert result.exit_code == 0, result.output
    assert result.output.count("accepted") == 2
    files = list((project / "outbox" / "2026-11-mdma-assisted-therapy-test").glob("*.eml"))
    assert len(files) == 2
    assert not (project / "outbox" / "2026-11-mdma-assisted-therapy").exists()


def test_a_draft_is_refused_with_location_and_hint(project, people):
    draft = project / "issues" / "2026-11-mdma-assisted-therapy.md"
    draft.write_text(draft.read_text().replace("status: ready", "status: draft"))
    result = invoke("send", ISSUE, "--yes")
    assert result.exit_code == 1
    assert re.search(r"Error: .*2026-11-mdma-assisted-therapy\.md:\d+: the issue is a draft", result.output)
    assert "Hint:" in result.output


def test_preflight_errors_refuse_the_send(project, people):
    issue = project / "issues" / "2026-11-mdma-assisted-therapy.md"
    issue.write_text(issue.read_text().replace("*Research summary", "![](http://localhost/x.png)\n\n*Research summary"))
    result = invoke("send", ISSUE, "--yes")
    assert result.exit_code == 1 and "Error:" in result.output and "newsletter check" in result.output
    assert not (project / "outbox").exists()


def test_every_command_has_help():
    for command in ("send", "status", "build", "new"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output
