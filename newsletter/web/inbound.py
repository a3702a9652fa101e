"""``POST /webhooks/postmark/inbound``: emails to the ``[unsubscribe] mailto`` address, by Postmark.

Every email's List-Unsubscribe ``mailto:`` carries ``subject=unsubscribe <token>``, so a mail
client's unsubscribe-by-email sends the signed token back: that subscriber is unsubscribed
(source ``email``), whoever forwarded it. Without a valid token, an email whose subject or first
line says "unsubscribe" unsubscribes its sender's own address (CAN-SPAM: a request by email must
be honoured). Anything else is answered 200 and ignored (nothing here is a mailbox staff read).
The same basic auth as the event webhook; a redelivered email changes nothing.
"""

from __future__ import annotations

import hashlib
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..build.personalize import verify_token
from ..models import ProviderEvent
from ..providers.postmark_events import WebhookPayloadError
from ..providers.postmark_inbound import InboundMail, parse_inbound
from ..store import events
from ..store.db import retry_locked
from .context import Site, site_of
from .webhooks import checked_credentials

TOKEN_RE = re.compile(r"\bunsubscribe\s+([0-9a-z]{1,13}\.[A-Za-z0-9_-]{16})\b", re.I)
REQUEST_RE = re.compile(r"^\W*(?:re:\s*|fwd?:\s*)*unsubscribe\b", re.I)


async def postmark_inbound(request: Request) -> Response:
    site = site_of(request)
    refused = checked_credentials(request, site)
    if refused is not None:
        return refused
    try:
        mail = parse_inbound(await request.body())
    except WebhookPayloadError as err:
        return PlainTextResponse(f"{err.message}\n", status_code=400)
    event = unsubscribe_request(site, mail)
    if event is None:
        return JSONResponse({"result": "ignored"})
    outcome = await run_in_threadpool(retry_locked, lambda: events.apply_event(site.db(), event, source="email"))
    return JSONResponse({"result": outcome})


def unsubscribe_request(site: Site, mail: InboundMail) -> ProviderEvent | None:
    """The unsubscribe this email asks for, or None when it asks none."""
    token = TOKEN_RE.search(mail.subject) or TOKEN_RE.search(mail.text)
    subscriber_id = verify_token(site.secret, token.group(1)) if token else None
    first_line = next((line for line in mail.text.splitlines() if line.strip()), "")
    asked = subscriber_id is not None or REQUEST_RE.search(mail.subject) or REQUEST_RE.search(first_line)
    if not asked:
        return None
    how = "by email with the link's token" if subscriber_id is not None else "by email from the address itself"
    return ProviderEvent(
        provider="postmark",
        record_type="Inbound",
        identity=hashlib.sha256(f"Inbound\x1f{mail.message_id}".encode()).hexdigest(),
        kind="unsubscribed",
        email=mail.sender,
        subscriber_id=subscriber_id,
        detail=how,
        trust_subscriber_id=subscriber_id is not None,
    )


ROUTES = [Route("/webhooks/postmark/inbound", postmark_inbound, methods=["POST"])]
