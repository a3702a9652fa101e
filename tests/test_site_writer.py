"""The site's writer: requests applied in one transaction, a savepoint each, answered after the
COMMIT (store/db.apply_each, web/writer.py)."""

from __future__ import annotations

import asyncio

import pytest

from newsletter.store import subscribers
from newsletter.store.db import apply_each
from newsletter.web.writer import Writer

pytestmark = pytest.mark.both_engines  # SQLite and PostgreSQL (conftest.py, tests/pg_server.py)


def test_apply_each_keeps_the_others_when_one_work_fails(store):
    conn = store
    ids = [subscribers.add(conn, f"b{i}@example.org", source="test").id for i in range(3)]

    def fails(c):
        subscribers.record_event(c, ids[1], "unsubscribed", "page")
        raise RuntimeError("this one fails")

    outcomes = apply_each(conn, [lambda c: subscribers.record_event(c, ids[0], "noted", "page"), fails, lambda c: 42])
    assert [ok for ok, _ in outcomes] == [True, False, True] and outcomes[2][1] == 42
    assert [e.kind for e in subscribers.history(conn, ids[0])][-1] == "noted"
    assert [e.kind for e in subscribers.history(conn, ids[1])] == ["subscribed"]
    assert not conn.in_transaction


def test_the_writer_answers_each_request_with_its_own_result_or_error(settings, store):
    conn = store
    ids = [subscribers.add(conn, f"w{i}@example.org", source="test").id for i in range(50)]
    writer = Writer(settings)

    def boom(c):
        raise ValueError("no")

    async def burst():
        jobs = [writer.write(lambda c, i=i: subscribers.record_event(c, i, "noted", "page") or i) for i in ids]
        results = await asyncio.gather(*jobs)
        with pytest.raises(ValueError):
            await writer.write(boom)
        return results

    assert asyncio.run(burst()) == ids
    assert all(subscribers.history(conn, i)[-1].kind == "noted" for i in ids)  # committed, seen by another connection
