"""Email address normalization: one place decides what "the same address" means.

The stored form is email-validator's normalized address (trimmed, domain lower-cased and
internationalized domains in Unicode, local part as typed). Uniqueness compares ``key``, the
lower-cased form: mailbox providers treat local parts case-insensitively in practice, and two
rows differing only in case are the same person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class Address:
    email: str  # normalized, for display and sending
    key: str  # lower-cased: what uniqueness compares


class InvalidAddress(ValueError):
    """The text is not an email address; ``reason`` is email-validator's explanation."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"'{text}' is not a valid email address ({reason.rstrip('.')})")
        self.text = text
        self.reason = reason


MAX_ADDRESS_BYTES = 254  # email-validator's (and RFC 5321's) limit, in UTF-8 as it measures
_ANY_DOMAIN = "@[127.0.0.1]"  # a domain literal: checked in microseconds, unlike a domain name
# An RFC 5322 dot-atom of ASCII characters, at most 64 long, is a local part email-validator
# returns as given, except RFC 2142 role names (postmaster...), which it lower-cases: those are
# letters only, so a plain local part with a digit or a symbol in it is taken as it is.
_PLAIN_LOCAL = re.compile(r"(?=.*[^A-Za-z])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


def normalize_email(text: str) -> Address:
    """Validate the syntax (no DNS lookups) and return the normalized address and its key.

    A list repeats a few domains thousands of times and checking a domain name (UTS-46, IDNA)
    is about two thirds of email-validator's cost, so the local part and the domain are
    validated separately, the domain once per distinct spelling. Whatever this quick path
    does not accept is validated whole, so results and messages are email-validator's own.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidAddress(text, "it is empty")
    quick = _validate_by_parts(stripped)
    if quick is not None:
        return Address(quick, quick.lower())
    try:
        normalized = validate_email(stripped, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise InvalidAddress(stripped, str(err)) from None
    return Address(normalized, normalized.lower())


def _validate_by_parts(address: str) -> str | None:
    """The normalized address when both parts are valid on their own and it is short enough
    that joining them cannot break a length limit; otherwise None (validate it whole)."""
    local, at, domain = address.rpartition("@")
    names = _domain_names(domain) if at else None
    if names is None:
        return None
    local_part = local if len(local) <= 64 and _PLAIN_LOCAL.match(local) else _local_part(local)
    if local_part is None:
        return None
    longest = len(local_part.encode()) + 1 + max(len(names[0].encode()), len(names[1]))
    return f"{local_part}@{names[0]}" if max(longest, len(address.encode())) <= MAX_ADDRESS_BYTES else None


def _local_part(local: str) -> str | None:
    """email-validator's normalized form of a local part, or None when it is not valid."""
    try:
        return validate_email(local + _ANY_DOMAIN, allow_domain_literal=True, check_deliverability=False).local_part
    except EmailNotValidError:
        return None


@lru_cache(maxsize=4096)
def _domain_names(domain: str) -> tuple[str, str] | None:
    """(normalized, IDNA ASCII) forms of a valid domain, or None; checked once per spelling."""
    try:
        checked = validate_email("x@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def candidate_key(text: str) -> str:
    """The key an address would have if valid: lets callers find known addresses cheaply."""
    return text.strip().lower()
