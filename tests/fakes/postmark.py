"""A fake Postmark server speaking the documented API (shared/providers.md §1, §8).

In tests::

    with FakePostmark(token="tok") as fake:
        provider = PostmarkProvider({"base_url": fake.url}, {"POSTMARK_SERVER_TOKEN": "tok"})
        ...
        assert fake.messages[0]["To"] == "ann@example.org"

``POST /email/bulk`` and its status are in postmark_bulk.py (``fake.bulk``: its knobs).

Standalone (benchmarks, end-to-end tests in another process), from the repository root::

    cd tests && python -m fakes.postmark --port 0 --latency-ms 50 [--fault-rate-429 0.05 ...] [--light]
        [--clock-offset-s 300] [--ambiguous-fold 1]

prints ``PORT 12345`` on its first stdout line and serves until SIGTERM/SIGINT. Admin endpoints
(no token, never faulted): ``GET /_fake/messages`` (count, per-recipient counts, bytes of bulk requests),
``POST /_fake/reset``, ``POST /_fake/suppressions`` (``{"EmailAddress", "Stream"?, ...}``),
``POST /_fake/script`` (``{"status", "body"?, "headers"?, "latency"?, "hang"?, "drop"?, "times"?}``).
The suppression dump answers at most ``dump_cap`` entries (``--dump-cap``; Postmark documents no
paging, so the adapter must split a full answer by reason, dates and origin).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import getaddresses
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .server import FakeServer, Fault, RandomFaults, Request, Response

EASTERN = ZoneInfo("America/New_York")  # Postmark reads fromdate/todate in US Eastern time
TEST_TOKEN = "POSTMARK_API_TEST"  # validates, answers normally, stores nothing
MAX_BATCH = 500
MAX_RECIPIENTS = 50
MAX_SEARCH_COUNT = 500
MAX_SEARCH_WINDOW = 10_000
DEFAULT_STREAM = "outbound"
DUMP_CAP = 500  # entries per suppression dump answer (Postmark documents no paging; ⚠ a guess)
LIGHT_FIELDS = ("To", "Recipients", "MessageID", "Tag", "Metadata", "MessageStream", "ReceivedAt")

NO_TOKEN = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for "
    "either X-Postmark-Server-Token or X-Postmark-Account-Token."
)
BAD_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token header was invalid. Please verify "
    "that you are using a valid token."
)


def error(status: int, code: int, message: str) -> Response:
    return Response(status, {"ErrorCode": code, "Message": message})


def eastern_iso(when: datetime) -> str:
    return when.astimezone(EASTERN).isoformat()


def parse_eastern(text: str, fold: int = 0) -> datetime:
    """``2026-11-03T09:30:00`` or ``2026-11-03``, read as US Eastern wall time (the API's
    documented zone). Postmark does not say which reading it takes of a wall time in the repeated
    autumn hour: ``fold`` picks it (0 the first, EDT; 1 the second, EST), so tests can try both."""
    fmt = "%Y-%m-%dT%H:%M:%S" if "T" in text else "%Y-%m-%d"
    return datetime.strptime(text, fmt).replace(tzinfo=EASTERN, fold=fold)


def date_arg(request: Request, name: str, fold: int = 0) -> datetime | None:
    value = request.arg(name)
    # As UTC: comparing across zones at an ambiguous wall time is subtle (PEP 495); UTC is not.
    return parse_eastern(value, fold).astimezone(timezone.utc) if value else None


def arg_any_case(request: Request, name: str) -> str | None:
    """A query parameter whatever its case (Postmark's docs spell the dump's both ways)."""
    for key, values in request.query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def dump_date(request: Request, name: str, end_of_day: bool = False) -> datetime | None:
    """A dump's date filter (inclusive): a date-only ``todate`` covers that whole day."""
    value = arg_any_case(request, name)
    if not value:
        return None
    when = parse_eastern(value)
    if end_of_day and "T" not in value:
        when = when.replace(hour=23, minute=59, second=59, microsecond=999999)
    return when


class FakePostmark(FakeServer):
    def __init__(
        self,
        token: str = "test-server-token",
        port: int = 0,
        latency: float = 0.0,
        light: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        super().__init__(port=port, latency=latency, record=not light)
        self.token = token
        self.light = light
        self.clock = clock
        # How far this server's clock is off from the tests' (timedelta(minutes=5): five minutes
        # ahead); it stamps ReceivedAt and SubmittedAt. Adjustable while the server runs.
        self.clock_offset = timedelta(0)
        self.ambiguous_fold = 0  # how fromdate/todate in the repeated autumn hour are read (0 or 1)
        self.messages: list[dict[str, Any]] = []  # accepted, oldest first
        self.per_recipient: Counter[str] = Counter()
        self.suppressed: dict[str, dict[str, dict[str, Any]]] = {}  # stream -> email -> entry
        self.dump_cap = DUMP_CAP
        self._store_lock = threading.Lock()
        self.route("POST", "/email", self._authed(self._send_one))
        self.route("POST", "/email/batch", self._authed(self._send_batch))
        self.route("GET", "/messages/outbound", self._authed(self._search))
        from .postmark_bulk import BulkApi  # (it imports this module's helpers)

        self.bulk = BulkApi(self)
        self.bulk.routes(self._authed)
        self.route("GET", "/message-streams/{stream}/suppressions/dump", self._authed(self._dump))
        self.route("GET", "/_fake/messages", self._admin_messages)
        self.route("POST", "/_fake/reset", self._admin_reset)
        self.route("POST", "/_fake/suppressions", self._admin_suppress)
        self.route("POST", "/_fake/script", self._admin_script)

    # -- test helpers ----------------------------------------------------------------------
    def now(self) -> datetime:
        """This server's time: the injected clock, off by ``clock_offset``."""
        return self.clock() + self.clock_offset

    def suppress(
        self,
        email: str,
        stream: str = "broadcast",
        reason: str = "HardBounce",
        origin: str = "Recipient",
        created_at: datetime | None = None,
    ) -> None:
        entry = {
            "EmailAddress": email,
            "SuppressionReason": reason,
            "Origin": origin,
            "CreatedAt": eastern_iso(created_at or self.now()),
        }
        with self._store_lock:
            self.suppressed.setdefault(stream, {})[email.lower()] = entry

    def add_accepted(self, to: str, tag: str | None, received_at: datetime, **fields: Any) -> dict[str, Any]:
        """Store a message as if it had been sent at ``received_at`` (for search tests)."""
        item = {"From": "news@example.org", "To": to, "Subject": "", "Tag": tag, "Metadata": {}, **fields}
        return self._store(item, received_at)

    def reset(self) -> None:
        with self._store_lock:
            self.messages.clear()
            self.per_recipient.clear()
            self.suppressed.clear()
        self.bulk.jobs.clear()
        self.clear()

    # -- auth ------------------------------------------------------------------------------
    def _authed(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        def check(request: Request, **params: str) -> Response:
            token = request.headers.get("x-postmark-server-token")
            if not token:
                return error(401, 10, NO_TOKEN)
            if token not in (self.token, TEST_TOKEN):
                return error(401, 10, BAD_TOKEN)
            return handler(request, **params)

        return check

    def _dry_run(self, request: Request) -> bool:
        return request.headers.get("x-postmark-server-token") == TEST_TOKEN

    # -- sending ---------------------------------------------------------------------------
    def _send_one(self, request: Request) -> Response:
        if not isinstance(request.json, dict):
            return self._bad_json(request)
        result = self._accept(request.json, dry_run=self._dry_run(request))
        status = 200 if result["ErrorCode"] == 0 else 422
        return Response(status, result)

    def _send_batch(self, request: Request) -> Response:
        body = request.json
        if not isinstance(body, list):
            return self._bad_json(request)
        if len(body) > MAX_BATCH:
            return error(422, 410, f"Too many batch messages ({len(body)}). Maximum is {MAX_BATCH} per request.")
        dry_run = self._dry_run(request)
        return Response(200, [self._accept(item, dry_run=dry_run) for item in body])

    def _bad_json(self, request: Request) -> Response:
        if request.json_error or not request.body:
            return error(422, 402, "Received invalid JSON input.")
        return error(422, 403, "Incompatible JSON input.")

    def _accept(self, item: Any, dry_run: bool) -> dict[str, Any]:
        """Validate one message; store it unless invalid or dry-run; answer its result object."""
        problem = validate_message(item)
        if problem:
            code, message = problem
            return {"ErrorCode": code, "Message": message}
        stream = item.get("MessageStream") or DEFAULT_STREAM
        inactive = self._inactive(stream, recipients(item))
        if inactive:
            return {"ErrorCode": 406, "Message": inactive_message(inactive)}
        stored = {"MessageID": str(uuid.uuid4())} if dry_run else self._store(item, self.now())
        return {
            "To": item["To"],
            "SubmittedAt": eastern_iso(stored.get("ReceivedAt") or self.now()),
            "MessageID": stored["MessageID"],
            "ErrorCode": 0,
            "Message": "OK",
        }

    def _inactive(self, stream: str, addresses: list[str]) -> list[str]:
        with self._store_lock:
            listed = self.suppressed.get(stream, {})
            return [a for a in addresses if a.lower() in listed]

    def _store(self, item: dict[str, Any], received_at: datetime, addresses: list[str] | None = None) -> dict[str, Any]:
        stored = dict(item)
        stored.update(
            MessageID=str(uuid.uuid4()),
            Recipients=recipients(item) if addresses is None else addresses,
            MessageStream=item.get("MessageStream") or DEFAULT_STREAM,
            ReceivedAt=received_at,
        )
        if self.light:
            stored = {k: stored.get(k) for k in LIGHT_FIELDS}
        with self._store_lock:
            self.messages.append(stored)
            self.per_recipient.update(a.lower() for a in stored["Recipients"])
        return stored

    # -- outbound search -------------------------------------------------------------------
    def _search(self, request: Request) -> Response:
        try:
            count, offset = int(request.arg("count") or ""), int(request.arg("offset") or "")
        except ValueError:
            return error(422, 300, "The 'count' and 'offset' parameters are required whole numbers.")
        if not 1 <= count <= MAX_SEARCH_COUNT or offset < 0:
            return error(422, 300, f"'count' must be between 1 and {MAX_SEARCH_COUNT}; 'offset' must be 0 or more.")
        if count + offset > MAX_SEARCH_WINDOW:
            return error(422, 300, f"'count' + 'offset' must not exceed {MAX_SEARCH_WINDOW}. Narrow the search with dates.")
        try:
            found = self._filter(request)
        except ValueError as err:
            return error(422, 300, f"Invalid date: {err}")
        found.sort(key=lambda m: m["ReceivedAt"], reverse=True)  # newest first
        page = [outbound_summary(m) for m in found[offset : offset + count]]
        return Response(200, {"TotalCount": len(found), "Messages": page})

    def _filter(self, request: Request) -> list[dict[str, Any]]:
        tag, recipient = request.arg("tag"), (request.arg("recipient") or "").lower()
        fold = self.ambiguous_fold
        since, until = date_arg(request, "fromdate", fold), date_arg(request, "todate", fold)
        stream = request.arg("messagestream")
        with self._store_lock:
            snapshot = list(self.messages)
        return [
            m
            for m in snapshot
            if (tag is None or m.get("Tag") == tag)
            and (not recipient or recipient in (r.lower() for r in m["Recipients"]))
            and (since is None or m["ReceivedAt"] >= since)
            and (until is None or m["ReceivedAt"] <= until)
            and (stream is None or m["MessageStream"] == stream)
        ]

    # -- suppressions ----------------------------------------------------------------------
    def _dump(self, request: Request, stream: str) -> Response:
        """Filters as documented (reason, origin, address, inclusive from/to dates; the docs spell
        them ``fromdate`` and ``FromDate``: either is read). No paging is documented, so like any
        capped answer it returns at most ``dump_cap`` entries, newest first."""
        since, until = dump_date(request, "fromdate"), dump_date(request, "todate", end_of_day=True)
        wanted = {k: v for k in ("EmailAddress", "SuppressionReason", "Origin") if (v := arg_any_case(request, k))}
        with self._store_lock:
            entries = list(self.suppressed.get(stream, {}).values())
        kept = [
            e
            for e in entries
            if all(e[k].lower() == v.lower() for k, v in wanted.items())
            and (since is None or datetime.fromisoformat(e["CreatedAt"]) >= since)
            and (until is None or datetime.fromisoformat(e["CreatedAt"]) <= until)
        ]
        kept.sort(key=lambda e: datetime.fromisoformat(e["CreatedAt"]), reverse=True)
        return Response(200, {"Suppressions": kept[: self.dump_cap]})

    # -- admin -----------------------------------------------------------------------------
    def _admin_messages(self, request: Request) -> Response:
        with self._store_lock:
            counts = {"count": len(self.messages), "per_recipient": dict(self.per_recipient)}
        return Response(200, {**counts, "bulk_bytes_received": self.bulk.bytes_received})

    def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return Response(200, {"ok": True})

    def _admin_suppress(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else {}
        if not body.get("EmailAddress"):
            return Response(400, {"error": "EmailAddress is required"})
        self.suppress(
            body["EmailAddress"],
            stream=body.get("Stream", "broadcast"),
            reason=body.get("SuppressionReason", "HardBounce"),
            origin=body.get("Origin", "Recipient"),
        )
        return Response(200, {"ok": True})

    def _admin_script(self, request: Request) -> Response:
        spec = request.json if isinstance(request.json, dict) else {}
        respond = Response(spec["status"], spec.get("body"), spec.get("headers") or {}) if "status" in spec else None
        fault = Fault(
            respond=respond,
            latency=float(spec.get("latency", 0)),
            hang=float(spec.get("hang", 0)),
            drop=spec.get("drop"),
            path=spec.get("path"),
        )
        self.script(fault, times=int(spec.get("times", 1)))
        return Response(200, {"ok": True})


def recipients(item: dict[str, Any]) -> list[str]:
    fields = [item.get(k) or "" for k in ("To", "Cc", "Bcc")]
    return [address for _, address in getaddresses(fields) if address]


def validate_message(item: Any, addresses: list[str] | None = None) -> tuple[int, str] | None:
    """The first problem with one message object, as (ErrorCode, Message), or None.
    ``addresses``: its ``recipients``, when the caller has them already."""
    if not isinstance(item, dict):
        return 403, "Incompatible JSON input."
    if not item.get("From"):
        return 300, "Error parsing 'From': Value cannot be null or empty."
    if not isinstance(item.get("To"), str) or not item["To"].strip():
        return 300, "Zero recipients specified."
    if not item.get("Subject"):
        return 300, "Error parsing 'Subject': Value cannot be null or empty."
    if not (item.get("HtmlBody") or item.get("TextBody")):
        return 300, "Provide either email TextBody or HtmlBody or both."
    addresses = recipients(item) if addresses is None else addresses
    count = len(addresses)
    if count > MAX_RECIPIENTS:
        return 300, f"Too many recipients ({count}). Maximum is {MAX_RECIPIENTS} per message (To, Cc and Bcc)."
    bad = [a for a in addresses if "@" not in a]
    if bad or not count:
        return 300, f"Error parsing 'To': Illegal email address '{(bad or [item['To']])[0]}'."
    headers = item.get("Headers", [])
    if not isinstance(headers, list) or any(not isinstance(h, dict) or "Name" not in h for h in headers):
        return 300, "Headers must be an array of {\"Name\": ..., \"Value\": ...} objects."
    return None


def inactive_message(addresses: list[str]) -> str:
    return (
        "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: "
        f"{', '.join(addresses)}. Inactive recipients are ones that have generated a hard bounce, a spam "
        "complaint, or a manual suppression."
    )


def outbound_summary(m: dict[str, Any]) -> dict[str, Any]:
    """One ``Messages[]`` entry of ``GET /messages/outbound`` (no bodies, as documented)."""
    return {
        "Tag": m.get("Tag"),
        "MessageID": m["MessageID"],
        "MessageStream": m["MessageStream"],
        "To": [{"Email": a, "Name": None} for a in m["Recipients"]],
        "Cc": [],
        "Bcc": [],
        "Recipients": m["Recipients"],
        "ReceivedAt": eastern_iso(m["ReceivedAt"]),
        "From": m.get("From"),
        "Subject": m.get("Subject"),
        "Attachments": [],
        "Status": "Sent",
        "Metadata": m.get("Metadata") or {},
    }


# -- standalone process ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.postmark", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-server-token")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate-429", type=float, default=0.0)
    parser.add_argument("--fault-rate-500", type=float, default=0.0)
    parser.add_argument("--slow-rate", type=float, default=0.0)
    parser.add_argument("--slow-ms", type=float, default=1000.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--light", action="store_true", help="store only To/MessageID/Tag/Metadata (benchmarks)")
    parser.add_argument("--dump-cap", type=int, default=DUMP_CAP, help="entries per suppression dump answer")
    parser.add_argument("--clock-offset-s", type=float, default=0.0, help="this server's clock ahead (+) or behind (-), seconds")
    parser.add_argument("--ambiguous-fold", type=int, choices=(0, 1), default=0, help="read the repeated autumn hour as EDT (0) or EST (1)")
    args = parser.parse_args(argv)
    fake = FakePostmark(token=args.token, port=args.port, latency=args.latency_ms / 1000, light=args.light)
    fake.dump_cap = args.dump_cap
    fake.clock_offset, fake.ambiguous_fold = timedelta(seconds=args.clock_offset_s), args.ambiguous_fold
    fake.random_faults(
        RandomFaults(
            rate_429=args.fault_rate_429,
            rate_500=args.fault_rate_500,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_ms / 1000,
            drop_rate=args.drop_rate,
            seed=args.seed,
        )
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with fake:
        print(f"PORT {fake.port}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
