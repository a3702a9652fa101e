"""Whatever the provider, a subscriber receives the same HTML and text: the sample issue's
recipients sent through every adapter's fake (substitution applied where the provider does it),
and each recipient's final parts compared byte for byte."""

from __future__ import annotations

from contextlib import closing
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parseaddr
from pathlib import Path

import pytest

from fakes.mailgun import FakeMailgun
from fakes.postmark import FakePostmark
from fakes.sendgrid import FakeSendGrid
from fakes.ses import FakeSes
from fakes.smtp import FakeSmtp
from newsletter.build.personalize import Personalizer
from newsletter.build.pipeline import compile_issue
from newsletter.mime import full_message
from newsletter.models import Batch, Recipient
from newsletter.providers.base import create_provider

PEOPLE = [
    Recipient(1, "ann@example.org", "Ann"),
    Recipient(2, "tom@example.org", 'Tom & "Jerry" <b>'),
    Recipient(3, "zoe@bücher.example", "Zoë"),
    Recipient(4, "nobody@example.org", ""),
    Recipient(5, "long@example.org", "Maximilian-Alexander " * 4),
]


def parts_of_eml(data: bytes) -> tuple[str, str]:
    """The decoded parts, their lines ended as in the compiled issue: on the wire every line of a
    message ends in CRLF (RFC 5322), the last one too, which is how any provider's MIME carries
    them (``as_mime_text`` gives the expected part in that form)."""
    mime = message_from_bytes(data, policy=default_policy)
    html, text = (mime.get_body((kind,)).get_content() for kind in ("html", "plain"))
    return html.replace("\r\n", "\n"), text.replace("\r\n", "\n")


def through_outbox(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with closing(create_provider("outbox", {"directory": tmp_path / "outbox"}, {})) as p:
        results = p.send(batch)
    return {r.rcpt: parts_of_eml(Path(res.location).read_bytes()) for r, res in zip(batch, results, strict=True)}


def through_smtp(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with FakeSmtp() as server:
        with closing(create_provider("smtp", server.options(), {})) as p:
            p.send(batch)
        return {rcpts[0]: parts_of_eml(content) for rcpts, content in server.received}


def through_postmark(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with FakePostmark(token="t") as fake:
        with closing(create_provider("postmark", {"base_url": fake.url}, {"POSTMARK_SERVER_TOKEN": "t"})) as p:
            p.send(batch)
        return {m["Recipients"][0]: (m["HtmlBody"], m["TextBody"]) for m in fake.messages}


def through_postmark_bulk(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """``mode = "bulk"``: one body with template tags; the fake compiles each recipient's message."""
    with FakePostmark(token="t") as fake:
        with closing(create_provider("postmark", {"base_url": fake.url, "mode": "bulk"}, {"POSTMARK_SERVER_TOKEN": "t"})) as p:
            p.send(batch)
        assert [r.path for r in fake.requests if r.method == "POST"] == ["/email/bulk"]
        return {m["Recipients"][0]: (m["HtmlBody"], m["TextBody"]) for m in fake.messages}


def through_sendgrid(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with FakeSendGrid(key="k") as fake:
        with closing(create_provider("sendgrid", {"base_url": fake.url}, {"SENDGRID_API_KEY": "k"})) as p:
            p.send(batch)
        return {m["to"]: (m["html"], m["text"]) for m in fake.messages}


def through_ses(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with FakeSes(senders=(parseaddr(batch.campaign.from_)[1],)) as fake:
        with closing(create_provider("ses", fake.options(), fake.env())) as p:
            p.send(batch)
        return {m["To"][0]: parts_of_eml(m["Raw"]) for m in fake.messages}


def through_mailgun(batch: Batch, tmp_path: Path) -> dict[str, tuple[str, str]]:
    with FakeMailgun(key="k", domain="news.example") as fake:
        with closing(create_provider("mailgun", {"base_url": fake.url, "domain": "news.example"}, {"MAILGUN_API_KEY": "k"})) as p:
            p.send(batch)
        return {m["to"]: (m["html"], m["text"]) for m in fake.messages}


ADAPTERS = {"outbox": through_outbox, "smtp": through_smtp, "postmark": through_postmark, "postmark-bulk": through_postmark_bulk, "sendgrid": through_sendgrid, "ses": through_ses, "mailgun": through_mailgun}
MIME_ADAPTERS = {"outbox", "smtp", "ses"}  # we write the MIME; the others hand the parts to the provider


def as_mime_text(part: str) -> str:
    """A part as a MIME text body holds it: lines, the last one ended too."""
    return part if part.endswith("\n") else part + "\n"


@pytest.mark.parametrize("issue", ["2026-11-mdma-assisted-therapy.md", "2026-12-ketamine-assisted-psychotherapy.md"])
def test_every_adapter_delivers_the_same_html_and_text(project: Path, settings, tmp_path: Path, issue: str) -> None:
    personalizer = Personalizer(compile_issue(project / "issues" / issue, settings), settings, b"identical-output")
    batch = Batch(personalizer.campaign, tuple(personalizer.values(r) for r in PEOPLE), "identical")
    expected = {r.rcpt: (m.html, m.text) for r in batch for m in [full_message(batch.campaign, r)]}
    for name, send in ADAPTERS.items():
        received = send(batch, tmp_path / name)
        assert set(received) == set(expected), name
        for address, parts in expected.items():
            if name in MIME_ADAPTERS:
                parts = tuple(as_mime_text(part) for part in parts)
            assert received[address] == parts, f"{name}: {address}"
