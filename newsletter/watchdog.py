"""A watchdog that ends a blocked network exchange once its total time is up.

A timeout per read restarts with every byte, so a server (or proxy) that answers one byte every
two seconds holds a connection for hours. ``Watch(seconds)`` runs beside the exchange: past its
time it shuts the watched connection's socket (``conn.sock``, read when it fires, so a socket
replaced meanwhile, as by STARTTLS, is the one shut), the blocked read or write ends at once, and
``expired`` tells the caller why. Standard library only: ``providers/http.py`` (requests),
``providers/smtp.py`` (smtplib) and ``checks/online.py`` (urllib) share it.
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class Watch:
    """One exchange's watchdog: once its time is up, shut the socket of the connection it
    watches (a connection not yet attached, or still without a socket, is waited for)."""

    POLL = 0.05

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._conn: Any = None
        self._sock: Any = None  # held when known: a connection may hand its socket to a response
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="network-deadline", daemon=True)

    def start(self) -> "Watch":
        self._thread.start()
        return self

    def attach(self, conn: Any) -> None:
        self._conn = conn
        self._sock = getattr(conn, "sock", None)

    def hold(self, sock: Any) -> None:
        """The socket to shut first, kept even after the connection lets go of it (http.client
        gives a response that ends with the connection its socket and forgets it)."""
        self._sock = sock

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while not self._done.is_set():
            for sock in (self._sock, getattr(self._conn, "sock", None)):
                if sock is None:
                    continue
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # the blocked thread's recv returns now
                    return
                except OSError:  # closed, or its descriptor moved to a TLS socket: try the other
                    continue
            self._done.wait(self.POLL)
