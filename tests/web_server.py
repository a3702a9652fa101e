"""The site under a real uvicorn on 127.0.0.1, in a thread, for tests that speak HTTP to it."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import uvicorn


@contextmanager
def serving(app, *, timeout: float = 30.0) -> Iterator[str]:
    """Run ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    # IPPROTO_TCP given, so asyncio sets TCP_NODELAY on accepted connections (it checks the proto):
    # without it Nagle + delayed ACK add ~40 ms to every response on loopback.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, limit_concurrency=1000, backlog=512)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # uvicorn sets server.started once it accepts connections: wait for that state.
    pause = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if server.started or not thread.is_alive():
            break
        pause.wait(0.01)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
