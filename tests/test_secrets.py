"""Secrets never reach the screen, the log or the database: an echoing server's error body is
redacted of every configured secret (newsletter/secrets.py, providers/base.RedactedProvider)."""

from __future__ import annotations

import base64
import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter.cli import app
from newsletter.secrets import MASK, Redactor
from newsletter.store import subscribers
from newsletter.store.db import open_db

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
TOKEN = "pm-token-3f9c2a7e-echoed-by-the-proxy"
ENV = {
    "POSTMARK_SERVER_TOKEN": TOKEN,
    "NEWSLETTER_SECRET": "signing-secret-of-this-clinic",
    "SMTP_USERNAME": "clinic",
    "SMTP_PASSWORD": "relay-pass-77",
    "POSTMARK_WEBHOOK_USERNAME": "hook",
    "POSTMARK_WEBHOOK_PASSWORD": "hook-pass-99",
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "echoed",
    [
        TOKEN,
        "signing-secret-of-this-clinic",
        "relay-pass-77",
        b64(TOKEN),
        b64(TOKEN).rstrip("="),
        "pm-token-3f9c2a7e-echoed-by-the-proxy".replace("-", "%2D"),  # not an encoding we make...
        b64("clinic:relay-pass-77"),  # HTTP Basic
        b64("\0clinic\0relay-pass-77"),  # SMTP AUTH PLAIN
        b64("hook:hook-pass-99"),
    ],
)
def test_every_secret_and_its_encodings_are_redacted(echoed: str) -> None:
    redact = Redactor.from_env(ENV)
    text = redact(f"proxy error; you sent Authorization: Basic {echoed} and more")
    if "%2D" in echoed:  # ...percent-encoding leaves '-' alone, so this is not a form to find
        assert text.endswith("and more")
        return
    assert echoed not in text and MASK in text and text.endswith("and more")


def test_a_text_cut_short_in_the_middle_of_a_secret_loses_that_part() -> None:
    redact = Redactor.from_env(ENV)
    assert redact(f"HTTP 500: X-Postmark-Server-Token: {TOKEN[:12]}") == f"HTTP 500: X-Postmark-Server-Token: {MASK}"
    assert redact("HTTP 500: nothing secret here") == "HTTP 500: nothing secret here"


def test_short_values_and_an_empty_environment_redact_nothing() -> None:
    assert not Redactor.from_env({})
    assert Redactor.from_env({"SMTP_PASSWORD": "ab"})("ab cab") == "ab cab"


def test_the_percent_encoded_form_is_redacted() -> None:
    redact = Redactor.from_env({"SMTP_PASSWORD": "p@ss word/1"})
    assert redact("user=x&pass=p%40ss%20word%2F1") == f"user=x&pass={MASK}"
    assert redact("pass=p%40ss+word%2F1") == f"pass={MASK}"


# -- end to end: the CLI against a Postmark whose errors echo the request's headers ------------


@pytest.fixture
def people(settings):
    conn = open_db(settings.database)
    for i in range(29):
        subscribers.add(conn, f"p{i}@example.com", source="test", first_name=f"P{i}")
    conn.close()


def use_postmark(project: Path, fake: FakePostmark) -> None:
    config = project / "newsletter.toml"
    text = config.read_text().replace(
        'base_url = "https://api.postmarkapp.com"',
        f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0\ntimeout = [1, 1]\nmax_attempts = 2\nbackoff_base = 0.01\nworkers = 1',
    )
    config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))


def everything_stored(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        return "\n".join(conn.iterdump())


def send(monkeypatch, *args: str):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, ["send", ISSUE, "--yes", "--skip-sync", *args])


def test_an_echoed_token_is_in_neither_the_error_line_nor_the_ledger(project, settings, people, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        fake.script(Fault.status(422, {"ErrorCode": 300, "Message": "Invalid request"}, echo_headers=True, path="/email/batch"))
        result = send(monkeypatch)
        assert any(TOKEN in (r.headers.get("x-postmark-server-token") or "") for r in fake.requests)  # it did cross the wire
    assert result.exit_code == 1
    assert "Error: postmark: HTTP 422 (code 300): Invalid request (request headers:" in result.output
    assert MASK in result.output
    assert TOKEN not in result.output and TOKEN[:12] not in result.output
    assert TOKEN not in caplog.text
    stored = everything_stored(settings.database)
    assert "Invalid request" in stored and MASK in stored  # the rows keep why, without the token
    assert TOKEN not in stored and TOKEN[:12] not in stored


def test_an_echoing_html_error_page_cut_short_leaves_no_part_of_the_token(project, settings, people, monkeypatch):
    # The adapter keeps an error page's first 200 characters: a long token is cut in its middle.
    long_token = "pm-" + "7d3e" * 60
    monkeypatch.setitem(ENV, "POSTMARK_SERVER_TOKEN", long_token)
    with FakePostmark(token=long_token) as fake:
        use_postmark(project, fake)
        fake.script(Fault.status(500, b"", echo_headers=True, path="/email/batch"), times=2)  # both tries
        result = send(monkeypatch)
    assert result.exit_code == 1 and "went back to pending" in result.output
    assert long_token[:8] not in result.output
    stored = everything_stored(settings.database)
    # The pending rows say why they went back, without the part of the token the cut kept.
    assert f"postmark: HTTP 500: <html>Bad gateway. Your request: x-postmark-server-token: {MASK}'" in stored
    assert long_token[:8] not in stored


def test_the_sites_log_is_redacted(settings, caplog) -> None:
    from newsletter.web.app import create_app

    create_app(settings, ENV)
    with caplog.at_level(logging.WARNING, logger="newsletter.web"):
        logging.getLogger("newsletter.web").warning("sign-up: postmark: HTTP 500: %s", f"token {TOKEN}")
    assert "sign-up: postmark: HTTP 500: token [redacted]" in caplog.text
    assert TOKEN not in caplog.text
