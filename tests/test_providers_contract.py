"""One contract, every adapter: the same scenarios run against outbox, SMTP (a real aiosmtpd
server) and Postmark (the fake HTTP server). Where a scenario cannot apply to an adapter, the
parametrisation says why (SKIPS), so nothing is skipped silently."""

from __future__ import annotations

from contextlib import ExitStack, closing
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Iterator

import pytest

from fakes.mailgun import FakeMailgun
from fakes.messages import LIST_UNSUBSCRIBE_POST, batch_of, make_batch, make_message
from fakes.postmark import FakePostmark
from fakes.sendgrid import FakeSendGrid
from fakes.server import Fault, wait_until
from fakes.ses import FakeSes, internal_failure, throttled
from fakes.smtp import FakeSmtp, Hang, free_port
from newsletter.errors import (
    ProviderAuthError,
    ProviderDeliveryUnknown,
    ProviderRateLimited,
    ProviderUnavailable,
)
from newsletter.providers.base import create_provider

ADAPTERS = ("outbox", "smtp", "postmark", "postmark-bulk", "sendgrid", "ses", "mailgun")
TOKEN = "pm-server-token-9f2c"
WRONG_TOKEN = "pm-wrong-token-77aa"
SG_KEY, SG_WRONG_KEY = "SG.contract-key-4c1d", "SG.wrong-key-0e9a"
MG_KEY, MG_WRONG_KEY, MG_DOMAIN = "key-contract-8d2e", "key-wrong-1f7b", "news.clinic.example"
SMTP_USER, SMTP_PASSWORD, WRONG_PASSWORD = "mailer", "smtp-secret-5e1d", "smtp-wrong-3b9c"
SES_SECRET, SES_WRONG_SECRET = "ses-secret-access-key-4c7d0000", "ses-wrong-secret-key-91ab0000"
HANG = 1.5  # seconds a server sits on an answer; clients here time out after 0.5 s

NO_SERVER = "outbox writes local files: there is no server to {}"
SKIPS: dict[str, dict[str, str]] = {
    "rejection": {
        "outbox": "outbox writes every message; it has no recipient to refuse",
        "postmark-bulk": "the Bulk API answers for the request, not per recipient: refusals come by webhook and suppression sync (tests/test_postmark_bulk.py)",
        "mailgun": "Mailgun accepts or refuses a request whole (its 400 names no recipient); a suppressed address is dropped later and reported by events",
    },
    "auth": {"outbox": "outbox needs no credentials"},
    "rate_limit_retry_after": {
        "outbox": NO_SERVER.format("throttle"),
        "smtp": "SMTP 4xx replies carry no Retry-After (providers.md §7.5)",
        "sendgrid": "X-RateLimit-Reset is a Unix time, so the wait depends on the clock: tests/test_sendgrid.py checks it with a fixed one",
        "ses": "SES sends no Retry-After or rate-limit headers (providers.md §5.5)",
        "mailgun": "the retry time is a date inside the 429's message, so the wait depends on the clock: tests/test_mailgun.py checks it with a fixed one",
    },
    "rate_limit_no_hint": {"outbox": NO_SERVER.format("throttle")},
    "unavailable_then_success": {"outbox": NO_SERVER.format("fail")},
    "timeout_after_sent": {"outbox": NO_SERVER.format("time out")},
    "dropped_after_sent": {"outbox": NO_SERVER.format("hang up")},
    "refused_connection": {"outbox": NO_SERVER.format("refuse a connection")},
}


def adapters(scenario: str) -> list[Any]:
    skips = SKIPS.get(scenario, {})
    return [pytest.param(n, marks=pytest.mark.skip(reason=skips[n])) if n in skips else n for n in ADAPTERS]


@dataclass(frozen=True)
class Wire:
    """One message as it crossed the wire."""

    to: str
    provider_message_id: str | None  # the id the adapter should have reported for it
    headers: dict[str, str]  # lower-cased names
    text: str
    html: str


def parse_eml(data: bytes) -> tuple[dict[str, str], str, str, str | None]:
    mime = message_from_bytes(data, policy=default_policy)
    headers = {k.lower(): str(v) for k, v in mime.items()}
    text = mime.get_body(("plain",)).get_content()
    html = mime.get_body(("html",)).get_content()
    return headers, text, html, headers.get("message-id")


# -- one harness per adapter: how to script its server and read what crossed the wire -----------
class Harness:
    def __init__(self) -> None:
        self.opened: list[Any] = []

    def create(self, name: str, options: dict[str, Any], env: dict[str, str]) -> Any:
        provider = create_provider(name, options, env)
        self.opened.append(provider)  # closed by the fixture
        return provider

    def close_all(self) -> None:
        for provider in self.opened:
            provider.close()


class OutboxHarness(Harness):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.directory = tmp_path / "outbox"

    def provider(self, **options: Any) -> Any:
        return self.create("outbox", {"directory": self.directory, **options}, {})

    def wire(self) -> list[Wire]:
        out = []
        for path in sorted(self.directory.rglob("*.eml")):
            headers, text, html, message_id = parse_eml(path.read_bytes())
            out.append(Wire(headers["to"], message_id, headers, text, html))
        return out


class SmtpHarness(Harness):
    def __init__(self, server: FakeSmtp) -> None:
        super().__init__()
        self.server = server

    def provider(self, **options: Any) -> Any:
        env = {"SMTP_USERNAME": SMTP_USER, "SMTP_PASSWORD": options.pop("password", SMTP_PASSWORD)}
        return self.create("smtp", self.server.options(**options), env)

    def wire(self) -> list[Wire]:
        out = []
        for rcpts, content in self.server.received:
            headers, text, html, message_id = parse_eml(content)
            out.append(Wire(rcpts[0], message_id, headers, text, html))
        return out

    def reject(self, address: str) -> str:
        self.server.reject(address)
        return "550"

    def bad_credentials(self) -> tuple[Any, str]:
        return self.provider(password=WRONG_PASSWORD), WRONG_PASSWORD

    def rate_limit(self, retry_after: str | None) -> None:
        self.server.script("MAIL", "451 4.7.1 Rate limit exceeded, try again later")

    def fail_once(self) -> None:
        self.server.script("MAIL", "421 4.3.2 Service not available, closing transmission channel")

    def hang_after_accept(self) -> None:
        self.server.script("DATA", Hang(HANG))

    def drop_after_sent(self) -> None:
        self.server.script("DATA", "drop")

    def refused(self) -> Any:
        return self.create("smtp", {**self.server.options(), "port": free_port()}, {})


class PostmarkHarness(Harness):
    """``mode`` batch (POST /email/batch) or bulk (POST /email/bulk: the fake compiles each
    recipient's message, and the adapter reports the bulk request's id for each)."""

    def __init__(self, server: FakePostmark, mode: str = "batch") -> None:
        super().__init__()
        self.server = server
        self.mode = mode

    def provider(self, token: str = TOKEN, **options: Any) -> Any:
        opts = {"base_url": self.server.url, "timeout": (0.5, 0.5), "mode": self.mode, **options}
        return self.create("postmark", opts, {"POSTMARK_SERVER_TOKEN": token})

    def wire(self) -> list[Wire]:
        out = []
        for m in self.server.messages:
            headers = {h["Name"].lower(): h["Value"] for h in m["Headers"]}
            reported = f"bulk:{m['BulkRequestID']}" if self.mode == "bulk" else m["MessageID"]
            out.append(Wire(m["To"], reported, headers, m["TextBody"], m["HtmlBody"]))
        return out

    def reject(self, address: str) -> str:
        self.server.suppress(address, stream="broadcast")
        return "406"

    def bad_credentials(self) -> tuple[Any, str]:
        return self.provider(token=WRONG_TOKEN), WRONG_TOKEN

    def rate_limit(self, retry_after: str | None) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.server.script(Fault.status(429, {"ErrorCode": 429, "Message": "Rate limit exceeded."}, headers))

    def fail_once(self) -> None:
        self.server.script(Fault.status(500, {"ErrorCode": 500, "Message": "Internal server error."}))

    def hang_after_accept(self) -> None:
        self.server.script(Fault(hang=HANG))

    def drop_after_sent(self) -> None:
        self.server.script(Fault(drop="after"))

    def refused(self) -> Any:
        opts = {"base_url": f"http://127.0.0.1:{free_port()}", "timeout": (0.5, 0.5), "mode": self.mode}
        return self.create("postmark", opts, {"POSTMARK_SERVER_TOKEN": TOKEN})


class SendGridHarness(Harness):
    def __init__(self, server: FakeSendGrid) -> None:
        super().__init__()
        self.server = server

    def provider(self, key: str = SG_KEY, **options: Any) -> Any:
        opts = {"base_url": self.server.url, "timeout": (0.5, 0.5), **options}
        return self.create("sendgrid", opts, {"SENDGRID_API_KEY": key})

    def wire(self) -> list[Wire]:
        out = []
        for m in self.server.messages:
            headers = {k.lower(): v for k, v in m["headers"].items()}
            # SendGrid reports one id per request (X-Message-Id); each message's id starts with it.
            out.append(Wire(m["to"], m["sg_message_id"].split(".")[0], headers, m["text"], m["html"]))
        return out

    def reject(self, address: str) -> str:
        self.server.refuse(address)
        return "invalid-recipient"

    def bad_credentials(self) -> tuple[Any, str]:
        return self.provider(key=SG_WRONG_KEY), SG_WRONG_KEY

    def rate_limit(self, retry_after: str | None) -> None:
        assert retry_after is None  # see SKIPS
        self.server.script(Fault.status(429, {"errors": [{"field": None, "message": "too many requests"}]}))  # no headers

    def fail_once(self) -> None:
        self.server.script(Fault.status(500, {"errors": [{"field": None, "message": "Internal Server Error"}]}))

    def hang_after_accept(self) -> None:
        self.server.script(Fault(hang=HANG))

    def drop_after_sent(self) -> None:
        self.server.script(Fault(drop="after"))

    def refused(self) -> Any:
        opts = {"base_url": f"http://127.0.0.1:{free_port()}", "timeout": (0.5, 0.5)}
        return self.create("sendgrid", opts, {"SENDGRID_API_KEY": SG_KEY})


class SesHarness(Harness):
    def __init__(self, server: FakeSes) -> None:
        super().__init__()
        self.server = server

    def provider(self, secret_key: str | None = None, **options: Any) -> Any:
        opts = self.server.options(timeout=(0.5, 0.5), **options)
        return self.create("ses", opts, self.server.env(secret_key=secret_key))

    def wire(self) -> list[Wire]:
        out = []
        for m in self.server.messages:
            headers, text, html, _ = parse_eml(m["Raw"])
            out.append(Wire(m["To"][0], m["MessageId"], headers, text, html))
        return out

    def reject(self, address: str) -> str:
        self.server.refuse_recipient(address)  # as a sandbox account refuses an unverified recipient
        return "MessageRejected"

    def bad_credentials(self) -> tuple[Any, str]:
        return self.provider(secret_key=SES_WRONG_SECRET), SES_WRONG_SECRET

    def rate_limit(self, retry_after: str | None) -> None:
        self.server.script(Fault(respond=throttled()))

    def fail_once(self) -> None:
        self.server.script(Fault(respond=internal_failure()))

    def hang_after_accept(self) -> None:
        self.server.script(Fault(hang=HANG))

    def drop_after_sent(self) -> None:
        self.server.script(Fault(drop="after"))

    def refused(self) -> Any:
        return self.create("ses", {"base_url": f"http://127.0.0.1:{free_port()}", "timeout": (0.5, 0.5)}, self.server.env())


class MailgunHarness(Harness):
    def __init__(self, server: FakeMailgun) -> None:
        super().__init__()
        self.server = server

    def provider(self, key: str = MG_KEY, **options: Any) -> Any:
        opts = {"base_url": self.server.url, "domain": MG_DOMAIN, "timeout": (0.5, 0.5), **options}
        return self.create("mailgun", opts, {"MAILGUN_API_KEY": key})

    def wire(self) -> list[Wire]:
        out = []
        for m in self.server.messages:
            headers = {k.lower(): v for k, v in m["headers"].items()}
            out.append(Wire(m["to"], m["id"], headers, m["text"], m["html"]))
        return out

    def bad_credentials(self) -> tuple[Any, str]:
        return self.provider(key=MG_WRONG_KEY), MG_WRONG_KEY

    def rate_limit(self, retry_after: str | None) -> None:
        assert retry_after is None  # see SKIPS
        self.server.script(Fault.status(429, {"message": "Domain is not allowed to send: request limit exceeded"}))

    def fail_once(self) -> None:
        self.server.script(Fault.status(500, {"message": "Internal Server Error"}))

    def hang_after_accept(self) -> None:
        self.server.script(Fault(hang=HANG))

    def drop_after_sent(self) -> None:
        self.server.script(Fault(drop="after"))

    def refused(self) -> Any:
        opts = {"base_url": f"http://127.0.0.1:{free_port()}", "domain": MG_DOMAIN, "timeout": (0.5, 0.5)}
        return self.create("mailgun", opts, {"MAILGUN_API_KEY": MG_KEY})


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    name = request.param
    with ExitStack() as stack:
        if name == "outbox":
            h: Harness = OutboxHarness(tmp_path)
        elif name == "smtp":
            h = SmtpHarness(stack.enter_context(FakeSmtp(username=SMTP_USER, password=SMTP_PASSWORD)))
        elif name in ("postmark", "postmark-bulk"):
            mode = "bulk" if name == "postmark-bulk" else "batch"
            h = PostmarkHarness(stack.enter_context(FakePostmark(token=TOKEN)), mode)
        elif name == "ses":
            h = SesHarness(stack.enter_context(FakeSes(secret_key=SES_SECRET)))
        elif name == "mailgun":
            h = MailgunHarness(stack.enter_context(FakeMailgun(key=MG_KEY, domain=MG_DOMAIN)))
        else:
            h = SendGridHarness(stack.enter_context(FakeSendGrid(key=SG_KEY)))
        stack.callback(h.close_all)  # providers close before their server stops
        yield h


def by_address(wire: list[Wire]) -> dict[str, Wire]:
    return {w.to: w for w in wire}


# -- the scenarios -----------------------------------------------------------------------------
@pytest.mark.parametrize("harness", adapters("success"), indirect=True)
def test_success_results_in_order_and_the_wire_carries_headers_and_both_parts(harness: Any) -> None:
    batch = make_batch(3)
    provider = harness.provider()
    results = provider.send(batch)
    provider.close()

    assert [r.status for r in results] == ["accepted"] * 3
    wire = by_address(harness.wire())
    assert sorted(wire) == sorted(m.to for m in batch)
    for msg, result in zip(batch, results, strict=True):
        sent = wire[msg.to]
        assert result.provider_message_id and result.provider_message_id == sent.provider_message_id
        assert sent.headers["list-unsubscribe"].startswith(f"<https://clinic.example/u/{msg.subscriber_id}.tok>")
        assert sent.headers["list-unsubscribe-post"] == LIST_UNSUBSCRIBE_POST
        assert f"Hello reader {msg.subscriber_id}" in sent.text
        assert f"Hello reader {msg.subscriber_id}" in sent.html and "<p>" in sent.html


@pytest.mark.parametrize("harness", adapters("empty"), indirect=True)
def test_an_empty_batch_sends_nothing(harness: Any) -> None:
    assert list(harness.provider().send(batch_of([]))) == []
    assert harness.wire() == []


@pytest.mark.parametrize("harness", adapters("rejection"), indirect=True)
def test_a_refused_recipient_is_a_rejected_result_and_the_others_go_out(harness: Any) -> None:
    batch = make_batch(3)
    code = harness.reject(batch[1].to)
    results = harness.provider().send(batch)

    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1].code == code and results[1].detail
    assert sorted(by_address(harness.wire())) == [batch[0].to, batch[2].to]


@pytest.mark.parametrize("harness", adapters("auth"), indirect=True)
def test_refused_credentials_raise_auth_error_naming_the_provider_without_the_secret(harness: Any) -> None:
    provider, wrong_secret = harness.bad_credentials()
    with pytest.raises(ProviderAuthError) as caught:
        provider.send(make_batch(1))
    err = caught.value
    assert str(err).startswith(f"{provider.name}: ")
    for secret in (wrong_secret, TOKEN, SMTP_PASSWORD, SES_SECRET):
        assert secret not in str(err) and secret not in (err.hint or "")
    assert harness.wire() == []


@pytest.mark.parametrize("harness", adapters("rate_limit_retry_after"), indirect=True)
def test_rate_limited_with_retry_after(harness: Any) -> None:
    harness.rate_limit("7")
    with pytest.raises(ProviderRateLimited) as caught:
        harness.provider().send(make_batch(1))
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("harness", adapters("rate_limit_no_hint"), indirect=True)
def test_rate_limited_without_retry_after(harness: Any) -> None:
    harness.rate_limit(None)
    provider = harness.provider()
    with pytest.raises(ProviderRateLimited) as caught:
        provider.send(make_batch(1))
    assert caught.value.retry_after is None
    assert harness.wire() == []


@pytest.mark.parametrize("harness", adapters("unavailable_then_success"), indirect=True)
def test_server_error_is_retriable_and_the_retry_sends_exactly_once(harness: Any) -> None:
    harness.fail_once()
    provider = harness.provider()
    batch = make_batch(2)
    with pytest.raises(ProviderUnavailable):
        provider.send(batch)
    results = provider.send(batch)  # same adapter instance: reconnects where it must
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert sorted(w.to for w in harness.wire()) == sorted(m.to for m in batch)


@pytest.mark.parametrize("harness", adapters("timeout_after_sent"), indirect=True)
def test_timeout_after_the_request_was_sent_is_delivery_unknown(harness: Any) -> None:
    harness.hang_after_accept()
    with pytest.raises(ProviderDeliveryUnknown) as caught:
        harness.provider().send(make_batch(1))
    assert caught.value.partial_results == ()
    # A true in-doubt case: the server did take the message.
    assert wait_until(lambda: [w.to for w in harness.wire()] == [make_message(1).to])


@pytest.mark.parametrize("harness", adapters("dropped_after_sent"), indirect=True)
def test_connection_dropped_after_the_request_was_sent_is_delivery_unknown(harness: Any) -> None:
    harness.drop_after_sent()
    with pytest.raises(ProviderDeliveryUnknown):
        harness.provider().send(make_batch(1))


@pytest.mark.parametrize("harness", adapters("refused_connection"), indirect=True)
def test_refused_connection_is_unavailable_and_retriable(harness: Any) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        harness.refused().send(make_batch(1))
    assert "cannot connect" in str(caught.value)


# -- adapter-specific behaviour the contract does not cover -------------------------------------
def test_smtp_failure_part_way_reports_the_messages_already_accepted() -> None:
    with FakeSmtp() as server:
        server.script("DATA", None, Hang(HANG))  # message 1 normal, message 2 hangs
        with closing(create_provider("smtp", server.options(), {})) as provider:
            with pytest.raises(ProviderDeliveryUnknown) as caught:
                provider.send(make_batch(3))
    partial = caught.value.partial_results
    assert [r.status for r in partial] == ["accepted"]
    assert partial[0].provider_message_id == make_message(1).message_id


def test_smtp_rate_limit_part_way_keeps_the_first_results() -> None:
    with FakeSmtp() as server:
        server.script("MAIL", None, "451 4.7.1 Too many messages, slow down")
        with closing(create_provider("smtp", server.options(), {})) as provider:
            with pytest.raises(ProviderRateLimited) as caught:
                provider.send(make_batch(3))
        assert len(caught.value.partial_results) == 1
        assert [rcpts for rcpts, _ in server.received] == [[make_message(1).to]]


def test_smtp_reuses_one_connection_and_reconnects_after_the_server_hung_up() -> None:
    with FakeSmtp() as server:
        provider = create_provider("smtp", server.options(), {})
        provider.send(make_batch(2))
        provider.send(make_batch(2, start=3))
        assert server.handler.connections == 1
        server.hang_up()  # as after an idle timeout between batches
        assert [r.status for r in provider.send(make_batch(1, start=5))] == ["accepted"]
        assert server.handler.connections == 2
        provider.close()
    assert len(server.received) == 5


def test_smtp_reconnects_once_when_the_server_hangs_up_before_data() -> None:
    with FakeSmtp() as server:
        server.script("MAIL", None, "drop")  # second message: the connection dies at MAIL FROM
        with closing(create_provider("smtp", server.options(), {})) as provider:
            results = provider.send(make_batch(3))
        assert [r.status for r in results] == ["accepted"] * 3
        assert server.handler.connections == 2
    assert [rcpts[0] for rcpts, _ in server.received] == [m.to for m in make_batch(3)]


def test_outbox_writes_one_stable_file_per_recipient_and_lists_them(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    provider = create_provider("outbox", {"directory": tmp_path}, {})
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    batch = make_batch(2)
    provider.send(batch)
    provider.send(batch)  # a retry rewrites the same files: no second copy
    files = sorted(p.name for p in (tmp_path / batch.campaign.tag).iterdir())
    assert files == ["1-reader1@example.org.eml", "2-reader2@example.org.eml"]
    records = provider.search_accepted(batch.campaign.tag, start, datetime.now(timezone.utc) + timedelta(seconds=5))
    assert [(r.email, r.provider_message_id, r.metadata["subscriber_id"]) for r in records] == [
        (m.to, m.message_id, str(m.subscriber_id)) for m in batch
    ]
    assert provider.honours_idempotency_key and list(provider.suppressions(None)) == []
