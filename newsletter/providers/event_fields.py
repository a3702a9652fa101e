"""Reading one field of a provider's event record (postmark_events, sendgrid_events,
mailgun_events): a record comes from outside, so a value of the wrong type reads as absent."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping


def text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def integer(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def unix_time(value: Any) -> str | None:
    """A Unix time (seconds, fractions allowed) as ISO 8601 UTC, as every provider's events are stored."""
    try:
        return datetime.fromtimestamp(float(str(value)), timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None
