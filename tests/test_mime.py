"""The MIME template (built once per issue, joined per recipient) against the email package: the
same bytes, for the sample issues and for synthetic parts that put every quoted-printable
wrapping case next to a merge field."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timezone
from email import quoprimime
from pathlib import Path

import pytest

from fakes.messages import make_campaign, make_recipient
from newsletter.build.personalize import Personalizer
from newsletter.build.pipeline import compile_issue
from newsletter.config import load_settings
from newsletter.mime import MimeTemplate, _encode_lines, full_message, to_bytes
from newsletter.models import Recipient

REPO = Path(__file__).resolve().parent.parent
WHEN = datetime(2026, 12, 3, 6, 30, 1, 250_000, tzinfo=timezone.utc)
SECRET = b"mime-test-secret"

NAMES = [
    "Alex", "", "Zoë", "O'Brien & <Sons>", "A" * 100, "Jean-Baptiste Emmanuel Zorg of the Very Long Name Family Indeed Again",
    "李小龍", 'Dr. "Bob" Smith, Jr.', "=?utf-8?b?DQo=?=", "Tab\tName", "trailing ", "Ünïcödé " * 10, "a=b", "x" * 77 + "=",
]
ADDRESSES = [
    "reader@example.org", "zoë@bücher.example", "ann@bücher.example", "üser@example.org",
    "a.very.long.local.part.of.an.address.that.goes.on.and.on@sub.domain.example.com",
]


def reference(template: MimeTemplate, values) -> bytes:
    return to_bytes(full_message(template.campaign, values), WHEN, template.boundary)


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "newsletter.toml")


@pytest.mark.parametrize("issue", sorted((REPO / "issues").glob("*.md")), ids=lambda p: p.stem)
@pytest.mark.parametrize("mailto", [None, "unsubscribe@news.kairoswellness.org"])
def test_the_sample_issues_are_byte_identical_for_every_kind_of_recipient(settings, issue: Path, mailto) -> None:
    configured = dataclasses.replace(settings, unsubscribe_mailto=mailto)
    personalizer = Personalizer(compile_issue(issue, configured), configured, SECRET)
    template = MimeTemplate(personalizer.campaign)
    checked = 0
    for i, name in enumerate(NAMES):
        for j, address in enumerate(ADDRESSES):
            values = personalizer.values(Recipient(i * 100 + j + 1, address, name))
            assert template.render(values, WHEN) == reference(template, values), (name, address)
            checked += 1
    assert checked == len(NAMES) * len(ADDRESSES)


def test_qp_wrapping_is_the_email_package_s_for_every_character_and_offset() -> None:
    rng = random.Random(11)
    alphabet = "ab =\t<>é—“\u2028\x0c" + "x" * 10
    for _ in range(400):
        lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400))) for _ in range(rng.randrange(1, 4))]
        expected = quoprimime.body_encode("\n".join(line.encode("utf-8").decode("latin-1") for line in lines) + "\n", 78)
        assert _encode_lines(lines) == expected.replace("\n", "\r\n").encode("latin-1")


def test_values_at_every_position_of_long_and_short_stretches(settings) -> None:
    """Random parts with long stretches (the cached path) and short ones around fields, values of
    every length and with characters that quoted-printable escapes: identical bytes."""
    rng = random.Random(5)
    alphabet = "abc =é<“\t" + "y" * 12

    def stretch() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 70, 77, 78, 79, 150, 400, 1500])))

    for round_ in range(40):
        fields = ["first_name", "webview_url", "first_name", "unsubscribe_url"][: rng.randrange(1, 5)]
        html = stretch() + "".join(f"%%{f}%%" + stretch() for f in fields) + rng.choice(["", "\n", " \n", "\nend"])
        text = "Hi %%first_name%%," + stretch() + "\n" + stretch() + "%%unsubscribe_url%% \n"
        campaign = make_campaign(tag=f"wrap-{round_}", html=html, text=text)
        template = MimeTemplate(campaign)
        for k in range(15):
            value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 160)))
            recipient = make_recipient(k + 1, tag=campaign.tag)
            values = recipient._replace(
                html={"first_name": value, "webview_url": value[::-1], "unsubscribe_url": value[:7]},
                text={"first_name": value, "unsubscribe_url": "https://x.example/u/" + value[:3]},
            )
            assert template.render(values, WHEN) == reference(template, values)


def test_what_the_fast_path_does_not_cover_goes_through_the_email_package() -> None:
    campaign = make_campaign()
    template = MimeTemplate(campaign)
    recipient = make_recipient(1)
    odd = [
        recipient._replace(text={"first_name": "two\nlines"}),  # the email package splits the line
        recipient._replace(headers=("<https://x.example/" + "u" * 1000 + ">",)),  # folded past 998 octets
        recipient._replace(headers=("<https://x.example/u>,  <mailto:x@x.example>",)),  # a run of spaces
        recipient._replace(message_id="<=?utf-8?q?x?=@x.example>"),  # an encoded-word look-alike
    ]
    for values in odd:
        assert template.render(values, WHEN) == reference(template, values)


def test_one_template_makes_messages_for_recipients_of_both_header_charsets() -> None:
    template = MimeTemplate(make_campaign())
    ascii_one, utf8_one = make_recipient(1), make_recipient(2, to="Zoë <zoë@example.org>", to_address="zoë@example.org")
    for values in (ascii_one, utf8_one, ascii_one):
        data = template.render(values, WHEN)
        assert data == reference(template, values)
    assert b"To: Zo\xc3\xab <zo\xc3\xab@example.org>\r\n" in template.render(utf8_one, WHEN)
