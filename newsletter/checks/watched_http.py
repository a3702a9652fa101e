"""urllib openers whose every connection is watched by one ``watchdog.Watch``: a server that
answers a byte at a time is cut off at the exchange's total deadline, not only per read.
Shared by ``online.py`` (links and DOIs) and ``citations.py`` (Crossref)."""

from __future__ import annotations

import http.client
import urllib.request

from ..watchdog import Watch


class _Watching:
    """A handler whose every connection is watched by the exchange's deadline."""

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch = watch

    def watched(self, connection_class):
        def connect(host, **kwargs):
            conn = connection_class(host, **kwargs)
            self.watch.attach(conn)
            opened = conn.connect

            def connect_and_hold():
                opened()
                # a response read until the server closes takes the socket and the connection
                # forgets it: the watch keeps it, so a trickled length-less body is cut too
                self.watch.hold(conn.sock)

            conn.connect = connect_and_hold
            return conn

        return connect


class _WatchedHTTP(_Watching, urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(self.watched(http.client.HTTPConnection), req)


class _WatchedHTTPS(_Watching, urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(self.watched(http.client.HTTPSConnection), req, context=self._context)


def watched_opener(watch: Watch, *handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener for HTTP and HTTPS whose connections ``watch`` shuts once its time is up."""
    return urllib.request.build_opener(_WatchedHTTP(watch), _WatchedHTTPS(watch), *handlers)
