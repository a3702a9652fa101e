"""Every configured secret in one place, and the redaction of provider texts.

A provider's error body, an SMTP reply or an exception text may repeat what we sent it: an
echoing proxy puts the request's headers (the API token, a Basic ``Authorization``) in its error
page. ``Redactor`` replaces each secret, and the encodings such a text may carry it in, with
``[redacted]`` before the text is printed, logged or stored. ``providers/base.create_provider``
applies it to everything an adapter says; the CLI's ``Error:`` line, the send ledger and the
site's log apply it once more.
"""

from __future__ import annotations

import base64
import logging
from typing import Iterable, Mapping
from urllib.parse import quote, quote_plus

# Every environment variable that holds a secret (README, Security and secrets).
SECRET_VARS: tuple[str, ...] = (
    "NEWSLETTER_SECRET",
    "POSTMARK_SERVER_TOKEN",
    "SMTP_PASSWORD",
    "POSTMARK_WEBHOOK_PASSWORD",
    "SENDGRID_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",  # the shared PostgreSQL store's password (libpq reads it)
    "MAILGUN_API_KEY",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
)
# Variables holding a URL whose password part is a secret (the URL itself may be printed without it).
SECRET_URL_VARS: tuple[str, ...] = ("NEWSLETTER_DATABASE_URL",)
# (user, password) pairs that travel together as HTTP Basic auth or SMTP AUTH.
CREDENTIAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("SMTP_USERNAME", "SMTP_PASSWORD"),
    ("POSTMARK_WEBHOOK_USERNAME", "POSTMARK_WEBHOOK_PASSWORD"),
)
MASK = "[redacted]"
# Shorter values are not searched for: replacing every "ab" would garble the text and hide
# nothing worth hiding (a secret that short is no secret).
MIN_LENGTH = 4


def _b64_forms(raw: bytes) -> set[str]:
    """Base64 of ``raw`` as standard and URL-safe alphabets, with and without padding."""
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode("ascii")
        forms |= {text, text.rstrip("=")}
    return forms


def secret_forms(value: str) -> set[str]:
    """The value and the encodings it may be echoed in (percent-encoded, base64)."""
    if len(value) < MIN_LENGTH:
        return set()
    return {value, quote(value, safe=""), quote_plus(value, safe=""), *_b64_forms(value.encode("utf-8"))}


def credential_forms(user: str, password: str) -> set[str]:
    """HTTP Basic (``user:password``) and SMTP AUTH PLAIN (``\\0user\\0password``), base64."""
    if len(password) < MIN_LENGTH:
        return set()
    forms: set[str] = set()
    for joined in (f"{user}:{password}", f"\0{user}\0{password}", f"{user}\0{user}\0{password}"):
        forms |= _b64_forms(joined.encode("utf-8"))
    return forms


def _url_password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    try:
        return unquote(urlsplit(url).password or "") if url else ""
    except ValueError:
        return ""


class Redactor:
    """Replaces every configured secret (and its encodings) in a text with ``[redacted]``."""

    def __init__(self, forms: Iterable[str] = ()) -> None:
        # Longest first, so a form that contains another is replaced whole.
        self._forms = tuple(sorted({f for f in forms if f}, key=len, reverse=True))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        forms: set[str] = set()
        for name in SECRET_VARS:
            forms |= secret_forms(env.get(name, ""))
        for user_var, password_var in CREDENTIAL_PAIRS:
            forms |= credential_forms(env.get(user_var, ""), env.get(password_var, ""))
        for name in SECRET_URL_VARS:
            forms |= secret_forms(_url_password(env.get(name, "")))
        return cls(forms)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str | None) -> str | None:
        if not text or not self._forms:
            return text
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return self._cut_tail(text)

    def _cut_tail(self, text: str) -> str:
        """A text cut short (an error body kept to its first 200 characters) may end with the
        first part of a secret: that part goes too."""
        for form in self._forms:
            for size in range(len(form) - 1, MIN_LENGTH - 1, -1):
                if text.endswith(form[:size]):
                    return text[:-size] + MASK
        return text

    def error(self, err: BaseException) -> BaseException:
        """The same exception with its message, hint and partial results redacted (in place:
        its type, cause and attributes such as ``retry_after`` stay as they were)."""
        message = getattr(err, "message", None)
        if isinstance(message, str):
            err.message = self(message)
            err.args = (err.message, *err.args[1:]) if err.args else (err.message,)
        if isinstance(getattr(err, "hint", None), str):
            err.hint = self(err.hint)
        partial = getattr(err, "partial_results", None)
        if partial:
            err.partial_results = tuple(self.result(r) for r in partial)
        return err

    def result(self, result):
        """A SendResult with its detail redacted (the same object when nothing changes)."""
        from dataclasses import replace

        detail = self(result.detail)
        return result if detail == result.detail else replace(result, detail=detail)


class RedactingFilter(logging.Filter):
    """A logging filter: the formatted message of every record, redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# A logger's filters see only its own records, not its children's: each logger is named.
LOGGERS = ("newsletter", "newsletter.web", "uvicorn.error")


def install_log_redaction(redact: Redactor, names: Iterable[str] = LOGGERS) -> None:
    """Redact every record of our loggers (one filter each, replaced when called again)."""
    for name in names:
        logger = logging.getLogger(name)
        for existing in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(existing)
        if redact:
            logger.addFilter(RedactingFilter(redact))
