"""``POST /webhooks/postmark`` and ``POST /webhooks/sendgrid``: bounces, complaints,
unsubscribes and deliveries.

SendGrid signs its Event Webhook (ECDSA): ``providers/sendgrid_events.py`` checks the signature
against ``[providers.sendgrid] webhook_public_key`` before the body is parsed, and refuses a
signature older (or newer) than ``webhook_max_age_seconds``: 401, nothing changes. Without a key
the endpoint is closed (503). 200 applied, duplicate or ignored; 400 not an event array.

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
import time
from functools import lru_cache

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import NewsletterError
from ..providers import postmark_events, sendgrid_events
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


SENDGRID_NOT_CONFIGURED = (
    "SendGrid webhooks are not configured on this site: set [providers.sendgrid] webhook_public_key "
    "to the verification key of SendGrid's Signed Event Webhook.\n"
)
DEFAULT_MAX_AGE = 600.0


async def sendgrid(request: Request) -> Response:
    site = site_of(request)
    options = site.settings.provider_options("sendgrid")
    key_text = options.get("webhook_public_key")
    if not key_text:
        return PlainTextResponse(SENDGRID_NOT_CONFIGURED, status_code=503)
    try:
        key = _public_key(key_text)
    except NewsletterError as err:  # a key that is no key: closed, as without one
        return PlainTextResponse(f"{err.message}\n{err.hint}\n", status_code=503)
    body = await request.body()
    try:
        sendgrid_events.verify(key, request.headers, body, now=time.time(), max_age=float(options.get("webhook_max_age_seconds", DEFAULT_MAX_AGE)))
    except sendgrid_events.SignatureError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=401)
    try:
        found = sendgrid_events.parse(body)
    except sendgrid_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=400)
    outcomes = await run_in_threadpool(retry_locked, lambda: [events.apply_event(site.db(), event) for event in found])
    return JSONResponse({"results": outcomes})


@lru_cache(maxsize=4)  # parsed once per key, not per request
def _public_key(text: str):
    return sendgrid_events.load_public_key(text)


ROUTES = [Route("/webhooks/postmark", postmark, methods=["POST"]), Route("/webhooks/sendgrid", sendgrid, methods=["POST"])]
