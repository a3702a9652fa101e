"""Per-recipient messages: string substitution only, escaped in HTML, headers safe, signed tokens."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from newsletter.build.personalize import PREFERENCES, PersonalizeError, Personalizer, sign_token, verify_token
from newsletter.build.pipeline import compile_issue
from newsletter.mime import to_bytes
from newsletter.models import MERGE_FIELDS, PLACEHOLDER, CompiledIssue, Recipient

SECRET = b"test-secret"
TOM = '<b>Tom & "Jerry"</b>'


@pytest.fixture
def compiled(project: Path, settings) -> CompiledIssue:
    return compile_issue(Path(__file__).resolve().parent / "fixtures" / "every-element.md", settings)


@pytest.fixture
def personalizer(compiled: CompiledIssue, settings) -> Personalizer:
    return Personalizer(compiled, settings, SECRET)


def fill(part: str, values: dict[str, str]) -> str:
    for name in MERGE_FIELDS:
        part = part.replace(PLACEHOLDER.format(name), values[name])
    return part


def test_output_is_the_compiled_parts_with_the_placeholders_replaced(personalizer: Personalizer, compiled, settings) -> None:
    message = personalizer.message(Recipient(subscriber_id=7, email="ann@example.org", first_name="Ann"))
    token = sign_token(SECRET, 7)
    values = {
        "first_name": "Ann",
        "unsubscribe_url": f"{settings.base_url}/u/{token}?issue=every-element",
        "webview_url": f"{settings.base_url}/issues/every-element/",
        "preferences_url": f"{settings.base_url}/p/{sign_token(SECRET, 7, PREFERENCES)}?issue=every-element",
    }
    assert message.html == fill(compiled.html, values)
    assert message.text == fill(compiled.text, values)
    assert "%%" not in message.html and "%%" not in message.text
    assert "Hi Ann," in message.text and "Hello Ann:" in message.text


def test_no_mjml_or_jinja_per_recipient(personalizer: Personalizer, monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2
    import mjml

    def refuse(*args, **kwargs):
        raise AssertionError("compiled per recipient")

    monkeypatch.setattr(mjml, "mjml2html", refuse)
    monkeypatch.setattr(jinja2.Environment, "get_template", refuse)
    messages = [personalizer.message(Recipient(i, f"r{i}@example.org", f"R{i}")) for i in range(1, 51)]
    assert len({m.html for m in messages}) == 50


def test_values_are_html_escaped_in_html_and_raw_in_text(personalizer: Personalizer) -> None:
    message = personalizer.message(Recipient(3, "tom@example.org", TOM))
    assert "Hi &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;," in message.html
    assert TOM not in message.html
    assert f"Hi {TOM}," in message.text
    assert message.to == '"<b>Tom & \\"Jerry\\"</b>" <tom@example.org>'


def test_first_name_fallback(personalizer: Personalizer, settings) -> None:
    for name in ("", "   "):
        message = personalizer.message(Recipient(4, "anon@example.org", name))
        assert f"Hi {settings.first_name_fallback}," in message.text
        assert f"Hi {settings.first_name_fallback}," in message.html
        assert message.to == "anon@example.org"


def test_list_unsubscribe_carries_the_mailto_when_configured(compiled: CompiledIssue, settings) -> None:
    import dataclasses

    with_mailto = dataclasses.replace(settings, unsubscribe_mailto="unsubscribe@news.kairoswellness.org")
    message = Personalizer(compiled, with_mailto, SECRET).message(Recipient(5, "ann@example.org", "Ann"))
    token = sign_token(SECRET, 5)
    assert dict(message.headers)["List-Unsubscribe"] == (
        f"<{settings.base_url}/u/{token}?issue=every-element>, <mailto:unsubscribe@news.kairoswellness.org?subject=unsubscribe%20{token}>"
    )


def test_headers(personalizer: Personalizer, settings) -> None:
    message = personalizer.message(Recipient(5, "ann@example.org", "Ann"))
    token = sign_token(SECRET, 5)
    headers = dict(message.headers)
    assert settings.unsubscribe_mailto == ""  # the clinic's file sets none: the https link only
    assert headers["List-Unsubscribe"] == f"<{settings.base_url}/u/{token}?issue=every-element>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == "Kairos Research Notes <kairos-research-notes.news.kairoswellness.org>"
    assert message.from_ == "Kairos Wellness Collective <research@news.kairoswellness.org>"
    assert message.subject == "Fixture: every Markdown element the pipeline supports"
    assert message.reply_to == settings.reply_to
    assert message.tag == "every-element"
    assert f'href="{settings.base_url}/u/{token}?issue=every-element"' in message.html
    assert f'href="{settings.base_url}/p/{sign_token(SECRET, 5, PREFERENCES)}?issue=every-element"' in message.html


def test_a_preferences_token_is_not_an_unsubscribe_token() -> None:
    prefs = sign_token(SECRET, 5, PREFERENCES)
    assert prefs != sign_token(SECRET, 5)
    assert verify_token(SECRET, prefs, PREFERENCES) == 5
    assert verify_token(SECRET, prefs) is None and verify_token(SECRET, sign_token(SECRET, 5), PREFERENCES) is None


def test_message_id_is_deterministic_per_recipient(personalizer: Personalizer, compiled, settings) -> None:
    first = personalizer.message(Recipient(5, "a@example.org")).message_id
    assert first == personalizer.message(Recipient(5, "a@example.org")).message_id
    assert first != personalizer.message(Recipient(6, "b@example.org")).message_id
    assert first != Personalizer(compiled, settings, SECRET, subject_prefix="[TEST] ").message(Recipient(5, "a@example.org")).message_id
    assert first.startswith("<") and first.endswith(".every-element@news.kairoswellness.org>")


@pytest.mark.parametrize("recipient", [Recipient(1, "a@example.org\r\nBcc: victim@example.net"), Recipient(1, "a@example.org\nBcc: victim@example.net")])
def test_line_breaks_in_addresses_are_refused(personalizer: Personalizer, recipient: Recipient) -> None:
    with pytest.raises(PersonalizeError, match="line break") as info:
        personalizer.message(recipient)
    assert info.value.hint


@pytest.mark.parametrize("name", ["Ann\nBcc: victim@example.net", "Ann\r\nX-Evil: 1"])
def test_line_breaks_in_names_become_spaces_inside_the_display_name(personalizer: Personalizer, name: str) -> None:
    msg = personalizer.message(Recipient(1, "a@example.org", name))
    assert "\r" not in msg.to and "\n" not in msg.to
    parsed = email.message_from_bytes(to_bytes(msg), policy=email.policy.default)
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [(" ".join(name.split()), "a@example.org")]
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None


def test_line_break_in_subject_prefix_is_refused(compiled, settings) -> None:
    with pytest.raises(PersonalizeError, match="Subject header"):
        Personalizer(compiled, settings, SECRET, subject_prefix="[TEST]\r\nBcc: x@example.net ")


# --- unsubscribe tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("subscriber_id", [0, 1, 35, 36, 12345, 2**40])
def test_token_round_trip(subscriber_id: int) -> None:
    token = sign_token(SECRET, subscriber_id)
    assert verify_token(SECRET, token) == subscriber_id
    assert len(token) <= 30 and token.isascii() and " " not in token


def test_tampered_tokens_fail() -> None:
    token = sign_token(SECRET, 42)
    ident, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert verify_token(SECRET, f"{ident}.{flipped}") is None  # MAC changed
    assert verify_token(SECRET, f"{sign_token(SECRET, 43).split('.')[0]}.{mac}") is None  # id changed
    assert verify_token(b"another-secret", token) is None  # other key
    assert verify_token(SECRET, token + "x") is None
    assert verify_token(SECRET, token.upper()) is None


@pytest.mark.parametrize("token", ["", ".", "abc", "16", "16.", "-1.abc", "+16.x", "1_6.x", " 16.x", "١٦.x", "é.x", "16.é", "a" * 200 + ".x"])
@pytest.mark.timeout(10)  # "-1.abc" once looped forever
def test_malformed_tokens_fail(token: str) -> None:
    assert verify_token(SECRET, token) is None


def test_negative_ids_cannot_be_signed() -> None:
    with pytest.raises(ValueError):
        sign_token(SECRET, -1)


@pytest.mark.parametrize("secret", [SECRET, b"k" * 64, b"a much longer signing secret than one SHA-256 block" * 3])
def test_tokens_and_message_ids_are_the_plain_hmac_ones(compiled, settings, secret: bytes) -> None:
    """The per-recipient path keys its HMACs once; what it signs is exactly sign_token's and the
    Message-ID's keyed digest, so the site verifies every link it wrote."""
    import hmac

    fast = Personalizer(compiled, settings, secret, subject_prefix="[TEST] ")
    for sid in (0, 1, 35, 123_456_789, 10**12):
        values = fast.values(Recipient(sid, "a@example.org", "A"))
        unsub = values.text["unsubscribe_url"].split("/u/")[1].split("?")[0]
        prefs = values.text["preferences_url"].split("/p/")[1].split("?")[0]
        assert unsub == sign_token(secret, sid) and verify_token(secret, unsub) == sid
        assert prefs == sign_token(secret, sid, PREFERENCES) and verify_token(secret, prefs, PREFERENCES) == sid
        seed = f"{compiled.issue.slug}:{sid}:[TEST] ".encode()
        assert values.message_id == f"<{hmac.digest(secret, seed, 'sha256').hex()[:20]}.{compiled.issue.slug}@{settings.sending_domain}>"
