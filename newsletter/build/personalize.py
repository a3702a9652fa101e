"""Per-recipient messages from the compiled issue: string work only, no MJML, no Jinja.

Everything that is the same for every recipient is computed once in ``Personalizer`` and handed
to the adapters as its ``campaign``; each ``values()`` call signs the recipient's tokens and
escapes their values per part (HTML, plain text, headers). Bodies are joined later, by the
provider or by the shared helpers in ``mime.py``; ``message()`` does that for one recipient.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property
from html import escape

from ..config import Settings
from ..errors import NewsletterError
from ..models import Campaign, CompiledIssue, OutgoingMessage, Recipient, RecipientValues
from ..recipients import RecipientProblem, clean_name, mailbox
from .issue import slugify

TOKEN_VERSION = "1"
NAME_CACHE = 50_000  # distinct first names remembered by one send's Personalizer


class PersonalizeError(NewsletterError):
    """One recipient's message cannot be built (a value ``recipients.py`` refuses, or a header
    value with CR/LF): that recipient is rejected, the run goes on."""


UNSUBSCRIBE = "unsub"
PREFERENCES = "prefs"  # a preferences link signs the same id under another purpose


def sign_token(secret: bytes, subscriber_id: int, purpose: str = UNSUBSCRIBE) -> str:
    """A short, unforgeable token: ``<id base36>.<16 chars of HMAC-SHA256>``.

    Short on purpose: List-Unsubscribe should fit one header line (some DKIM signers break on
    folded ones). It never expires, so an old issue's link keeps working. ``purpose`` is part of
    the MAC, so a preferences token is not an unsubscribe token and the other way round.
    """
    ident = _base36(subscriber_id)
    mac = hmac.digest(secret, f"{purpose}:{TOKEN_VERSION}:{ident}".encode(), "sha256")
    return f"{ident}.{base64.urlsafe_b64encode(mac[:12]).decode().rstrip('=')}"


def verify_token(secret: bytes, token: str, purpose: str = UNSUBSCRIBE) -> int | None:
    """The subscriber id a token was signed for, or None when it is forged or malformed."""
    ident, _, _ = token.partition(".")
    # Only the canonical form sign_token writes: int() alone would accept "-1" (and _base36 would
    # never end), "+1", "1_0" or non-ASCII digits (which compare_digest refuses with a TypeError).
    if not (0 < len(ident) <= 13 and ident.isascii() and ident.isalnum() and ident == ident.lower()):
        return None
    subscriber_id = int(ident, 36)
    if not token.isascii():
        return None
    expected = sign_token(secret, subscriber_id, purpose)
    return subscriber_id if hmac.compare_digest(expected.encode(), token.encode()) else None


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError(f"subscriber id {n} is negative")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class Personalizer:
    """Builds OutgoingMessage values for one compiled issue."""

    compiled: CompiledIssue
    settings: Settings
    secret: bytes
    subject_prefix: str = ""
    tag_suffix: str = ""  # test sends are tagged apart, so they never count as the issue's send

    def __post_init__(self) -> None:
        s, issue = self.settings, self.compiled.issue
        self._html = self.compiled.html_template
        self._text = self.compiled.text_template
        self._subject = self.subject_prefix + issue.subject
        self._from = s.from_header
        self._webview = f"{s.base_url}/issues/{issue.slug}/"
        self._webview_html = escape(self._webview)
        self._unsub_base = f"{s.base_url}/u/"
        self._prefs_base = f"{s.base_url}/p/"
        # Which issue a link came from, for the subscriber's history; the token stays the proof.
        self._issue_query = f"?issue={issue.slug}"
        # No [unsubscribe] mailto: List-Unsubscribe carries the https URL only (RFC 2369 allows one).
        self._mailto = f"mailto:{s.unsubscribe_mailto}?subject=unsubscribe%20" if s.unsubscribe_mailto else None
        self._list_id = f"{_header_safe(s.name)} <{slugify(s.name)}.{s.sending_domain}>"
        self._fallback = s.first_name_fallback
        self._tag = issue.slug + self.tag_suffix
        self._domain = s.sending_domain
        # HMACs keyed once and fed what every recipient's input starts with (see sign_token).
        self._unsub_mac = _PrefixedMac(self.secret, f"{UNSUBSCRIBE}:{TOKEN_VERSION}:".encode())
        self._prefs_mac = _PrefixedMac(self.secret, f"{PREFERENCES}:{TOKEN_VERSION}:".encode())
        self._id_mac = _PrefixedMac(self.secret, f"{self._tag}:".encode())
        self._names: dict[str, tuple[str, str, str]] = {}
        _refuse_newlines("From", self._from)
        _refuse_newlines("Subject", self._subject)

    @cached_property
    def campaign(self) -> Campaign:
        """What every recipient shares, built once: the adapter's side of the seam."""
        return Campaign(
            tag=self._tag,
            from_=self._from,
            subject=self._subject,
            html=self._html,
            text=self._text,
            reply_to=self.settings.reply_to,
            headers=(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"), ("List-Id", self._list_id)),
            recipient_headers=("List-Unsubscribe",),
        )

    def values(self, recipient: Recipient) -> RecipientValues:
        """One recipient's values, escaped per part (string work only: no body is built here)."""
        sid = recipient.subscriber_id
        ident = _base36(sid)
        token = _signed(self._unsub_mac, ident)
        unsubscribe_url = self._unsub_base + token + self._issue_query
        preferences_url = self._prefs_base + _signed(self._prefs_mac, ident) + self._issue_query
        try:  # recipients.py decides what a name and an address may be, for import and send alike
            name, first_name, html_name = self._name(recipient.first_name)
            to = mailbox(name, recipient.email)
        except RecipientProblem as err:
            raise PersonalizeError(f"{recipient.email}: {err.reason}", hint="Fix the subscriber's values (subscribers import) and run the send again.") from None
        # Tokens are [0-9a-z._-] and slugs [a-z0-9-] only, so the URLs need no HTML escaping or %-quoting.
        return RecipientValues(
            sid,
            to.header,
            to.address,
            self.message_id(sid),
            {"first_name": html_name, "webview_url": self._webview_html, "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url},
            {"first_name": first_name, "webview_url": self._webview, "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url},
            (f"<{unsubscribe_url}>, <{self._mailto}{token}>" if self._mailto else f"<{unsubscribe_url}>",),
            (("issue", self._tag), ("subscriber_id", str(sid))),
            name,
        )

    def _name(self, first_name: str) -> tuple[str, str, str]:
        """The cleaned name, and its text and HTML values: a list repeats first names, so each
        is worked out once (the cache is bounded; a refused name raises every time)."""
        known = self._names.get(first_name)
        if known is None:
            name = clean_name(first_name)
            value = name or self._fallback
            if len(self._names) >= NAME_CACHE:
                self._names.clear()
            known = self._names[first_name] = (name, value, _html_value(value))
        return known

    def message(self, recipient: Recipient) -> OutgoingMessage:
        """The recipient's whole message (the sample ``build`` writes, test sends, checks)."""
        from ..mime import full_message

        return full_message(self.campaign, self.values(recipient))

    def message_id(self, subscriber_id: int) -> str:
        """Deterministic per (issue, subscriber, prefix): a copy sent twice by accident carries the
        same Message-ID, which receiving mailboxes use to collapse duplicates."""
        digest = self._id_mac.digest(f"{subscriber_id}:{self.subject_prefix}".encode()).hex()[:20]
        return f"<{digest}.{self._tag}@{self._domain}>"


class _PrefixedMac:
    """HMAC-SHA256 (RFC 2104) keyed once and fed a fixed prefix of every input: per input only
    the copies of two hash states (a third of ``hmac.digest``'s cost, which keys each call; the
    send's hot path makes three per recipient). ``tests/test_personalize.py`` checks it against
    ``hmac``."""

    def __init__(self, key: bytes, prefix: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _signed(mac: _PrefixedMac, ident: str) -> str:
    """``sign_token``'s token, from a MAC already fed its purpose and version."""
    code = binascii.b2a_base64(mac.digest(ident.encode())[:12], newline=False).translate(_URLSAFE)
    return f"{ident}.{code.decode()}"  # 12 bytes are 16 characters: no padding to strip


def _html_value(value: str) -> str:
    """Escaped, and ASCII like the compiled HTML (non-ASCII as character references)."""
    value = escape(value)
    return value if value.isascii() else value.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _header_safe(value: str) -> str:
    return value.replace('"', "").replace("<", "").replace(">", "")


def _refuse_newlines(header: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise PersonalizeError(f"{header} header: value contains a line break: {value!r}", hint="Remove line breaks from names and subjects; they would let a value inject headers.")
