"""Word-processor habits (issue 15, item 2): spreadsheets given to `subscribers import`, files
that are not UTF-8, curly quotes around front-matter values and in the subject. Real files written
by the test, the CLI through CliRunner in a throwaway project, a real SQLite database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write
from newsletter.build.issue import load_issue
from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.store.db import open_store


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def one_error(result) -> tuple[str, str]:
    """Exit 1 with exactly `Error: ...` and `Hint: ...` on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0], lines[1]


def subscriber_count(project: Path) -> int:
    conn = open_store(load_settings(project / "newsletter.toml"))
    try:
        return conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
    finally:
        conn.close()


# --- spreadsheets given to the importer ----------------------------------------------------------


def xlsx(path: Path) -> Path:
    """A minimal real Office Open XML workbook (what Excel's .xlsx is): a ZIP with xl/."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>email</t></is></c></row></sheetData></worksheet>")
    return path


def ods(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")  # stored first, as ODF requires
        z.writestr("content.xml", "<office:document-content/>")
    return path


def numbers_file(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Index/Document.iwa", b"\x00\x01")
        z.writestr("Metadata/DocumentIdentifier", "0D2C")
    return path


def xls(path: Path) -> Path:
    """The header of a Compound File (Excel 97-2003) and a directory entry named 'Workbook'."""
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "Workbook".encode("utf-16-le") + bytes(64))
    return path


@pytest.mark.parametrize(
    "make, name, kind, app_hint",
    [
        (xlsx, "members.xlsx", "Excel", "In Excel: File > Save As, File Format: CSV UTF-8"),
        (xlsx, "members.csv", "Excel", "In Excel:"),  # renamed: told by its bytes, not its name
        (xls, "members.xls", "Excel 97-2003", "In Excel:"),
        (ods, "members.ods", "OpenDocument", "In LibreOffice Calc: File > Save As, File type: Text CSV"),
        (numbers_file, "members.numbers", "Numbers", "In Numbers: File > Export To > CSV"),
    ],
)
def test_a_spreadsheet_is_named_with_how_to_save_it_as_csv(project: Path, make, name: str, kind: str, app_hint: str) -> None:
    make(project / name)
    error, hint = one_error(invoke("subscribers", "import", name))
    assert error == f"Error: {name}: this is a spreadsheet ({kind}), not CSV text: save it as CSV UTF-8 and import that"
    assert hint.startswith("Hint: " + app_hint) and "UTF-8" in hint
    assert "PK" not in error and "no email column" not in error
    assert subscriber_count(project) == 0


def test_a_numbers_package_folder_is_named_too(project: Path) -> None:
    package = project / "members.numbers"
    (package / "Index").mkdir(parents=True)
    (package / "Index" / "Document.iwa").write_bytes(b"\x00")
    error, hint = one_error(invoke("subscribers", "import", "members.numbers"))
    assert error.startswith("Error: members.numbers: this is a spreadsheet (Numbers)") and "Export To > CSV" in hint


def test_a_word_document_and_a_zip_are_not_called_spreadsheets(project: Path) -> None:
    with zipfile.ZipFile(project / "list.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    with zipfile.ZipFile(project / "export.zip", "w") as z:
        z.writestr("members.csv", "email\nann@example.org\n")
    assert one_error(invoke("subscribers", "import", "list.docx"))[0] == "Error: list.docx: this is a Word document, not a CSV file"
    error, hint = one_error(invoke("subscribers", "import", "export.zip"))
    assert error == "Error: export.zip: this is a ZIP archive, not a CSV file" and "Unzip it" in hint


def test_a_csv_that_starts_with_pk_is_still_a_csv(project: Path) -> None:
    """Only the ZIP signature counts, not two letters: a header 'PK,email' is text."""
    (project / "pk.csv").write_text("PK,email\n1,ann@example.org\n", encoding="utf-8")
    result = invoke("subscribers", "import", "pk.csv")
    assert result.exit_code == 0, result.output
    assert subscriber_count(project) == 1


# --- files that are not UTF-8 -------------------------------------------------------------------


def test_a_windows_1252_csv_warning_names_the_first_such_line_and_column(project: Path) -> None:
    (project / "legacy.csv").write_bytes("email,first_name\nann@example.org,Ann\njose@example.org,José\n".encode("cp1252"))
    result = invoke("subscribers", "import", "legacy.csv")
    assert result.exit_code == 0, result.output
    assert "read as Windows-1252 (the first such character is at line 3, column 21)" in result.stderr
    assert subscriber_count(project) == 2


def test_a_csv_neither_utf8_nor_windows_1252_names_line_column_and_editors(project: Path) -> None:
    # 0x81 has no character in Windows-1252; the first non-UTF-8 byte is the é on line 2.
    (project / "odd.csv").write_bytes(b"\xef\xbb\xbfemail,first_name\nann@example.org,Ren\xe9e\nbob@example.org,\x81\n")
    error, hint = one_error(invoke("subscribers", "import", "odd.csv"))
    assert error == "Error: odd.csv:2:20: neither UTF-8 nor Windows-1252 text (byte 0xe9)"
    for editor in ("Excel:", "Numbers:", "LibreOffice:", "Notepad:"):
        assert editor in hint
    assert subscriber_count(project) == 0


def test_a_windows_1252_issue_names_line_column_the_character_and_editors(project: Path) -> None:
    path = project / "issues" / "2026-12-word.md"
    text = "---\ntitle: Ketamine\nsubject: Ketamine for depression\npreheader: What the trials show about ketamine.\ndate: 2026-12-01\n---\n\nThe \u201cfast\u201d effect.\n"
    path.write_bytes(text.encode("cp1252"))
    error, hint = one_error(invoke("build", str(path.relative_to(project))))
    assert error == "Error: issues/2026-12-word.md:8:5: not UTF-8 text (byte 0x93, which is \u201c in Windows-1252)"
    for editor in ("Notepad:", "TextEdit:", "Word:", "VS Code:"):
        assert editor in hint


# --- curly quotes in the front matter -------------------------------------------------------------


def issue(project: Path, front: str, name: str = "2026-12-curly.md") -> str:
    write(project / "issues" / name, "---\n" + front.strip("\n") + "\ndate: 2026-12-01\nauthors: [Tester]\nreviewed_by: Dr. Test\n---\n\nThe trials, in brief.\n")
    return f"issues/{name}"


def check_json(path: str) -> list[dict]:
    result = invoke("check", path, "--format", "json")
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    return json.loads(result.stdout)


def with_id(findings: list[dict], prefix: str) -> list[dict]:
    return [f for f in findings if f["id"].startswith(prefix)]


def test_a_value_in_curly_quotes_is_read_as_quoted_and_check_says_so(project: Path) -> None:
    path = issue(project, """\
title: “Ketamine…: what the trials show”
subject: ‘Ketamine: the evidence’ # typed in Word
preheader: „Esketamine’s trials, ketamine against ECT, and the risks of both“
""")
    loaded = load_issue(project / path)
    assert loaded.title == "Ketamine…: what the trials show"
    assert loaded.subject == "Ketamine: the evidence"
    assert loaded.preheader == "Esketamine’s trials, ketamine against ECT, and the risks of both"
    found = with_id(check_json(path), "front-matter.curly-quotes")
    assert [(f["severity"], f["location"]) for f in found] == [("warning", f"{path}:2"), ("warning", f"{path}:3"), ("warning", f"{path}:4")]
    assert "not part of it" in found[0]["message"] and 'title: "“...”"' in found[0]["message"]
    assert not with_id(check_json(path), "subject.quotes")


def test_curly_quotes_in_a_list_and_with_one_straight_end(project: Path) -> None:
    path = issue(project, """\
title: "Ketamine: what the trials show”
subject: Ketamine for depression and PTSD
preheader: Esketamine's trials, ketamine against ECT, the mixed PTSD results, and the risks.
tags: [“ketamine”, depression]
""")
    loaded = load_issue(project / path)
    assert loaded.title == "Ketamine: what the trials show" and loaded.tags == ("ketamine", "depression")
    assert loaded.curly_quoted == ("title", "tags")


def test_curly_quotes_around_a_phrase_stay_and_straight_quotes_are_not_warned(project: Path) -> None:
    path = issue(project, """\
title: “Set” and “setting” in ketamine care
subject: "What “set and setting” means for ketamine"
preheader: Why the room, the music and the therapist's words matter, and what the trials say.
""")
    loaded = load_issue(project / path)
    assert loaded.title == "“Set” and “setting” in ketamine care"
    assert loaded.subject == "What “set and setting” means for ketamine"
    findings = check_json(path)
    assert not with_id(findings, "front-matter.curly-quotes") and not with_id(findings, "subject.quotes")


@pytest.mark.parametrize(
    "line, fixed",
    [
        ("title: “Ketamine: what the trials show", 'title: "Ketamine: what the trials show"'),
        ("title: “Ketamine” and “esketamine”: what we know", 'title: "“Ketamine” and “esketamine”: what we know"'),
    ],
)
def test_a_line_yaml_cannot_read_gets_the_exact_fix_at_its_line(project: Path, line: str, fixed: str) -> None:
    path = issue(project, f"{line}\nsubject: Ketamine\npreheader: What the trials show about ketamine and esketamine.")
    error, hint = one_error(invoke("build", path))
    assert error.startswith(f"Error: {path}:2: front matter: invalid YAML")
    assert hint.endswith(fixed) and "straight quotes" in hint
    # the fix works as written
    write(project / path, (project / path).read_text(encoding="utf-8").replace(line, fixed))
    assert load_issue(project / path).title == json.loads(fixed.split(": ", 1)[1])


@pytest.mark.parametrize(
    "subject, problem",
    [
        ('The “fast" effect of ketamine', "mixes curly"),
        ("What “set and setting means for ketamine", "do not pair up"),
        ("Ketamine” and what it does", "do not pair up"),
        ("The ‘fast effect of ketamine", "never closed"),
    ],
)
def test_subject_quotes_that_do_not_pair_up_are_a_warning(project: Path, subject: str, problem: str) -> None:
    path = issue(project, f"title: Ketamine\nsubject: '{subject}'\npreheader: Esketamine's trials, ketamine against ECT, the mixed PTSD results.")
    found = with_id(check_json(path), "subject.quotes")
    assert len(found) == 1 and found[0]["severity"] == "warning" and problem in found[0]["message"]
    assert found[0]["location"] == f"{path}:3"


def test_apostrophes_and_paired_quotes_in_the_subject_are_quiet(project: Path) -> None:
    path = issue(project, "title: Ketamine\nsubject: It’s not “magic”: ketamine’s ‘rapid’ effect\npreheader: 'What ‘rapid’ means, and the trials behind it.'")
    findings = check_json(path)
    assert not with_id(findings, "subject.quotes") and not with_id(findings, "preheader.quotes")


# --- an issue saved in a word processor's own format ---------------------------------------------


def docx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><w:body><w:p><w:r><w:t>---</w:t></w:r></w:p></w:body></w:document>")
    return path


@pytest.mark.parametrize(
    "name, make, what, hint",
    [
        ("2026-12-word.docx", docx, "a Word document", "In Word: File > Save As, File Format: Plain Text"),
        ("2026-12-word.md", docx, "a Word document", "In Word:"),  # renamed: told by its bytes
        ("2026-12-textedit.rtf", lambda p: p.write_bytes(b"{\\rtf1\\ansi\\deff0 ---\\par title: Ketamine}"), "an RTF document", "In TextEdit: Format > Make Plain Text"),
        ("2026-12-sheet.xlsx", xlsx, "a spreadsheet (Excel)", "An issue is a plain-text Markdown file"),
    ],
)
def test_an_issue_saved_as_a_document_is_named_with_how_to_save_it_as_text(project: Path, name: str, make, what: str, hint: str) -> None:
    make(project / "issues" / name)
    error, given_hint = one_error(invoke("build", f"issues/{name}"))
    assert error == f"Error: issues/{name}: this is {what}, not a text file: save it as plain text (UTF-8) with the .md ending"
    assert given_hint.startswith("Hint: " + hint)


def test_a_pages_package_folder_given_as_the_issue_is_named(project: Path) -> None:
    (project / "issues" / "2026-12-draft.pages" / "Index").mkdir(parents=True)
    error, hint = one_error(invoke("build", "issues/2026-12-draft.pages"))
    assert error.startswith("Error: issues/2026-12-draft.pages: this is a Pages document") and "Export To > Plain Text" in hint
