"""Sign-up with double opt-in over real HTTP: the form, the confirmation email in the outbox, the
link, the neutral answers, honeypot and rate limits; the form page in headless Chromium."""

from __future__ import annotations

import dataclasses
import email
import re
import threading
from email import policy
from pathlib import Path

import pytest
import requests

from newsletter.store import forgotten, signups, subscribers
from newsletter.store.db import open_store
from newsletter.store.subscriber_admin import forget
from newsletter.web import confirmation
from newsletter.web.app import create_app
from web_server import serving

pytestmark = pytest.mark.both_engines  # SQLite and PostgreSQL (conftest.py, tests/pg_server.py)

T0 = 1_800_000_000.0
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def outbox(settings) -> Path:
    return settings.outbox_dir / confirmation.TAG


def wait_for_email(settings, address: str, timeout: float = 20.0) -> email.message.EmailMessage:
    """The confirmation is sent after the answer: wait for its file (a state), not for a time."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        found = [p for p in outbox(settings).glob("*.eml") if p.name.endswith(f"-{address}.eml")] if outbox(settings).is_dir() else []
        if found:
            return email.message_from_bytes(found[0].read_bytes(), policy=policy.default)
        pause.wait(0.02)
    raise AssertionError(f"no confirmation email for {address}")


def emails_to(settings, address: str) -> list[Path]:
    return list(outbox(settings).glob(f"*-{address}.eml")) if outbox(settings).is_dir() else []


def sign_up(base: str, address: str, **extra) -> requests.Response:
    data = {"email": address, "first_name": "", "consent": "yes", "website": "", **extra}
    return requests.post(f"{base}/subscribe", data=data, timeout=10)


def local(link: str, settings, base: str) -> str:
    assert link.startswith(settings.base_url + "/confirm/")
    return base + link[len(settings.base_url):]


def confirm_link(message, settings, base: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return local(re.search(r"https://\S+/confirm/\S+", text).group(0), settings, base)


def db(settings):
    return open_store(settings)


def test_sign_up_confirm_by_email_and_become_active(settings):
    with serving(create_app(settings, clock=Clock())) as base:
        form = requests.get(f"{base}/subscribe", timeout=10)
        assert form.status_code == 200
        assert settings.signup.consent_text in form.text and "Ketamine-assisted psychotherapy" in form.text
        assert re.search(r'<input[^>]*name="website"[^>]*tabindex="-1"[^>]*autocomplete="off"', form.text)
        answer = sign_up(base, "new.reader@example.com", first_name="Noor", topics=["mdma", "not-a-topic"])
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        pending = subscribers.get(db(settings), "new.reader@example.com")
        assert pending.status == "pending" and pending.consent.source == "signup form"
        assert settings.signup.consent_version in pending.consent.form and pending.consent.ip is None

        message = wait_for_email(settings, "new.reader@example.com")
        assert message["Subject"] == "Confirm your subscription to Kairos Research Notes"
        assert message["From"] == settings.from_header and message["To"] == "Noor <new.reader@example.com>"
        assert message["List-Unsubscribe"] is None
        text = message.get_body(("plain",)).get_content()
        assert settings.postal_address in text and "ignore this email" in text
        link = confirm_link(message, settings, base)
        assert link in message.get_body(("html",)).get_content().replace("&amp;", "&").replace(settings.base_url, base)

        opened = requests.get(link, timeout=10)
        assert opened.status_code == 200 and "<form method=\"post\">" in opened.text and "Confirm my subscription" in opened.text
        assert subscribers.get(db(settings), pending.id).status == "pending"  # opening alone changes nothing
        confirmed = requests.post(link, timeout=10)
        assert confirmed.status_code == 200 and "you are subscribed" in confirmed.text
        again = requests.post(link, timeout=10)  # a double click
        assert again.status_code == 200

    active = subscribers.get(db(settings), pending.id)
    assert active.status == "active" and active.tags == ("mdma",) and active.first_name == "Noor"
    kinds = [(e.kind, e.source) for e in subscribers.history(db(settings), active.id)]
    assert kinds == [("subscribed", "signup form"), ("signup requested", "signup form"), ("confirmed", "signup form"), ("tagged", "signup form")]


def test_an_active_address_gets_no_email_and_the_same_answer_as_a_new_one(settings):
    subscribers.add(db(settings), "already@example.com", source="test")
    with serving(create_app(settings, clock=Clock())) as base:
        known = sign_up(base, "already@example.com")
        new = sign_up(base, "someone.new@example.com")
        wait_for_email(settings, "someone.new@example.com")  # sent after the answer to the later request
    assert known.status_code == new.status_code == 200
    assert known.content == new.content
    assert emails_to(settings, "already@example.com") == []
    assert [e.kind for e in subscribers.history(db(settings), subscribers.get(db(settings), "already@example.com").id)] == ["subscribed"]


def test_a_honeypot_hit_stores_nothing_and_sends_nothing(settings):
    with serving(create_app(settings, clock=Clock())) as base:
        bot = sign_up(base, "bot.target@example.com", website="https://spam.example")
        person = sign_up(base, "person@example.com")
        wait_for_email(settings, "person@example.com")
    assert bot.status_code == 200 and bot.content == person.content
    conn = db(settings)
    assert subscribers.find(conn, "bot.target@example.com") is None and emails_to(settings, "bot.target@example.com") == []
    assert conn.execute("SELECT COUNT(*) FROM signup_attempts").fetchone()[0] == 2  # the person's ip and address only


def test_unsubscribed_and_erased_addresses_come_back_only_by_confirming(settings):
    conn = db(settings)
    gone = subscribers.add(conn, "left@example.com", source="test")
    subscribers.unsubscribe(conn, gone.id, source="test")
    forget(conn, subscribers.add(conn, "erased@example.com", source="test").id)
    with serving(create_app(settings, clock=Clock())) as base:
        for address in ("left@example.com", "erased@example.com"):
            assert sign_up(base, address).status_code == 200
            link = confirm_link(wait_for_email(settings, address), settings, base)
            assert subscribers.get(conn, address).status in ("unsubscribed", "pending")  # not before confirming
            assert forgotten.contains(conn, address) == (address == "erased@example.com")  # still erased
            assert requests.post(link, timeout=10).status_code == 200
    back = subscribers.get(conn, "left@example.com")
    assert back.status == "active" and back.consent.source == "signup form"
    assert [e.kind for e in subscribers.history(conn, back.id)][-1] == "resubscribed"
    assert subscribers.get(conn, "erased@example.com").status == "active"
    assert not forgotten.contains(conn, "erased@example.com")


def test_unconfirmed_sign_ups_are_dropped_after_the_confirmation_window(settings):
    conn = db(settings)
    gone = subscribers.add(conn, "was.here@example.com", source="test")
    subscribers.unsubscribe(conn, gone.id, source="test")
    forget(conn, subscribers.add(conn, "erased.twice@example.com", source="test").id)
    clock = Clock()
    with serving(create_app(settings, clock=clock)) as base:
        for address in ("never.confirmed@example.com", "was.here@example.com", "erased.twice@example.com"):
            sign_up(base, address)
            wait_for_email(settings, address)
        clock.now = T0 + settings.signup.confirm_days * DAY + 1
        sign_up(base, "someone.else@example.com")  # any sign-up tidies expired requests
        wait_for_email(settings, "someone.else@example.com")
    assert subscribers.find(conn, "never.confirmed@example.com") is None
    assert subscribers.find(conn, "erased.twice@example.com") is None and forgotten.contains(conn, "erased.twice@example.com")
    assert subscribers.get(conn, "was.here@example.com").status == "unsubscribed"
    assert signups.pending_request(conn, gone.id) is None
    assert subscribers.get(conn, "someone.else@example.com").status == "pending"


def test_forged_and_expired_links_are_refused(settings):
    clock = Clock()
    with serving(create_app(settings, clock=clock)) as base:
        sign_up(base, "late@example.com")
        link = confirm_link(wait_for_email(settings, "late@example.com"), settings, base)
        ident, issued, mac = link.rsplit("/", 1)[1].split(".")
        forged = link.rsplit("/", 1)[0] + "/" + ".".join([format(int(ident, 16) + 1, "x"), issued, mac])
        for url in (forged, link[:-1], link + "x", base + "/confirm/1.2.3"):
            assert requests.get(url, timeout=10).status_code == 400
            assert requests.post(url, timeout=10).status_code == 400
        clock.now = T0 + settings.signup.confirm_days * DAY + 1
        assert requests.get(link, timeout=10).status_code == 410
        assert requests.post(link, timeout=10).status_code == 410
        clock.now = T0 + settings.signup.confirm_days * DAY - 60  # still inside the window
        assert requests.post(link, timeout=10).status_code == 200
    assert subscribers.get(db(settings), "late@example.com").status == "active"


def test_rate_limits_per_address_neutral_and_per_ip_429(settings):
    limited = dataclasses.replace(settings, signup=dataclasses.replace(settings.signup, per_ip_per_hour=3, per_address_per_day=1))
    clock = Clock()
    with serving(create_app(limited, clock=clock)) as base:
        first = sign_up(base, "flood@example.com")
        second = sign_up(base, "flood@example.com")  # over the address limit: same answer, no email
        assert first.status_code == second.status_code == 200 and first.content == second.content
        third = sign_up(base, "other@example.com")
        assert third.status_code == 200
        over = sign_up(base, "fourth@example.com")
        assert over.status_code == 429 and over.headers["retry-after"] == "3600"
        assert subscribers.find(db(settings), "fourth@example.com") is None
        clock.now = T0 + 3601  # the hour has passed: the ip may sign up again
        assert sign_up(base, "fourth@example.com").status_code == 200
        wait_for_email(settings, "fourth@example.com")
    conn = db(settings)
    requested = [e for e in subscribers.history(conn, subscribers.get(conn, "flood@example.com").id) if e.kind == "signup requested"]
    assert len(requested) == 1


def test_invalid_input_shows_the_form_again_with_a_message(settings):
    with serving(create_app(settings, clock=Clock())) as base:
        bad = sign_up(base, "not-an-address", first_name="Ana")
        assert bad.status_code == 400 and "full email address" in bad.text and 'value="not-an-address"' in bad.text
        no_consent = sign_up(base, "ana@example.com", consent="")
        assert no_consent.status_code == 400 and "tick the box" in no_consent.text
        injected = sign_up(base, "<script>@example.com")
        assert "<script>@" not in injected.text
    assert subscribers.find(db(settings), "ana@example.com") is None


# --- the form in a real browser -----------------------------------------------------------------

CHROMIUM = __import__("shutil").which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium not installed")
NO_INTERNET = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


@pytest.mark.browser
@needs_chromium
def test_the_form_works_without_javascript_and_fits_375_px(settings):
    from measuring import measured_app

    from newsletter.preview.snapshots import dump_dom

    with serving(measured_app(create_app(settings, clock=Clock()))) as base:
        dom = dump_dom(CHROMIUM, f"{base}/__measure?path=/subscribe&width=375&submit=browser@example.com", NO_INTERNET, "--virtual-time-budget=10000")
        wait_for_email(settings, "browser@example.com")
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom).group(0)))
    assert attrs.get("measured") == "yes", dom[:500]
    assert int(attrs["scroll-width"]) <= 375, attrs
    assert attrs["scripts"] == "0" and attrs["after-submit"] == "Check your inbox", attrs
    assert subscribers.get(db(settings), "browser@example.com").status == "pending"


def test_through_postmark_the_confirmation_goes_on_the_transactional_stream(settings):
    """Postmark keeps one-to-one email apart from newsletters: the confirmation must not use the
    Broadcast stream the issues go on."""
    from fakes.postmark import FakePostmark

    token = "signup-test-token"
    with FakePostmark(token=token) as fake:
        table = {"base_url": fake.url, "message_stream": "broadcast", "timeout": [2, 5]}
        on_postmark = dataclasses.replace(settings, provider="postmark", providers={"postmark": table})
        env = {"POSTMARK_SERVER_TOKEN": token, "NEWSLETTER_SECRET": "a-test-secret"}
        with serving(create_app(on_postmark, env=env, clock=Clock())) as base:
            assert sign_up(base, "stream.reader@example.com").status_code == 200
            pause = threading.Event()
            for _ in range(2000):  # the confirmation is sent after the answer: wait for it to arrive
                if fake.messages:
                    break
                pause.wait(0.01)
        (sent,) = fake.messages
        assert sent["Recipients"] == ["stream.reader@example.com"]
        assert sent["MessageStream"] == "outbound"
