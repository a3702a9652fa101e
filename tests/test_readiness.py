"""What a hurried writer leaves behind (checks/readiness.py): errors at 'status: ready',
warnings in a draft, through the real CLI on a copy of the project and its SQLite ledger."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.store import subscribers
from newsletter.store.db import open_store

SLUG = "2026-11-mdma-assisted-therapy"
ISSUE = f"issues/{SLUG}.md"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=200, env={"COLUMNS": "200"})


def findings(issue: str | Path) -> list[dict]:
    result = invoke("check", str(issue), "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return [f for f in json.loads(result.output) if f["id"].startswith("readiness.")]


def scaffold(project: Path, status: str = "ready") -> Path:
    assert invoke("new", "Ketamine and the brain", "--date", "2027-02-01").exit_code == 0
    path = project / "issues" / "2027-02-ketamine-and-the-brain.md"
    path.write_text(path.read_text(encoding="utf-8").replace("status: draft", f"status: {status}"), encoding="utf-8")
    return path.relative_to(project)  # as a writer types it: findings name it so


def with_body(project: Path, body: str, *, slug: str | None = None, name: str = "2027-03-own.md", status: str = "ready") -> Path:
    """The sample issue with its own date, a new body and (unless given) a slug from its name."""
    text = (project / ISSUE).read_text(encoding="utf-8")
    front, _, old_body = text.partition("\n---\n")
    front = re.sub(r"^slug: .*\n", "", front, flags=re.M)
    front = re.sub(r"^status: .*$", f"status: {status}", front, flags=re.M)
    front = re.sub(r"^date: .*$", "date: 2027-03-01", front, flags=re.M)
    if slug:
        front += f"\nslug: {slug}"
    reference = next(line for line in old_body.splitlines() if line.startswith("[^mitchell2021]:"))
    references = reference.replace("[^mitchell2021]:", "[^1]:")  # the body cites [^1]: a defined footnote
    path = project / "issues" / name
    path.write_text(f"{front}\n---\n{body}\n\nAs the trial reported.[^1]\n\n{references}", encoding="utf-8")
    return path.relative_to(project)


def test_the_scaffold_left_as_it_is_is_refused_at_ready_line_by_line(project):
    path = scaffold(project)
    found = findings(path)
    placeholders = [f for f in found if f["id"] == "readiness.placeholder"]
    assert {f["severity"] for f in placeholders} == {"error"}
    assert any("preheader" in f["message"] and f["location"] == f"{path}:4" for f in placeholders)
    assert any("'Write the issue here.'" in f["message"] for f in placeholders)
    assert any("'## A section heading'" in f["message"] for f in placeholders)
    assert invoke("check", str(path)).exit_code == 1


def test_in_a_draft_the_same_findings_are_warnings(project):
    found = findings(scaffold(project, status="draft"))
    assert found and {f["severity"] for f in found} == {"warning"}


def test_an_empty_section_is_an_error_but_a_section_of_subsections_is_not(project):
    body = "## Background\n\n### The trials\n\nTwo trials ran.\n\n## What we do not know\n\n## Next\n\nMore next month.\n\n```\n## not a heading\n```"
    found = findings(with_body(project, body))
    empty = [f for f in found if f["id"] == "readiness.empty-section"]
    assert [f["message"].split("'")[1] for f in empty] == ["What we do not know"]
    assert empty[0]["severity"] == "error" and re.search(r":\d+$", empty[0]["location"])


def test_link_and_image_syntax_that_did_not_parse_is_named_at_its_line(project):
    body = "## Links\n\nRead [the trial] (https://doi.org/10.1056/NEJMoa2302399) and ![a chart](images/my chart.png).\n\nAnd [a fine link](https://doi.org/10.1056/NEJMoa2302399)."
    path = with_body(project, body)
    raw = [f for f in findings(path) if f["id"] == "readiness.raw-markdown"]
    assert len(raw) == 2, raw
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "[the trial]" in text)
    assert {f["location"] for f in raw} == {f"issues/2027-03-own.md:{line}"}
    assert any("picture" in f["message"] for f in raw) and any(" link." in f["message"] for f in raw)


def test_careful_writing_has_no_readiness_findings(project):
    assert findings(ISSUE) == []
    assert findings(with_body(project, "## Background\n\nTwo trials ran [in 2023] and one in 2024 (see below).")) == []
    assert findings(with_body(project, "## Background\n\nTwo trials ran.[^1] (Both were small.)")) == []  # a footnote mark before a parenthesis


def test_a_slug_that_is_not_the_file_name_is_refused(project):
    path = with_body(project, "## Background\n\nTwo trials ran.", slug="2027-03-something-else")
    found = [f for f in findings(path) if f["id"] == "readiness.slug-file"]
    assert len(found) == 1 and "rename the file to 2027-03-something-else.md" in found[0]["message"]


def test_a_file_copied_from_a_sent_issue_keeps_its_slug_and_is_refused(project, settings):
    conn = open_store(settings)
    subscribers.add(conn, "reader@example.com", source="test", first_name="Ann")
    conn.close()
    assert invoke("send", ISSUE).exit_code == 0  # through the outbox
    assert findings(ISSUE) == []  # the issue that was sent is still itself
    copy = project / "issues" / "copy.md"
    text = (project / ISSUE).read_text(encoding="utf-8")
    text = re.sub(r"^subject: .*$", 'subject: "Ketamine for depression: what the trials show"', text, flags=re.M)
    copy.write_text(text.replace("---\n", f"---\nslug: {SLUG}\n", 1) if "slug:" not in text else text, encoding="utf-8")
    sent = [f for f in findings(copy) if f["id"] == "readiness.slug-sent"]
    assert len(sent) == 1 and sent[0]["severity"] == "error" and "already sent" in sent[0]["message"]
    refused = invoke("send", str(copy), "--yes")
    assert refused.exit_code == 1 and "readiness." in refused.output
    assert len(list((project / "outbox" / SLUG).glob("*.eml"))) == 1  # nothing went out again
