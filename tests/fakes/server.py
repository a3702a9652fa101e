"""Reusable machinery for fake provider HTTP servers (127.0.0.1 only).

A ``FakeServer`` is a ThreadingHTTPServer (HTTP/1.1 keep-alive, Content-Length on every answer)
running in a daemon thread. A provider fake adds routes; the machinery gives every fake:

- a record of every request (method, path, query, headers, raw and parsed body);
- a scripting queue of faults applied to the next N requests: a canned answer (401, 422, 429
  with or without Retry-After, 500...), added latency, "process then hang" (the request is
  handled and stored, then the answer comes later than the client's timeout: a true in-doubt
  case), "trickle" (handled and stored, then the answer one byte every N seconds, so no read
  ever times out), "hold" (the request waits until the test releases it: a send caught mid-flight), and
  dropped connections before or after processing;
- a seeded random-fault mode (429 / 500 / slow / drop probabilities) for end-to-end tests.

Paths under ``/_fake/`` are admin paths: never faulted, never recorded.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Literal
from urllib.parse import parse_qs, urlsplit

try:  # parsing 20 MB batch bodies is the fake's hot path in benchmarks
    import orjson

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - stdlib fallback

    def loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return json.dumps(value).encode()


ADMIN_PREFIX = "/_fake/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any = None  # parsed body when it was valid JSON, else None
    json_error: str | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None  # dict/list -> JSON, bytes -> as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return dumps(self.body), headers


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or around) normal handling."""

    respond: Response | None = None  # answer this instead of handling the request
    latency: float = 0.0  # seconds to wait before handling
    hang: float = 0.0  # handle (and store), then wait this long before answering
    drop: Literal["before", "after"] | None = None  # close the socket without answering
    hold: threading.Event | None = None  # received and recorded, handled only once the test sets it
    path: str | None = None  # only requests whose path starts with this consume the fault
    echo_headers: bool = False  # the answer repeats the request's headers, as a careless proxy's error page does
    trickle: float = 0.0  # handle (and store), then send the answer one byte every this many seconds

    @classmethod
    def status(cls, status: int, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> "Fault":
        return cls(respond=Response(status, body, headers or {}), **kw)


@dataclass(frozen=True)
class RandomFaults:
    """Seeded random faults: each request draws once (429, 500, slow, drop, else normal)."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    drop_rate: float = 0.0
    seed: int = 0
    make_429: Callable[[], Response] = lambda: Response(429, {"ErrorCode": 429, "Message": "Rate limit exceeded."})
    make_500: Callable[[], Response] = lambda: Response(500, {"ErrorCode": 500, "Message": "Internal server error."})


Route = Callable[..., Response]  # (request, **path_params) -> Response


class FakeServer:
    """A scripted, recording HTTP server on 127.0.0.1. Use as a context manager or start/stop."""

    def __init__(self, port: int = 0, latency: float = 0.0, record: bool = True) -> None:
        self.latency = latency
        self.record = record
        self.requests: list[Request] = []
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._faults: deque[Fault] = deque()
        self._random: RandomFaults | None = None
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeServer":
        # A short poll interval keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="fake-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers sleeping in latency/hang
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routes and scripting --------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Route) -> None:
        """Add a route; ``{name}`` in the pattern matches one path segment and is passed to the
        handler as a keyword argument."""
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def script(self, *faults: Fault, times: int = 1) -> None:
        """Apply these faults, in order, to the next requests (each fault ``times`` times)."""
        with self._lock:
            for fault in faults:
                self._faults.extend([fault] * times)

    def random_faults(self, config: RandomFaults | None) -> None:
        with self._lock:
            self._random = config
            self._rng = random.Random(config.seed if config else 0)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    # -- used by the handler thread --------------------------------------------------------
    def next_fault(self, path: str) -> Fault | None:
        if path.startswith(ADMIN_PREFIX):
            return None
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path is None or path.startswith(fault.path):
                    del self._faults[i]
                    return fault
            return self._draw_random()

    def _draw_random(self) -> Fault | None:
        cfg = self._random
        if cfg is None:
            return None
        roll = self._rng.random()
        for rate, fault in (
            (cfg.rate_429, lambda: Fault(respond=cfg.make_429())),
            (cfg.rate_500, lambda: Fault(respond=cfg.make_500())),
            (cfg.slow_rate, lambda: Fault(latency=cfg.slow_seconds)),
            (cfg.drop_rate, lambda: Fault(drop="after")),
        ):
            if roll < rate:
                return fault()
            roll -= rate
        return None

    def dispatch(self, request: Request) -> Response:
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                try:
                    return handler(request, **match.groupdict())
                except Exception as err:  # a bug in a fake must show, not hang up silently
                    return Response(500, {"ErrorCode": 500, "Message": f"fake server error: {err!r}"})
        return Response(404, {"ErrorCode": 404, "Message": f"No route for {request.method} {request.path}"})

    def remember(self, request: Request) -> None:
        if self.record and not request.path.startswith(ADMIN_PREFIX):
            with self._lock:
                self.requests.append(request)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    def wait_for(self, event: threading.Event) -> None:
        """Until the test sets ``event`` (or the server stops)."""
        while not (event.wait(0.02) or self.stopping.is_set()):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never block shutdown
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        request = self._read_request()
        fault = fake.next_fault(request.path) or Fault()
        fake.remember(request)
        if fault.drop == "before":
            return self._drop()
        if fault.hold is not None:
            fake.wait_for(fault.hold)
        fake.sleep(fake.latency + fault.latency)
        response = fault.respond or fake.dispatch(request)
        if fault.echo_headers:
            response = echoed(response, request)
        if fault.drop == "after":
            return self._drop()
        fake.sleep(fault.hang)
        if fault.trickle:
            return self._trickle(response, fault.trickle)
        self._write(response)

    def _read_request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        parsed, error = None, None
        if body:
            try:
                parsed = loads(body)
            except ValueError as err:
                error = str(err)
        return Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
            json_error=error,
        )

    def _write(self, response: Response) -> None:
        body, headers = response.encoded()
        try:
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed: nothing to answer
            self.close_connection = True

    def _trickle(self, response: Response, interval: float) -> None:
        """The whole answer, status line first, one byte at a time, until it is out, the client
        hangs up or the server stops."""
        body, headers = response.encoded()
        headers = {**headers, "Content-Length": str(len(body))}
        head = f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}\r\n"
        data = (head + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode() + body
        self.close_connection = True
        for i in range(len(data)):
            if self.server.fake.stopping.wait(interval):
                return
            try:
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                return

    def _drop(self) -> None:
        """Close the connection without a byte of answer, as a crashed proxy would."""
        self.close_connection = True


def echoed(response: Response, request: Request) -> Response:
    """The answer with the request's headers in it (the X- ones first, as a proxy's debug page
    lists them): in a JSON body's Message, else as an HTML page."""
    ordered = sorted(request.headers.items(), key=lambda item: not item[0].startswith("x-"))
    seen = "; ".join(f"{name}: {value}" for name, value in ordered)
    if isinstance(response.body, dict):
        body = {**response.body, "Message": f"{response.body.get('Message', '')} (request headers: {seen})"}
        return Response(response.status, body, response.headers)
    return Response(response.status, f"<html>Bad gateway. Your request: {seen}</html>".encode(), {**response.headers, "Content-Type": "text/html"})


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``predicate`` (for assertions on work a handler thread finishes after answering).
    The timeout is only a deadline for a state that never comes, so it is generous: CI is busy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()
