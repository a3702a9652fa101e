"""What every page and endpoint of the site shares: settings, the store, the signing secret, pages."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Settings
from ..store.db import open_db

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Site:
    settings: Settings
    env: Mapping[str, str]
    secret: bytes  # signs unsubscribe, preference and confirmation tokens
    clock: Callable[[], float] = time.time
    include_drafts: bool = False
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _pages: Environment | None = field(default=None, repr=False)

    def db(self) -> sqlite3.Connection:
        """One connection per worker thread (sqlite3 connections must not be shared across threads
        mid-transaction); each waits for SQLite's writer lock rather than failing."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_db(self.settings.database)
        return conn

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        if self._pages is None:
            self._pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]))
        html = self._pages.get_template(template).render(settings=self.settings, **values)
        return HTMLResponse(html, status_code=status)


def site_of(request: Request) -> Site:
    return request.app.state.site
