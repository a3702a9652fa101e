"""A fake SendGrid v3 server speaking the documented API (shared/providers.md §2).

- ``POST /v3/mail/send``: Bearer auth (401 with SendGrid's error texts); the body validated as
  documented (1..1000 personalizations, at most 1000 recipients in all, each address once, a
  ``from``, a subject, ``content`` with text/plain first, string substitutions, header names
  SendGrid refuses); 400 ``{"errors": [{"message", "field", "help"}]}`` naming the field
  (``personalizations.3.to.0.email``); success 202, empty body, ``X-Message-Id``; sandbox mode
  200 and nothing stored. Each personalization is stored as the message its recipient gets:
  the substitutions applied to subject and both parts (one pass, as SendGrid does), the message's
  and the personalization's headers merged, ``custom_args`` merged, so tests read each final
  message (``fake.messages``).
- ``429`` with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset`` (Unix
  seconds) and ``{"errors": [{"field": null, "message": "too many requests"}]}`` when more than
  ``rate_limit`` requests come within one second (0: no limit), or scripted; other replies carry
  no rate-limit headers (real mail/send replies do not reliably).
- ``GET /v3/suppression/{bounces,spam_reports,unsubscribes,invalid_emails,blocks}`` with
  ``start_time``, ``end_time``, ``limit`` (<= 500) and ``offset``.
- ``GET /v3/messages?query=...&limit=`` (Email Activity, ``to_email="..."`` clauses only), at most
  6 requests a minute (429 past that).

Standalone (benchmarks, other processes), from ``tests/``::

    python -m fakes.sendgrid --port 0 --key KEY [--latency-ms 50] [--light] [--fault-rate-429 ...]

prints ``PORT <n>`` first and serves until SIGTERM; ``GET /_fake/messages`` gives the count and
per-recipient counts, ``POST /_fake/suppressions`` (``{"list", "email", ...}``) lists an address.
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter, deque
from typing import Any

from .server import FakeServer, RandomFaults, Request, Response

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
LISTS = ("bounces", "spam_reports", "unsubscribes", "invalid_emails", "blocks")
RESERVED_HEADERS = {"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"}
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACTIVITY_PER_MINUTE = 6


def errors(status: int, *items: tuple[str | None, str]) -> Response:
    return Response(status, {"errors": [{"message": message, "field": field, "help": None} for field, message in items]})


def too_many() -> Response:
    reset = str(int(time.time()) + 1)
    headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    return Response(429, {"errors": [{"field": None, "message": "too many requests"}]}, headers)


def server_error() -> Response:
    return errors(500, (None, "Internal Server Error"))


class FakeSendGrid(FakeServer):
    def __init__(self, key: str = "SG.test-key", port: int = 0, latency: float = 0.0, light: bool = False, rate_limit: int = 0) -> None:
        super().__init__(port=port, latency=latency, record=not light)
        self.key = key
        self.light = light
        self.rate_limit = rate_limit
        self.messages: list[dict[str, Any]] = []
        self.per_recipient: Counter[str] = Counter()
        self.uploaded = 0  # bytes of mail/send bodies received (benchmarks)
        self.invalid: set[str] = set()  # addresses refused as invalid at mail/send
        self.suppressed: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTS}
        self._recent: deque[float] = deque()
        self._activity: deque[float] = deque()
        self._lock_store = threading.Lock()
        self.route("POST", "/v3/mail/send", self._authed(self._send))
        self.route("GET", "/v3/suppression/{listing}", self._authed(self._list))
        self.route("GET", "/v3/messages", self._authed(self._messages))
        self.route("GET", "/_fake/messages", self._admin_messages)
        self.route("POST", "/_fake/suppressions", self._admin_suppress)

    # -- test helpers ----------------------------------------------------------------------
    def suppress(self, email: str, listing: str = "bounces", created: int | None = None, **fields: Any) -> None:
        entry = {"created": int(time.time()) if created is None else created, "email": email, **fields}
        with self._lock_store:
            self.suppressed[listing].append(entry)

    def refuse(self, email: str) -> None:
        """mail/send answers 400 'Does not contain a valid address.' for this address."""
        self.invalid.add(email.lower())

    def random_faults(self, config: RandomFaults | None) -> None:
        if config is not None:
            config = RandomFaults(**{**config.__dict__, "make_429": too_many, "make_500": server_error})
        super().random_faults(config)

    # -- auth ------------------------------------------------------------------------------
    def _authed(self, handler):
        def check(request: Request, **params: str) -> Response:
            header = request.headers.get("authorization", "")
            if not header:
                return errors(401, (None, "authorization required"))
            if header != f"Bearer {self.key}":
                return errors(401, (None, "The provided authorization grant is invalid, expired, or revoked"))
            return handler(request, **params)

        return check

    def _throttled(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        with self._lock_store:
            while self._recent and now - self._recent[0] > 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                return True
            self._recent.append(now)
        return False

    # -- mail/send -------------------------------------------------------------------------
    def _send(self, request: Request) -> Response:
        with self._lock_store:
            self.uploaded += len(request.body)
        if self._throttled():
            return too_many()
        body = request.json
        if not isinstance(body, dict):
            return errors(400, (None, "Bad Request" if request.json_error else "The request body must be a JSON object."))
        problems = validate(body, self.invalid)
        if problems:
            return errors(400, *problems)
        if (body.get("mail_settings") or {}).get("sandbox_mode", {}).get("enable") is True:
            return Response(200, None)
        message_id = secrets.token_urlsafe(16)[:22]
        if self.light:  # no substitution: only who got what (benchmarks)
            stored = [light_message(body, p, f"{message_id}.filter0001.{n}") for n, p in enumerate(body["personalizations"])]
        else:
            stored = [final_message(body, p, f"{message_id}.filter0001.{n}") for n, p in enumerate(body["personalizations"])]
        with self._lock_store:
            self.messages += stored
            self.per_recipient.update(m["to"].lower() for m in stored)
        return Response(202, None, {"X-Message-Id": message_id})

    # -- suppressions and activity ---------------------------------------------------------
    def _list(self, request: Request, listing: str) -> Response:
        if listing not in LISTS:
            return errors(404, (None, "resource not found"))
        try:
            limit = int(request.arg("limit", "500"))
            offset = int(request.arg("offset", "0"))
            start = int(request.arg("start_time", "0"))
            end = int(request.arg("end_time", str(2**62)))
        except ValueError:
            return errors(400, ("limit", "limit, offset, start_time and end_time must be integers"))
        if not 1 <= limit <= 500:
            return errors(400, ("limit", "limit must be between 1 and 500"))
        with self._lock_store:
            entries = [e for e in self.suppressed[listing] if start <= e["created"] <= end]
        entries.sort(key=lambda e: e["created"], reverse=True)
        return Response(200, entries[offset : offset + limit])

    def _messages(self, request: Request) -> Response:
        now = time.monotonic()
        with self._lock_store:
            while self._activity and now - self._activity[0] > 60:
                self._activity.popleft()
            if len(self._activity) >= ACTIVITY_PER_MINUTE:
                return too_many()
            self._activity.append(now)
            wanted = set(re.findall(r'to_email="([^"]+)"', request.arg("query", "")))
            found = [m for m in self.messages if not wanted or m["to"].lower() in wanted]
        limit = int(request.arg("limit", "10"))
        page = [{"msg_id": m["sg_message_id"], "to_email": m["to"], "subject": m.get("subject"), "status": "processed"} for m in found[:limit]]
        return Response(200, {"messages": page})

    # -- admin -----------------------------------------------------------------------------
    def _admin_messages(self, request: Request) -> Response:
        with self._lock_store:
            return Response(200, {"count": len(self.messages), "per_recipient": dict(self.per_recipient), "uploaded": self.uploaded})

    def _admin_suppress(self, request: Request) -> Response:
        spec = request.json if isinstance(request.json, dict) else {}
        self.suppress(spec["email"], spec.get("list", "bounces"))
        return Response(200, {"ok": True})


def validate(body: dict[str, Any], invalid: set[str]) -> list[tuple[str | None, str]]:
    """SendGrid's validation of a mail/send body: every problem, with its field."""
    out: list[tuple[str | None, str]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return [("personalizations", "The personalizations field is required and must have at least one personalization.")]
    if len(personalizations) > MAX_PERSONALIZATIONS:
        return [("personalizations", f"The personalizations field is limited to {MAX_PERSONALIZATIONS} personalizations per API request.")]
    seen: set[str] = set()
    total = 0
    for n, p in enumerate(personalizations):
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to:
            out.append((f"personalizations.{n}.to", "The to array is required for all personalization objects, and must have at least one email object with a valid email address."))
            continue
        for k, address in enumerate(to):
            email = (address or {}).get("email", "") if isinstance(address, dict) else ""
            total += 1
            if not ADDRESS.match(email) or email.lower() in invalid:
                out.append((f"personalizations.{n}.to.{k}.email", "Does not contain a valid address."))
            elif email.lower() in seen:
                out.append((f"personalizations.{n}.to", "Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [%s] in the personalizations.%d.to field." % (email, n)))
            seen.add(email.lower())
        subs = p.get("substitutions", {})
        if not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values()):
            out.append((f"personalizations.{n}.substitutions", "Substitutions must be an object of string values."))
        for name in (p.get("headers") or {}):
            if name.lower() in RESERVED_HEADERS:
                out.append((f"personalizations.{n}.headers", f"The header {name} is reserved and cannot be set."))
    if total > MAX_RECIPIENTS:
        out.append(("personalizations", f"The total number of recipients must be no more than {MAX_RECIPIENTS}."))
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        out.append(("from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
    if not body.get("subject") and not all(isinstance(p, dict) and p.get("subject") for p in personalizations):
        out.append(("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
    content = body.get("content")
    if not isinstance(content, list) or not content or not all(isinstance(c, dict) and c.get("value") for c in content):
        out.append(("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."))
    elif content[0].get("type") != "text/plain" and any(c.get("type") == "text/plain" for c in content):
        out.append(("content", "If present, text/plain content must be first, followed by any other content."))
    for name in body.get("headers") or {}:
        if name.lower() in RESERVED_HEADERS:
            out.append(("headers", f"The header {name} is reserved and cannot be set."))
    return out


def substitute(text: str, substitutions: dict[str, str]) -> str:
    """Every tag replaced in one pass (a value that holds another tag is left as it is)."""
    if not substitutions:
        return text
    pattern = re.compile("|".join(re.escape(tag) for tag in sorted(substitutions, key=len, reverse=True)))
    return pattern.sub(lambda m: substitutions[m.group(0)], text)


def final_message(body: dict[str, Any], p: dict[str, Any], sg_message_id: str) -> dict[str, Any]:
    """What one personalization's recipient receives (the parts after substitution)."""
    subs = p.get("substitutions") or {}
    parts = {c["type"]: substitute(c["value"], subs) for c in body["content"]}
    return {
        "to": p["to"][0]["email"],
        "to_name": p["to"][0].get("name"),
        "from": body["from"],
        "reply_to": body.get("reply_to"),
        "subject": substitute(p.get("subject") or body["subject"], subs),
        "text": parts.get("text/plain", ""),
        "html": parts.get("text/html", ""),
        "headers": {**(body.get("headers") or {}), **(p.get("headers") or {})},
        "custom_args": {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})},
        "categories": body.get("categories") or [],
        "tracking_settings": body.get("tracking_settings"),
        "sg_message_id": sg_message_id,
    }


def light_message(body: dict[str, Any], p: dict[str, Any], sg_message_id: str) -> dict[str, Any]:
    return {"to": p["to"][0]["email"], "sg_message_id": sg_message_id, "custom_args": p.get("custom_args") or {}, "categories": body.get("categories") or []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.sendgrid", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="SG.test-key")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--light", action="store_true", help="store only the recipient, ids and custom args (benchmarks)")
    parser.add_argument("--rate-limit", type=int, default=0, help="requests per second before 429 (0: none)")
    parser.add_argument("--fault-rate-429", type=float, default=0.0)
    parser.add_argument("--fault-rate-500", type=float, default=0.0)
    parser.add_argument("--slow-rate", type=float, default=0.0)
    parser.add_argument("--slow-ms", type=float, default=1000.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeSendGrid(key=args.key, port=args.port, latency=args.latency_ms / 1000, light=args.light, rate_limit=args.rate_limit)
    fake.random_faults(RandomFaults(rate_429=args.fault_rate_429, rate_500=args.fault_rate_500, slow_rate=args.slow_rate, slow_seconds=args.slow_ms / 1000, drop_rate=args.drop_rate, seed=args.seed))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with fake:
        print(f"PORT {fake.port}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
