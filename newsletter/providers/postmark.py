"""Postmark: ``POST /email/batch`` (≤500 messages) or, with ``mode = "bulk"``, ``POST /email/bulk``
(postmark_bulk.py: one body, a recipient list); outbound search, suppression dump.

``[providers.postmark]`` settings: see ``PostmarkProvider.options``. The server token comes only
from ``POSTMARK_SERVER_TOKEN``. requests is imported where it is used, not at the top: the config
loader reads ``options`` before every command, and importing requests takes about 0.2 s.

Encoding the request body is the hot path (500 messages of ~30 KB = ~20 MB of JSON per batch):
orjson is used when installed (about 10x the stdlib encoder), else ``json.dumps`` with its
default ``ensure_ascii=True``, which is twice as fast as ``ensure_ascii=False`` + encode.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

from ..config import secret
from ..errors import (
    ProviderAuthError,
    ProviderDeliveryUnknown,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from ..mime import full_message
from ..models import Batch, OutgoingMessage, SendResult, Suppression
from . import http_errors, option_specs
from .base import AcceptedRecord, SearchResult
from .http_errors import retry_after
from .search_window import WallWindow, wall_window

if TYPE_CHECKING:
    import requests


def stdlib_encode_json(value: Any) -> bytes:
    return json.dumps(value).encode("ascii")  # ensure_ascii=True output is pure ASCII


try:
    from orjson import dumps as encode_json
except ImportError:  # a platform without an orjson wheel: slower, same JSON values
    encode_json = stdlib_encode_json


SEARCH_PAGE = 500
SEARCH_WINDOW = 10_000  # Postmark refuses count + offset > 10,000
# Requests one search may make (200,000 messages' worth of pages). A window more crowded than the
# API can page (e.g. thousands of messages in the repeated autumn hour, which every window
# touching it reads whole) would otherwise split down to single seconds: give up sooner, and say
# the answer is incomplete, which leaves the rows unknown.
MAX_SEARCH_REQUESTS = 400
EASTERN = ZoneInfo("America/New_York")  # outbound search reads fromdate/todate in US Eastern time
EASTERN_FORMAT = "%Y-%m-%dT%H:%M:%S"
DUMP_REASONS = ("HardBounce", "SpamComplaint", "ManualSuppression")
DUMP_ORIGINS = ("Recipient", "Customer", "Admin")
FIRST_SUPPRESSION_DAY = date(2010, 1, 1)  # before Postmark existed: the dump's whole history
INACTIVE = 406  # ErrorCode: the recipient is suppressed on the stream
UNAVAILABLE_STATUSES = {500, 502, 503, 504}
TOO_LARGE_HINT = "The request is over Postmark's 50 MB: lower [providers.postmark] bulk_size (or batch_size)."
IN_DOUBT_HINT = (
    "Postmark may have accepted these messages; the send command reconciles them with the "
    "outbound message search before anything is resent."
)


class PostmarkProvider:
    name = "postmark"
    honours_idempotency_key = False  # the API has no idempotency key (providers.md §1.8)
    options = option_specs.POSTMARK
    lists_suppressions = True  # `subscribers sync` and `send` pull the stream's suppressions

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        from .http import DeadlineSession

        self.base_url: str = options["base_url"].rstrip("/")
        self.stream: str = options["message_stream"]
        self.mode: str = options.get("mode", "batch")  # (built in code with a partial table: batch)
        self.max_batch: int = options["batch_size"]
        self.timeout: tuple[float, float] = options["timeout"]
        self.dump_cap: int = options["suppression_dump_cap"]
        token = secret("POSTMARK_SERVER_TOKEN", env, purpose="the Postmark server API token")
        # keep-alive: one TLS handshake per worker, not per batch; every request within the deadline
        self.session = DeadlineSession(options["deadline"])
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json", "X-Postmark-Server-Token": token}
        )
        self._bulk = None
        if self.mode == "bulk":
            from .postmark_bulk import BulkSender

            self._bulk = BulkSender(self, options)
            self.max_batch = self._bulk.max_batch

    # -- sending ---------------------------------------------------------------------------
    def send(self, batch: Batch) -> Sequence[SendResult]:
        """Full messages (``mime.full_message``: /email/batch takes one body per recipient). A
        message Postmark cannot carry is a rejected result and is never posted; the others go in
        requests of consecutive messages, so a failed request applies to its own messages and
        the ones after it, never to one already settled (``partial_results``). In bulk mode
        the recipients go to postmark_bulk.py instead."""
        if self._bulk is not None:
            return self._bulk.send(batch)
        results: list[SendResult] = []
        run: list[bytes] = []
        for recipient in batch:
            encoded = self._encoded(full_message(batch.campaign, recipient))
            if isinstance(encoded, bytes):
                run.append(encoded)
                continue
            self._post(run, results)
            results.append(encoded)
        self._post(run, results)
        return results

    def _encoded(self, msg: OutgoingMessage) -> bytes | SendResult:
        return self.checked_encoding(msg.rcpt, lambda: encode_json(self._message(msg)))

    @staticmethod
    def unsendable(rcpt: str) -> SendResult | None:
        """The rejected result of an address Postmark cannot carry, or None."""
        if not rcpt.rpartition("@")[0].isascii():
            return SendResult("rejected", code="smtputf8", detail=f"{rcpt}: Postmark documents no support for non-ASCII local parts (SMTPUTF8); not sent")
        return None

    @classmethod
    def checked_encoding(cls, rcpt: str, encode: Callable[[], bytes]) -> bytes | SendResult:
        """One recipient's JSON, or the rejected result of a recipient Postmark cannot carry."""
        refused = cls.unsendable(rcpt)
        if refused is not None:
            return refused
        try:
            return encode()
        except (TypeError, ValueError) as err:  # orjson refuses e.g. a lone surrogate: this message only
            return SendResult("rejected", code="invalid-message", detail=f"{rcpt}: cannot be encoded as JSON: {err}")

    def _post(self, run: list[bytes], results: list[SendResult]) -> None:
        """POST the messages encoded so far (if any) as one batch; their results join ``results``."""
        if not run:
            return
        try:
            response = self.request("POST", "/email/batch", data=b"[" + b",".join(run) + b"]")
            results += _batch_results(response, len(run))
        except ProviderError as err:
            err.partial_results = tuple(results)
            raise
        run.clear()

    def _message(self, msg: OutgoingMessage) -> dict[str, Any]:
        headers = [{"Name": name, "Value": value} for name, value in msg.headers]
        headers.append({"Name": "Message-ID", "Value": msg.message_id})
        item: dict[str, Any] = {
            "From": msg.from_,
            "To": msg.to,
            "Subject": msg.subject,
            "HtmlBody": msg.html,
            "TextBody": msg.text,
            "Headers": headers,
            "Tag": msg.tag,
            "Metadata": dict(msg.metadata),
            "MessageStream": self.stream,
            "TrackOpens": False,  # no tracking pixels or rewritten links in a clinic's newsletter
            "TrackLinks": "None",
        }
        if msg.reply_to:
            item["ReplyTo"] = msg.reply_to
        return item

    # -- reconciliation and suppressions ---------------------------------------------------
    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult:
        """Every message Postmark accepted with this tag in [since, until], with the part of the
        window the answer certainly covers and whether every page of it was read."""
        window = wall_window(since, until, EASTERN)
        search = _Search(tag)
        self._search(search, _aware(since), _aware(until))
        return SearchResult(
            tuple(search.records.values()), window.covered_since, window.covered_until,
            complete=search.problem is None, note=search.problem,
        )

    def _search(self, search: _Search, since: datetime, until: datetime) -> None:
        """Page through one window; when it holds more than the API can page, split it (in UTC,
        each half widened on its own, so the halves overlap rather than leave a gap). A window
        that cannot be read whole marks the search incomplete."""
        window = wall_window(since, until, EASTERN)
        first = self._search_page(search, window, offset=0)
        if first is None:
            return
        total = int(first.get("TotalCount", 0))
        if total > SEARCH_WINDOW:
            if until - since <= timedelta(seconds=1):  # whole seconds cannot be split further
                search.problem = f"{total} messages tagged {search.tag!r} within one second: more than the search can page"
                return
            middle = since + (until - since) / 2
            self._search(search, since, middle)
            self._search(search, middle, until)
            return
        page, offset, seen = first, 0, 0
        while True:
            messages = page.get("Messages") or []
            seen += len(messages)
            search.add(messages)
            offset += SEARCH_PAGE
            if not messages or offset >= total:
                break
            page = self._search_page(search, window, offset=offset)
            if page is None:
                return
        if seen < total:  # a page came back short: messages were left unread
            search.problem = f"the search listed {seen} of {total} messages tagged {search.tag!r}"

    def _search_page(self, search: _Search, window: WallWindow, offset: int) -> dict[str, Any] | None:
        """One page, or None once the search is known to be incomplete (no use reading on)."""
        if search.problem is None and search.requests >= MAX_SEARCH_REQUESTS:
            search.problem = f"more than {MAX_SEARCH_REQUESTS} requests needed to list the messages tagged {search.tag!r}"
        if search.problem is not None:
            return None
        search.requests += 1
        params = {
            "count": SEARCH_PAGE,
            "offset": offset,
            "tag": search.tag,
            "fromdate": window.start.strftime(EASTERN_FORMAT),
            "todate": window.end.strftime(EASTERN_FORMAT),
        }
        return _json(self.request("GET", "/messages/outbound", params=params), "outbound search")

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        """The stream's whole suppression list (created on or after ``since``'s day, if given).

        Postmark documents no paging for the dump, so a full answer (``suppression_dump_cap``
        entries) is taken as possibly cut short and asked again in smaller parts: by reason,
        then by halves of the date range (whole days, inclusive), then by origin."""
        first_day = _eastern_day(since) if since else FIRST_SUPPRESSION_DAY
        last_day = datetime.now(EASTERN).date() + timedelta(days=1)
        whole = self._dump({"fromdate": first_day.isoformat()} if since else {})
        if len(whole) < self.dump_cap:
            entries = whole
        else:
            entries = [e for reason in DUMP_REASONS for e in self._dump_days(first_day, last_day, {"SuppressionReason": reason})]
        unique = {str(e.get("EmailAddress", "")).lower(): e for e in entries}
        return [_suppression(entry) for entry in unique.values()]

    def _dump_days(self, first: date, last: date, filters: dict[str, str]) -> list[dict[str, Any]]:
        entries = self._dump({**filters, "fromdate": first.isoformat(), "todate": last.isoformat()})
        if len(entries) < self.dump_cap:
            return entries
        if first < last:
            middle = first + (last - first) / 2
            return self._dump_days(first, middle, filters) + self._dump_days(middle + timedelta(days=1), last, filters)
        if "Origin" not in filters:
            return [e for origin in DUMP_ORIGINS for e in self._dump_days(first, last, {**filters, "Origin": origin})]
        # Better no sync than one that silently misses suppressed addresses.
        raise ProviderUnavailable(
            f"postmark: suppression dump: {len(entries)} or more {filters['SuppressionReason']} suppressions by {filters['Origin']} on {first}",
            hint="Raise [providers.postmark] suppression_dump_cap if Postmark answers more per request.",
        )

    def _dump(self, params: dict[str, str]) -> list[dict[str, Any]]:
        path = f"/message-streams/{quote(self.stream, safe='')}/suppressions/dump"
        body = _json(self.request("GET", path, params=params), "suppression dump")
        entries = body.get("Suppressions") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise ProviderUnavailable("postmark: suppression dump: the answer has no Suppressions list")
        return [e for e in entries if isinstance(e, dict) and e.get("EmailAddress")]

    def destination(self, tag: str) -> None:
        return None  # the messages left for the provider: nothing local to open

    def close(self) -> None:
        self.session.close()

    # -- HTTP ------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; any answer but 200 raised as the ProviderError it means."""
        import requests

        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            raise transport_error(err) from err
        if response.status_code != 200:
            raise status_error(response)
        return response


class _Search:
    """One search's records by Postmark MessageID (split windows share their edge second, and
    paging newest first while messages arrive repeats some), and the first reason it is partial."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.records: dict[str, AcceptedRecord] = {}
        self.problem: str | None = None
        self.requests = 0

    def add(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for item in messages:
            self.records.setdefault(str(item.get("MessageID")), _record(item))


# -- mapping failures (the one place where foreign errors become ours) ---------------------------
def transport_error(err: requests.RequestException) -> ProviderError:
    return http_errors.transport_error(
        err,
        "postmark",
        IN_DOUBT_HINT,
        "The batch in flight is unknown and the run stopped. Check the network or proxy; the next send asks "
        "Postmark's search what it accepted before anything is resent.",
    )


def status_error(response: requests.Response) -> ProviderError:
    status = response.status_code
    if status in (401, 403):
        return ProviderAuthError(
            f"postmark: HTTP {status}: the server token was refused",
            hint="Check POSTMARK_SERVER_TOKEN: it must be the Server API token of the server that owns the stream.",
        )
    if status == 429:
        return ProviderRateLimited(
            "postmark: HTTP 429: rate limit exceeded", retry_after=retry_after(response.headers.get("Retry-After"))
        )
    if status in UNAVAILABLE_STATUSES or status >= 500:
        return ProviderUnavailable(f"postmark: HTTP {status}: {_error_text(response)}", hint="Postmark is having trouble; the batch will be retried.")
    code, message = _error_body(response)
    label = f"HTTP {status} (code {code})" if code is not None else f"HTTP {status}"
    hint = _request_hint(code) or (TOO_LARGE_HINT if status == 413 else None)
    return ProviderRequestError(f"postmark: {label}: {message}", hint=hint)


def _request_hint(code: int | None) -> str | None:
    hints = {
        300: "A message is invalid (address or sender); see the message above.",
        400: "The From address has no confirmed Sender Signature in Postmark.",
        401: "The Sender Signature is not confirmed yet.",
        14: "Postmark enables the Bulk API per account: ask Postmark support to enable it, or set [providers.postmark] mode = \"batch\".",
        410: "Too many messages in one batch: lower [providers.postmark] batch_size (max 500).",
        412: "The Postmark account is pending approval.",
    }
    return hints.get(code) if code is not None else None


def _error_body(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
        return int(body["ErrorCode"]), str(body.get("Message", ""))
    except (ValueError, KeyError, TypeError):
        return None, _error_text(response)


_error_text = http_errors.error_text


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as err:
        raise ProviderUnavailable(f"postmark: {what}: the answer is not JSON: {_error_text(response)}") from err


def _batch_results(response: requests.Response, expected: int) -> list[SendResult]:
    """One SendResult per message, in order. A malformed 200 means Postmark processed the
    request but we cannot tell which messages it took: that is in doubt, not retriable."""
    try:
        items = response.json()
        if not isinstance(items, list) or len(items) != expected:
            raise ValueError(f"expected a list of {expected} results")
        return [_result(item) for item in items]
    except (ValueError, KeyError, TypeError) as err:
        raise ProviderDeliveryUnknown(f"postmark: HTTP 200 but an unreadable batch answer: {err}", hint=IN_DOUBT_HINT) from err


def _result(item: Mapping[str, Any]) -> SendResult:
    code = int(item["ErrorCode"])
    if code == 0:
        return SendResult("accepted", provider_message_id=item.get("MessageID"))
    return SendResult("rejected", code=str(code), detail=item.get("Message"), suppress=code == INACTIVE)


def _record(item: Mapping[str, Any]) -> AcceptedRecord:
    email = (item.get("Recipients") or [None])[0] or ((item.get("To") or [{}])[0] or {}).get("Email", "")
    return AcceptedRecord(email=email, provider_message_id=item.get("MessageID"), metadata=dict(item.get("Metadata") or {}))


def _suppression(entry: Mapping[str, Any]) -> Suppression:
    created = entry.get("CreatedAt")
    try:
        created_at = datetime.fromisoformat(created) if created else None
    except ValueError:
        created_at = None
    return Suppression(
        email=entry.get("EmailAddress", ""),
        reason=entry.get("SuppressionReason", "Unknown"),
        created_at=created_at,
        origin=entry.get("Origin"),
    )


def _aware(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the ledger stores UTC)."""
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _eastern_day(when: datetime) -> date:
    return _aware(when).astimezone(EASTERN).date()


def _eastern(when: datetime, round_up: bool) -> str:
    """Postmark's search takes whole seconds of US Eastern wall time; round so the window
    covers [when] rather than cutting off its last fraction of a second."""
    local = when.astimezone(EASTERN)  # (in the repeated autumn hour the wall time is ambiguous)
    if round_up and local.microsecond:
        local = local.replace(microsecond=0) + timedelta(seconds=1)
    return local.strftime(EASTERN_FORMAT)
