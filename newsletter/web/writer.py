"""One writer thread per process for the site's changes (unsubscribe, undo, preferences), with
group commit: the requests waiting when it is free are applied in one transaction, each in a
savepoint, and each is answered only after that COMMIT returned.

Why: SQLite takes one writer at a time. Threads each opening their own transaction queue on the
busy handler (which sleeps); one thread that commits a batch at a time does one COMMIT for many
requests, and the event loop never blocks on the database. Another process holding the lock
(the CLI, another worker) only makes this thread wait (busy_timeout, then retry_locked).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from typing import Any, Callable, TypeVar

from ..store.db import apply_each, make_durable, open_store, retry_locked

T = TypeVar("T")
MAX_BATCH = 256  # requests per transaction: enough to absorb a burst, small enough to stay short
log = logging.getLogger("newsletter.web")

Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future, asyncio.AbstractEventLoop]


class Writer:
    def __init__(self, settings) -> None:
        self._settings = settings  # the store it writes to: the SQLite file or the PostgreSQL URL
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="newsletter-writer", daemon=True)
        self._thread.start()

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` applied and committed; its result, or its exception."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((work, future, loop))
        # shield: a client hanging up must not leave the job half-answered (it is applied anyway)
        return await asyncio.shield(future)

    def _run(self) -> None:
        conn = open_store(self._settings)
        make_durable(conn)  # one fsync per batch, not per request
        while True:
            batch = [self._jobs.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            works = [work for work, _, _ in batch]
            try:
                outcomes = retry_locked(lambda: apply_each(conn, works))  # noqa: B023 (called here, at once)
            except Exception as err:  # the batch was rolled back: every request in it fails (500)
                log.error("site writer: %s", err)
                outcomes = [(False, err)] * len(batch)
            for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
                loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future, outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
