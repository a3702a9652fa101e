"""A fake Mailgun server speaking the documented Messages, Events and Suppressions APIs
(shared/providers.md §3).

- ``POST /v3/{domain}/messages``: HTTP basic auth with user ``api`` (401 with the plain-text body
  ``Forbidden``, as Mailgun answers); form fields with repeated keys; validation as documented
  (``from``, ``to``, ``text`` or ``html``, at most 1,000 recipients, addresses, the JSON of
  ``recipient-variables``, ``o:``/``h:``/``v:`` values within 16 kB); ``404 Domain not found``;
  success 200 ``{"id": "<...>", "message": "Queued. Thank you."}``. With ``recipient-variables``
  each recipient gets their own message, ``%recipient.<key>%`` substituted in the subject, both
  parts, ``h:`` and ``v:`` values; WITHOUT it one message goes to every address in To (what
  Mailgun does), so tests can see a leak. Each stored message gets an ``accepted`` event.
- ``429`` whose message says ``try again after <RFC 2822 date>`` (scripted or random).
- ``GET /v3/{domain}/events`` (``event``, ``tags``, ``recipient``, ``begin``/``end`` as RFC 2822 or
  epoch, ``ascending``, ``limit`` <= 300, ``paging.next``) and ``GET /v3/{domain}/{bounces,
  unsubscribes,complaints}`` (``limit`` <= 1000, ``paging.next``; an empty page at the end).

Standalone, from ``tests/``: ``python -m fakes.mailgun --port 0 --key KEY --domain D [--latency-ms
50] [--light] [--fault-rate-429 ...]``; prints ``PORT <n>``; ``GET /_fake/messages`` gives counts.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from .server import FakeServer, RandomFaults, Request, Response

MAX_RECIPIENTS = 1000
MAX_OPTIONS_BYTES = 16 * 1024
EVENTS_LIMIT = 300
SUPPRESSION_LIMIT = 1000
TABLES = ("bounces", "unsubscribes", "complaints")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
VARIABLE = re.compile(r"%recipient\.([A-Za-z0-9_\-]+)%")


def message(status: int, text: str) -> Response:
    return Response(status, {"message": text})


def too_many() -> Response:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1), usegmt=True)
    return message(429, f"Domain is not allowed to send: recipient limit exceeded, try again after {when}")


def server_error() -> Response:
    return message(500, "Internal Server Error")


class FakeMailgun(FakeServer):
    def __init__(self, key: str = "key-test", domain: str = "news.clinic.example", port: int = 0, latency: float = 0.0, light: bool = False) -> None:
        super().__init__(port=port, latency=latency, record=not light)
        self.key, self.domain, self.light = key, domain, light
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.per_recipient: Counter[str] = Counter()
        self.uploaded = 0
        self.invalid: set[str] = set()
        self.suppressed: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self._store_lock = threading.Lock()
        self.route("POST", "/v3/{domain}/messages", self._authed(self._send))
        self.route("GET", "/v3/{domain}/events", self._authed(self._events))
        self.route("GET", "/v3/{domain}/{table}", self._authed(self._table))
        self.route("GET", "/_fake/messages", self._admin_messages)

    def random_faults(self, config: RandomFaults | None) -> None:
        if config is not None:
            config = RandomFaults(**{**config.__dict__, "make_429": too_many, "make_500": server_error})
        super().random_faults(config)

    def suppress(self, address: str, table: str = "bounces", created_at: datetime | None = None, **fields: Any) -> None:
        entry = {"address": address, "created_at": format_datetime(created_at or datetime.now(timezone.utc), usegmt=True), **fields}
        with self._store_lock:
            self.suppressed[table].append(entry)

    def refuse(self, address: str) -> None:
        """The messages request answers 400 when it holds this address (Mailgun names none)."""
        self.invalid.add(address.lower())

    # -- auth ------------------------------------------------------------------------------
    def _authed(self, handler):
        def check(request: Request, domain: str, **params: str) -> Response:
            expected = "Basic " + base64.b64encode(f"api:{self.key}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return Response(401, b"Forbidden", {"Content-Type": "text/plain"})
            if domain != self.domain:
                return message(404, f"Domain not found: {domain}")
            return handler(request, **params)

        return check

    # -- messages --------------------------------------------------------------------------
    def _send(self, request: Request) -> Response:
        with self._store_lock:
            self.uploaded += len(request.body)
        fields = form_fields(request, self.light)
        single = {k: v for k, v in fields}
        to = [a for _, a in getaddresses([v for k, v in fields if k == "to"]) if a]
        if not single.get("from"):
            return message(400, "'from' parameter is missing")
        if not to:
            return message(400, "'to' parameter is missing")
        if not (single.get("text") or single.get("html")):
            return message(400, "Need at least one of 'text' or 'html' parameters specified")
        if len(to) > MAX_RECIPIENTS:
            return message(400, f"Too many recipients, max is {MAX_RECIPIENTS}")
        if any(not ADDRESS.match(a) or a.lower() in self.invalid for a in to):
            return message(400, "to parameter is not a valid address. please check documentation")
        if sum(len(k) + len(v) for k, v in fields if k[:2] in ("o:", "h:", "v:")) > MAX_OPTIONS_BYTES:
            return message(400, "Options are too big; the limit is 16kb")
        variables: dict[str, Any] | None = None
        if "recipient-variables" in single:
            try:
                variables = json.loads(single["recipient-variables"])
                if not isinstance(variables, dict):
                    raise ValueError
            except ValueError:
                return message(400, "recipient-variables parameter is not a valid JSON")
        message_id = f"{time.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(8)}@{self.domain}"
        copies = [(a, variables.get(a, {})) for a in to] if variables is not None else [(", ".join(to), None)]
        prefixed = {prefix: [(k, v) for k, v in fields if k.startswith(prefix)] for prefix in ("o:", "h:", "v:")}
        stored = [self._message(prefixed, single, rcpt, values, message_id) for rcpt, values in copies]
        with self._store_lock:
            for m in stored:
                self.messages.append(m)
                self.per_recipient.update(a.lower() for a in m["to"].split(", "))
                self.events.append(accepted_event(m))
        return Response(200, {"id": f"<{message_id}>", "message": "Queued. Thank you."})

    def _message(self, prefixed: dict[str, list[tuple[str, str]]], single: dict[str, str], to: str, values: dict[str, Any] | None, message_id: str) -> dict[str, Any]:
        def sub(text: str) -> str:
            if values is None:
                return text
            return VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)

        stored: dict[str, Any] = {"to": to, "id": message_id, "tags": [v for k, v in prefixed["o:"] if k == "o:tag"], "timestamp": time.time()}
        stored["user-variables"] = {k[2:]: sub(v) for k, v in prefixed["v:"]}
        headers = {k[2:]: sub(v) for k, v in prefixed["h:"]}
        stored["message-id"] = headers.get("Message-Id", f"<{message_id}>").strip("<>")
        if not self.light:
            stored.update(subject=sub(single.get("subject", "")), text=sub(single.get("text", "")), html=sub(single.get("html", "")), headers=headers, sender=single["from"])
            stored["options"] = dict(prefixed["o:"])
        return stored

    # -- events and suppressions -------------------------------------------------------------
    def _events(self, request: Request) -> Response:
        try:
            begin, end = _time(request.arg("begin")), _time(request.arg("end"))
            limit = int(request.arg("limit", "100"))
            offset = int(request.arg("p", "0"))
        except ValueError:
            return message(400, "Invalid parameters")
        if not 1 <= limit <= EVENTS_LIMIT:
            return message(400, f"limit must be between 1 and {EVENTS_LIMIT}")
        event, tag, recipient = request.arg("event"), request.arg("tags"), (request.arg("recipient") or "").lower()
        with self._store_lock:
            found = [
                e for e in self.events
                if (event is None or e["event"] == event) and (tag is None or tag in e["tags"]) and (not recipient or e["recipient"].lower() == recipient)
                and (begin is None or e["timestamp"] >= begin) and (end is None or e["timestamp"] <= end)
            ]
        found.sort(key=lambda e: e["timestamp"], reverse=request.arg("ascending") != "yes")
        page = found[offset : offset + limit]
        args = {k: v[0] for k, v in request.query.items() if k != "p"}
        return Response(200, {"items": page, "paging": {"next": f"{self.url}/v3/{self.domain}/events?{urlencode({**args, 'p': offset + limit})}"}})

    def _table(self, request: Request, table: str) -> Response:
        if table not in TABLES:
            return message(404, "Not found")
        limit = int(request.arg("limit", "100"))
        offset = int(request.arg("p", "0"))
        if not 1 <= limit <= SUPPRESSION_LIMIT:
            return message(400, f"limit must be between 1 and {SUPPRESSION_LIMIT}")
        with self._store_lock:
            entries = sorted(self.suppressed[table], key=lambda e: e["address"])  # alphabetical, as documented
        page = entries[offset : offset + limit]
        base = f"{self.url}/v3/{self.domain}/{table}"
        return Response(200, {"items": page, "paging": {"first": f"{base}?limit={limit}", "next": f"{base}?{urlencode({'limit': limit, 'p': offset + limit})}", "previous": f"{base}?limit={limit}", "last": f"{base}?limit={limit}"}})

    def _admin_messages(self, request: Request) -> Response:
        with self._store_lock:
            return Response(200, {"count": len(self.messages), "per_recipient": dict(self.per_recipient), "uploaded": self.uploaded})


def form_fields(request: Request, light: bool) -> list[tuple[str, str]]:
    """The messages request's fields, urlencoded or multipart/form-data (Mailgun takes both)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return multipart_fields(request.body, content_type.partition("boundary=")[2].strip('"'))
    return light_fields(request.body) if light else parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)


def multipart_fields(body: bytes, boundary: str) -> list[tuple[str, str]]:
    out = []
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            out.append((name.group(1).decode(), value[:-2].decode("utf-8") if value.endswith(b"\r\n") else value.decode("utf-8")))
    return out


def light_fields(body: bytes) -> list[tuple[str, str]]:
    """The form's fields with the large parts left encoded (only their presence matters): a
    benchmark's fake must not spend its CPU decoding 1,000 copies' worth of HTML."""
    out = []
    for pair in body.split(b"&"):
        key, _, value = pair.partition(b"=")
        name = unquote_plus(key.decode())
        out.append((name, "x" if name in ("html", "text") and value else unquote_plus(value.decode())))
    return out


def accepted_event(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": secrets.token_urlsafe(16), "event": "accepted", "timestamp": m["timestamp"], "recipient": m["to"], "tags": m["tags"],
        "user-variables": m["user-variables"], "message": {"headers": {"message-id": m["message-id"], "to": m["to"]}},
    }


def _time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return parsedate_to_datetime(value).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.mailgun", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="key-test")
    parser.add_argument("--domain", default="news.clinic.example")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--light", action="store_true", help="store only who got what (benchmarks)")
    parser.add_argument("--fault-rate-429", type=float, default=0.0)
    parser.add_argument("--fault-rate-500", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeMailgun(key=args.key, domain=args.domain, port=args.port, latency=args.latency_ms / 1000, light=args.light)
    fake.random_faults(RandomFaults(rate_429=args.fault_rate_429, rate_500=args.fault_rate_500, seed=args.seed))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with fake:
        print(f"PORT {fake.port}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
