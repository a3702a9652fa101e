"""``POST /webhooks/postmark``: bounces, complaints, subscription changes and deliveries.

Postmark signs nothing (providers.md §1.10), so the endpoint takes HTTP basic auth against
``POSTMARK_WEBHOOK_USERNAME`` / ``POSTMARK_WEBHOOK_PASSWORD``: compared in constant time, and
checked before the body is read. Without both variables the endpoint is closed (503), never open.
Answers: 200 applied, duplicate or ignored (Postmark stops retrying); 400 not a record (retrying
would not help); 401 credentials; 503 not configured (Postmark retries later).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..providers import postmark_events
from ..store import events
from ..store.db import retry_locked
from .context import Site, site_of

log = logging.getLogger("newsletter.web")
USERNAME_VAR, PASSWORD_VAR = "POSTMARK_WEBHOOK_USERNAME", "POSTMARK_WEBHOOK_PASSWORD"
REALM = 'Basic realm="newsletter webhooks", charset="UTF-8"'
NOT_CONFIGURED = (
    f"Postmark webhooks are not configured on this site: set {USERNAME_VAR} and {PASSWORD_VAR} "
    "in the environment of `newsletter serve`, and the same credentials in the webhook's settings in Postmark.\n"
)


def warn_if_unconfigured(env) -> None:
    """Said once when the site starts (``serve`` shows it): the endpoint is closed until both are set."""
    if not env.get(USERNAME_VAR) or not env.get(PASSWORD_VAR):
        log.warning("%s and %s are not both set: POST /webhooks/postmark answers 503 (README, Postmark events)", USERNAME_VAR, PASSWORD_VAR)


async def postmark(request: Request) -> Response:
    site = site_of(request)
    refused = checked_credentials(request, site)
    if refused is not None:
        return refused
    try:
        event = postmark_events.parse(await request.body())
    except postmark_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=400)
    if event is None:
        return JSONResponse({"result": "ignored"})
    outcome = await run_in_threadpool(retry_locked, lambda: events.apply_event(site.db(), event))
    return JSONResponse({"result": outcome})


def checked_credentials(request: Request, site: Site) -> Response | None:
    """None when the request carries the configured credentials, else the answer to give."""
    username, password = site.env.get(USERNAME_VAR, ""), site.env.get(PASSWORD_VAR, "")
    if not username or not password:
        return PlainTextResponse(NOT_CONFIGURED, status_code=503)
    if not authorized(request.headers.get("authorization", ""), username, password):
        return PlainTextResponse("Wrong or missing credentials.\n", status_code=401, headers={"WWW-Authenticate": REALM})
    return None


def authorized(header: str, username: str, password: str) -> bool:
    """HTTP basic credentials equal to the expected ones; both parts compared in constant time."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, sep, given_password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return bool(sep) and user_ok and password_ok


ROUTES = [Route("/webhooks/postmark", postmark, methods=["POST"])]
