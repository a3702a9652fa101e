"""The ASGI app: routes from each part of the site, one shared ``Site``, security middleware."""

from __future__ import annotations

import os
import time
from typing import Callable, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ..config import Settings
from ..secrets import Redactor
from ..secrets import install_log_redaction as redact_secrets_in_logs
from ..send.signing import signing_secret
from ..store.db import ping
from . import archive, inbound, preferences, signup, unsubscribe, webhooks
from .context import Site
from .security import SecurityHeaders, install_log_redaction


def create_app(settings: Settings, env: Mapping[str, str] | None = None, *, clock: Callable[[], float] = time.time, include_drafts: bool = False) -> Starlette:
    env = os.environ if env is None else env
    site = Site(settings=settings, env=env, secret=signing_secret(settings.provider, env), clock=clock, include_drafts=include_drafts)
    install_log_redaction()
    redact_secrets_in_logs(Redactor.from_env(env))  # a provider's error text in the site's log
    webhooks.warn_if_unconfigured(env)
    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        *signup.ROUTES,
        *archive.ROUTES,
        *unsubscribe.ROUTES,
        *preferences.ROUTES,
        *webhooks.ROUTES,
        *inbound.ROUTES,
    ]
    # Each part of the site contributes its routes (web/unsubscribe.py, signup.py, archive.py, webhooks.py).
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.site = site
    return app


def healthz(request: Request) -> PlainTextResponse:
    """For the reverse proxy: the app is up and its database answers."""
    ping(request.app.state.site.db())
    return PlainTextResponse("ok")
