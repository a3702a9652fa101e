"""Search windows for providers whose search takes local wall times (Postmark: US Eastern).

A wall time in the repeated autumn hour names two instants, and the provider may read either;
one in the skipped spring hour names none. So the start of a window is sent as a wall time every
reading of which is at or before the instant asked for, and the end as one every reading of which
is at or after it: whatever the provider picks, the window it searches covers the one we meant.
``covered`` says which instants such a pair of wall times certainly covers. Offsets come from
the zoneinfo database, never a fixed number of hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

MAX_STEPS = 4  # each step moves past one transition; zones never stack more than that


@dataclass(frozen=True)
class WallWindow:
    start: datetime  # naive wall times in the provider's zone, whole seconds
    end: datetime
    covered_since: datetime  # aware UTC: every reading of ``start`` is at or before this
    covered_until: datetime  # every reading of ``end`` is at or after this


def wall_window(since: datetime, until: datetime, zone: tzinfo) -> WallWindow:
    """Wall times for [since, until] that cover it under any reading of an ambiguous hour."""
    start, end = wall_at_or_before(since, zone), wall_at_or_after(until, zone)
    covered_since, covered_until = covered(start, end, zone)
    return WallWindow(start, end, covered_since, covered_until)


def readings(wall: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The earliest and latest instant a naive wall time can mean (equal outside transitions)."""
    both = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc) for fold in (0, 1))
    return both[0], both[1]


def covered(start: datetime, end: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants a search from ``start`` to ``end`` (wall times) covers whatever the reading."""
    return readings(start, zone)[1], readings(end, zone)[0]


def wall_at_or_before(instant: datetime, zone: tzinfo) -> datetime:
    """The latest whole-second wall time none of whose readings is after ``instant``."""
    instant = candidate = _aware(instant)
    for _ in range(MAX_STEPS):
        wall = candidate.astimezone(zone).replace(tzinfo=None, microsecond=0)  # floor to the second
        latest = readings(wall, zone)[1]
        if latest <= instant:
            return wall
        candidate -= latest - instant  # the later reading overshoots: step back by as much
    raise ValueError(f"no wall time at or before {instant.isoformat()} in {zone}")


def wall_at_or_after(instant: datetime, zone: tzinfo) -> datetime:
    """The earliest whole-second wall time none of whose readings is before ``instant``."""
    instant = candidate = _aware(instant)
    for _ in range(MAX_STEPS):
        local = candidate.astimezone(zone)
        wall = local.replace(tzinfo=None, microsecond=0)
        if local.microsecond:
            wall += timedelta(seconds=1)  # ceiling: the last fraction of a second stays inside
        earliest = readings(wall, zone)[0]
        if earliest >= instant:
            return wall
        candidate += instant - earliest
    raise ValueError(f"no wall time at or after {instant.isoformat()} in {zone}")


def _aware(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the ledger stores UTC)."""
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
