"""A raw SMTP server on 127.0.0.1 that answers at once except at one stage, where its reply comes
one byte every ``interval`` seconds: no single read ever waits long, so only a total deadline
ends the exchange.

    with TrickleSmtp("tls") as server: ...          # a TLS handshake record (for security = "ssl")
    with TrickleSmtp("greeting") as server: ...     # the 220 banner
    with TrickleSmtp("mail") as server: ...         # the reply to MAIL FROM (nothing sent yet)
    with TrickleSmtp("end", from_nth=3) as server:  # the final reply after the 3rd message's content
        server.received                             # [rcpt list] of every message whose content arrived

A slow reply is long (about 2,000 bytes): without a deadline the client would wait minutes.
"""

from __future__ import annotations

import socket
import threading

STAGES = ("tls", "greeting", "mail", "end")
TLS_RECORD = b"\x16\x03\x03\x40\x00"  # a handshake record of 16 KB, whose bytes then trickle
SLOW_TEXT = "250 " + "queued " * 300


class TrickleSmtp:
    def __init__(self, stage: str, *, interval: float = 0.25, from_nth: int = 1) -> None:
        assert stage in STAGES, stage
        self.stage, self.interval, self.from_nth = stage, interval, from_nth
        self.received: list[list[str]] = []
        self.connections = 0
        self._seen = 0  # how many times the slow stage was reached
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    def __enter__(self) -> "TrickleSmtp":
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for conn in self._conns:  # sessions waiting for a client's next command end now
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.close()

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            self._start(self._session, conn)

    def _slow_now(self, stage: str) -> bool:
        if stage != self.stage:
            return False
        with self._lock:
            self._seen += 1
            return self._seen >= self.from_nth

    def _reply(self, conn: socket.socket, text: str, stage: str = "") -> None:
        if not self._slow_now(stage):
            conn.sendall(text.encode() + b"\r\n")
            return
        for byte in (SLOW_TEXT if text.startswith("250") else text + " " + "please wait " * 150).encode() + b"\r\n":
            if self._stop.is_set():
                return
            conn.sendall(bytes([byte]))
            self._stop.wait(self.interval)

    def _trickle_tls(self, conn: socket.socket) -> None:
        with conn:
            conn.sendall(TLS_RECORD)
            while not self._stop.wait(self.interval):
                conn.sendall(b"\x00")

    def _session(self, conn: socket.socket) -> None:
        rcpts: list[str] = []
        try:
            if self.stage == "tls":
                return self._trickle_tls(conn)
            with conn, conn.makefile("rb") as lines:
                self._reply(conn, "220 trickle.test ESMTP", "greeting")
                for line in lines:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250-trickle.test\r\n250 8BITMIME\r\n")
                    elif verb == b"MAIL":
                        rcpts = []
                        self._reply(conn, "250 OK", "mail")
                    elif verb == b"RCPT":
                        rcpts.append(line.decode().partition(":")[2].strip().strip("<>"))
                        self._reply(conn, "250 OK")
                    elif verb == b"DATA":
                        self._reply(conn, "354 End data with <CR><LF>.<CR><LF>")
                        for content in lines:
                            if content == b".\r\n":
                                break
                        with self._lock:
                            self.received.append(rcpts)
                        self._reply(conn, "250 2.0.0 OK queued", "end")
                    elif verb == b"QUIT":
                        self._reply(conn, "221 Bye")
                        return
                    else:  # RSET, NOOP
                        self._reply(conn, "250 OK")
        except OSError:  # the client shut the connection (its deadline): this session is over
            return
