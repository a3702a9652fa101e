"""Headers every response carries, a cap on request bodies, and an access log without tokens."""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # the largest legitimate body is a Postmark webhook of a few KB
# Except an email to the unsubscribe mailbox (Postmark inbound): a reply quoting a whole issue.
# And SendGrid's event batches (it posts many events per request).
LARGER_BODIES = {"/webhooks/postmark/inbound": 2 * 1024 * 1024, "/webhooks/sendgrid": 2 * 1024 * 1024, "/webhooks/ses": 512 * 1024}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"referrer-policy", b"no-referrer"),  # a token in the URL never leaks in a Referer header
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
# /u/<token>, /p/<token>, /confirm/<token>: the path segment after these is a credential.
TOKEN_PATH_RE = re.compile(r"(/(?:u|p|confirm)/)[^/?\s\"]+")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_body = LARGER_BODIES.get(scope["path"].rstrip("/"), self.max_body)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            await _plain(send, 413, b"Request body too large.")
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _plain(send, 413, b"Request body too large.")


class BodyTooLarge(Exception):
    pass


async def _plain(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def redact(text: str) -> str:
    return TOKEN_PATH_RE.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """On uvicorn's access logger: the request line's tokens become ``[token]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


def install_log_redaction() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
