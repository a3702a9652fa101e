"""CSV usability (issue 9, item 5): UTF-16/32 by BOM, oversized cells, several status columns.
Real files in tmp_path, a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.lists.importer import MAX_CELL, import_file
from newsletter.store import subscribers
from newsletter.store.db import open_db

ROWS = "email\tfirst_name\nzoe@example.org\tZoë\nann@example.org\tAnn\n"


@pytest.mark.parametrize("codec, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff")])
def test_utf16_and_utf32_files_are_read_by_their_bom(tmp_path: Path, codec: str, bom: bytes) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes(bom + ROWS.encode(codec))
    conn = open_db(tmp_path / "list.db")
    report = import_file(conn, path)
    assert report.parsed.encoding == codec[:6] and report.counts.added == 2
    assert subscribers.find(conn, "zoe@example.org").first_name == "Zoë"


def test_an_oversized_cell_rejects_its_row_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(f"email,first_name\nann@example.org,Ann\nbig@example.org,{'x' * 1_000_000}\nbob@example.org,Bob\n", encoding="utf-8")
    conn = open_db(tmp_path / "list.db")
    report = import_file(conn, path)
    assert report.counts.added == 2
    assert [(r.line, r.reason) for r in report.rejected] == [(3, f"the first_name cell is 1,000,000 characters long (at most {MAX_CELL:,})")]
    assert subscribers.find(conn, "big@example.org") is None


@pytest.mark.parametrize("first, second", [("subscribed", "unsubscribed"), ("unsubscribed", "subscribed"), ("subscribed", "cleaned")])
def test_conflicting_status_columns_the_most_restrictive_wins(tmp_path: Path, first: str, second: str) -> None:
    path = tmp_path / "two.csv"
    path.write_text(f"email,status,member_status\nann@example.org,{first},{second}\n", encoding="utf-8")
    conn = open_db(tmp_path / "list.db")
    import_file(conn, path)
    expected = "bounced" if "cleaned" in (first, second) else "unsubscribed"
    assert subscribers.find(conn, "ann@example.org").status == expected
