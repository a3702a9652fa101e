"""Mailgun: ``POST /v3/{domain}/messages`` with up to 1,000 recipients, the issue's parts sent once
and substituted by Mailgun from ``recipient-variables`` (providers.md §3); the Events API to settle
in-doubt batches; the suppression tables.

``[providers.mailgun]`` settings: see ``MailgunProvider.options``. The key comes only from
``MAILGUN_API_KEY`` (HTTP basic auth, user ``api``). requests is imported where it is used.

``recipient-variables`` is ALWAYS sent, one entry per recipient: without it Mailgun sends one
message with every address in To. Each merge field is ``%recipient.<key>%`` in the parts (one key
for both parts, or a key per part where the HTML-escaped and plain values differ; a value the
same for the whole request is written in), and in the per-recipient headers
(``h:List-Unsubscribe``, ``h:Message-Id``) and user variables (``v:subscriber_id``). ``o:tag`` is
the issue (one tag per issue: Mailgun limits tags per domain), ``v:issue`` and ``v:batch`` come
back in every event, tracking is off.

A request is accepted whole (200, one id) or refused whole; a lost answer leaves all its
recipients in doubt, and ``search_accepted`` asks the Events API (``event=accepted``, the issue's
tag, the window, ascending, every page). Mailgun stores events asynchronously: "absent" is
trusted only once the window is older than the polling threshold, which is this adapter's
``search_grace_seconds`` (``[providers.mailgun] reconcile_grace_seconds``, 1800 by default).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import secret
from ..errors import ProviderAuthError, ProviderError, ProviderRateLimited, ProviderRequestError, ProviderUnavailable
from ..models import Batch, Campaign, RecipientValues, SendResult, Suppression
from . import http_errors, option_specs
from .base import AcceptedRecord, SearchResult

if TYPE_CHECKING:
    import requests

EVENTS_PAGE = 300
SUPPRESSION_PAGE = 1000
SUPPRESSION_TABLES = {"bounces": "HardBounce", "complaints": "SpamComplaint", "unsubscribes": "Unsubscribe"}
MAX_PAGES = 2000  # pages one search or listing may read before it says it is incomplete
RETRY_DATE = re.compile(r"try again after (.+?)(?:$|\.?\s*$)", re.I)
IN_DOUBT_HINT = (
    "Mailgun may have accepted this request; the send command asks Mailgun's events what it accepted "
    "before anything is resent (once the events are older than the polling threshold)."
)


class MailgunProvider:
    name = "mailgun"
    honours_idempotency_key = False  # none documented (providers.md §3.5)
    lists_suppressions = True
    search_grace_seconds = 1800.0  # Mailgun's event polling threshold ("e.g. half an hour")
    options = option_specs.MAILGUN

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        from ..errors import ConfigError
        from .http import DeadlineSession

        if not options["domain"]:
            raise ConfigError("[providers.mailgun] domain is required", hint="Set it to the sending domain as set up in Mailgun, e.g. domain = \"news.clinic.example\".")
        self.base_url: str = options["base_url"].rstrip("/")
        self.domain: str = options["domain"]
        self.max_batch: int = options["batch_size"]
        self.timeout: tuple[float, float] = options["timeout"]
        self.test_mode: bool = options["test_mode"]
        key = secret("MAILGUN_API_KEY", env, purpose="the Mailgun API key")
        self.session = DeadlineSession(options["deadline"])
        self.session.auth = ("api", key)

    # -- sending ---------------------------------------------------------------------------
    def send(self, batch: Batch) -> Sequence[SendResult]:
        if not len(batch):
            return []
        fields = form(batch.campaign, list(batch), batch.key, self.test_mode)
        # multipart/form-data: the values go as they are (urlencoding 700 KB costs ~0.1 s of CPU)
        response = self._request("POST", f"/v3/{self.domain}/messages", files=[(name, (None, value.encode())) for name, value in fields])
        try:
            message_id = str(response.json().get("id") or "").strip("<>") or None
        except ValueError:
            message_id = None  # a 200 is an acceptance whatever its body says
        return [SendResult("accepted", provider_message_id=message_id) for _ in batch]

    # -- reconciling -----------------------------------------------------------------------
    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult:
        """Every ``accepted`` event of the issue's tag in the window, oldest first, all pages."""
        since, until = _aware(since), _aware(until)
        params: dict[str, Any] = {"event": "accepted", "tags": tag, "begin": format_datetime(since), "end": format_datetime(until), "ascending": "yes", "limit": EVENTS_PAGE}
        records: dict[str, AcceptedRecord] = {}
        url: str | None = f"{self.base_url}/v3/{self.domain}/events"
        for _ in range(MAX_PAGES):
            page = _json(self._request("GET", url, params=params, absolute=True), "events")
            items = page.get("items") or []
            for item in items:
                record = _record(item)
                records.setdefault(str(item.get("id")), record)
            url, params = (page.get("paging") or {}).get("next"), {}
            if not items or not url:
                return SearchResult(tuple(records.values()), since, until)
        return SearchResult(tuple(records.values()), since, until, complete=False, note=f"more than {MAX_PAGES} pages of events")

    # -- suppressions ----------------------------------------------------------------------
    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        out: list[Suppression] = []
        for table, reason in SUPPRESSION_TABLES.items():
            url: str | None = f"{self.base_url}/v3/{self.domain}/{table}"
            params: dict[str, Any] = {"limit": SUPPRESSION_PAGE}
            for _ in range(MAX_PAGES):
                page = _json(self._request("GET", url, params=params, absolute=True), table)
                items = page.get("items") or []
                for item in items:
                    entry = _suppression(item, reason, table)
                    if entry is not None and (since is None or entry.created_at is None or entry.created_at >= _aware(since)):
                        out.append(entry)
                url, params = (page.get("paging") or {}).get("next"), {}
                if not items or not url:
                    break
        return out

    def destination(self, tag: str) -> None:
        return None

    def close(self) -> None:
        self.session.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, absolute: bool = False, **kwargs: Any) -> requests.Response:
        import requests

        try:
            response = self.session.request(method, path if absolute else self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            raise http_errors.transport_error(
                err, "mailgun", IN_DOUBT_HINT, "The request in flight is unknown and the run stopped. Check the network or proxy; the next send asks Mailgun's events."
            ) from err
        if response.status_code != 200:
            raise status_error(response)
        return response


# -- the request ---------------------------------------------------------------------------------
def form(campaign: Campaign, recipients: list[RecipientValues], key: str, test_mode: bool) -> list[tuple[str, str]]:
    """The messages request as form fields: the parts once, with
    ``%recipient.<key>%`` where the values differ, and every recipient's variables."""
    keys = _keys(campaign, recipients)
    fields: list[tuple[str, str]] = [("from", campaign.from_), ("subject", campaign.subject)]
    fields.append(("to", ", ".join(r.to for r in recipients)))  # one address list (Mailgun: "repeat or comma-separate")
    fields += [("text", _content(campaign.text, recipients, keys, "text")), ("html", _content(campaign.html, recipients, keys, "html"))]
    if campaign.reply_to:
        fields.append(("h:Reply-To", campaign.reply_to))
    fields += [(f"h:{name}", value) for name, value in campaign.headers]
    fields += [(f"h:{name}", f"%recipient.h{i}%") for i, name in enumerate(campaign.recipient_headers)]
    fields += [("h:Message-Id", "%recipient.message_id%"), ("o:tag", campaign.tag), ("v:issue", campaign.tag), ("v:batch", key)]
    fields += [("v:subscriber_id", "%recipient.subscriber_id%"), ("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no")]
    if test_mode:
        fields.append(("o:testmode", "yes"))
    variables = {r.to_address: _variables(r, keys) for r in recipients}
    fields.append(("recipient-variables", json.dumps(variables, ensure_ascii=False, separators=(",", ":"))))
    return fields


def _keys(campaign: Campaign, recipients: list[RecipientValues]) -> dict[str, dict[str, str]]:
    """field -> {"html": key, "text": key} for fields whose values differ by recipient."""
    keys: dict[str, dict[str, str]] = {}
    for field in campaign.fields:
        html = [r.html.get(field, "") for r in recipients]
        text = [r.text.get(field, "") for r in recipients]
        if len(set(html)) <= 1 and len(set(text)) <= 1:
            continue
        keys[field] = {"html": field, "text": field} if html == text else {"html": f"{field}_html", "text": f"{field}_text"}
    return keys


def _content(template: Any, recipients: list[RecipientValues], keys: dict[str, dict[str, str]], part: str) -> str:
    first = getattr(recipients[0], part)
    return template.fill({f: f"%recipient.{keys[f][part]}%" if f in keys else first.get(f, "") for f in template.fields})


def _variables(r: RecipientValues, keys: dict[str, dict[str, str]]) -> dict[str, str]:
    out = {"message_id": r.message_id, "subscriber_id": str(r.subscriber_id)}
    out.update({f"h{i}": value for i, value in enumerate(r.headers)})
    for field, key in keys.items():
        out[key["html"]] = r.html.get(field, "")
        out[key["text"]] = r.text.get(field, "")
    return out


# -- mapping failures ------------------------------------------------------------------------------
def status_error(response: requests.Response) -> ProviderError:
    status = response.status_code
    if status == 401:  # a plain-text "Forbidden", not JSON
        return ProviderAuthError("mailgun: HTTP 401: the API key was refused", hint="Check MAILGUN_API_KEY (a key that may send for [providers.mailgun] domain) and base_url (EU domains: https://api.eu.mailgun.net).")
    message = _message(response)
    if status == 429:
        return ProviderRateLimited(f"mailgun: HTTP 429: {message}", retry_after=retry_after_text(message))
    if status >= 500:
        return ProviderUnavailable(f"mailgun: HTTP {status}: {message}", hint="Mailgun is having trouble; the batch will be retried.")
    hints = {404: "Check [providers.mailgun] domain and base_url (EU domains: https://api.eu.mailgun.net).", 413: "Lower [providers.mailgun] batch_size."}
    return ProviderRequestError(f"mailgun: HTTP {status}: {message}", hint=hints.get(status))


def retry_after_text(message: str, now: datetime | None = None) -> float | None:
    """The wait until the RFC 2822 date inside a 429's message ("try again after <date>")."""
    match = RETRY_DATE.search(message or "")
    if not match:
        return None
    try:
        when = parsedate_to_datetime(match.group(1).strip().rstrip("."))
    except (TypeError, ValueError):
        return None
    return max(0.0, (_aware(when) - (now or datetime.now(timezone.utc))).total_seconds())


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", "")) or http_errors.error_text(response)
    except (ValueError, AttributeError):
        return http_errors.error_text(response)


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as err:
        raise ProviderUnavailable(f"mailgun: {what}: the answer is not JSON: {http_errors.error_text(response)}") from err
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"mailgun: {what}: expected a JSON object")
    return body


def _record(item: Mapping[str, Any]) -> AcceptedRecord:
    variables = item.get("user-variables") if isinstance(item.get("user-variables"), dict) else {}
    headers = ((item.get("message") or {}).get("headers") or {}) if isinstance(item.get("message"), dict) else {}
    message_id = headers.get("message-id")
    return AcceptedRecord(
        email=str(item.get("recipient") or ""),
        provider_message_id=message_id,
        metadata={k: str(v) for k, v in variables.items() if k in ("issue", "subscriber_id", "batch")},
        message_id=f"<{message_id}>" if message_id else None,
    )


def _suppression(item: Mapping[str, Any], reason: str, table: str) -> Suppression | None:
    address = item.get("address")
    if not address:
        return None
    try:
        created_at = parsedate_to_datetime(str(item.get("created_at"))) if item.get("created_at") else None
    except (TypeError, ValueError):
        created_at = None
    return Suppression(email=str(address), reason=reason, created_at=_aware(created_at) if created_at else None, origin=table)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
