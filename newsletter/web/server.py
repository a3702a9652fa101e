"""Running the site under uvicorn (``newsletter serve``): bind first, so a taken port or a bad
address is a clear error before anything starts, then serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

import uvicorn

from ..config import Settings
from ..errors import NewsletterError
from ..store.db import open_store, quick_check
from .app import create_app
from .security import install_log_redaction


class ServeError(NewsletterError):
    """The site cannot start (the address cannot be bound)."""


@dataclass
class Listening:
    server: uvicorn.Server
    sock: socket.socket
    url: str

    def run(self) -> None:
        """Until Ctrl-C or SIGTERM (uvicorn finishes the requests in flight first)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()


def _check_database(settings: Settings) -> None:
    conn = open_store(settings)
    try:
        quick_check(conn)
    finally:
        conn.close()


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise _bind_error(host, port, err) from None
    return sock


def _bind_error(host: str, port: int, err: OSError) -> ServeError:
    if err.errno == errno.EADDRINUSE:
        return ServeError(f"{host}:{port}: the port is already in use", hint="Stop the other server on it, or choose another port with --port.")
    if err.errno in (errno.EACCES, errno.EPERM):
        return ServeError(f"{host}:{port}: not allowed to listen on this port", hint="Ports below 1024 need root: use --port 8080 behind the reverse proxy.")
    return ServeError(f"{host}:{port}: cannot listen here ({err.strerror or err})", hint="Check --host: an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.")


def listen(settings: Settings, host: str, port: int, *, include_drafts: bool = False) -> Listening:
    """The app built from the settings (a missing NEWSLETTER_SECRET fails here) on a bound socket,
    after a quick check of every page of the database (a damaged file is an error now, with how
    to recover, not a 500 on some later request)."""
    _check_database(settings)
    app = create_app(settings, include_drafts=include_drafts)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level="info", lifespan="off", proxy_headers=True, server_header=False)
    install_log_redaction()  # again after uvicorn's logging setup: the access log never shows a token
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return Listening(uvicorn.Server(config), sock, f"http://{shown}:{bound_port}")
