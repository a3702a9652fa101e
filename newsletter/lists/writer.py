"""Writing subscriber CSV files: the export (our plain format) and an import's rejected rows.

Both go through a temporary file renamed into place, so a failure never leaves half a file.
A cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return: a name such as ``=HYPERLINK(...)``) is written with a single quote in
front, as OWASP recommends for CSV injection; the importer takes that quote off again.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..files import atomic_write
from ..store.subscriber_admin import iter_export

if TYPE_CHECKING:
    from .importer import ParsedFile

# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralized(cell: object) -> object:
    """The cell with a single quote in front when a spreadsheet would run it as a formula."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_START) else cell


def unneutralized(cell: str) -> str:
    """What ``neutralized`` wrote, read back: the quote before a formula character goes."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_START else cell


# The export's columns; the importer reads every one of them back (see importer.COLUMNS).
EXPORT_COLUMNS = (
    "email", "first_name", "last_name", "tags", "status",
    "consented_at", "consent_source", "consent_form", "consent_ip",
)  # fmt: skip


def write_export(conn: sqlite3.Connection, path: Path, *, status: str | None = None) -> int:
    """Write the list (or one status) in our plain format; importing it back changes nothing."""
    count = 0

    def rows():
        nonlocal count
        yield EXPORT_COLUMNS
        for sub in iter_export(conn, status=status):
            count += 1
            c = sub.consent
            yield (sub.email, sub.first_name, sub.last_name, ";".join(sub.tags), sub.status,
                   c.consented_at, c.source, c.form or "", c.ip or "")  # fmt: skip

    write_csv(path, rows())
    return count


def write_rejected(parsed: "ParsedFile") -> Path | None:
    """FILE.rejected.csv next to the input: line, reason, then the row as it was. A stale one
    from an earlier run is removed when nothing was rejected."""
    target = parsed.path.with_name(parsed.path.stem + ".rejected.csv")
    if not parsed.rejected:
        target.unlink(missing_ok=True)
        return None
    rows = [("line", "reason", *parsed.header)] + [(r.line, r.reason, *r.values) for r in parsed.rejected]
    write_csv(target, rows)
    return target


def write_csv(path: Path, rows: Iterable[Iterable[object]]) -> None:
    """Write a UTF-8 CSV atomically, readable by the owner only (it holds personal data), with
    every cell a spreadsheet would run as a formula neutralized."""
    with atomic_write(path, "w", private=True, encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([neutralized(cell) for cell in row] for row in rows)
