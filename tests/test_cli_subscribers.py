"""`newsletter subscribers ...` through Typer's CliRunner, in a throwaway project folder."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, write
from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.store import subscribers as subs
from newsletter.store.db import open_store

pytestmark = pytest.mark.both_engines  # SQLite and PostgreSQL (conftest.py, tests/pg_server.py)


def where() -> str:
    """Where errors say the list is: the SQLite file, or the PostgreSQL URL without its password."""
    import os

    from newsletter.storage_url import without_password

    url = os.environ.get("NEWSLETTER_DATABASE_URL")
    return without_password(url) if url else "data/newsletter.db"

COMMANDS = ["import", "add", "unsubscribe", "show", "list", "count", "export", "tag", "untag", "forget"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_one_error(result, *, starts: str) -> str:
    """Exit 1, `Error: ...` then `Hint: ...` on stderr, nothing else, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: " + starts), lines[0]
    assert lines[1].startswith("Hint: ") and len(lines[1]) > len("Hint: ")
    assert "Traceback" not in result.output
    return lines[0]


def counts_in(output: str) -> dict[str, int]:
    """The import summary table as {result: rows}."""
    found = {}
    for label in ("added", "updated", "unchanged", "kept suppressed", "duplicates merged", "rejected"):
        match = re.search(rf"│ {label}\s*│ ([\d,]+)", output)
        assert match, f"no '{label}' row in:\n{output}"
        found[label] = int(match.group(1).replace(",", ""))
    return found


def db(project: Path):
    return open_store(load_settings(project / "newsletter.toml"))


@pytest.fixture
def mailchimp(project: Path) -> Path:
    path = project / "members.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (
            "Email Address,First Name,Last Name,TAGS,OPTIN_TIME,Status\n"
            'ann@Example.com,Ann,Lee,"""Research""",2024-01-05 10:00:00,subscribed\n'
            "bob@,Bob,,,,subscribed\n"
            "ANN@example.com,Annie,,,,subscribed\n"
            "cleo@example.org,Cléo,Roy,,2024-02-02 09:00:00,unsubscribed\n"
            "dev@example.org,Dev,Iyer,,,subscribed\n"
            "@example.org,Nobody,,,,subscribed\n"
            "Dev@Example.org,,,,,subscribed\n"
        ).encode("utf-8")
    )
    return path


# --- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = invoke("subscribers", command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


# --- import ---------------------------------------------------------------------------------------


def test_mailchimp_export_imports_with_exact_counts_and_a_rejected_file(project, mailchimp):
    out = ok("subscribers", "import", "members.csv")
    assert "members.csv: Mailchimp format, utf-8, 7 rows" in out
    assert counts_in(out) == {
        "added": 3, "updated": 0, "unchanged": 0, "kept suppressed": 0, "duplicates merged": 2, "rejected": 2,
    }  # fmt: skip
    assert "members.csv:3: 'bob@' is not a valid email address" in out
    assert "members.csv:7: '@example.org' is not a valid email address" in out
    assert "Rejected rows, with their line and reason:" in out
    rows = list(csv.reader((project / "members.rejected.csv").open(encoding="utf-8")))
    assert [(r[0], r[2]) for r in rows[1:]] == [("3", "bob@"), ("7", "'@example.org")]  # a leading @ is neutralized (README, Export)
    assert subs.get(db(project), "cleo@example.org").status == "unsubscribed"


def test_after_unsubscribe_an_import_listing_them_as_subscribed_keeps_them_unsubscribed(project, mailchimp):
    ok("subscribers", "import", "members.csv")
    out = ok("subscribers", "unsubscribe", "ANN@example.com", "--reason", "asked by phone")
    assert "Unsubscribed ann@example.com; they will not be mailed." in out
    out = ok("subscribers", "import", "members.csv")
    assert counts_in(out)["kept suppressed"] == 1 and counts_in(out)["added"] == 0
    assert "Kept suppressed: 1 row(s)" in out
    assert subs.get(db(project), "ann@example.com").status == "unsubscribed"


def test_export_then_import_reports_everything_unchanged(project):
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    ok("subscribers", "tag", "jose.garcia@example.org", "Spanish")
    out = ok("subscribers", "export", "everyone.csv")
    assert out.strip() == "Exported 36 subscribers to everyone.csv"
    out = ok("subscribers", "import", "everyone.csv")
    assert counts_in(out) == {
        "added": 0, "updated": 0, "unchanged": 36, "kept suppressed": 0, "duplicates merged": 0, "rejected": 0,
    }  # fmt: skip
    assert not (project / "everyone.rejected.csv").exists()


def test_export_one_status(project):
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    assert ok("subscribers", "export", "gone.csv", "--status", "unsubscribed").strip() == "Exported 4 subscribers to gone.csv"
    assert len((project / "gone.csv").read_text(encoding="utf-8").splitlines()) == 5


def test_import_dry_run_with_tag_and_source(project, mailchimp):
    out = ok("subscribers", "import", "members.csv", "--dry-run")
    assert counts_in(out)["added"] == 3 and "Dry run: nothing was written." in out
    assert not (project / "members.rejected.csv").exists()
    assert subs.find(db(project), "ann@example.com") is None
    ok("subscribers", "import", "members.csv", "--tag", "mailchimp", "--source", "Mailchimp signup form")
    ann = subs.get(db(project), "ann@example.com")
    assert ann.tags == ("mailchimp", "Research") and ann.consent.source == "Mailchimp signup form"


def test_import_errors_are_located_with_a_hint(project):
    assert_one_error(invoke("subscribers", "import", "missing.csv"), starts="missing.csv: file not found")
    write(project / "people.csv", "name,city\nAnn,Oslo\n")
    assert_one_error(invoke("subscribers", "import", "people.csv"), starts="people.csv:1: no email column")
    write(project / "empty.csv", "")
    assert_one_error(invoke("subscribers", "import", "empty.csv"), starts="empty.csv: the file is empty")
    assert_one_error(invoke("subscribers", "import", "people.csv", "--tag", "a;b"), starts="people.csv:1: no email column")
    write(project / "ok.csv", "email\nx@example.org\n")
    assert_one_error(invoke("subscribers", "import", "ok.csv", "--tag", "a;b"), starts="tags: 'a;b' contains a comma")


# --- one subscriber -------------------------------------------------------------------------------


def test_add_show_and_history(project):
    out = ok("subscribers", "add", "  Zoë.Martin@Example.ORG ", "--first-name", "Zoë", "--last-name", "Martin", "--tag", "research", "--tag", "patients")
    assert out.strip() == "Added Zoë.Martin@example.org (active), tags: patients, research"
    ok("subscribers", "unsubscribe", "zoë.martin@example.org", "--reason", "moving abroad")
    out = ok("subscribers", "show", "ZOË.MARTIN@example.org")
    assert "Zoë.Martin@example.org  (id 1)" in out
    assert "Status:  unsubscribed: not mailed since" in out and "unsubscribed via cli (moving abroad)" in out
    assert "Name:    Zoë Martin" in out and "Tags:    patients, research" in out
    assert "Consent: cli," in out
    assert re.search(r"│ \S+ │ subscribed\s+│ cli", out) and re.search(r"│ \S+ │ unsubscribed\s+│ cli\s+│ moving abroad", out)


def test_show_an_active_imported_subscriber_says_mailed(project):
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    out = ok("subscribers", "show", "zoe.martin@example.org")
    assert "Status:  active: mailed" in out and "imported" in out
    out = ok("subscribers", "show", "noah.fischer@example.org")
    assert "Status:  bounced: not mailed since" in out and "imported via import:sample-subscribers.csv (as bounced" in out


def test_unsubscribe_twice_is_not_an_error(project):
    ok("subscribers", "add", "u@example.org")
    ok("subscribers", "unsubscribe", "u@example.org")
    out = ok("subscribers", "unsubscribe", "u@example.org")
    assert out.strip() == "u@example.org is already unsubscribed; they are not mailed (no change)."


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nobody@example.org"),
        ("unsubscribe", "nobody@example.org"),
        ("tag", "nobody@example.org", "x"),
        ("untag", "nobody@example.org", "x"),
        ("forget", "nobody@example.org"),
    ],
)
def test_an_unknown_address_is_an_error_with_a_hint(project, args):
    line = assert_one_error(invoke("subscribers", *args), starts=f"{where()}: ")
    assert line == f"Error: {where()}: no subscriber 'nobody@example.org'"


def test_add_errors(project):
    assert_one_error(invoke("subscribers", "add", "bob@"), starts=f"{where()}: 'bob@' is not a valid email address")
    ok("subscribers", "add", "kim@example.org")
    line = assert_one_error(invoke("subscribers", "add", "KIM@example.org"), starts=f"{where()}: ")
    assert line.endswith("'kim@example.org' is already a subscriber (active)")
    assert_one_error(invoke("subscribers", "add", "z@example.org", "--tag", "a,b"), starts="tags: 'a,b' contains a comma")


def test_add_resubscribe_after_unsubscribe(project):
    ok("subscribers", "add", "kim@example.org")
    ok("subscribers", "unsubscribe", "kim@example.org")
    result = invoke("subscribers", "add", "kim@example.org")
    assert_one_error(result, starts=f"{where()}: 'kim@example.org' is already a subscriber (unsubscribed)")
    assert "--resubscribe" in result.stderr
    assert ok("subscribers", "add", "kim@example.org", "--resubscribe").strip() == "Added kim@example.org (active)"
    assert "resubscribed" in ok("subscribers", "show", "kim@example.org")


def test_tag_and_untag(project):
    ok("subscribers", "add", "t@example.org", "--tag", "Research")
    assert ok("subscribers", "tag", "t@example.org", "research", "press").strip() == "Tagged t@example.org: press"
    assert ok("subscribers", "tag", "t@example.org", "PRESS").strip() == "t@example.org already has those tags (no change)."
    assert ok("subscribers", "untag", "t@example.org", "press", "other").strip() == "Untagged t@example.org: press"
    assert ok("subscribers", "untag", "t@example.org", "press").strip() == "t@example.org has none of those tags (no change)."


def test_forget_then_reimport_keeps_the_person_out(project):
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    out = ok("subscribers", "forget", "Jose.Garcia@example.org")
    assert "Erased jose.garcia@example.org: record, tags and history deleted." in out
    assert_one_error(invoke("subscribers", "show", "jose.garcia@example.org"), starts=f"{where()}: no subscriber")
    out = ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    assert counts_in(out)["kept suppressed"] == 1 and counts_in(out)["added"] == 0
    result = invoke("subscribers", "add", "jose.garcia@example.org")
    assert_one_error(result, starts=f"{where()}: 'jose.garcia@example.org' was erased")


# --- lists and counts -----------------------------------------------------------------------------


def test_list_filters_and_limit(project):
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    out = ok("subscribers", "list", "--status", "unsubscribed")
    assert sorted(re.findall(r"│ (\S+@example\.\w+)", out)) == [
        "dmitri.ivanov@example.org", "ian.walsh@example.com", "rachel.kim@example.org", "xavier.dupont@example.org",
    ]  # fmt: skip
    out = ok("subscribers", "list", "--tag", "press")
    assert re.findall(r"│ (\S+@example\.\w+)", out) == ["info@example.com", "research.desk@example.org"]
    out = ok("subscribers", "list", "--search", "zoë")
    assert re.findall(r"│ (\S+@example\.\w+)", out) == ["zoe.martin@example.org"]
    out = ok("subscribers", "list", "--limit", "5")
    assert len(re.findall(r"│ (\S+@example\.\w+)", out)) == 5 and "... and 31 more (use --limit 0 to list all)." in out
    assert ok("subscribers", "list", "--search", "nobody-like-this").strip() == "No subscribers match."
    assert_one_error(invoke("subscribers", "list", "--status", "gone"), starts="--status: unknown status 'gone'")


def test_count_by_status_and_tag(project):
    assert "No tags yet." in ok("subscribers", "count")
    ok("subscribers", "import", str(REPO / "data" / "sample-subscribers.csv"))
    out = ok("subscribers", "count")
    for status, n in (("active", 31), ("pending", 0), ("unsubscribed", 4), ("bounced", 1), ("complained", 0), ("total", 36)):
        assert re.search(rf"│ {status}\s+│ {n}\s+│", out), (status, out)
    assert re.search(r"│ press\s+│ 2\s+│ 2\s+│", out)
