"""Preferences at /p/<token> over real HTTP against uvicorn: topics from [topics] as checkboxes,
the first name, the form token against cross-site posts, history, the page in headless Chromium."""

from __future__ import annotations

import email
import html
import re
from email import policy
from pathlib import Path

import pytest
import requests
from test_web_unsubscribe import CHROMIUM, browse
from typer.testing import CliRunner

from newsletter.build.personalize import PREFERENCES, sign_token
from newsletter.cli import app as cli
from newsletter.store import subscribers
from newsletter.store.db import open_store
from newsletter.web.app import create_app
from web_server import serving

pytestmark = pytest.mark.both_engines  # SQLite and PostgreSQL (conftest.py, tests/pg_server.py)

SECRET = b"test-secret-not-for-production"
SLUG = "2026-11-mdma-assisted-therapy"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def db(settings):
    return open_store(settings)


def person(settings, tags=("mdma", "vip")) -> int:
    conn = db(settings)
    try:
        return subscribers.add(conn, "reader@example.org", source="test", first_name="Rae", tags=tags).id
    finally:
        conn.close()


def record(settings, sub_id: int) -> subscribers.Subscriber:
    conn = db(settings)
    try:
        return subscribers.get(conn, sub_id)
    finally:
        conn.close()


def events(settings, sub_id: int) -> list[subscribers.Event]:
    conn = db(settings)
    try:
        return subscribers.history(conn, sub_id)
    finally:
        conn.close()


def prefs(base: str, sub_id: int) -> str:
    return f"{base}/p/{sign_token(SECRET, sub_id, PREFERENCES)}?issue={SLUG}"


def form_token(page: str) -> str:
    return html.unescape(re.search(r'name="form_token" value="([^"]+)"', page).group(1))


def test_the_page_shows_the_configured_topics_checked_as_tagged_and_the_first_name(settings):
    sub_id = person(settings)
    with serving(create_app(settings)) as base:
        page = requests.get(prefs(base, sub_id), timeout=30)
    assert page.status_code == 200 and "r***@example.org" in page.text and 'value="Rae"' in page.text
    boxes = dict(re.findall(r'<input type="checkbox" name="topics" value="([^"]+)"( checked)?>', page.text))
    assert boxes == {"mdma": " checked", "ketamine": "", "psilocybin": ""}
    assert "vip" not in page.text  # other tags are not topics
    assert 'name="action" value="unsubscribe"' in page.text and "<script" not in page.text


def test_saving_changes_only_configured_topics_and_cleans_the_name(settings):
    sub_id = person(settings)
    with serving(create_app(settings)) as base:
        url = prefs(base, sub_id)
        token = form_token(requests.get(url, timeout=30).text)
        data = {"form_token": token, "first_name": "  Rae\r\nBcc: x@evil  " + "y" * 200, "topics": ["ketamine", "psilocybin", "vip2"], "action": "save"}
        saved = requests.post(url, data=data, timeout=30)
        assert saved.status_code == 200 and "Saved." in saved.text
    now = record(settings, sub_id)
    assert sorted(now.tags) == ["ketamine", "psilocybin", "vip"]
    assert now.first_name.startswith("Rae Bcc: x@evil y") and len(now.first_name) == 100 and "\n" not in now.first_name
    assert now.status == "active"
    got = {(e.kind, e.source): e.detail for e in events(settings, sub_id)}
    assert got[("tagged", "preferences")] == f"ketamine, psilocybin; issue {SLUG}"
    assert got[("untagged", "preferences")] == f"mdma; issue {SLUG}"
    assert ("renamed", "preferences") in got


def test_saving_twice_the_same_records_nothing_more(settings):
    sub_id = person(settings)
    with serving(create_app(settings)) as base:
        url = prefs(base, sub_id)
        data = {"form_token": form_token(requests.get(url, timeout=30).text), "first_name": "Rae", "topics": ["mdma"]}
        before = len(events(settings, sub_id))
        assert requests.post(url, data=data, timeout=30).status_code == 200
    assert len(events(settings, sub_id)) == before


def test_a_post_without_a_valid_form_token_or_from_another_site_changes_nothing(settings):
    sub_id = person(settings)
    clock = Clock()
    with serving(create_app(settings, clock=clock)) as base:
        url = prefs(base, sub_id)
        token = form_token(requests.get(url, timeout=30).text)
        other = sign_token(SECRET, sub_id + 1, PREFERENCES)
        attempts = [
            ({"first_name": "X"}, {}),  # no form token
            ({"first_name": "X", "form_token": token[:-1] + "A"}, {}),  # forged
            ({"first_name": "X", "form_token": token}, {"Origin": "https://evil.example"}),
            ({"first_name": "X", "form_token": token}, {"Sec-Fetch-Site": "cross-site"}),
        ]
        for data, headers in attempts:
            assert requests.post(url, data=data, headers=headers, timeout=30).status_code == 403
        # a form token is bound to its subscriber
        assert requests.post(f"{base}/p/{other}", data={"first_name": "X", "form_token": token}, timeout=30).status_code == 403
        clock.now += 3 * 86_400  # the page was left open too long
        assert requests.post(url, data={"first_name": "X", "form_token": token}, timeout=30).status_code == 403
        assert requests.post(url, data={"first_name": "X", "form_token": token}, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}, timeout=30).status_code == 403
    assert record(settings, sub_id).first_name == "Rae" and sorted(record(settings, sub_id).tags) == ["mdma", "vip"]


def test_the_unsubscribe_button_unsubscribes_with_source_preferences(settings):
    sub_id = person(settings)
    with serving(create_app(settings)) as base:
        url = prefs(base, sub_id)
        page = requests.get(url, timeout=30).text
        done = requests.post(url, data={"form_token": form_token(page), "action": "unsubscribe", "first_name": "Rae"}, timeout=30)
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        after = requests.get(url, timeout=30)
        assert "You do not receive" in after.text and 'value="unsubscribe"' not in after.text
    assert record(settings, sub_id).status == "unsubscribed"
    last = events(settings, sub_id)[-1]
    assert (last.kind, last.source) == ("unsubscribed", "preferences") and f"issue {SLUG}" in last.detail


def test_an_unsubscribe_token_does_not_open_preferences_nor_the_other_way(settings):
    sub_id = person(settings)
    with serving(create_app(settings)) as base:
        assert requests.get(f"{base}/p/{sign_token(SECRET, sub_id)}", timeout=30).status_code == 400
        assert requests.post(f"{base}/u/{sign_token(SECRET, sub_id, PREFERENCES)}", data="List-Unsubscribe=One-Click", timeout=30).status_code == 400
    assert record(settings, sub_id).status == "active"


def test_the_footer_of_a_sent_email_links_to_the_preferences_page(project, settings):
    sub_id = person(settings)
    assert CliRunner().invoke(cli, ["send", f"issues/{SLUG}.md"]).exit_code == 0
    (sent,) = (project / "outbox" / SLUG).glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    url = re.search(r"https://\S+/p/\S+", text).group(0)
    assert url == f"{settings.base_url}/p/{sign_token(SECRET, sub_id, PREFERENCES)}?issue={SLUG}"
    assert f'href="{url}"' in html_part and "Manage preferences</a>" in html_part
    with serving(create_app(settings)) as base:
        page = requests.get(base + url[len(settings.base_url):], timeout=30)
    assert page.status_code == 200 and "r***@example.org" in page.text


def test_no_path_redirects_to_another_host(settings):
    with serving(create_app(settings)) as base:
        for path in ("//evil.example", "//evil.example/", "/u//evil.example", "/p/x/..//evil.example/", "/issues", "/u/abc.def/"):
            answer = requests.get(base + path, allow_redirects=False, timeout=30)
            location = answer.headers.get("location", "")
            assert not location or location.startswith(base + "/") and "evil.example" not in location.split("/")[2], (path, location)


needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium not installed")


@pytest.mark.browser
@needs_chromium
def test_in_chromium_saving_works_without_javascript_and_fits_375_px(settings):
    sub_id = person(settings, tags=())
    attrs = browse(settings, f"/p/{sign_token(SECRET, sub_id, PREFERENCES)}?issue={SLUG}", presses=1)
    assert attrs.get("measured") == "yes", attrs
    assert attrs["h1-1"] == "Your preferences" and attrs["h1-2"] == "Your preferences"
    assert int(attrs["width-1"]) <= 375 and int(attrs["width-2"]) <= 375 and attrs["scripts-1"] == "0"
    assert ("renamed", "preferences") not in [(e.kind, e.source) for e in events(settings, sub_id)]
    assert record(settings, sub_id).status == "active"  # the first button is Save
