"""SendGrid: v3 ``POST /v3/mail/send``, the issue's parts sent once per request with up to 1,000
personalizations (providers.md §2), and the suppression lists.

``[providers.sendgrid]`` settings: see ``SendGridProvider.options``. The API key comes only from
``SENDGRID_API_KEY``. requests is imported where it is used (the config loader reads ``options``).

Substitution happens on SendGrid's side: the HTML and text parts go once per request with a tag
where each merge field was, and each personalization carries its recipient's values. One
substitution fills both parts, so a field whose HTML-escaped value differs from its plain value
(a first name with ``&``) gets a tag per part; a field with one value for every recipient of the
request (the web-view link) is filled in before sending. Per-recipient headers (List-Unsubscribe,
Message-ID) are the personalization's own ``headers`` (SendGrid does not document substitution in
header values), ``custom_args`` carry the issue, the subscriber and the batch key into every
event, and tracking is off (no pixels, no rewritten links, no inserted unsubscribe footer).

SendGrid answers a request whole: 202 (every recipient accepted, one ``X-Message-Id``) or a
refusal. A 400 that names personalizations (``personalizations.3.to.0.email``) rejects those
recipients and the request goes again without them. It has no idempotency key and no search an
adapter can match by identity, so a request whose answer was lost leaves all its recipients
``unknown`` (README, SendGrid).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import secret
from ..errors import (
    ProviderAuthError,
    ProviderDeliveryUnknown,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderUnreachable,
)
from ..models import Batch, Campaign, RecipientValues, SendResult, Suppression
from . import http_errors, option_specs
from .base import SearchResult

if TYPE_CHECKING:
    import requests

try:
    from orjson import dumps as encode_json
except ImportError:  # pragma: no cover - a platform without an orjson wheel
    import json

    def encode_json(value: Any) -> bytes:
        return json.dumps(value).encode("ascii")


PAGE = 500  # entries per suppression list page
# What each list means for the subscriber (send/sync.py reads the reason).
SUPPRESSION_LISTS = {"bounces": "HardBounce", "spam_reports": "SpamComplaint", "unsubscribes": "Unsubscribe", "invalid_emails": "HardBounce"}
PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)\b")
MAX_RESENDS = 3
READ_ATTEMPTS, READ_WAIT_CAP = 6, 30.0  # suppression pages: tries, and the longest wait between two  # requests one batch may take when SendGrid names recipients it refuses
IN_DOUBT_HINT = (
    "SendGrid may have accepted this request; it has no idempotency key, so its recipients stay "
    "'unknown' and are not resent (README, SendGrid: how to settle them)."
)


class SendGridProvider:
    name = "sendgrid"
    honours_idempotency_key = False  # the API has none (providers.md §2.6)
    lists_suppressions = True
    options = option_specs.SENDGRID

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        from .http import DeadlineSession

        self.base_url: str = options["base_url"].rstrip("/")
        self.max_batch: int = options["batch_size"]
        self.max_substitutions: int = options["substitutions_max_bytes"]
        self.timeout: tuple[float, float] = options["timeout"]
        self.sandbox: bool = options["sandbox_mode"]
        key = secret("SENDGRID_API_KEY", env, purpose="the SendGrid API key")
        self.session = DeadlineSession(options["deadline"])
        self.session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json"})

    # -- sending ---------------------------------------------------------------------------
    def send(self, batch: Batch) -> Sequence[SendResult]:
        results: list[SendResult | None] = [self._refusal(r) for r in batch]
        for _ in range(MAX_RESENDS):
            todo = [i for i, result in enumerate(results) if result is None]
            if not todo:
                break
            try:
                refused = self._post(batch, [batch[i] for i in todo])
            except ProviderError as err:  # the recipients settled before the first unsent one stand
                err.partial_results = tuple(_prefix(results))
                raise
            if refused is None:  # accepted whole
                message_id = self._last_message_id
                for i in todo:
                    results[i] = SendResult("accepted", provider_message_id=message_id)
                break
            for index, detail in refused.items():
                results[todo[index]] = SendResult("rejected", code="invalid-recipient", detail=f"{batch[todo[index]].rcpt}: {detail}")
        if any(result is None for result in results):  # SendGrid kept naming others: give up on the batch
            raise ProviderRequestError(f"sendgrid: HTTP 400 after {MAX_RESENDS} requests still naming recipients; see the rejections")
        return results  # type: ignore[return-value]

    def _refusal(self, recipient: RecipientValues) -> SendResult | None:
        if not recipient.rcpt.isascii() and not recipient.rcpt.rpartition("@")[0].isascii():
            return SendResult("rejected", code="smtputf8", detail=f"{recipient.rcpt}: SendGrid documents no support for non-ASCII local parts (SMTPUTF8); not sent")
        return None

    def _post(self, batch: Batch, recipients: list[RecipientValues]) -> dict[int, str] | None:
        """POST one mail/send; None when accepted, else the refused personalizations' details
        (a refusal of the request as a whole raises)."""
        body = request_body(batch.campaign, recipients, batch.key, self.sandbox, self.max_substitutions)
        response = self._request("POST", "/v3/mail/send", data=encode_json(body), ok=(200, 202))
        if response.status_code in (200, 202):
            self._last_message_id = response.headers.get("X-Message-Id")
            return None
        return refused_personalizations(response, len(recipients))

    # -- suppressions ----------------------------------------------------------------------
    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        """Every entry of the bounce, spam report, unsubscribe and invalid-address lists, a page
        of 500 at a time (``offset``), created at or after ``since``."""
        out: list[Suppression] = []
        for listing, reason in SUPPRESSION_LISTS.items():
            offset = 0
            while True:
                params: dict[str, Any] = {"limit": PAGE, "offset": offset}
                if since is not None:
                    params["start_time"] = int(_aware(since).timestamp())
                page = _json(self._read(f"/v3/suppression/{listing}", params), listing)
                if not isinstance(page, list):
                    raise ProviderUnavailable(f"sendgrid: GET /v3/suppression/{listing}: expected a list, got {type(page).__name__}")
                out += [_suppression(entry, reason, listing) for entry in page if isinstance(entry, dict) and entry.get("email")]
                if len(page) < PAGE:
                    break
                offset += PAGE
        return out

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult | None:
        return None  # nothing an answer can be matched by identity with (README, SendGrid)

    def destination(self, tag: str) -> None:
        return None

    def close(self) -> None:
        self.session.close()

    # -- HTTP ------------------------------------------------------------------------------
    _last_message_id: str | None = None
    sleep = staticmethod(time.sleep)

    def _read(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        """A GET, tried again on 429 (after X-RateLimit-Reset), 5xx and lost answers: reading
        twice changes nothing."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self._request("GET", path, params=params)
            except (ProviderRateLimited, ProviderUnavailable, ProviderDeliveryUnknown) as err:
                if attempt == READ_ATTEMPTS or isinstance(err, ProviderUnreachable):
                    raise
                wait = err.retry_after if isinstance(err, ProviderRateLimited) and err.retry_after is not None else 0.5 * 2 ** (attempt - 1)
                self.sleep(min(wait, READ_WAIT_CAP))
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        import requests

        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            raise http_errors.transport_error(
                err, "sendgrid", IN_DOUBT_HINT, "The request in flight is unknown and the run stopped. Check the network or proxy."
            ) from err
        if response.status_code in ok or (response.status_code == 400 and path == "/v3/mail/send"):
            return response
        raise status_error(response)


def _prefix(results: list[SendResult | None]) -> list[SendResult]:
    out = []
    for result in results:
        if result is None:
            break
        out.append(result)
    return out


# -- the request ---------------------------------------------------------------------------------
def request_body(campaign: Campaign, recipients: list[RecipientValues], key: str, sandbox: bool, max_substitutions: int) -> dict[str, Any]:
    """One mail/send body: the parts once, with tags where the values differ by recipient."""
    tags = _tags(campaign, recipients)
    html = _content(campaign.html, recipients, tags, "html")
    text = _content(campaign.text, recipients, tags, "text")
    body: dict[str, Any] = {
        "personalizations": [_personalization(campaign, r, tags, key, max_substitutions) for r in recipients],
        "from": _address(campaign.from_),
        "subject": campaign.subject,
        "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
        "headers": dict(campaign.headers),
        "categories": [campaign.tag] if campaign.tag else [],
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
            "subscription_tracking": {"enable": False},
        },
    }
    if campaign.reply_to:
        body["reply_to"] = _address(campaign.reply_to)
    if sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def _tags(campaign: Campaign, recipients: list[RecipientValues]) -> dict[str, dict[str, str]]:
    """field -> {"html": tag, "text": tag} for the fields whose values differ by recipient; one
    tag for both parts where every recipient's HTML and plain value are the same string."""
    tags: dict[str, dict[str, str]] = {}
    for field in campaign.fields:
        html = [r.html.get(field, "") for r in recipients]
        text = [r.text.get(field, "") for r in recipients]
        if len(set(html)) <= 1 and len(set(text)) <= 1:
            continue  # the same for everyone in this request: filled in before sending
        if html == text:
            tags[field] = {"html": f"%%{field}%%", "text": f"%%{field}%%"}
        else:
            tags[field] = {"html": f"%%{field}.html%%", "text": f"%%{field}.text%%"}
    return tags


def _content(template: Any, recipients: list[RecipientValues], tags: dict[str, dict[str, str]], part: str) -> str:
    first = getattr(recipients[0], part) if recipients else {}
    return template.fill({field: tags[field][part] if field in tags else first.get(field, "") for field in template.fields})


def _personalization(campaign: Campaign, r: RecipientValues, tags: dict[str, dict[str, str]], key: str, max_substitutions: int) -> dict[str, Any]:
    to: dict[str, str] = {"email": r.to_address}
    if r.to_name:
        to["name"] = r.to_name
    substitutions = {}
    for field, tag in tags.items():
        substitutions[tag["html"]] = r.html.get(field, "")
        substitutions[tag["text"]] = r.text.get(field, "")
    size = sum(map(len, substitutions)) + sum(map(len, substitutions.values()))
    if size * 4 > max_substitutions:  # characters: at most 4 bytes each in UTF-8; count exactly when it matters
        size = sum(len(k.encode()) + len(v.encode()) for k, v in substitutions.items())
    if size > max_substitutions:
        raise ProviderRequestError(
            f"sendgrid: {r.rcpt}: the substitutions take {size:,} bytes, more than [providers.sendgrid] substitutions_max_bytes ({max_substitutions:,})",
            hint="Raise substitutions_max_bytes if your SendGrid account allows more (up to 50,000).",
        )
    headers = {"Message-ID": r.message_id, **dict(zip(campaign.recipient_headers, r.headers, strict=True))}
    custom_args = {**dict(r.metadata), "batch": key}
    item: dict[str, Any] = {"to": [to], "headers": headers, "custom_args": custom_args}
    if substitutions:
        item["substitutions"] = substitutions
    return item


def _address(header: str) -> dict[str, str]:
    from email.utils import parseaddr

    name, address = parseaddr(header)
    return {"email": address, "name": name} if name else {"email": address}


# -- mapping failures ------------------------------------------------------------------------------
def status_error(response: requests.Response) -> ProviderError:
    status = response.status_code
    messages = "; ".join(message for _, message in _errors(response)) or http_errors.error_text(response)
    if status in (401, 403):
        return ProviderAuthError(
            f"sendgrid: HTTP {status}: {messages or 'the API key was refused'}",
            hint="Check SENDGRID_API_KEY: it must be an API key with Mail Send (and Suppressions read) access.",
        )
    if status == 429:
        return ProviderRateLimited(f"sendgrid: HTTP 429: {messages or 'too many requests'}", retry_after=_reset(response.headers.get("X-RateLimit-Reset")))
    if status >= 500:
        return ProviderUnavailable(f"sendgrid: HTTP {status}: {messages}", hint="SendGrid is having trouble; the batch will be retried.")
    hint = "Lower [providers.sendgrid] batch_size." if status == 413 else None
    return ProviderRequestError(f"sendgrid: HTTP {status}: {messages}", hint=hint)


def refused_personalizations(response: requests.Response, count: int) -> dict[int, str]:
    """A 400's errors as {personalization index: message}, when every error names one; a 400
    about the request as a whole raises."""
    errors = _errors(response)
    refused: dict[int, str] = {}
    for field, message in errors:
        match = PERSONALIZATION_FIELD.match(field or "")
        if match is None or int(match.group(1)) >= count:
            raise status_error(response)
        refused.setdefault(int(match.group(1)), f"{message} ({field})")
    if not refused:
        raise status_error(response)
    return refused


def _errors(response: requests.Response) -> list[tuple[str | None, str]]:
    try:
        body = response.json()
        return [(e.get("field"), str(e.get("message", ""))) for e in body.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError):
        return []


def _reset(value: str | None, now: float | None = None) -> float | None:
    """X-RateLimit-Reset is the Unix time the limit resets at; the wait until then, or None."""
    try:
        reset = float(value or "")
    except ValueError:
        return None
    return max(0.0, reset - (time.time() if now is None else now))


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as err:
        raise ProviderUnavailable(f"sendgrid: {what}: the answer is not JSON: {http_errors.error_text(response)}") from err


def _suppression(entry: Mapping[str, Any], reason: str, listing: str) -> Suppression:
    created = entry.get("created")
    try:
        created_at = datetime.fromtimestamp(int(created), timezone.utc) if created is not None else None
    except (TypeError, ValueError, OverflowError):
        created_at = None
    return Suppression(email=str(entry["email"]), reason=reason, created_at=created_at, origin=listing)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
