"""What every page and endpoint of the site shares: settings, the store, the signing secret, pages."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Settings
from ..store.db import open_store
from .pages import render
from .writer import Writer

T = TypeVar("T")


@dataclass
class Site:
    settings: Settings
    env: Mapping[str, str]
    secret: bytes  # signs unsubscribe, preference and confirmation tokens
    clock: Callable[[], float] = time.time
    include_drafts: bool = False
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _writer: Writer | None = field(default=None, repr=False)
    _writer_made: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def db(self) -> sqlite3.Connection:
        """One connection per worker thread (sqlite3 connections must not be shared across threads
        mid-transaction); each waits for SQLite's writer lock rather than failing."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_store(self.settings)
        return conn

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` applied and committed by this process's writer thread (web/writer.py)."""
        with self._writer_made:  # made on first use, so each forked worker has its own thread
            if self._writer is None:
                self._writer = Writer(self.settings)
        return await self._writer.write(work)

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(render(template, self.settings, **values), status_code=status)


def site_of(request: Request) -> Site:
    return request.app.state.site
