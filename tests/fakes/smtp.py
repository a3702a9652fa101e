"""A real local SMTP server (aiosmtpd) whose replies tests can script.

    with FakeSmtp(username="u", password="p") as smtp:
        smtp.reject("bad@example.org")               # RCPT -> 550 5.1.1
        smtp.script("MAIL", "451 4.7.1 Rate limit exceeded, try again later")
        smtp.script("DATA", Hang(1.5))                # store, then answer after the client gave up
        smtp.script("DATA", "drop")                   # hang up after the content, without a reply
        smtp.script("MAIL", "drop")                   # hang up at MAIL FROM (nothing was sent)
        ...
        smtp.received                                 # [(rcpt_tos, content bytes)]
        smtp.handler.on_message = hook                # hook(n) after the n-th message is stored, before its 250
        FakeSmtp(smtputf8=True)                       # offers SMTPUTF8 (non-ASCII addresses)

Script entries are used by the next command of that kind, in order.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass(frozen=True)
class Hang:
    """Store the message, then answer 250 only after ``seconds``."""

    seconds: float


def free_port() -> int:
    """A port that was free a moment ago (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedHandler:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.rejected: dict[str, str] = {}
        self.connections = 0
        self.transports: list[asyncio.Transport] = []  # every client connection, for hang_up()
        self.on_message: Callable[[int], None] | None = None
        self._script: dict[str, deque[Any]] = {"MAIL": deque(), "RCPT": deque(), "DATA": deque()}
        self._lock = threading.Lock()

    def _next(self, command: str) -> Any:
        with self._lock:
            queue = self._script[command]
            return queue.popleft() if queue else None

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        self.connections += 1
        self.transports.append(server.transport)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        action = self._next("MAIL")
        if action == "drop":
            server.transport.close()
            return "250 OK (never seen: the connection is closed)"
        if action:
            return action
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.lower() in self.rejected:
            return self.rejected[address.lower()]
        action = self._next("RCPT")
        if action:
            return action
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        action = self._next("DATA")
        if action == "drop":
            server.transport.close()
            return "250 OK (never seen: the connection is closed)"
        if isinstance(action, str):
            return action
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            count = len(self.received)
        if self.on_message is not None:
            self.on_message(count)  # blocks the server's loop: the client waits for its 250
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
        return "250 2.0.0 OK queued"


class FakeSmtp:
    def __init__(self, username: str | None = None, password: str | None = None, *, smtputf8: bool = False) -> None:
        self.handler = ScriptedHandler()
        self.port = free_port()
        self.username, self.password = username, password
        kwargs: dict[str, Any] = {"timeout": 300}  # idle clients: hang_up() closes them when a test wants
        kwargs["enable_SMTPUTF8"] = smtputf8  # advertise SMTPUTF8 (RFC 6531) in the EHLO answer
        if username:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=5, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login.decode() == self.username and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)

    @property
    def received(self) -> list[tuple[list[str], bytes]]:
        return self.handler.received

    def reject(self, address: str, reply: str = "550 5.1.1 <{}>: Recipient address rejected: User unknown") -> None:
        self.handler.rejected[address.lower()] = reply.format(address)

    def script(self, command: str, *actions: Any) -> None:
        self.handler._script[command.upper()].extend(actions)

    def hang_up(self) -> None:
        """Close every client connection now (with the 421 a server timing out idle clients
        sends), and return once it is done."""
        closed = threading.Event()

        def close_all() -> None:
            for transport in self.handler.transports:
                if not transport.is_closing():
                    transport.write(b"421 4.4.2 Closing connection, idle too long\r\n")
                    transport.close()
            closed.set()

        self.controller.loop.call_soon_threadsafe(close_all)
        assert closed.wait(30), "the SMTP server's loop did not run"

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Provider options pointing at this server (plain SMTP, short timeout for tests)."""
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout": 0.5, **overrides}

    def __enter__(self) -> "FakeSmtp":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
