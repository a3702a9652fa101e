"""Sign-up with double opt-in: ``/subscribe`` (the form) and ``/confirm/<token>`` (the emailed link).

The answer to a sign-up never reveals whether the address is known: new, pending, active and
suppressed addresses (and honeypot hits, and an address over its daily limit) all get the same
page, and the confirmation email is sent after the answer, so timing tells nothing either.
Only an IP over its hourly limit gets a different answer (429): it says nothing about anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import NewsletterError
from ..store import signups, subscribers
from ..store.addresses import InvalidAddress, normalize_email
from ..store.db import retry_locked
from . import confirmation
from .context import Site, site_of

log = logging.getLogger("newsletter.web")
HONEYPOT = "website"  # people never see it; form-filling bots do
MAX_NAME = 100


@dataclass(frozen=True)
class SignupForm:
    email: str
    first_name: str
    topics: tuple[str, ...]
    consent: bool
    honeypot: str


async def subscribe_form(request: Request) -> Response:
    return form_page(site_of(request), SignupForm("", "", (), False, ""))


async def subscribe(request: Request) -> Response:
    site = site_of(request)
    form = parse_form(await request.body(), site)
    ip = request.client.host if request.client else "unknown"
    return await run_in_threadpool(handle_signup, site, form, ip)


def handle_signup(site: Site, form: SignupForm, ip: str) -> Response:
    if form.honeypot:
        return sent_page(site)  # stores nothing, sends nothing
    limits = site.settings.signup
    retry_locked(lambda: signups.expire_unconfirmed(site.db(), older_than=site.clock() - limits.confirm_days * 86_400))
    if not _within_limit(site, "ip", ip, limits.per_ip_per_hour, 3600):
        response = site.page("subscribe_limited.html", 429)
        response.headers["Retry-After"] = "3600"
        return response
    try:
        address = normalize_email(form.email)
    except InvalidAddress:
        return form_page(site, form, "Please enter a full email address, like name@example.org.", 400)
    if not form.consent:
        return form_page(site, form, "Please tick the box to say you want the newsletter.", 400)
    if not _within_limit(site, "address", address.key, limits.per_address_per_day, 86_400):
        return sent_page(site)  # the same answer: the limit says nothing about the address
    sub = retry_locked(
        lambda: signups.request_signup(
            site.db(), address.email, first_name=form.first_name, topics=form.topics,
            consent_version=limits.consent_version, consent_form=consent_form(site), now=site.clock(),
        )
    )
    if sub is None:  # already active: nothing to confirm, no email
        return sent_page(site)
    link = f"{site.settings.base_url}/confirm/{confirmation.sign(site.secret, sub.id, site.clock())}"
    message = confirmation.confirmation_message(site.settings, sub, link)
    return sent_page(site, BackgroundTask(_send_logged, site, message))


async def confirm_page(request: Request) -> Response:
    site = site_of(request)
    checked = _checked(site, request.path_params["token"])
    if not isinstance(checked, confirmation.Checked):
        return checked
    return site.page("confirm.html")


async def confirm(request: Request) -> Response:
    site = site_of(request)
    checked = _checked(site, request.path_params["token"])
    if not isinstance(checked, confirmation.Checked):
        return checked
    return await run_in_threadpool(handle_confirm, site, checked.subscriber_id)


def handle_confirm(site: Site, subscriber_id: int) -> Response:
    conn = site.db()
    done = retry_locked(lambda: signups.confirm(conn, subscriber_id, consent_form=consent_form(site)))
    if done is None:
        now = subscribers.find(conn, subscriber_id)
        if now is None or now.status != "active":  # erased, or unsubscribed again since
            return site.page("confirm_invalid.html", 410, reason="used")
    return site.page("confirmed.html")  # confirming twice (a double click) is fine


def _checked(site: Site, token: str) -> confirmation.Checked | Response:
    checked = confirmation.check(site.secret, token, now=site.clock(), max_age_days=site.settings.signup.confirm_days)
    if checked is None:
        return site.page("confirm_invalid.html", 400, reason="invalid")
    if checked.expired:
        return site.page("confirm_invalid.html", 410, reason="expired")
    return checked


# --- the form -----------------------------------------------------------------------------------


def parse_form(body: bytes, site: Site) -> SignupForm:
    """application/x-www-form-urlencoded; unknown topics are dropped, the name is made safe
    for a To header (no control characters or line breaks)."""
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    def first(name: str) -> str:
        return fields.get(name, [""])[0]

    name = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in first("first_name"))
    topics = tuple(t for t in site.settings.topics if t in fields.get("topics", []))
    return SignupForm(first("email").strip(), " ".join(name.split())[:MAX_NAME], topics, bool(first("consent")), first(HONEYPOT))


def form_page(site: Site, form: SignupForm, error: str | None = None, status: int = 200) -> Response:
    return site.page("subscribe.html", status, form=form, error=error, honeypot=HONEYPOT)


def sent_page(site: Site, background: BackgroundTask | None = None) -> Response:
    response = site.page("subscribe_sent.html")
    response.background = background
    return response


def consent_form(site: Site) -> str:
    """What the consent record keeps as its form: where, and which wording was shown."""
    return f"{site.settings.base_url}/subscribe, wording {site.settings.signup.consent_version}"


def _within_limit(site: Site, kind: str, value: str, limit: int, window: float) -> bool:
    key_hash = hmac.new(site.secret, f"signup-limit:{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return retry_locked(lambda: signups.within_limit(site.db(), kind, key_hash, limit=limit, window=window, now=site.clock()))


def _send_logged(site: Site, message) -> None:
    """After the answer: a failure is logged (the person can simply sign up again)."""
    try:
        confirmation.send_confirmation(site.settings, site.env, message)
    except NewsletterError as err:
        log.warning("sign-up: %s", err.message)


ROUTES = [
    Route("/subscribe", subscribe_form, methods=["GET", "HEAD"]),
    Route("/subscribe", subscribe, methods=["POST"]),
    Route("/confirm/{token}", confirm_page, methods=["GET", "HEAD"]),
    Route("/confirm/{token}", confirm, methods=["POST"]),
]
