"""A total deadline for every HTTP request of an adapter, not only a timeout per read.

requests' read timeout restarts with every byte, so a server (or proxy) that answers one byte
every two seconds holds a request for hours. ``DeadlineSession`` times the whole request,
answer body included: past the deadline a watchdog (``watchdog.Watch``) shuts the connection's
socket, the blocked read ends at once, and the request raises ``DeadlineExceeded``. A request
that was sent may have been acted on: adapters map that to "in doubt", never to "not sent".
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..watchdog import Watch

_current = threading.local()  # the watch of the request this thread is making, for the pools


class DeadlineExceeded(requests.RequestException):
    """The request did not complete within its total deadline; ``seconds`` is that deadline."""

    def __init__(self, seconds: float, *args: Any, **kwargs: Any) -> None:
        super().__init__(f"no complete answer within the {seconds:g} s deadline", *args, **kwargs)
        self.seconds = seconds


def _hold_socket(conn: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.hold(conn.sock)


class _WatchedConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _hold_socket(self)  # a body read to the connection's close outlives conn.sock


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _hold_socket(self)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection
    _make_request = _WatchedPool._make_request


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class DeadlineSession(requests.Session):
    """A requests.Session whose every request ends within ``deadline`` seconds, all told."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        for prefix in ("http://", "https://"):
            self.mount(prefix, _WatchedAdapter())

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if getattr(_current, "watch", None) is not None:  # a redirect inside a watched request
            return super().send(request, **kwargs)
        watch = _current.watch = Watch(self.deadline)
        watch.start()
        try:
            response = super().send(request, **kwargs)  # reads the body too unless stream=True
        except requests.RequestException as err:
            if watch.expired:
                raise DeadlineExceeded(self.deadline, request=request) from err
            raise
        else:
            if watch.expired:  # a body without a length ends at the shut socket: cut short, not whole
                raise DeadlineExceeded(self.deadline, request=request)
            return response
        finally:
            watch.stop()
            _current.watch = None
