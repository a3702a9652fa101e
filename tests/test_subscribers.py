"""The subscriber store and the CSV importer, on real SQLite files in tmp_path."""

from __future__ import annotations

import csv
import sqlite3
import textwrap
from pathlib import Path

import pytest

from conftest import dump_rows, open_test_store
from newsletter.errors import SubscriberError
from newsletter.lists.importer import import_file, read_import
from newsletter.lists.writer import write_export
from newsletter.store import ledger, migrations
from newsletter.store import subscriber_admin as admin
from newsletter.store import subscribers as subs
from newsletter.store.addresses import InvalidAddress, normalize_email
from newsletter.store.db import open_db

pytestmark = pytest.mark.both_engines
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> sqlite3.Connection:
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-secret-not-for-production")
    connection = open_test_store(tmp_path / "db" / "newsletter.db")
    yield connection
    connection.close()


def write_csv(path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    body = textwrap.dedent(text).lstrip("\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode(encoding))
    return path


def dump(conn: sqlite3.Connection) -> list[str]:
    return dump_rows(conn)


def status_of(conn: sqlite3.Connection, email: str) -> str:
    return subs.get(conn, email).status


# --- import formats, one fixture each -------------------------------------------------------------


@pytest.fixture
def mailchimp(tmp_path: Path) -> Path:
    """Mailchimp audience export with a BOM: mixed-case duplicates, bad addresses, an unsubscribe."""
    return write_csv(
        tmp_path / "mailchimp.csv",
        '''\
        Email Address,First Name,Last Name,TAGS,OPTIN_TIME,CONFIRM_TIME,UNSUB_TIME,LEID
        ann.lee@Example.com,Ann,Lee,"""Clinicians"",""Research""",2024-01-05 10:00:00,2024-01-05 10:05:00,,1
        bob@,Bob,Marsh,,2024-01-06 09:00:00,,,2
        carla@example.org,Carla,Mendes,"""Research""",2024-02-01 08:00:00,,,3
        ANN.LEE@example.COM,,,"""Patients""",,,,4
        dan@example.org,Dan,Ortiz,,2024-03-01 12:00:00,,2025-01-02 03:04:05,5
        not an address,Eve,,,,,,6
        carla@EXAMPLE.org,Carla,,,,,,7
        ''',
        bom=True,
    )


@pytest.fixture
def substack(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "substack.csv",
        """\
        email,active_subscription,expiry,plan,email_disabled,created_at,first_payment_at
        reader1@example.com,false,,,false,2023-04-01T09:30:00.000Z,
        reader2@example.com,true,2026-01-01,yearly,false,2023-05-02T10:00:00.000Z,2023-05-02
        quiet@example.org,false,,,true,2022-01-01T00:00:00.000Z,
        """,
    )


@pytest.fixture
def buttondown(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "buttondown.csv",
        """\
        email,notes,metadata,tags,creation_date,subscriber_type,referrer_url
        reg@example.com,,{},"['research', 'press']",2024-06-01 12:00:00,regular,https://example.com/signup
        gone@example.com,,{},,2024-06-02 12:00:00,unsubscribed,
        new@example.com,,{},,2024-06-03 12:00:00,unactivated,
        bot@example.com,,{},,2024-06-04 12:00:00,spammy,
        paid@example.com,,{},,2024-06-05 12:00:00,premium,
        """,
    )


@pytest.fixture
def listmonk(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "listmonk.csv",
        '''\
        uuid,email,name,attributes,status,created_at,updated_at
        6a1b,mira@example.com,Mira Okonkwo-Hale,"{""city"": ""Portland"", ""team"": ""a,b""}",enabled,2024-01-01 00:00:00+00,2024-01-01 00:00:00+00
        7c2d,blocked@example.com,Blocked Person,{},blocklisted,2024-01-02 00:00:00+00,2024-01-02 00:00:00+00
        ''',
    )


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "plain.csv",
        """\
        email,first_name,last_name,tags
        zoe@example.org,Zoë,Martin,research;patients
        jose@example.org,José,García,
        """,
    )


@pytest.fixture
def windows_1252(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "excel.csv",
        """\
        FNAME,LNAME,Email
        Renée,Dupré,renee@example.org
        """,
        encoding="cp1252",
    )


@pytest.fixture
def semicolons(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "excel-de.csv",
        """\
        E-Mail;Vorname;first_name;last_name;tags
        lena@example.org;x;Lena;Schmidt;research,clinicians
        """,
    )


# --- schema and addresses -------------------------------------------------------------------------


def test_the_schema_is_at_head_in_wal_mode_with_foreign_keys(conn, engine):
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == migrations.HEAD
    if engine == "postgresql":
        return  # the server's own journal; foreign keys are always on
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_addresses_are_trimmed_domain_lowercased_and_compared_without_case():
    assert normalize_email("  Bob.Smith@Example.COM ").email == "Bob.Smith@example.com"
    assert normalize_email("  Bob.Smith@Example.COM ").key == "bob.smith@example.com"
    assert normalize_email("x@xn--bcher-kva.de").email == "x@bücher.de"
    assert normalize_email("x@BÜCHER.de").key == "x@bücher.de"
    with pytest.raises(InvalidAddress, match="'bob@' is not a valid email address"):
        normalize_email("bob@")


TRICKY = [
    "a@example.org", "A@EXAMPLE.ORG", "x@xn--bcher-kva.de", "x@BÜCHER.de", "a@localhost", "a@b", "a@test",
    "a@-bad.com", "a@ab--cd.com", "a@exam_ple.com", "a@" + "x" * 64 + ".com", "a@1.2.3.4", "a@[1.2.3.4]",
    "a@example.123", "postmaster@Example.org", "\u00e9@example.org", "a@example.org.", "a@b@example.org",
    '"quoted"@example.org', '"a@b"@example.org', "Bob <bob@example.org>", "a..b@example.org", "a b@example.org",
    "a" * 64 + "@example.org", "a" * 65 + "@example.org", "a\u0301@example.org", "a" * 64 + "@" + ("b" * 63 + ".") * 2 + "c" * 58 + ".org",
    "INFO@example.org", "Info1@example.org", "WWW@Example.org", "a.b+c@example.org", "a#b~c@example.org", "a.@example.org",
    "x@" + "\u00fc" * 62 + "." + "\u00f6" * 62 + "." + "\u00e4" * 62 + ".de",
]  # fmt: skip


def _outcomes(addresses: list[str]) -> list[str]:
    found = []
    for text in addresses:
        try:
            found.append(normalize_email(text).email)
        except InvalidAddress as err:
            found.append(str(err))
    return found


def test_validating_the_parts_separately_gives_email_validators_own_results():
    from email_validator import EmailNotValidError, validate_email

    def whole(text: str) -> str:
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as err:
            return str(InvalidAddress(text, str(err)))

    expected = [whole(text) for text in TRICKY]
    assert _outcomes(TRICKY + TRICKY) == expected + expected  # the second time from the domain cache


def test_the_role_names_email_validator_lower_cases_are_letters_only():
    """addresses.py takes a plain local part with a digit or symbol as it is, which is right
    only while every name email-validator lower-cases (RFC 2142) is made of letters."""
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    assert all(name.isalpha() and name.isascii() for name in CASE_INSENSITIVE_MAILBOX_NAMES)


# --- importing each format ------------------------------------------------------------------------


def test_mailchimp_export_with_bom_imports_with_exact_counts(conn, mailchimp):
    report = import_file(conn, mailchimp)
    assert report.parsed.format == "Mailchimp"
    assert (report.counts.added, report.counts.updated, report.counts.unchanged, report.counts.kept_suppressed) == (3, 0, 0, 0)
    assert report.parsed.duplicates == 2
    assert [(r.line, r.values[0]) for r in report.rejected] == [(3, "bob@"), (7, "not an address")]
    ann = subs.get(conn, "ann.lee@example.com")
    assert (ann.email, ann.first_name, ann.status) == ("ann.lee@example.com", "Ann", "active")
    assert ann.tags == ("Clinicians", "Patients", "Research")
    assert ann.consent.consented_at == "2024-01-05T10:05:00.000Z"  # CONFIRM_TIME wins over OPTIN_TIME
    assert status_of(conn, "DAN@example.org") == "unsubscribed"
    assert [r.email for r in subs.iter_active(conn)] == ["ann.lee@example.com", "carla@example.org"]


def test_the_rejected_rows_file_names_each_bad_line_and_keeps_the_row(conn, mailchimp):
    report = import_file(conn, mailchimp)
    assert report.rejected_path == mailchimp.with_name("mailchimp.rejected.csv")
    rows = list(csv.reader(report.rejected_path.open(encoding="utf-8")))
    assert rows[0][:3] == ["line", "reason", "Email Address"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("3", "bob@"), ("7", "not an address")]
    assert rows[1][1].startswith("'bob@' is not a valid email address")


def test_mailchimp_cleaned_export_is_stored_bounced(conn, tmp_path):
    cleaned = write_csv(
        tmp_path / "cleaned.csv",
        """\
        Email Address,First Name,Last Name,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE
        gone@example.com,Gone,Away,2024-05-05 05:05:05,May issue
        """,
    )
    import_file(conn, cleaned)
    assert status_of(conn, "gone@example.com") == "bounced"


def test_substack_export_email_disabled_means_unsubscribed(conn, substack):
    report = import_file(conn, substack)
    assert report.parsed.format == "Substack" and report.counts.added == 3
    assert status_of(conn, "reader2@example.com") == "active"
    assert status_of(conn, "quiet@example.org") == "unsubscribed"
    assert subs.get(conn, "reader1@example.com").consent.consented_at == "2023-04-01T09:30:00.000Z"


def test_buttondown_export_maps_subscriber_types(conn, buttondown):
    report = import_file(conn, buttondown)
    assert report.parsed.format == "Buttondown"
    assert [(r.line, r.reason) for r in report.rejected] == [(5, "marked spammy by the source")]
    assert status_of(conn, "reg@example.com") == "active"
    assert status_of(conn, "paid@example.com") == "active"
    assert status_of(conn, "gone@example.com") == "unsubscribed"
    assert status_of(conn, "new@example.com") == "pending"
    reg = subs.get(conn, "reg@example.com")
    assert reg.tags == ("press", "research")
    assert reg.consent.form == "https://example.com/signup"


def test_listmonk_export_splits_the_name_and_maps_blocklisted(conn, listmonk):
    report = import_file(conn, listmonk)
    assert report.parsed.format == "listmonk" and report.counts.added == 2
    mira = subs.get(conn, "mira@example.com")
    assert (mira.first_name, mira.last_name, mira.status) == ("Mira", "Okonkwo-Hale", "active")
    assert status_of(conn, "blocked@example.com") == "unsubscribed"


def test_plain_format_keeps_utf8_names_and_tags(conn, plain):
    report = import_file(conn, plain)
    assert report.parsed.format == "plain" and report.parsed.encoding == "utf-8"
    zoe = subs.get(conn, "zoe@example.org")
    assert (zoe.first_name, zoe.tags) == ("Zoë", ("patients", "research"))
    assert subs.get(conn, "jose@example.org").last_name == "García"


def test_windows_1252_export_is_decoded(conn, windows_1252):
    report = import_file(conn, windows_1252)
    assert report.parsed.encoding == "windows-1252"
    renee = subs.get(conn, "renee@example.org")
    assert (renee.first_name, renee.last_name) == ("Renée", "Dupré")


def test_semicolon_delimited_file_is_sniffed(conn, semicolons):
    parsed = read_import(semicolons)
    assert parsed.delimiter == ";"
    row = parsed.rows[0]
    assert (row.email, row.first_name, row.tags) == ("lena@example.org", "Lena", ("research", "clinicians"))


def test_tab_delimited_file_is_sniffed(tmp_path):
    parsed = read_import(write_csv(tmp_path / "t.tsv", "email\tfirst_name\nkai@example.org\tKai\n"))
    assert parsed.delimiter == "\t" and parsed.rows[0].first_name == "Kai"


# --- bad rows and bad files -----------------------------------------------------------------------


def test_bad_rows_are_rejected_with_line_and_reason(tmp_path):
    parsed = read_import(
        write_csv(
            tmp_path / "bad.csv",
            """\
            email,first_name,status
            ,Nobody,active

            ok@example.org,Ok,active
            two@@example.org,Two,active
            three@example.org,Three,maybe
            "multi
            line"@example.org,Four,active
            five@localhost,Five,active
            """,
        )
    )
    reasons = {r.line: r.reason for r in parsed.rejected}
    assert reasons[2] == "no email address"
    assert reasons[5].startswith("'two@@example.org' is not a valid email address")
    assert reasons[6].startswith("unknown status 'maybe'")
    assert 7 in reasons and reasons[9].startswith("'five@localhost' is not a valid")
    assert [r.email for r in parsed.rows] == ["ok@example.org"]
    assert parsed.total == 6  # the blank line is not a row


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", ": the file is empty"),
        (b"name,city\nAnn,Oslo\n", ":1: no email column (columns: name, city)"),
        (b"email\n\x81\x8d\x8f\x90\x9d\n", ":2:1: neither UTF-8 nor Windows-1252 text (byte 0x81)"),
    ],
)
def test_unusable_files_are_one_located_error(tmp_path, content, message):
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(SubscriberError) as caught:
        read_import(path)
    assert caught.value.message == f"{path}{message}"
    assert caught.value.hint


def test_blank_lines_before_the_header_are_skipped_and_lines_still_count(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("\n\nemail\nok@example.org\nbad@\n", encoding="utf-8")
    parsed = read_import(path)
    assert [r.email for r in parsed.rows] == ["ok@example.org"]
    assert [r.line for r in parsed.rejected] == [5]


def test_a_missing_file_is_an_error_with_a_hint(tmp_path):
    with pytest.raises(SubscriberError, match="file not found") as caught:
        read_import(tmp_path / "nope.csv")
    assert caught.value.hint


# --- duplicates and suppression -------------------------------------------------------------------


def test_duplicates_differing_in_case_merge_and_the_unsubscribe_wins(conn, tmp_path):
    path = write_csv(
        tmp_path / "dups.csv",
        """\
        email,first_name,tags,status
        Sam@Example.org,Sam,a,active
        sam@example.org,,b,unsubscribed
        SAM@EXAMPLE.ORG,Samuel,a,active
        """,
    )
    report = import_file(conn, path)
    assert (report.counts.added, report.parsed.duplicates) == (1, 2)
    sam = subs.get(conn, "sam@example.org")
    assert (sam.email, sam.first_name, sam.status, sam.tags) == ("Sam@example.org", "Sam", "unsubscribed", ("a", "b"))


def test_an_unsubscribed_address_stays_unsubscribed_in_a_later_import(conn, plain):
    import_file(conn, plain)
    assert subs.unsubscribe(conn, "zoe@example.org", source="link", reason="too many emails")
    report = import_file(conn, plain)
    assert (report.counts.kept_suppressed, report.counts.unchanged) == (1, 1)
    assert status_of(conn, "zoe@example.org") == "unsubscribed"
    assert [r.email for r in subs.iter_active(conn)] == ["jose@example.org"]


def test_bounced_and_complained_are_kept_suppressed_even_when_the_file_says_active(conn, tmp_path):
    subs.add(conn, "b@example.org", source="test")
    subs.add(conn, "c@example.org", source="test")
    subs.mark_suppressed(conn, "b@example.org", "bounced", source="postmark")
    subs.mark_suppressed(conn, "c@example.org", "complained", source="postmark")
    path = write_csv(tmp_path / "f.csv", "email,status\nb@example.org,subscribed\nc@example.org,active\n")
    assert import_file(conn, path).counts.kept_suppressed == 2
    assert (status_of(conn, "b@example.org"), status_of(conn, "c@example.org")) == ("bounced", "complained")


def test_an_import_can_suppress_an_active_subscriber_with_a_recorded_event(conn, tmp_path):
    subs.add(conn, "leaving@example.org", source="test")
    path = write_csv(tmp_path / "unsubs.csv", "Email Address,UNSUB_TIME,UNSUB_REASON\nleaving@example.org,2025-01-01,Moved away\n")
    assert import_file(conn, path).counts.updated == 1
    sub = subs.get(conn, "leaving@example.org")
    last = subs.history(conn, sub.id)[-1]
    assert (sub.status, last.kind, last.source) == ("unsubscribed", "unsubscribed", "import:unsubs.csv")
    assert "Moved away" in last.detail and "line 2" in last.detail


def test_a_new_unsubscribed_row_is_stored_unsubscribed_and_never_mailed(conn, tmp_path):
    path = write_csv(tmp_path / "f.csv", "email,status\nno@example.org,unsubscribed\n")
    assert import_file(conn, path).counts.added == 1
    assert status_of(conn, "no@example.org") == "unsubscribed"
    assert list(subs.iter_active(conn)) == []


def test_pending_becomes_active_only_when_the_file_says_so(conn, tmp_path):
    subs.add(conn, "p@example.org", source="form", status="pending")
    import_file(conn, write_csv(tmp_path / "a.csv", "email\np@example.org\n"))
    assert status_of(conn, "p@example.org") == "pending"
    import_file(conn, write_csv(tmp_path / "b.csv", "email,status\np@example.org,subscribed\n"))
    assert status_of(conn, "p@example.org") == "active"


def test_import_updates_names_adds_tags_and_never_blanks_a_name(conn, tmp_path):
    subs.add(conn, "ann@example.org", source="test", first_name="Ann", last_name="Lee", tags=["old"])
    path = write_csv(tmp_path / "f.csv", "email,first_name,last_name\nANN@example.org,,Li\n")
    report = import_file(conn, path, tags=["Imported"], source="crm")
    assert report.counts.updated == 1
    ann = subs.get(conn, "ann@example.org")
    assert (ann.first_name, ann.last_name, ann.tags) == ("Ann", "Li", ("Imported", "old"))
    kinds = [e.kind for e in subs.history(conn, ann.id)]
    assert kinds == ["subscribed", "updated", "tagged"]


# --- atomicity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("interruption", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_an_import_interrupted_after_some_rows_leaves_the_database_unchanged(conn, tmp_path, interruption):
    subs.add(conn, "existing@example.org", source="test")
    before = dump(conn)
    rows = "\n".join(f"user{i}@example.org,active" for i in range(10))
    path = write_csv(tmp_path / "f.csv", "email,status\n" + rows + "\nexisting@example.org,unsubscribed\n")
    written = []

    def fail_after_six(done: int) -> None:
        written.append(done)
        if done >= 6:
            raise interruption

    with pytest.raises(type(interruption)):
        import_file(conn, path, progress=fail_after_six, batch=3)
    assert written == [3, 6]  # rows really were written before the failure...
    assert dump(conn) == before  # ...and rolled back
    assert not path.with_name("f.rejected.csv").exists()


def test_a_file_applied_a_chunk_at_a_time_merges_duplicates_across_chunks_as_a_whole_file_does(tmp_path):
    """Each chunk is two lines: the later spellings of ann and bo come chunks after their first
    lines, and merge into them (names kept, tags added, the most restrictive status) exactly as
    the whole file read in memory merges them."""
    path = write_csv(tmp_path / "f.csv", """\
        email,first_name,last_name,tags,status
        ann@example.org,Ann,,research,active
        old@example.org,,Newname,,active
        bo@example.org,,,,pending
        cy@example.org,Cy,Lee,,active
        ANN@Example.org,Annie,Smith,press;Research,unsubscribed
        dee@,Dee,,,active
        bo@EXAMPLE.org,Bo,,donors,active
        old@example.org,Twice,,,active
    """)
    results = []
    for batch in (2, 5000):
        conn = open_db(tmp_path / f"chunks-{batch}" / "newsletter.db")
        subs.add(conn, "old@example.org", source="test", first_name="Old")
        report = import_file(conn, path, batch=batch)
        people = [
            (s.email, s.first_name, s.last_name, s.status, tuple(s.tags))
            for s in (subs.get(conn, e) for e in ("ann@example.org", "old@example.org", "bo@example.org", "cy@example.org"))
        ]
        results.append((report.counts, report.parsed.duplicates, report.parsed.kept, [r.line for r in report.rejected], people))
        conn.close()
    assert results[0] == results[1]
    counts, duplicates, kept, rejected_lines, people = results[0]
    assert (counts.added, counts.updated, duplicates, kept, rejected_lines) == (3, 1, 3, 4, [7])
    assert people[0] == ("ann@example.org", "Ann", "Smith", "unsubscribed", ("press", "research"))
    assert people[2][:4] == ("bo@example.org", "Bo", "", "pending")
    whole = read_import(path)
    assert [r.email for r in whole.rows] == ["ann@example.org", "old@example.org", "bo@example.org", "cy@example.org"]


def test_a_dry_run_counts_but_writes_nothing(conn, plain):
    before = dump(conn)
    report = import_file(conn, plain, dry_run=True)
    assert report.counts.added == 2 and report.dry_run
    assert dump(conn) == before


# --- export round trip, forget --------------------------------------------------------------------


def test_export_then_import_reports_everything_unchanged(conn, mailchimp, buttondown, tmp_path):
    import_file(conn, mailchimp)
    import_file(conn, buttondown)
    subs.mark_suppressed(conn, "carla@example.org", "complained", source="postmark")
    exported = tmp_path / "export.csv"
    assert write_export(conn, exported) == 7
    report = import_file(conn, exported)
    assert report.counts.unchanged == 7
    assert (report.counts.added, report.counts.updated, report.counts.kept_suppressed, len(report.rejected)) == (0, 0, 0, 0)


def test_an_export_imported_into_an_empty_list_recreates_it(conn, mailchimp, tmp_path):
    import_file(conn, mailchimp)
    exported = tmp_path / "export.csv"
    write_export(conn, exported)
    fresh = open_db(tmp_path / "fresh.db")
    import_file(fresh, exported)
    keep = lambda s: (s.email, s.first_name, s.last_name, s.status, s.tags, s.consent)  # noqa: E731
    assert [keep(s) for s in admin.search(fresh)] == [keep(s) for s in admin.search(conn)]


def test_forget_erases_the_person_and_a_reimport_keeps_them_out(conn, plain):
    import_file(conn, plain)
    gone = admin.forget(conn, "ZOE@example.org")
    assert subs.find(conn, "zoe@example.org") is None
    assert conn.execute("SELECT COUNT(*) FROM subscriber_events WHERE subscriber_id = ?", (gone.id,)).fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM subscriber_tags WHERE subscriber_id = ?", (gone.id,)).fetchone()[0] == 0
    assert "zoe" not in repr(dump(conn)).lower()  # only the keyed hash is left
    report = import_file(conn, plain)
    assert (report.counts.kept_suppressed, report.counts.added) == (1, 0)
    assert subs.find(conn, "zoe@example.org") is None


def test_forget_without_a_secret_uses_a_database_key_that_still_matches_once_a_secret_is_set(tmp_path, monkeypatch, plain):
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    conn = open_db(tmp_path / "nosecret.db")
    import_file(conn, plain)
    admin.forget(conn, "zoe@example.org")
    monkeypatch.setenv("NEWSLETTER_SECRET", "set-later")
    assert import_file(conn, plain).counts.kept_suppressed == 1


def test_a_forgotten_address_can_only_come_back_by_explicit_resubscribe(conn):
    subs.add(conn, "back@example.org", source="test")
    admin.forget(conn, "back@example.org")
    with pytest.raises(SubscriberError, match="erased") as caught:
        subs.add(conn, "back@example.org", source="test")
    assert "--resubscribe" in caught.value.hint
    sub = subs.add(conn, "back@example.org", source="asked again by email", resubscribe=True)
    assert sub.status == "active"
    assert subs.get(conn, "back@example.org").id > 1  # ids are never reused


def test_erasers_run_inside_the_forget_transaction(conn):
    subs.add(conn, "hooked@example.org", source="test")
    seen = []

    def failing_eraser(c, sub_id):
        seen.append(sub_id)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        admin.forget(conn, "hooked@example.org", erasers=(*admin.ERASERS, failing_eraser))
    assert seen and subs.get(conn, "hooked@example.org").email == "hooked@example.org"  # rolled back
    assert admin.ERASERS == (ledger.erase_subscriber,)


def test_ids_after_forgetting_the_newest_subscriber_stay_correct_in_a_bulk_import(conn, tmp_path):
    subs.add(conn, "first@example.org", source="test")
    subs.add(conn, "last@example.org", source="test")
    admin.forget(conn, "last@example.org")
    import_file(conn, write_csv(tmp_path / "f.csv", "email,tags\nnew1@example.org,x\nnew2@example.org,y\n"))
    new1, new2 = subs.get(conn, "new1@example.org"), subs.get(conn, "new2@example.org")
    assert (new1.id, new2.id) == (3, 4)
    assert (new1.tags, new2.tags) == (("x",), ("y",))
    assert [e.kind for e in subs.history(conn, new2.id)] == ["imported"]


# --- the sending API ------------------------------------------------------------------------------


def test_iter_active_streams_a_segment_in_id_order(conn):
    for i, tags in enumerate([["a"], ["b"], ["a", "b"], [], ["A"]]):
        subs.add(conn, f"r{i}@example.org", source="test", first_name=f"R{i}", tags=tags)
    subs.unsubscribe(conn, "r2@example.org", source="test")
    everyone = list(subs.iter_active(conn, chunk=2))
    assert [r.email for r in everyone] == ["r0@example.org", "r1@example.org", "r3@example.org", "r4@example.org"]
    assert everyone[0].first_name == "R0" and everyone[0].subscriber_id == 1
    assert [r.email for r in subs.iter_active(conn, include_tags=["a"], chunk=1)] == ["r0@example.org", "r4@example.org"]
    assert [r.email for r in subs.iter_active(conn, exclude_tags=["a"])] == ["r1@example.org", "r3@example.org"]
    assert [r.email for r in subs.iter_active(conn, ["a", "b"], ["b"])] == ["r0@example.org", "r4@example.org"]


def test_iter_active_allows_writes_between_chunks(conn):
    for i in range(5):
        subs.add(conn, f"w{i}@example.org", source="test")
    seen = []
    for recipient in subs.iter_active(conn, chunk=2):
        seen.append(recipient.email)
        if recipient.email == "w0@example.org":
            subs.unsubscribe(conn, "w3@example.org", source="link")  # unsubscribes mid-send
    assert seen == ["w0@example.org", "w1@example.org", "w2@example.org", "w4@example.org"]


def test_statuses_reports_current_status_and_omits_erased_ids(conn):
    a = subs.add(conn, "a@example.org", source="test").id
    b = subs.add(conn, "b@example.org", source="test").id
    c = subs.add(conn, "c@example.org", source="test").id
    subs.unsubscribe(conn, b, source="link")
    admin.forget(conn, c)
    assert subs.statuses(conn, [a, b, c, 999]) == {a: "active", b: "unsubscribed"}


def test_unsubscribe_is_idempotent_and_records_one_event(conn):
    sub = subs.add(conn, "u@example.org", source="test")
    assert subs.unsubscribe(conn, "U@example.org", source="one-click", reason="no longer relevant") is True
    assert subs.unsubscribe(conn, sub.id, source="one-click") is False
    events = subs.history(conn, sub.id)
    assert [(e.kind, e.source, e.detail) for e in events] == [
        ("subscribed", "test", None),
        ("unsubscribed", "one-click", "no longer relevant"),
    ]


def test_mark_suppressed_bounced_and_complained(conn):
    subs.add(conn, "x@example.org", source="test")
    subs.add(conn, "y@example.org", source="test")
    assert subs.mark_suppressed(conn, "x@example.org", "bounced", source="postmark", detail="406: inactive") is True
    assert subs.mark_suppressed(conn, "x@example.org", "bounced", source="postmark") is False
    subs.unsubscribe(conn, "y@example.org", source="link")
    assert subs.mark_suppressed(conn, "y@example.org", "bounced", source="postmark") is False
    assert status_of(conn, "y@example.org") == "unsubscribed"  # the bounce is in the history only
    assert subs.mark_suppressed(conn, "y@example.org", "complained", source="postmark") is True
    assert [e.kind for e in subs.history(conn, subs.get(conn, "y@example.org").id)][-2:] == ["bounced", "complained"]
    with pytest.raises(SubscriberError, match="cannot mark"):
        subs.mark_suppressed(conn, "x@example.org", "active", source="postmark")
    assert subs.mark_suppressed(conn, 999, "bounced", source="postmark") is False  # erased since the send


# --- records by hand ------------------------------------------------------------------------------


def test_add_refuses_a_duplicate_in_another_case_and_resubscribe_is_recorded(conn):
    subs.add(conn, "Kim@example.org", source="test")
    with pytest.raises(SubscriberError, match="already a subscriber"):
        subs.add(conn, "kim@EXAMPLE.org", source="test")
    subs.unsubscribe(conn, "kim@example.org", source="link")
    with pytest.raises(SubscriberError, match=r"already a subscriber \(unsubscribed\)") as caught:
        subs.add(conn, "kim@example.org", source="test")
    assert "--resubscribe" in caught.value.hint
    sub = subs.add(conn, "kim@example.org", source="phone call", tags=["vip"], resubscribe=True)
    assert (sub.status, sub.email, sub.tags) == ("active", "Kim@example.org", ("vip",))
    assert [e.kind for e in subs.history(conn, sub.id)][-2:] == ["resubscribed", "tagged"]


def test_add_rejects_an_invalid_address_with_its_reason(conn):
    with pytest.raises(SubscriberError, match="'bob@' is not a valid email address"):
        subs.add(conn, "bob@", source="test")


def test_tags_are_case_insensitive_and_cannot_hold_separators(conn):
    subs.add(conn, "t@example.org", source="test", tags=["Research"])
    assert admin.tag(conn, "t@example.org", ["research", "Press"], source="cli") == ("Press",)
    assert admin.untag(conn, "t@example.org", ["PRESS", "nothing"], source="cli") == ("Press",)
    assert subs.get(conn, "t@example.org").tags == ("Research",)
    with pytest.raises(SubscriberError, match="comma or semicolon"):
        admin.tag(conn, "t@example.org", ["a,b"], source="cli")


def test_search_and_counts(conn, mailchimp):
    import_file(conn, mailchimp)
    assert [s.email for s in admin.search(conn, text="mend")] == ["carla@example.org"]
    assert [s.email for s in admin.search(conn, status="unsubscribed")] == ["dan@example.org"]
    assert [s.email for s in admin.search(conn, tag="research")] == ["ann.lee@example.com", "carla@example.org"]
    result = admin.counts(conn)
    assert result.total == 3 and result.by_status["active"] == 2 and result.by_status["unsubscribed"] == 1
    assert result.by_tag["Research"] == (2, 2)


def test_get_an_unknown_subscriber_is_a_located_error(conn):
    with pytest.raises(SubscriberError) as caught:
        subs.get(conn, "nobody@example.org")
    where = conn.shown if getattr(conn, "dialect", "") == "postgresql" else "newsletter.db"
    assert caught.value.message.endswith(f"{where}: no subscriber 'nobody@example.org'")
    assert caught.value.hint


def test_the_sample_file_imports_cleanly(conn):
    report = import_file(conn, REPO / "data" / "sample-subscribers.csv", dry_run=True)
    assert (report.counts.added, len(report.rejected), report.parsed.duplicates, report.parsed.kept) == (36, 0, 0, 36)
    rows = read_import(REPO / "data" / "sample-subscribers.csv").rows
    statuses = [r.status for r in rows]
    assert (statuses.count("active"), statuses.count("unsubscribed"), statuses.count("bounced")) == (31, 4, 1)
    names = {r.first_name for r in rows}
    assert {"José", "Zoë", ""} <= names
    assert all(r.email.endswith(("@example.com", "@example.org")) for r in rows)
