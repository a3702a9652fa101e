"""Whole messages from a campaign: the shared helpers of adapters that send full bodies.

- ``full_message(campaign, values)``: the recipient's ``OutgoingMessage`` (full HTML and text
  strings), for JSON APIs that take one body per recipient (Postmark batch).
- ``to_bytes(msg)``: RFC 5322 bytes through the email package (multipart/alternative, text/plain
  first): the reference, used for the sample ``.eml`` and by checks.
- ``MimeTemplate(campaign)``: the same bytes, built once per issue and joined per recipient (the
  outbox and SMTP). Everything that does not vary (headers, boundary, the quoted-printable
  encoding of every line without a merge field, and of the long stretches between fields) is
  encoded once by the email package or by its own wrapping rules; per recipient only the
  varying headers and the few wrapped chunks around each value are made. ``tests/test_mime.py``
  compares the two byte for byte; a recipient whose values fall outside what the fast path is
  proven on (a line break in a value, a header line near 998 octets) goes through the email
  package instead.

Header lines are unfolded up to RFC 5322's 998-octet limit: a folded List-Unsubscribe breaks some
DKIM signers, and the email package would otherwise RFC 2047-encode a long mailto URI. Bodies are
quoted-printable (76-column lines) either way; non-ASCII headers become RFC 2047 words, except
with a non-ASCII local part (SMTPUTF8), where the header block is UTF-8 (RFC 6532).
"""

from __future__ import annotations

import random
import sys
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from . import clock
from .models import Campaign, MergeTemplate, OutgoingMessage, RecipientValues
from .recipients import fold

WIRE = SMTP.clone(max_line_length=998)
WIRE_UTF8 = WIRE.clone(utf8=True)


def full_message(campaign: Campaign, values: RecipientValues) -> OutgoingMessage:
    """The recipient's whole message: the campaign's parts filled with their escaped values."""
    return OutgoingMessage(
        subscriber_id=values.subscriber_id,
        to=values.to,
        to_address=values.to_address,
        from_=campaign.from_,
        subject=campaign.subject,
        html=campaign.html.fill(values.html),
        text=campaign.text.fill(values.text),
        message_id=values.message_id,
        reply_to=campaign.reply_to,
        headers=tuple(zip(campaign.recipient_headers, values.headers, strict=True)) + campaign.headers,
        tag=campaign.tag,
        metadata=values.metadata,
    )


def build_mime(msg: OutgoingMessage, when: datetime | None = None, boundary: str | None = None) -> EmailMessage:
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
    if boundary is not None:
        mime.set_boundary(boundary)
    return mime


def to_bytes(msg: OutgoingMessage, when: datetime | None = None, boundary: str | None = None) -> bytes:
    """The message as it goes on the wire (CRLF line endings), through the email package."""
    return build_mime(msg, when, boundary).as_bytes(policy=WIRE if msg.to.isascii() else WIRE_UTF8)


# -- built once per issue ----------------------------------------------------------------------

# Quoted-printable as email.quoprimime.body_encode writes it (tests/test_mime.py compares the
# table with the email package's): these characters as they are, every other byte as =XX.
_SAFE = b' !"#$%&\'()*+,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\t\r\n'
QP_TABLE = {i: (chr(i) if i in _SAFE else f"={i:02X}") for i in range(256)}
QP_LINE = SMTP.max_line_length  # set_content wraps at the message policy's length (78)
_STEP = QP_LINE - 1
# A literal stretch at least this long between fields has its chunks computed once per entry
# offset; the wrapping state at a stretch's start is only where the current chunk begins.
LONG_STRETCH = 4 * QP_LINE
_TAIL = QP_LINE + 2  # chunks of a long stretch stop this far before its end (the line's end rules)
# Header values the fast path writes as they are: what the email package would too (checked by
# the tests); anything else goes through the email package whole.
HEADER_ROOM = 998


def _qp(text: str) -> str:
    """UTF-8 bytes of ``text`` read as Latin-1 and QP-escaped: what body_encode wraps."""
    return text.encode("utf-8").decode("latin-1").translate(QP_TABLE)


def _chunk(line: str, start: int, out: list[str]) -> int:
    """One chunk of body_encode's wrapping of ``line`` from ``start`` (never splitting an =XX
    escape): appended to ``out`` with its soft break; returns where the next chunk starts."""
    stop = start + _STEP
    if line[stop - 2] == "=":
        out.append(line[start : stop - 1])
        return stop - 2
    if line[stop - 1] == "=":
        out.append(line[start:stop])
        return stop - 1
    out.append(line[start:stop] + "=")
    return stop


def _finish(line: str, out: list[str]) -> None:
    """body_encode's wrapping of the rest of a line (its end, with the trailing-whitespace rule)."""
    start = 0
    laststart = len(line) - 1 - QP_LINE
    while start <= laststart:
        start = _chunk(line, start, out)
    if line and line[-1] in " \t":
        room = start - laststart
        if room >= 3:
            q = f"={ord(line[-1]):02X}"
        elif room == 2:
            q = line[-1] + "=\r\n"
        else:
            q = "=\r\n" + f"={ord(line[-1]):02X}"
        out.append(line[start:-1] + q)
    else:
        out.append(line[start:])


class _Stretch:
    """A long literal between fields: its chunks from each entry offset, computed once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.head = text[:LONG_STRETCH]
        self._from: dict[int, tuple[str, int]] = {}

    def from_offset(self, entry: int) -> tuple[str, int]:
        """The chunks from offset ``entry`` until the stretch's last ``_TAIL`` characters (joined,
        with soft breaks) and where the chunk after them starts."""
        known = self._from.get(entry)
        if known is None:
            out: list[str] = []
            start, end = entry, len(self.text) - _TAIL
            while start < end:
                start = _chunk(self.text, start, out)
            known = self._from[entry] = ("\r\n".join(out), start)
        return known


class _QPLine:
    """One line of a part with merge fields: literals QP-escaped once, long ones as stretches."""

    def __init__(self, literals: tuple[str, ...], fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.literals = [(_Stretch(t) if len(t) >= LONG_STRETCH else t) for t in (_qp(x) for x in literals)]

    def encode(self, values: dict[str, str], out: list[str]) -> None:
        pending = ""  # from the start of the current chunk, not yet wrapped
        for i, literal in enumerate(self.literals):
            if i:
                pending += _qp(values[self.fields[i - 1]])
            if isinstance(literal, str):
                pending += literal
                continue
            joined = pending + literal.head
            start = 0
            while start < len(pending):
                start = _chunk(joined, start, out)
            chunks, start = literal.from_offset(start - len(pending))
            if chunks:
                out.append(chunks)
            pending = literal.text[start:]
        _finish(pending, out)


class _QPPart:
    """A part's quoted-printable body: runs of lines without fields encoded once (CRLF ends)."""

    def __init__(self, template: MergeTemplate) -> None:
        self.pieces: list[bytes | _QPLine] = []
        fields = iter(template.fields)
        marked = _mark(template)
        constant: list[str] = []
        for line in marked.encode("utf-8").splitlines():  # as email.contentmanager splits a part
            text = line.decode("utf-8")
            if _MARK not in text:
                constant.append(text)
                continue
            if constant:
                self.pieces.append(_encode_lines(constant))
                constant = []
            literals = tuple(text.split(_MARK))
            self.pieces.append(_QPLine(literals, tuple(next(fields) for _ in literals[1:])))
        if constant:
            self.pieces.append(_encode_lines(constant))
        if not self.pieces:  # an empty part is one empty line, as the email package writes it
            self.pieces.append(b"\r\n")

    def encode(self, values: dict[str, str]) -> bytes:
        out: list[bytes] = []
        for piece in self.pieces:
            if isinstance(piece, bytes):
                out.append(piece)
            else:
                chunks: list[str] = []
                piece.encode(values, chunks)
                out.append(("\r\n".join(chunks) + "\r\n").encode("latin-1"))
        return b"".join(out)


_MARK = "\x00"  # where a field goes; the compiled parts never hold NUL (build/issue_text.py)


def _mark(template: MergeTemplate) -> str:
    return _MARK.join(template.literals)


def _encode_lines(lines: list[str]) -> bytes:
    out: list[str] = []
    for line in lines:
        _finish(_qp(line), out)
    return ("\r\n".join(out) + "\r\n").encode("latin-1")


# -- the per-recipient join ---------------------------------------------------------------------

_SENTINEL_TEXT, _SENTINEL_HTML = "@@text-part@@", "@@html-part@@"
_SENTINEL_TO = {False: "@@to@@", True: "@@to-\u00fc@@"}  # the UTF-8 header block for a non-ASCII local part
_SENTINEL_DATE = datetime(2000, 1, 1, tzinfo=clock.utc_now().tzinfo)
_SENTINEL_ID = "<message-id@sentinel.invalid>"


def make_boundary() -> str:
    """A boundary in the email package's form. Quoted-printable never writes "==" (an "=" is
    always followed by two hex digits or a line end), so no body line can contain it."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


class MimeTemplate:
    """A campaign's RFC 5322 messages, the same bytes as ``to_bytes(full_message(...))`` with
    this template's boundary, made by joining pieces encoded once. One per send (and per worker
    thread: the stretches' caches are filled as they are met)."""

    def __init__(self, campaign: Campaign, boundary: str | None = None) -> None:
        self.campaign = campaign
        self.boundary = boundary or make_boundary()
        self.fast = not any(_MARK in t for part in (campaign.html, campaign.text) for t in part.literals)
        self._text = _QPPart(campaign.text) if self.fast else None
        self._html = _QPPart(campaign.html) if self.fast else None
        self._skeletons: dict[bool, list[bytes]] = {}
        self._date: tuple[datetime | None, bytes] = (None, b"")

    def render(self, values: RecipientValues, when: datetime | None = None) -> bytes:
        when = when or clock.utc_now()
        utf8 = not values.to.isascii()
        lines = self._header_lines(values, utf8) if self.fast and _plain_values(values) else None
        if lines is None:  # outside what the fast path is proven on: the email package, whole
            return to_bytes(full_message(self.campaign, values), when, self.boundary)
        head, after_to, after_headers, between, end = self._skeleton(utf8)
        return b"".join((head, lines[0], after_to, self._date_line(when), *lines[1:], after_headers,
                         self._text.encode(values.text), between, self._html.encode(values.html), end))

    def _header_lines(self, values: RecipientValues, utf8: bool) -> list[bytes] | None:
        """The To line and the Message-ID and per-recipient header lines, or None when one of
        them is something the email package would fold or rewrite."""
        to = fold("To", values.to).splitlines()  # as EmailPolicy._fold reads a raw header
        if to and len(to[0]) + 4 > HEADER_ROOM or any(len(line) > HEADER_ROOM for line in to[1:]):
            return None
        out = [("To: " + "\r\n".join(to) + "\r\n").encode("utf-8" if utf8 else "ascii", "surrogateescape")]
        for name, value in (("Message-ID", values.message_id), *zip(self.campaign.recipient_headers, values.headers, strict=True)):
            if not _plain_header(name, value):
                return None
            out.append(f"{name}: {value}\r\n".encode("ascii"))
        return out

    def _date_line(self, when: datetime) -> bytes:
        second = when.replace(microsecond=0)
        if self._date[0] != second:
            self._date = (second, f"Date: {format_datetime(second)}\r\n".encode("ascii"))
        return self._date[1]

    def _skeleton(self, utf8: bool) -> list[bytes]:
        """The email package's message with sentinels, cut around them: the pieces that never vary."""
        known = self._skeletons.get(utf8)
        if known is not None:
            return known
        campaign = self.campaign
        sample = OutgoingMessage(
            subscriber_id=0, to=_SENTINEL_TO[utf8], from_=campaign.from_, subject=campaign.subject,
            html=_SENTINEL_HTML, text=_SENTINEL_TEXT, message_id=_SENTINEL_ID, reply_to=campaign.reply_to,
            headers=tuple((name, f"<{name}@sentinel.invalid>") for name in campaign.recipient_headers) + campaign.headers,
        )
        data = to_bytes(sample, _SENTINEL_DATE, self.boundary)
        charset = "utf-8" if utf8 else "ascii"
        to_line = f"To: {_SENTINEL_TO[utf8]}\r\n".encode(charset)
        varying = f"Date: {format_datetime(_SENTINEL_DATE)}\r\nMessage-ID: {_SENTINEL_ID}\r\n" + "".join(
            f"{name}: <{name}@sentinel.invalid>\r\n" for name in campaign.recipient_headers
        )
        pieces = _cut(data, (to_line, varying.encode("ascii"), _SENTINEL_TEXT.encode() + b"\r\n", _SENTINEL_HTML.encode() + b"\r\n"))
        self._skeletons[utf8] = pieces
        return pieces


def _cut(data: bytes, sentinels: tuple[bytes, ...]) -> list[bytes]:
    pieces = []
    for sentinel in sentinels:
        before, found, data = data.partition(sentinel)
        if not found or sentinel in data:
            raise AssertionError(f"mime: the template's sentinel {sentinel!r} is not where it should be")
        pieces.append(before)
    return [*pieces, data]


def _plain_values(values: RecipientValues) -> bool:
    """No line break in a body value: the email package would split the line there."""
    return not any("\n" in v or "\r" in v for part in (values.text, values.html) for v in part.values())


def _plain_header(name: str, value: str) -> bool:
    """A value the email package writes unchanged on one line (no encoded-word look-alike, no
    runs or ends of spaces, within 998 octets)."""
    return (
        value.isascii() and value.isprintable() and "=?" not in value and "  " not in value
        and value == value.strip() and len(name) + 2 + len(value) <= HEADER_ROOM
    )


def template_for(current: MimeTemplate | None, campaign: Campaign) -> MimeTemplate:
    """The adapter's template for this campaign: kept while batches of the same campaign come."""
    return current if current is not None and current.campaign is campaign else MimeTemplate(campaign)
