"""CSV usability (issue 9, item 5): UTF-16/32 by BOM, oversized cells, several status columns.
Real files in tmp_path, a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from newsletter.errors import NewsletterError
from newsletter.lists.importer import MAX_CELL, import_file, read_import
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


def test_a_windows_1252_file_is_imported_with_a_warning_naming_it(project: Path) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    (project / "legacy.csv").write_bytes("email,first_name\njose@example.org,José\n".encode("cp1252"))
    result = CliRunner().invoke(app, ["subscribers", "import", "legacy.csv"])
    assert result.exit_code == 0, result.output
    assert "warning  legacy.csv: not UTF-8 text; read as Windows-1252" in result.stderr


# -- a property-based fuzz of the importer: a clean result or a NewsletterError, exact counts,
# -- and an unchanged database when it fails ---------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["ann@example.org", "ANN@example.org", "bob@", "", "unsubscribed", "subscribed", "=1+2", "'@x", "\u00e9", "a,b", '"q"']),
    st.text(max_size=12),
)
ROW = st.lists(CELL, min_size=1, max_size=4)


def snapshot(conn) -> list:
    return list(conn.iterdump())


@fuzz_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    header=st.sampled_from(["email,first_name,status", "email;status;member_status", "Email Address\tFNAME", "name,first_name"]),
    rows=st.lists(ROW, max_size=8),
    codec=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252", "mac-roman"]),
    noise=st.binary(max_size=8),
)
def test_fuzzed_files_give_a_clean_result_or_an_error_and_leave_the_database_alone_on_error(tmp_path_factory, header, rows, codec, noise) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    text = header + "\n" + "\n".join(delimiter.join(r) for r in rows) + "\n"
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    path = folder / "in.csv"
    path.write_bytes(data + noise)
    conn = open_db(folder / "list.db")
    subscribers.add(conn, "keep@example.org", source="test")
    before = snapshot(conn)
    try:
        report = import_file(conn, path)
    except NewsletterError as err:
        assert err.message and "Traceback" not in err.message
        assert snapshot(conn) == before
        return
    finally:
        conn.close()
    parsed, counts = report.parsed, report.counts
    assert parsed.kept + len(parsed.rejected) + parsed.duplicates == parsed.total
    assert counts.added + counts.updated + counts.unchanged + counts.kept_suppressed == parsed.kept
    whole = read_import(path)  # the same file parsed in memory: the stream merged it alike
    assert (whole.kept, whole.duplicates, whole.rejected, whole.total) == (parsed.kept, parsed.duplicates, parsed.rejected, parsed.total)
