"""The fake Postmark's Bulk API (shared/providers.md §1.5): ``POST /email/bulk``, ``GET /email/bulk/{id}``.

Each ``Messages[]`` entry is compiled into one message as Postmark does: the top-level Subject,
HtmlBody and TextBody rendered with the entry's ``TemplateModel`` in Mustachio (``{{x}}``
HTML-escaped, ``{{{x}}}`` and ``{{& x}}`` as they are, a missing key empty), the entry's
``Metadata`` and ``Headers`` when it has them (else the top-level ones: the stricter of the two
readings Postmark leaves open), the top-level Tag and stream. The compiled messages join the
fake's ``messages`` (so outbound search finds them) with ``BulkRequestID``; inactive (suppressed)
recipients are skipped, as nothing in the reply could say so.

Where Postmark leaves behaviour open (⚠ in providers.md), the fake picks one and says so: an
invalid entry fails the whole request (422, ErrorCode 300, naming the entry); a stream that is not
a Broadcast stream is refused (422, 300); over 50 MB is 413. Knobs for tests: ``bulk_enabled``
(False: 422 ErrorCode 14, as Postmark answers an account without the Bulk API),
``bulk_pending_polls`` (status reads answering ``Processing`` before ``Completed``) and
``bulk_fail_after`` (compile only that many entries, then report ``Failed``).
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable

from .server import Request, Response

if TYPE_CHECKING:
    from .postmark import FakePostmark

MAX_BYTES = 50 * 1000 * 1000
NOT_ENABLED = "This endpoint requires approval to access. Contact support to use the Bulk API postmarkapp.com/contact"
TAG_RE = re.compile(r"\{\{\{\s*([^{}]+?)\s*\}\}\}|\{\{\s*(&?)\s*([^{}]+?)\s*\}\}")


class Mustachio:
    """One template split once into literals and variable tags (no sections: the adapter uses none)."""

    def __init__(self, source: str) -> None:
        self.literals: list[str] = []
        self.tags: list[tuple[str, bool]] = []  # (name, escape)
        last = 0
        for match in TAG_RE.finditer(source):
            self.literals.append(source[last : match.start()])
            raw, amp, name = match.group(1), match.group(2), match.group(3)
            self.tags.append((raw, False) if raw is not None else (name, not amp))
            last = match.end()
        self.literals.append(source[last:])
        bad = [name for name, _ in self.tags if name[:1] in "#/^!>"]
        if bad:
            raise ValueError(f"the fake renders variables only, not '{{{{{bad[0]}}}}}'")
        if any("{{" in literal for literal in self.literals):
            raise ValueError("an unclosed '{{' in the template")

    def render(self, model: dict[str, Any]) -> str:
        out = [self.literals[0]]
        for (name, escape), literal in zip(self.tags, self.literals[1:], strict=True):
            value = model.get(name)
            text = "" if value is None else str(value)
            out.append(html.escape(text) if escape else text)
            out.append(literal)
        return "".join(out)


class BulkApi:
    def __init__(self, fake: FakePostmark) -> None:
        self.fake = fake
        self.enabled = True
        self.broadcast_streams = {"broadcast"}
        self.pending_polls = 0
        self.fail_after: int | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        self.bytes_received = 0  # request bodies of POST /email/bulk (benchmarks: upload per recipient)
        self._lock = threading.Lock()

    def routes(self, authed: Callable[..., Any]) -> None:
        self.fake.route("POST", "/email/bulk", authed(self.send))
        self.fake.route("GET", "/email/bulk/{request_id}", authed(self.status))

    # -- POST /email/bulk ------------------------------------------------------------------
    def send(self, request: Request) -> Response:
        from .postmark import error

        with self._lock:
            self.bytes_received += len(request.body)
        if not self.enabled:
            return error(422, 14, NOT_ENABLED)
        if len(request.body) > MAX_BYTES:
            return error(413, 300, f"The request is {len(request.body):,} bytes; the limit is {MAX_BYTES:,}.")
        body = request.json
        if not isinstance(body, dict):
            return self.fake._bad_json(request)
        problem = self._check_top(body)
        if problem:
            return error(422, 300, problem)
        try:
            parts = {k: Mustachio(body.get(k) or "") for k in ("Subject", "HtmlBody", "TextBody")}
        except ValueError as err:
            return error(422, 300, f"The template could not be parsed: {err}.")
        compiled = []
        for n, item in enumerate(body["Messages"]):
            message, problem = self._compile(body, parts, item)
            if problem:
                return error(422, 300, f"Messages[{n}]: {problem}")
            compiled.append(message)
        request_id = str(uuid.uuid4())
        submitted = self.fake.now()
        job = {"Id": request_id, "SubmittedAt": _iso(submitted), "TotalMessages": len(compiled),
               "PercentageCompleted": 100.0, "Status": "Completed", "Subject": body.get("Subject"),
               "_polls": self.pending_polls}
        if not self.fake._dry_run(request):
            if self.fail_after is not None:
                compiled = compiled[: self.fail_after]
                job["Status"], job["PercentageCompleted"] = "Failed", 100.0 * len(compiled) / max(1, job["TotalMessages"])
            stream = body["MessageStream"]
            for message in compiled:
                addresses = message.pop("_recipients")
                if not self.fake._inactive(stream, addresses):
                    message["BulkRequestID"] = request_id
                    self.fake._store(message, submitted, addresses)
            with self._lock:
                self.jobs[request_id] = job
        return Response(200, {"ID": request_id, "Status": "Accepted", "SubmittedAt": _iso(submitted)})

    def _check_top(self, body: dict[str, Any]) -> str | None:
        if not body.get("From"):
            return "Error parsing 'From': Value cannot be null or empty."
        messages = body.get("Messages")
        if not isinstance(messages, list) or not messages:
            return "'Messages' must list at least one recipient."
        if not (body.get("HtmlBody") or body.get("TextBody") or body.get("TemplateId") or body.get("TemplateAlias")):
            return "Provide either email TextBody or HtmlBody or both."
        stream = body.get("MessageStream") or "outbound"
        if stream not in self.broadcast_streams:
            return f"The Bulk API sends through Broadcast streams only; '{stream}' is not one."
        return None

    def _compile(self, body: dict[str, Any], parts: dict[str, Mustachio], item: Any) -> tuple[dict[str, Any], str | None]:
        from .postmark import recipients, validate_message

        if not isinstance(item, dict):
            return {}, "Incompatible JSON input."
        model = item.get("TemplateModel") or {}
        metadata = item.get("Metadata", body.get("Metadata")) or {}
        if not isinstance(model, dict) or not isinstance(metadata, dict):
            return {}, "'TemplateModel' and 'Metadata' must be objects."
        if any(not isinstance(v, str) for v in metadata.values()):
            return {}, "'Metadata' values must be strings."
        message = {
            "From": body["From"],
            "To": item.get("To"),
            "Cc": item.get("Cc"),
            "Bcc": item.get("Bcc"),
            "ReplyTo": body.get("ReplyTo"),
            "Subject": parts["Subject"].render(model),
            "Headers": item.get("Headers", body.get("Headers", [])),
            "Tag": body.get("Tag"),
            "Metadata": metadata,
            "MessageStream": body["MessageStream"],
            "TrackOpens": body.get("TrackOpens"),
            "TrackLinks": body.get("TrackLinks"),
        }
        if self.fake.light:  # benchmarks: validate, but spare the fake the bodies
            message.update(HtmlBody=body.get("HtmlBody"), TextBody=body.get("TextBody"))
        else:
            message.update(HtmlBody=parts["HtmlBody"].render(model), TextBody=parts["TextBody"].render(model))
        addresses = recipients(message)
        problem = validate_message(message, addresses)
        if problem:
            return {}, problem[1]
        message["_recipients"] = addresses
        return message, None

    # -- GET /email/bulk/{id} --------------------------------------------------------------
    def status(self, request: Request, request_id: str) -> Response:
        from .postmark import error

        with self._lock:
            job = self.jobs.get(request_id)
            if job is None:
                return error(404, 1101, f"No bulk request with id '{request_id}'.")  # ⚠ code unconfirmed
            answer = {k: v for k, v in job.items() if not k.startswith("_")}
            if job["_polls"] > 0:
                job["_polls"] -= 1
                answer.update(Status="Processing", PercentageCompleted=50.0)
        return Response(200, answer)


def _iso(when: Any) -> str:
    from .postmark import eastern_iso

    return eastern_iso(when)
