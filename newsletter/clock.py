"""The one time source for timestamps written to the database: UTC, ISO 8601, milliseconds.

Every stored time has the form ``2026-11-03T14:30:05.123Z``: the precision SQLite's own
``strftime('%Y-%m-%dT%H:%M:%fZ')`` produces, so SQL can bring older values to the same form
(``sql_timestamp``) before comparing. Databases written before this module hold whole seconds
(``…:05Z``, subscribers) and microseconds (``…:05.123456Z``, the ledger); ``parse`` reads all
three, and comparisons go through ``sql_timestamp`` or ``normalize`` rather than raw strings.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as a stored timestamp; a naive moment is taken as UTC."""
    moment = moment or utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse(text: str) -> datetime:
    """A stored timestamp of any precision written so far, as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def normalize(text: str) -> str:
    """A stored timestamp of any precision in today's form, so strings compare in time order."""
    return timestamp(parse(text))


def sql_timestamp(column: str) -> str:
    """SQL for ``column`` in today's form: old whole-second values gain ``.000``."""
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column})"
