"""``POST /webhooks/postmark``, ``/webhooks/sendgrid`` and ``/webhooks/mailgun``: bounces,
complaints, unsubscribes and deliveries. Mailgun signs with HMAC (``MAILGUN_WEBHOOK_SIGNING_KEY``):
a bad or stale signature, or a signed request replayed after it was answered, gets 401.

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
import threading
import time
from functools import lru_cache

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import NewsletterError
from ..providers import mailgun_events, postmark_events, sendgrid_events, ses_events
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


SES_NOT_CONFIGURED = (
    "SES events are not configured on this site: set [providers.ses] webhook_topic_arn to the ARN of "
    "the SNS topic your configuration set publishes to.\n"
)


async def ses(request: Request) -> Response:
    """SNS posts SES events, subscription confirmations included (providers/ses_events.py)."""
    site = site_of(request)
    options = _ses_options(site)
    if not options["webhook_topic_arn"]:  # any AWS account's topic is signed by SNS: only ours counts
        return PlainTextResponse(SES_NOT_CONFIGURED, status_code=503)
    try:
        message = ses_events.envelope(await request.body())
    except ses_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=400)
    try:
        await run_in_threadpool(
            ses_events.verify, message, _ses_certificate(options["webhook_certificate"]),
            now=time.time(), max_age=options["webhook_max_age_seconds"], topic_arn=options["webhook_topic_arn"],
        )
    except ses_events.SignatureError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=401)
    if message["Type"] == "SubscriptionConfirmation":
        try:
            await run_in_threadpool(ses_events.confirm_subscription, message, options["webhook_sns_base_url"])
        except NewsletterError as err:
            log.warning("%s", err.message)
            return PlainTextResponse(f"{err.message}\n", status_code=502)
        log.info("ses: confirmed the SNS subscription to %s", message.get("TopicArn"))
        return JSONResponse({"result": "subscribed"})
    if message["Type"] != "Notification":
        return JSONResponse({"result": "ignored"})
    try:
        found = ses_events.parse(message)
    except ses_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=400)
    outcomes = await run_in_threadpool(retry_locked, lambda: [events.apply_event(site.db(), event) for event in found])
    return JSONResponse({"results": outcomes})


def _ses_options(site: Site) -> dict:
    from ..providers.base import check_provider_table

    values, _ = check_provider_table("ses", site.settings.provider_options("ses"))  # checked when the config loaded
    return values


def _ses_certificate(path):
    """How to get the signing certificate: the configured file (tests), else SNS's, by URL."""
    if path is not None:
        return lambda url: _certificate_file(str(path))
    return _certificate_at


@lru_cache(maxsize=4)
def _certificate_file(path: str):
    try:
        with open(path, "rb") as file:
            return ses_events.load_certificate(file.read())
    except OSError as err:
        raise ses_events.SignatureError(f"ses: [providers.ses] webhook_certificate: {err}") from None


@lru_cache(maxsize=16)  # SNS signs with a few certificates, each fetched once
def _certificate_at(url: str):
    return ses_events.fetch_certificate(url)


MAILGUN_KEY_VAR = "MAILGUN_WEBHOOK_SIGNING_KEY"
MAILGUN_NOT_CONFIGURED = (
    f"Mailgun webhooks are not configured on this site: set {MAILGUN_KEY_VAR} in the environment of "
    "`newsletter serve` to the HTTP webhook signing key from Mailgun's Webhooks page.\n"
)
_MAILGUN_TOKENS: dict[str, float] = {}  # tokens of requests answered 200 (a replay of one is refused)
_TOKENS_LOCK = threading.Lock()


async def mailgun(request: Request) -> Response:
    """Mailgun signs timestamp + token (HMAC-SHA256): checked, and stale signatures and a token
    already answered refused (401), before anything is applied. 406 tells Mailgun not to retry a
    body that is no webhook."""
    site = site_of(request)
    key = site.env.get(MAILGUN_KEY_VAR, "")
    if not key:
        return PlainTextResponse(MAILGUN_NOT_CONFIGURED, status_code=503)
    max_age = float(site.settings.provider_options("mailgun").get("webhook_max_age_seconds", DEFAULT_MAX_AGE))
    now = time.time()
    try:
        payload = mailgun_events.read(await request.body())
        token = mailgun_events.verify(key, payload, now=now, max_age=max_age)
    except mailgun_events.SignatureError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=401)
    except mailgun_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=406)
    with _TOKENS_LOCK:
        if token in _MAILGUN_TOKENS:
            return PlainTextResponse("mailgun webhook: this signed request was already answered (a replay)\n", status_code=401)
    try:
        event = mailgun_events.parse(payload)
    except mailgun_events.WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=406)
    outcome = "ignored" if event is None else await run_in_threadpool(retry_locked, lambda: events.apply_event(site.db(), event))
    with _TOKENS_LOCK:
        for old in [t for t, at in _MAILGUN_TOKENS.items() if now - at > max_age]:
            del _MAILGUN_TOKENS[old]  # past the age limit a replay is refused as stale anyway
        _MAILGUN_TOKENS[token] = now
    return JSONResponse({"result": outcome})


ROUTES = [
    Route("/webhooks/postmark", postmark, methods=["POST"]),
    Route("/webhooks/sendgrid", sendgrid, methods=["POST"]),
    Route("/webhooks/ses", ses, methods=["POST"]),
    Route("/webhooks/mailgun", mailgun, methods=["POST"]),
]
