"""Whether a recipient's stored values can make a valid message, and their form in one.

One place decides, for the importer (``lists/importer.py``: a row that can never make a valid
message is rejected with its line and reason), for the per-recipient messages
(``build/personalize.py``: such a recipient is rejected in the ledger with the reason, and the
run goes on) and for the adapters (the envelope address, and whether it needs SMTPUTF8).

The rules (README, Subscribers and Sending):

- a first name's separators (TAB, LF, VT, FF, CR, FS, GS, RS, US, NEL, U+2028, U+2029: what a
  paste from a PDF or a spreadsheet leaves between words) become one space;
- any other control character (C0 such as NUL, DEL, C1) refuses the name: it is no text;
- a first name longer than ``MAX_NAME`` characters is refused (the sign-up form cuts at the same);
- in the To header a display name of plain ASCII words is written as it is, other ASCII is
  quoted, and anything non-ASCII or looking like an RFC 2047 encoded word (``=?``) is written as
  base64 encoded words, so a client shows ``=?utf-8?b?DQo=?=`` literally and never decodes it;
- the address's domain goes out in IDNA (A-label) form; a non-ASCII local part needs SMTPUTF8,
  which only the transport can say (``needs_smtputf8``).

Header lines are folded at spaces (``fold``), so no line exceeds 998 octets.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.utils import formataddr
from functools import lru_cache

MAX_NAME = 100  # characters; as web/signup.py
# Separators between words: one space each (runs collapse).
SEPARATORS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029 ]+")
# Every other control character: C0, DEL, C1 (U+0080..U+009F but NEL, a separator).
CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
# What an address may not hold: a separator, a space or another control character (one search).
_NOT_IN_ADDRESS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029 \x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]+")
_WORD_BYTES = 45  # 45 bytes -> 60 base64 characters: an encoded word of 72 (RFC 2047: <= 75)
FOLD_AT = 78


class RecipientProblem(ValueError):
    """A recipient's value cannot make a valid message; ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Mailbox:
    header: str  # the To header's value, one line (``fold`` it for the wire)
    address: str  # the envelope address: local part as stored, domain in IDNA A-labels

    @property
    def needs_smtputf8(self) -> bool:
        return not self.address.isascii()


def clean_name(text: str) -> str:
    """The name as it goes into messages (separators -> one space, trimmed), or
    ``RecipientProblem`` when no message can carry it."""
    name = SEPARATORS.sub(" ", text).strip()
    bad = CONTROLS.search(name)
    if bad:
        code = ord(bad.group())
        raise RecipientProblem(f"the first name contains the control character U+{code:04X} at position {bad.start() + 1}; remove it")
    if len(name) > MAX_NAME:
        raise RecipientProblem(f"the first name is {len(name):,} characters long (at most {MAX_NAME})")
    return name


def mailbox(name: str, email: str) -> Mailbox:
    """The To header and envelope address for a cleaned name and a stored address."""
    if not email or _NOT_IN_ADDRESS.search(email):
        raise RecipientProblem(f"the address {email!r} contains a line break or a control character")
    address = envelope_address(email)
    if not name:
        return Mailbox(address, address)
    return Mailbox(f"{display_name(name)} <{address}>", address)


def envelope_address(email: str) -> str:
    """The address with its domain in IDNA A-labels (``zoë@bücher.example`` ->
    ``zoë@xn--bcher-kva.example``), so only a non-ASCII local part needs SMTPUTF8."""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        raise RecipientProblem(f"{email!r} is not an email address")
    if domain.isascii():
        return email
    ascii_domain = _a_labels(domain)
    if ascii_domain.startswith("!"):
        raise RecipientProblem(f"the domain of {email!r} cannot be written in IDNA ({ascii_domain[1:]})")
    return f"{local}@{ascii_domain}"


@lru_cache(maxsize=1024)  # a list repeats a few domains; IDNA costs ~15 us a call
def _a_labels(domain: str) -> str:
    """The domain in A-labels, or ``!`` and the reason it has none."""
    import idna  # email-validator's own dependency; only internationalized domains need it

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as err:
        return f"!{err}"


def display_name(name: str) -> str:
    """The name as a display-name phrase: plain words as they are, other ASCII quoted, and
    non-ASCII or encoded-word lookalikes as base64 encoded words (shown as typed)."""
    if "=?" not in name and name.isascii():
        return name if _PLAIN_NAME.fullmatch(name) else formataddr((name, "x@x"))[: -len(" <x@x>")]
    return " ".join(_encoded_words(name))


def _encoded_words(text: str) -> list[str]:
    """Whole characters per word (RFC 2047 §5: a character is never split across words)."""
    words, chunk = [], b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]


def fold(name: str, value: str) -> str:
    """The header's value folded at spaces into lines of about 78 characters (never more than
    998 octets: no token here is longer than an address). Unfolding gives ``value`` back."""
    lines, line = [], f"{name}:"
    for token in value.split(" "):
        if len(line) + 1 + len(token) > FOLD_AT and line.strip() and not line.endswith(":"):
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines)[len(name) + 2 :]
