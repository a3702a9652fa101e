"""Email address normalization: one place decides what "the same address" means.

The stored form is email-validator's normalized address (trimmed, domain lower-cased and
internationalized domains in Unicode, local part as typed). Uniqueness compares ``key``, the
lower-cased form: mailbox providers treat local parts case-insensitively in practice, and two
rows differing only in case are the same person.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def normalize_email(text: str) -> Address:
    """Validate the syntax (no DNS lookups) and return the normalized address and its key."""
    stripped = text.strip()
    if not stripped:
        raise InvalidAddress(text, "it is empty")
    try:
        normalized = validate_email(stripped, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise InvalidAddress(stripped, str(err)) from None
    return Address(normalized, normalized.lower())


def candidate_key(text: str) -> str:
    """The key an address would have if valid: lets callers find known addresses cheaply."""
    return text.strip().lower()
