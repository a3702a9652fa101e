"""Naming an issue without retyping its file (slug, `latest`), `newsletter issues`, where the
outbox put the messages, and `status` in words and local time: through Typer's CliRunner."""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import add_readers
from newsletter.cli import app

SLUG = "2026-11-mdma-assisted-therapy"
ISSUE = f"issues/{SLUG}.md"


@pytest.fixture
def people(settings):
    add_readers(settings, 3)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=200, env={"COLUMNS": "200"})


def later_issue(project: Path, slug: str = "2027-01-later", date: str = "2027-01-05") -> Path:
    """A copy of the sample issue with a newer date and its own slug."""
    text = (project / ISSUE).read_text(encoding="utf-8")
    text = re.sub(r"^date: .*$", f"date: {date}", text, count=1, flags=re.M)
    text = re.sub(r"^slug: .*\n", "", text, flags=re.M)
    path = project / "issues" / f"{slug}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_test_send_through_the_outbox_names_the_file_it_wrote(project, people):
    result = invoke("send", ISSUE, "--test", "me@example.com")
    assert result.exit_code == 0, result.output
    shown = re.search(r"accepted\s+me@example.com\s+-> (\S+\.eml)", result.output)
    assert shown, result.output
    written = project / shown.group(1)  # relative to the folder the command ran in
    message = message_from_bytes(written.read_bytes(), policy=default_policy)
    assert message["To"].addresses[0].addr_spec == "me@example.com" and message["Subject"].startswith("[TEST] ")


def test_a_real_outbox_send_ends_by_naming_its_folder(project, people):
    result = invoke("send", ISSUE)
    assert result.exit_code == 0, result.output
    folder = re.search(r"The messages are files in (\S+)/ ", result.output).group(1)
    assert sorted(p.name for p in (project / folder).glob("*.eml")) == sorted(p.name for p in (project / "outbox" / SLUG).glob("*.eml"))
    assert len(list((project / folder).glob("*.eml"))) == 3


def test_every_issue_command_takes_a_slug_or_latest(project, people):
    later = later_issue(project)
    checked = invoke("check", "latest", "--format", "json")
    assert checked.exit_code in (0, 1) and "Error:" not in checked.output  # findings, not "file not found"
    built = invoke("build", "latest")
    assert built.exit_code == 0, built.output
    assert (project / "build" / later.stem / "email.eml").exists()
    sent = invoke("send", SLUG)
    assert sent.exit_code == 0, sent.output
    assert len(list((project / "outbox" / SLUG).glob("*.eml"))) == 3
    assert invoke("status", SLUG).exit_code == 0


def test_an_unknown_slug_is_one_error_with_a_hint(project):
    result = invoke("build", "no-such-issue")
    assert result.exit_code == 1
    assert "Error: no-such-issue: no such issue file or slug in" in result.output
    assert "Hint: List the issues with: newsletter issues" in result.output
    assert "Traceback" not in result.output


def test_two_files_with_one_slug_are_refused_by_name(project):
    later_issue(project, slug="copy-a")
    text = (project / "issues" / "copy-a.md").read_text(encoding="utf-8").replace("---\n", "---\nslug: shared-slug\n", 1)
    (project / "issues" / "copy-a.md").write_text(text, encoding="utf-8")
    (project / "issues" / "copy-b.md").write_text(text, encoding="utf-8")
    result = invoke("check", "shared-slug")
    assert result.exit_code == 1 and "2 issue files have this slug: copy-a.md, copy-b.md" in result.output


def test_issues_lists_state_date_and_send_counts_newest_first(project, people, settings):
    later_issue(project)
    (project / "issues" / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    assert invoke("send", ISSUE).exit_code == 0
    result = invoke("issues")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.search(r"20\d\d-\d\d-\d\d", line)]
    assert "2027-01-later" in rows[0] and ("draft" in rows[0] or "ready" in rows[0])
    sent_row = next(r for r in rows if SLUG in r)
    assert " sent " in sent_row and "3 of 3" in sent_row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sent_row)  # local time to the second
    assert "broken.md" in result.output and "cannot be read" in result.output


def test_listing_issues_creates_no_database(project, settings):
    settings.database.unlink(missing_ok=True)
    result = invoke("issues")
    assert result.exit_code == 0, result.output
    assert SLUG in result.output and not settings.database.exists()


def test_status_shows_local_times_and_says_what_each_state_means(project, people, monkeypatch):
    sent = invoke("send", ISSUE, "--limit", "2")  # a send left unfinished: exit 1, one pending
    assert sent.exit_code == 1 and "This run: 2 accepted" in sent.output, sent.output
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    import time

    time.tzset()
    try:
        result = invoke("status", SLUG)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert result.exit_code == 0, result.output
    started = re.search(r"started (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)", result.output)
    assert started and started.group(2) in ("PST", "PDT"), result.output
    assert abs((datetime.strptime(started.group(1), "%Y-%m-%d %H:%M:%S") - datetime.now().astimezone().replace(tzinfo=None)).total_seconds()) < 24 * 3600
    assert "not completed" in result.output
    assert re.search(r"accepted\s+the provider took the message", result.output)
    assert re.search(r"pending\s+not sent yet: run the same send command to continue", result.output)
    assert "unknown " not in result.output.split("sending")[-1]  # only states that have recipients are explained


def test_issues_shows_who_approved_and_an_approval_the_file_has_outgrown(project, settings):
    from conftest import approve

    later = later_issue(project)
    approve(settings, later, reviewer="Dr. B. Okafor")
    approve(settings, ISSUE, reviewer="Dr. C. Lind")
    edited = (project / ISSUE).read_text(encoding="utf-8").replace("evidence", "findings", 1)
    (project / ISSUE).write_text(edited, encoding="utf-8")
    result = invoke("issues")
    assert result.exit_code == 0, result.output
    rows = {slug: line for line in result.output.splitlines() for slug in ("2027-01-later", SLUG) if slug in line}
    assert "Dr. B. Okafor" in rows["2027-01-later"] and "changed since" not in rows["2027-01-later"]
    assert "changed since Dr. C. Lind" in rows[SLUG]


def test_a_narrow_terminal_lists_each_issue_as_a_block_with_its_slug_whole(project, people):
    later_issue(project, slug="2027-01-ketamine-assisted-psychotherapy-long-name")
    assert invoke("send", ISSUE).exit_code == 0
    result = CliRunner().invoke(app, ["issues"], terminal_width=60, env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2027-01-ketamine-assisted-psychotherapy-long-name" in lines and SLUG in lines
    sent = lines[lines.index(SLUG) + 1]
    assert "state: sent" in sent and "recipients: 3 of 3" in sent
