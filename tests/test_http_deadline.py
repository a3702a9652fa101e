"""Every HTTP request has a total deadline, not only a timeout per read.

The Postmark fake (a real HTTP server on 127.0.0.1) answers one byte at a time, so no single
read ever reaches the read timeout; without the deadline each of these requests would take
minutes (the trickled answers are hundreds of bytes, one every 0.25 s) and the test would see a
success instead of the error it asserts.
"""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakes.messages import make_batch
from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter.errors import ConfigError, ProviderDeadlineExceeded
from newsletter.providers.base import create_provider
from newsletter.providers.http import DeadlineExceeded, DeadlineSession

TOKEN = "deadline-token"
ENV = {"POSTMARK_SERVER_TOKEN": TOKEN}
TRICKLE = 0.25  # seconds between bytes: far below the read timeout


def _postmark(fake: FakePostmark, **options):
    return create_provider("postmark", {"base_url": fake.url, "timeout": [2, 2], "deadline": 1, **options}, ENV)


def test_a_send_whose_answer_trickles_ends_at_the_deadline_in_doubt_and_the_next_request_works() -> None:
    with FakePostmark(token=TOKEN) as fake, closing(_postmark(fake)) as provider:
        fake.script(Fault(trickle=TRICKLE, path="/email/batch"))
        with pytest.raises(ProviderDeadlineExceeded) as caught:
            provider.send(make_batch(3))
        assert caught.value.message.startswith("postmark: no complete answer within the 1 s deadline ([providers.postmark] deadline)")
        assert "unknown" in caught.value.hint and TOKEN not in caught.value.message + caught.value.hint
        assert len(fake.per_recipient) == 3  # the server had taken the batch: in doubt, not "not sent"
        results = provider.send(make_batch(2, start=10))  # a fresh connection: the cut one is gone
        assert [r.status for r in results] == ["accepted", "accepted"]


def test_the_message_search_and_the_suppression_dump_end_at_the_deadline_too() -> None:
    now = datetime.now(timezone.utc)
    with FakePostmark(token=TOKEN) as fake, closing(_postmark(fake)) as provider:
        fake.script(Fault(trickle=TRICKLE, path="/messages/outbound"))
        with pytest.raises(ProviderDeadlineExceeded):
            provider.search_accepted("2026-11-test-issue", now - timedelta(hours=1), now)
        fake.script(Fault(trickle=TRICKLE, path="/message-streams/"))
        with pytest.raises(ProviderDeadlineExceeded):
            list(provider.suppressions(None))


def test_a_slow_but_complete_answer_within_the_deadline_is_an_answer() -> None:
    with FakePostmark(token=TOKEN) as fake, closing(_postmark(fake, deadline=3600)) as provider:
        fake.script(Fault(latency=0.2, path="/email/batch"))
        assert [r.status for r in provider.send(make_batch(2))] == ["accepted", "accepted"]


@pytest.mark.parametrize("value", [0.5, 3601])
def test_the_deadline_is_a_setting_from_1_to_3600_seconds(value: float) -> None:
    with pytest.raises(ConfigError, match="deadline"):
        create_provider("postmark", {"deadline": value}, ENV)


BODY = b'{"Message": "' + b"x" * 400 + b'"}'  # 100 s of trickle


class _LengthlessTrickle(BaseHTTPRequestHandler):
    """A 200 whose body has no length (it ends when the connection closes), one byte every 0.25 s."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        for byte in BODY:
            if self.server.release.wait(TRICKLE):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return
            self.server.sent += 1


def test_a_body_without_a_length_cut_at_the_deadline_is_an_error_not_a_short_answer() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _LengthlessTrickle)
    httpd.release = threading.Event()
    httpd.sent = 0
    thread = threading.Thread(target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        with closing(DeadlineSession(1)) as session, pytest.raises(DeadlineExceeded):
            session.get(f"http://127.0.0.1:{httpd.server_address[1]}/", timeout=5)
        assert httpd.sent < len(BODY)  # cut off, not read to its end and refused afterwards
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
