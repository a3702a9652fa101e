"""SMTP has a total deadline too, not only a timeout per reply (`[providers.smtp] deadline`).

A raw SMTP server on 127.0.0.1 (tests/fakes/trickle_smtp.py) answers one byte every 0.25 s at
one stage, far below the 5 s timeout per read: without the deadline each exchange below would
take minutes and the test would see a success (or hang) instead of the error it asserts.
Cut off before a message's content was sent, nothing of it was accepted (the run stops, the rest
stays pending); cut off after it, that one message is in doubt and the run stops too.
"""

from __future__ import annotations

import dataclasses
from contextlib import closing

import pytest
from test_send import run

from fakes.messages import make_batch
from fakes.trickle_smtp import TrickleSmtp
from newsletter.errors import ConfigError, ProviderDeadlineExceeded, ProviderRequestError
from newsletter.providers.base import create_provider
from newsletter.store import subscribers
from newsletter.store.db import open_store


def _smtp(server: TrickleSmtp, **options):
    table = {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 5, "deadline": 1, **options}
    return create_provider("smtp", table, {})


def test_a_trickled_greeting_ends_at_the_deadline_with_nothing_sent() -> None:
    with TrickleSmtp("greeting") as server, closing(_smtp(server)) as provider:
        with pytest.raises(ProviderRequestError) as caught:
            provider.send(make_batch(3))
    assert caught.value.message == (
        f"smtp: 127.0.0.1:{server.port}: no complete answer within the 1 s deadline ([providers.smtp] deadline) "
        "while connecting: the server or something on the way answers too slowly"
    )
    assert "pending" in caught.value.hint
    assert caught.value.partial_results == () and server.received == []


def test_a_trickled_tls_handshake_ends_at_the_deadline_with_nothing_sent() -> None:
    with TrickleSmtp("tls") as server, closing(_smtp(server, security="ssl", timeout=30)) as provider:
        with pytest.raises(ProviderRequestError) as caught:
            provider.send(make_batch(2))
    assert "1 s deadline ([providers.smtp] deadline) while connecting" in caught.value.message, caught.value.message
    assert server.received == []


def test_a_trickled_reply_before_the_content_ends_at_the_deadline_and_keeps_the_messages_before_it() -> None:
    with TrickleSmtp("mail", from_nth=2) as server, closing(_smtp(server)) as provider:
        batch = make_batch(3)
        with pytest.raises(ProviderRequestError) as caught:
            provider.send(batch)
    assert f"deadline ([providers.smtp] deadline) before the message for {batch[1].rcpt} was sent" in caught.value.message
    assert [r.status for r in caught.value.partial_results] == ["accepted"]  # the first one went out
    assert server.received == [[batch[0].rcpt]]


def test_a_trickled_final_reply_leaves_that_one_message_in_doubt() -> None:
    with TrickleSmtp("end", from_nth=2) as server, closing(_smtp(server)) as provider:
        batch = make_batch(3)
        with pytest.raises(ProviderDeadlineExceeded) as caught:
            provider.send(batch)
    assert f"1 s deadline ([providers.smtp] deadline) after the message for {batch[1].rcpt} was sent" in caught.value.message
    assert [r.status for r in caught.value.partial_results] == ["accepted"]
    assert caught.value.in_doubt == 1  # the third was never begun
    assert server.received == [[batch[0].rcpt], [batch[1].rcpt]]  # the server had the second: in doubt, not "not sent"


def test_a_send_through_a_trickling_relay_stops_with_the_message_unknown_and_the_rest_pending(settings, approved_sample) -> None:
    conn = open_store(settings)
    for i in range(30):
        subscribers.add(conn, f"r{i}@example.com", source="test", first_name=f"Name{i}")
    with TrickleSmtp("end", from_nth=8) as server:
        table = {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 5, "deadline": 1, "workers": 1, "batch_size": 5}
        report = run(dataclasses.replace(settings, provider="smtp", providers={"smtp": table}), conn, env={"NEWSLETTER_SECRET": "x"})
    conn.close()
    assert isinstance(report.run.stopped_by, ProviderDeadlineExceeded)
    assert (report.counts["accepted"], report.counts["unknown"], report.counts["pending"]) == (7, 1, 22)
    assert len(server.received) == 8


def test_a_slow_but_complete_exchange_within_the_deadline_is_an_answer() -> None:
    with TrickleSmtp("end", interval=0.0001) as server, closing(_smtp(server, deadline=3600)) as provider:
        assert [r.status for r in provider.send(make_batch(2))] == ["accepted", "accepted"]


@pytest.mark.parametrize("value", [0.5, 3601])
def test_the_deadline_is_a_setting_from_1_to_3600_seconds(value: float) -> None:
    with pytest.raises(ConfigError, match="deadline"):
        create_provider("smtp", {"deadline": value}, {})
