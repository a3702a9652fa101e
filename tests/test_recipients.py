"""Per-recipient problems are per-recipient (issue 9): recipients.py's rules, import-time
rejections, and sends through the outbox, SMTP (aiosmtpd, with and without SMTPUTF8) and the
Postmark fake where three odd subscribers and two impossible ones never stop the run."""

from __future__ import annotations

import dataclasses
import email.policy
from collections import Counter
from email.header import decode_header, make_header
from email.parser import Parser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.messages import batch_of, make_message, make_recipient
from fakes.postmark import FakePostmark
from fakes.smtp import FakeSmtp
from newsletter.cli import app
from newsletter.lists.importer import import_file
from newsletter.mime import to_bytes
from newsletter.providers.base import create_provider
from newsletter.recipients import MAX_NAME, RecipientProblem, clean_name, fold, mailbox
from newsletter.send.plan import SendRequest, execute_send, plan_send
from newsletter.store import ledger, subscribers
from newsletter.store.db import open_store

pytestmark = pytest.mark.usefixtures("approved_sample")  # a real send requires an approval
ISSUE = Path("issues/2026-11-mdma-assisted-therapy.md")
SLUG = "2026-11-mdma-assisted-therapy"
TOKEN = "pm-recipients-token"
SMTP_ENV = {"NEWSLETTER_SECRET": "recipients-secret"}
ENCODED_WORD = "=?utf-8?b?DQo=?="
ODD = (("Ann\x0cSmith", "ann.smith@example.org"), ("Zoë", "zoë@bücher.example"), (ENCODED_WORD, "ew@example.org"))
IMPOSSIBLE = (("Nul\x00Name", "nul@example.org"), ("x" * 5000, "long@example.org"))


# --- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, clean", [
    ("Ann\x0cSmith", "Ann Smith"), ("Ann\x0bSmith", "Ann Smith"), ("A\x1cB\x1dC\x1eD\x1fE", "A B C D E"),
    ("Ann\u2028Smith\u2029", "Ann Smith"), ("Ann\x85Smith", "Ann Smith"), ("  Ann \t\r\n Smith ", "Ann Smith"), ("Zoë", "Zoë"),
])  # fmt: skip
def test_separators_become_one_space(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


@pytest.mark.parametrize("raw", ["A\x00B", "A\x07B", "A\x1bB", "A\x7fB", "A\x9bB", "x" * (MAX_NAME + 1)])
def test_control_characters_and_overlong_names_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(RecipientProblem) as caught:
        clean_name(raw)
    assert "control character U+" in caught.value.reason or "characters long" in caught.value.reason


def test_an_idn_domain_goes_out_in_a_labels_and_only_a_non_ascii_local_part_needs_smtputf8() -> None:
    assert mailbox("", "zoe@bücher.example").address == "zoe@xn--bcher-kva.example"
    assert not mailbox("Zoë", "zoe@bücher.example").needs_smtputf8
    assert mailbox("Zoë", "zoë@bücher.example").needs_smtputf8


def header_of(value: str) -> tuple[str, str]:
    """(display name, address) as a reader's client decodes the To header (RFC 2047: the
    whitespace between adjacent encoded words is dropped)."""
    name_part, _, address = value.rpartition(" <")
    return str(make_header(decode_header(name_part))) if name_part else "", address.rstrip(">")


@pytest.mark.parametrize("name", [ENCODED_WORD, "Zoë", "ë" * MAX_NAME, "O'Brien, \"Ann\"", "Ann Smith", "名前" * 50, "a =?x?q?y?= b"])
def test_the_to_header_decodes_to_the_name_as_typed_and_no_line_is_long(name: str) -> None:
    box = mailbox(name, "reader@example.org")
    assert box.header.isascii()
    if "=?" in name or not name.isascii():
        assert header_of(box.header) == (name, "reader@example.org")
    folded = fold("To", box.header)
    assert all(len(line) <= 998 for line in f"To: {folded}".split("\r\n"))
    assert folded.replace("\r\n", "") == box.header


# --- import ---------------------------------------------------------------------------------------


def test_import_rejects_rows_no_message_can_carry_and_cleans_separators(settings, project: Path) -> None:
    rows = ["email,first_name", "ok@example.org,Ok", '"ff@example.org","Ann\x0cSmith"', "nul@example.org,Nul\x00Name",
            f"long@example.org,{'x' * 5000}", "zoe@bücher.example,Zoë", "zoë@bücher.example,Zoë", f"ew@example.org,{ENCODED_WORD}"]  # fmt: skip
    path = project / "list.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    conn = open_store(settings)
    report = import_file(conn, path)
    assert {(r.line, r.reason.split(" (")[0].split(" at ")[0]) for r in report.rejected} == {
        (4, "the first name contains the control character U+0000"),
        (5, "the first name is 5,000 characters long"),
    }
    assert subscribers.get(conn, "ff@example.org").first_name == "Ann Smith"
    assert subscribers.get(conn, "ew@example.org").first_name == ENCODED_WORD
    assert subscribers.find(conn, "zoë@bücher.example") is not None  # the transport decides at send time
    assert report.rejected_path is not None and "U+0000" in report.rejected_path.read_text(encoding="utf-8")


# --- sending --------------------------------------------------------------------------------------


@pytest.fixture
def conn(settings):
    c = open_store(settings)
    yield c
    c.close()


def add_list(conn) -> None:
    for i in range(120):
        subscribers.add(conn, f"reader{i}@example.com", source="test", first_name=f"Reader{i}")
    for name, address in ODD + IMPOSSIBLE:  # past import's rules (an older import, another tool)
        subscribers.add(conn, address, source="test", first_name=name)


def send(settings, conn, env, **request):
    plan = plan_send(SendRequest(ISSUE, **request), settings, conn, env=env)
    return execute_send(plan, conn, env=env)


def rejected_reasons(conn) -> dict[str, str]:
    rows = ledger.rows_in_state(conn, ledger.find_send(conn, SLUG), "rejected")
    return {d.email: f"{d.error_code}: {d.error_detail}" for d in rows}


def assert_impossible_ones_rejected(report, conn) -> None:
    reasons = rejected_reasons(conn)
    assert "control character U+0000" in reasons["nul@example.org"]
    assert "5,000 characters long" in reasons["long@example.org"]
    assert report.counts["unknown"] == 0 and report.counts["pending"] == 0 and report.counts["sending"] == 0


def check_odd_message(data: bytes) -> tuple[str, str, str]:
    """(display name, address, greeting line) of one received message, headers decoded as a
    reader's client does; no line of it over 998 octets."""
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = Parser(policy=email.policy.default).parsestr(data.decode("utf-8"))  # RFC 6532: UTF-8 headers
    text = parsed.get_body(("plain",)).get_content()
    greeting = next(line for line in text.splitlines() if line.startswith("Hi "))
    address = parsed["To"].addresses[0]
    return address.display_name, address.addr_spec, greeting


def test_outbox_delivers_the_120_and_the_odd_three_with_the_headers_meant(settings, conn, project: Path) -> None:
    add_list(conn)
    report = send(settings, conn, env={})
    assert report.counts["accepted"] == 123 and report.counts["rejected"] == 2
    assert_impossible_ones_rejected(report, conn)
    files = {p.name.partition("-")[2]: p.read_bytes() for p in (project / "outbox" / SLUG).glob("*.eml")}
    assert len(files) == 123
    name, address, greeting = check_odd_message(files["ann.smith@example.org.eml"])
    assert (name, address, greeting) == ("Ann Smith", "ann.smith@example.org", "Hi Ann Smith,")
    name, address, greeting = check_odd_message(files["ew@example.org.eml"])
    assert (name, address) == (ENCODED_WORD, "ew@example.org") and ENCODED_WORD in greeting
    name, address, greeting = check_odd_message(next(v for k, v in files.items() if k.endswith("xn--bcher-kva.example.eml")))
    assert (name, address, greeting) == ("Zoë", "zoë@xn--bcher-kva.example", "Hi Zoë,")
    status = CliRunner().invoke(app, ["status", SLUG])
    assert status.exit_code == 0 and "nul@example.org" in status.output and "U+0000" in status.output
    assert "Traceback" not in status.output


@pytest.mark.parametrize("smtputf8", [True, False], ids=["smtputf8", "ascii-only-relay"])
def test_smtp_sends_the_odd_ones_correctly_or_rejects_them_and_retry_unknown_sends_nothing_twice(settings, conn, smtputf8: bool) -> None:
    add_list(conn)
    with FakeSmtp(smtputf8=smtputf8) as server:
        smtp_settings = dataclasses.replace(settings, provider="smtp", providers={"smtp": server.options(batch_size=10, timeout=5)})
        report = send(smtp_settings, conn, env=SMTP_ENV)
        assert_impossible_ones_rejected(report, conn)
        by_rcpt = {rcpts[0]: data for rcpts, data in server.received}
        assert len(by_rcpt) == len(server.received) == (123 if smtputf8 else 122)
        assert check_odd_message(by_rcpt["ew@example.org"])[:2] == (ENCODED_WORD, "ew@example.org")
        assert check_odd_message(by_rcpt["ann.smith@example.org"])[:2] == ("Ann Smith", "ann.smith@example.org")
        if smtputf8:
            assert check_odd_message(by_rcpt["zoë@xn--bcher-kva.example"])[:2] == ("Zoë", "zoë@xn--bcher-kva.example")
        else:
            assert "SMTPUTF8" in rejected_reasons(conn)["zoë@bücher.example"]
        again = send(smtp_settings, conn, env=SMTP_ENV, retry_unknown=True)
        assert again.run.accepted == 0
        assert max(Counter(rcpts[0] for rcpts, _ in server.received).values()) == 1


def test_postmark_sends_the_odd_ones_and_rejects_what_it_cannot_carry(settings, conn) -> None:
    add_list(conn)
    env = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": "recipients-secret"}
    with FakePostmark(token=TOKEN) as fake:
        table = {"base_url": fake.url, "batch_size": 50, "timeout": [5, 5], "reconcile_grace_seconds": 0}
        report = send(dataclasses.replace(settings, provider="postmark", providers={"postmark": table}), conn, env)
        assert_impossible_ones_rejected(report, conn)
        assert report.counts["accepted"] == 122
        assert "SMTPUTF8" in rejected_reasons(conn)["zoë@bücher.example"]
        to = {header_of(m["To"])[1]: header_of(m["To"])[0] for m in fake.messages}
        assert len(to) == len(fake.messages) == 122
        assert to["ew@example.org"] == ENCODED_WORD and to["ann.smith@example.org"] == "Ann Smith"


def test_smtp_in_doubt_message_leaves_only_itself_unknown(settings, conn) -> None:
    for i in range(5):
        subscribers.add(conn, f"p{i}@example.com", source="test", first_name=f"P{i}")
    with FakeSmtp() as server:
        server.script("DATA", None, "drop")  # the 2nd message's reply is never seen
        smtp_settings = dataclasses.replace(settings, provider="smtp", providers={"smtp": server.options(batch_size=5, timeout=5)})
        report = send(smtp_settings, conn, env=SMTP_ENV)
        assert report.counts["unknown"] == 1 and report.counts["accepted"] == 4 and report.counts["pending"] == 0
        assert len(server.received) == 4  # the dropped one was not stored by the server


@pytest.mark.parametrize("adapter", ["outbox", "smtp"])
def test_a_message_that_cannot_be_built_is_rejected_alone(adapter: str, tmp_path: Path) -> None:
    # A lone surrogate cannot be encoded as UTF-8: neither the email package nor the template can build it.
    batch = batch_of([make_recipient(1), make_recipient(2, first_name="\ud800"), make_recipient(3)])
    if adapter == "outbox":
        provider = create_provider("outbox", {"directory": tmp_path}, {})
        results = provider.send(batch)
        assert len(list(tmp_path.rglob("*.eml"))) == 2
    else:
        with FakeSmtp() as server:
            provider = create_provider("smtp", server.options(), {})
            try:
                results = provider.send(batch)
            finally:
                provider.close()
            assert len(server.received) == 2
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1].code == "invalid-message" and "reader2@example.org" in results[1].detail


def test_the_sample_bytes_of_an_ordinary_message_are_unchanged_ascii() -> None:
    data = to_bytes(make_message(1))
    assert data.split(b"\r\n\r\n")[0].isascii() and b"To: reader1@example.org\r\n" in data


def test_a_domain_with_no_idna_form_is_refused_with_a_reason() -> None:
    with pytest.raises(RecipientProblem, match="cannot be written in IDNA"):
        mailbox("Ann", "ann@bü..example")


def test_postmark_never_posts_a_message_it_cannot_carry_and_keeps_the_results_in_order() -> None:
    box = mailbox("Zoë", "zoë@bücher.example")
    batch = batch_of([make_recipient(1), make_recipient(2, to=box.header, to_address=box.address), make_recipient(3)])
    with FakePostmark(token=TOKEN) as fake:
        provider = create_provider("postmark", {"base_url": fake.url}, {"POSTMARK_SERVER_TOKEN": TOKEN})
        try:
            results = provider.send(batch)
        finally:
            provider.close()
        assert [r.status for r in results] == ["accepted", "rejected", "accepted"] and results[1].code == "smtputf8"
        assert [m["To"] for m in fake.messages] == [batch[0].to, batch[2].to]
