"""Amazon SES v2 for tests: moto's server (``moto[server]``) behind a small proxy on 127.0.0.1.

moto speaks the SES v2 REST-JSON protocol itself (``SendEmail``: request validation, verified
sender identities, ``MessageId``s); the proxy in front of it, a ``FakeServer``, adds what moto
does not do (providers.md §5):

- it checks each request's SigV4 signature with botocore's own algorithm against the keys it
  was given: an unknown key is ``UnrecognizedClientException``, a wrong secret
  ``SignatureDoesNotMatch`` (both 403), as SES answers;
- the scripted and random faults of ``fakes/server.py`` (429 ``TooManyRequestsException``,
  500, answers that hang or never come after the message was taken);
- a sandbox account's refusal of an unverified recipient (``MessageRejected``, per message);
- the account suppression list, ``GET /v2/email/suppression/addresses`` with ``PageSize`` and
  ``NextToken`` paging (moto does not implement it);
- a record of every accepted message (raw MIME, tags, ``MessageId``) so tests read what SES got.

Standalone (benchmarks), from the tests folder::

    python -m fakes.ses --port 0 --latency-ms 50 --access-key AKID --secret-key SECRET

prints ``PORT 12345`` on its first stdout line and serves until SIGTERM/SIGINT;
``GET /_fake/messages`` answers the count, per-recipient counts and bytes uploaded.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.client
import logging
import re
import signal
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from .server import FakeServer, Fault, RandomFaults, Request, Response

REGION = "us-east-1"
SENDER = "news@clinic.example"
MAX_PAGE = 1000
AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
BAD_KEY = "The security token included in the request is invalid."
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key "
    "and signing method. Consult the service documentation for details."
)

_moto_lock = threading.Lock()
_moto_address: tuple[str, int] | None = None


def aws_error(status: int, code: str, message: str) -> Response:
    """An SES v2 error: the type in ``x-amzn-ErrorType`` (botocore reads it there), the text in the body."""
    return Response(status, {"message": message}, {"x-amzn-ErrorType": code, "x-amzn-RequestId": "fake-request"})


def throttled() -> Response:
    return aws_error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")


def internal_failure() -> Response:
    return aws_error(500, "InternalFailure", "The request processing has failed because of an unknown error.")


def moto_address() -> tuple[str, int]:
    """One moto server per test process, started on first use (its backends are per process anyway)."""
    global _moto_address
    with _moto_lock:
        if _moto_address is None:
            from moto.moto_server.threaded_moto_server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _moto_address = server.get_host_and_port()
        return _moto_address


class FakeSes(FakeServer):
    def __init__(
        self,
        access_key: str = "AKIAFAKESES000000001",
        secret_key: str = "fake-ses-secret-key-0000000000000000000",
        region: str = REGION,
        senders: tuple[str, ...] = (SENDER,),
        port: int = 0,
        latency: float = 0.0,
        light: bool = False,
    ) -> None:
        super().__init__(port=port, latency=latency, record=not light)
        self.keys = {access_key: secret_key}
        self.region = region
        self.light = light
        self.messages: list[dict[str, Any]] = []  # accepted, oldest first: MessageId, To, Raw, Tags
        self.per_recipient: Counter[str] = Counter()
        self.uploaded = 0  # bytes of SendEmail bodies received (benchmarks)
        self.unverified: set[str] = set()  # recipients a sandbox account refuses
        self.suppressed: dict[str, dict[str, Any]] = {}  # email -> {EmailAddress, Reason, LastUpdateTime}
        self._store_lock = threading.Lock()
        self.moto = moto_address()
        self._moto_call("POST", "/moto-api/reset", b"", {})
        for sender in senders:  # SES sends only from verified identities; moto checks it
            self._moto_call("POST", "/v2/email/identities", f'{{"EmailIdentity": "{sender}"}}'.encode(), self._setup_headers())
        self.route("POST", "/v2/email/outbound-emails", self._signed(self._send_email))
        self.route("GET", "/v2/email/suppression/addresses", self._signed(self._list_suppressed))
        self.route("GET", "/_fake/messages", self._admin_messages)

    # -- test helpers ----------------------------------------------------------------------
    def options(self, **extra: Any) -> dict[str, Any]:
        return {"region": self.region, "base_url": self.url, **extra}

    def env(self, access_key: str | None = None, secret_key: str | None = None) -> dict[str, str]:
        key, secret = next(iter(self.keys.items()))
        return {"AWS_ACCESS_KEY_ID": access_key or key, "AWS_SECRET_ACCESS_KEY": secret_key or secret}

    def refuse_recipient(self, email: str) -> None:
        self.unverified.add(email.lower())

    def suppress(self, email: str, reason: str = "BOUNCE", when: datetime | None = None) -> None:
        when = when or datetime.now(timezone.utc)
        self.suppressed[email.lower()] = {"EmailAddress": email, "Reason": reason, "LastUpdateTime": when.timestamp()}

    def random_ses_faults(self, **rates: Any) -> None:
        self.random_faults(RandomFaults(make_429=throttled, make_500=internal_failure, **rates))

    def script_status(self, response: Response, **fault: Any) -> None:
        self.script(Fault(respond=response, **fault))

    # -- SigV4 ------------------------------------------------------------------------------
    def _signed(self, handler: Any) -> Any:
        def checked(request: Request, **params: str) -> Response:
            return self._check_signature(request) or handler(request, **params)

        return checked

    def _check_signature(self, request: Request) -> Response | None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        match = AUTH_RE.match(request.headers.get("authorization", ""))
        stamp = request.headers.get("x-amz-date", "")
        if not match or not stamp:
            return aws_error(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        secret = self.keys.get(match["key"])
        if secret is None:
            return aws_error(403, "UnrecognizedClientException", BAD_KEY)
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return aws_error(403, "IncompleteSignature", "X-Amz-Date is not a valid date")
        if abs(datetime.now(timezone.utc) - signed_at) > timedelta(minutes=5):
            return aws_error(403, "InvalidSignatureException", "Signature expired")
        if match["service"] != "ses" or match["region"] != self.region:
            return aws_error(403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region ({self.region}) and service ses")
        names = match["signed"].split(";")
        if "host" not in names or any(name not in request.headers for name in names):
            return aws_error(403, "IncompleteSignature", "a signed header is missing")
        query = urlencode([(k, v) for k, values in request.query.items() for v in values])
        url = f"http://{request.headers['host']}{request.path}" + (f"?{query}" if query else "")
        rebuilt = AWSRequest(method=request.method, url=url, data=request.body, headers={n: request.headers[n] for n in names})
        rebuilt.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(match["key"], secret), "ses", match["region"])
        expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
        if not hmac.compare_digest(expected, match["signature"]):
            return aws_error(403, "SignatureDoesNotMatch", BAD_SIGNATURE)
        return None

    # -- SendEmail ---------------------------------------------------------------------------
    def _send_email(self, request: Request) -> Response:
        with self._store_lock:
            self.uploaded += len(request.body)
        body = request.json
        if not isinstance(body, dict):
            return aws_error(400, "BadRequestException", f"The request body is not JSON: {request.json_error}")
        destination = body.get("Destination") or {}
        rcpts = [*destination.get("ToAddresses", []), *destination.get("CcAddresses", []), *destination.get("BccAddresses", [])]
        refused = [r for r in rcpts if r.lower() in self.unverified]
        if refused:
            return aws_error(
                400, "MessageRejected",
                f"Email address is not verified. The following identities failed the check in region {self.region.upper()}: {', '.join(refused)}",
            )
        status, headers, answer = self._moto_call("POST", request.path, request.body, request.headers)
        response = Response(status, answer, {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-amzn-errortype", "x-amzn-requestid")})
        if status == 200:
            self._store(body, rcpts, answer)
        return response

    def _store(self, body: dict[str, Any], rcpts: list[str], answer: bytes) -> None:
        from .server import loads

        message_id = loads(answer)["MessageId"]
        raw = base64.b64decode(((body.get("Content") or {}).get("Raw") or {}).get("Data", ""))
        entry = {"MessageId": message_id, "To": rcpts, "Tags": body.get("EmailTags") or [], "From": body.get("FromEmailAddress")}
        if not self.light:
            entry["Raw"] = raw
        with self._store_lock:
            self.messages.append(entry)
            self.per_recipient.update(r.lower() for r in rcpts)

    # -- the suppression list ------------------------------------------------------------------
    def _list_suppressed(self, request: Request) -> Response:
        try:
            size = int(request.arg("PageSize") or MAX_PAGE)
            start = int(request.arg("NextToken") or 0)
        except ValueError:
            return aws_error(400, "BadRequestException", "PageSize and NextToken must be valid")
        if not 1 <= size <= MAX_PAGE:
            return aws_error(400, "BadRequestException", f"PageSize must be between 1 and {MAX_PAGE}")
        since = _when(request.arg("StartDate"))
        reasons = request.query.get("Reason") or ["BOUNCE", "COMPLAINT"]
        entries = [
            e for e in sorted(self.suppressed.values(), key=lambda e: e["EmailAddress"])
            if e["Reason"] in reasons and (since is None or e["LastUpdateTime"] >= since)
        ]
        page = entries[start : start + size]
        answer: dict[str, Any] = {"SuppressedDestinationSummaries": page}
        if start + size < len(entries):
            answer["NextToken"] = str(start + size)
        return Response(200, answer)

    def _admin_messages(self, request: Request) -> Response:
        with self._store_lock:
            return Response(200, {"count": len(self.messages), "per_recipient": dict(self.per_recipient), "uploaded": self.uploaded})

    # -- moto ----------------------------------------------------------------------------------
    def _setup_headers(self) -> dict[str, str]:
        key = next(iter(self.keys))  # moto reads the service and region from the credential scope
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        return {
            "content-type": "application/json",
            "authorization": f"AWS4-HMAC-SHA256 Credential={key}/{day}/{self.region}/ses/aws4_request, SignedHeaders=host, Signature={'0' * 64}",
        }

    def _moto_call(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.moto, timeout=30)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive", "expect", "host", "content-length")}
            conn.request(method, path, body=body, headers=forwarded)
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            conn.close()


def _when(text: str | None) -> float | None:
    """A query timestamp as botocore writes it (ISO 8601), or epoch seconds."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Amazon SES v2 (moto behind a fault-injecting proxy)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--access-key", default="AKIAFAKESES000000001")
    parser.add_argument("--secret-key", default="fake-ses-secret-key-0000000000000000000")
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--light", action="store_true", help="keep counts only, not the messages")
    parser.add_argument("--sender", action="append", default=[], help="a verified identity (repeatable)")
    args = parser.parse_args(argv)
    senders = tuple(args.sender) or (SENDER,)
    fake = FakeSes(args.access_key, args.secret_key, args.region, senders=senders, port=args.port, latency=args.latency_ms / 1000, light=args.light)
    fake.start()
    print(f"PORT {fake.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    fake.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
