"""OutgoingMessage -> RFC 5322 multipart/alternative bytes (text/plain first, then text/html).

Used by the outbox and SMTP providers and by ``newsletter build`` for the sample ``.eml``.
Python's EmailMessage picks quoted-printable or base64 as needed, so no line on the wire exceeds
998 octets even though the compiled HTML is long lines; non-ASCII headers become RFC 2047 words.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from . import clock
from .models import OutgoingMessage
from .recipients import fold

# Header lines unfolded up to RFC 5322's 998-octet limit: a folded List-Unsubscribe breaks some
# DKIM signers, and the email package would otherwise RFC 2047-encode a long mailto URI.
# Bodies are quoted-printable (76-column lines) either way.
WIRE = SMTP.clone(max_line_length=998)
# A non-ASCII address (SMTPUTF8) goes in the header as UTF-8 (RFC 6532); everything else is ASCII.
WIRE_UTF8 = WIRE.clone(utf8=True)


def build_mime(msg: OutgoingMessage, when: datetime | None = None) -> EmailMessage:
    mime = EmailMessage(policy=SMTP)  # bodies are encoded now, at 76 columns
    mime["From"] = msg.from_
    # As recipients.py wrote it (encoded words, folded): parsing it again would decode an encoded
    # word a display name only looks like (``=?utf-8?b?DQo=?=``) into a line break.
    mime.set_raw("To", fold("To", msg.to))
    if msg.reply_to:
        mime["Reply-To"] = msg.reply_to
    mime["Subject"] = msg.subject
    mime["Date"] = format_datetime(when or clock.utc_now())
    mime["Message-ID"] = msg.message_id
    for name, value in msg.headers:
        mime[name] = value
    mime.set_content(msg.text, charset="utf-8", cte="quoted-printable")
    mime.add_alternative(msg.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return mime


def to_bytes(msg: OutgoingMessage, when: datetime | None = None) -> bytes:
    """The message as it goes on the wire (CRLF line endings)."""
    return build_mime(msg, when).as_bytes(policy=WIRE if msg.to.isascii() else WIRE_UTF8)
