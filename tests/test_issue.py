"""Issue files: YAML front matter + Markdown. Every problem is an IssueError naming file and line."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from newsletter.build.issue import load_issue, slugify
from newsletter.build.render import render_issue
from newsletter.errors import IssueError

GOOD = """\
---
title: "Ketamine and depression"
subject: "Ketamine for depression: the evidence"
preheader: "What the trials found, and what they did not."
date: 2026-12-01
slug: 2026-12-ketamine
authors: [Ann Author, Bob Writer]
reviewed_by: "Dr. C. Reviewer, MD"
tags: [ketamine, depression]
status: ready
---

Hello {{ first_name }}, the first paragraph.[^a]

[^a]: Smith J. A trial. https://doi.org/10.1000/1
"""


def issue_file(tmp_path: Path, text: str, name: str = "2026-12-test.md") -> Path:
    path = tmp_path / "issues" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> IssueError:
    with pytest.raises(IssueError) as info:
        load_issue(path)
    assert info.value.hint, "every issue error carries a hint"
    return info.value


def render_error(path: Path, settings) -> IssueError:
    with pytest.raises(IssueError) as info:
        render_issue(load_issue(path), settings)
    assert info.value.hint
    return info.value


def test_a_good_issue_loads_into_a_frozen_value(tmp_path: Path) -> None:
    issue = load_issue(issue_file(tmp_path, GOOD))
    assert issue.title == "Ketamine and depression"
    assert issue.subject == "Ketamine for depression: the evidence"
    assert issue.preheader == "What the trials found, and what they did not."
    assert issue.date == date(2026, 12, 1)
    assert issue.slug == "2026-12-ketamine"
    assert issue.status == "ready"
    assert issue.authors == ("Ann Author", "Bob Writer")
    assert issue.reviewed_by == "Dr. C. Reviewer, MD"
    assert issue.tags == ("ketamine", "depression")
    assert issue.body.startswith("\nHello {{ first_name }}")
    assert issue.body_line == 12
    assert issue.key_lines["title"] == 2 and issue.key_lines["status"] == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.title = "x"  # type: ignore[misc]


def test_the_sample_issue_loads(project: Path) -> None:
    issue = load_issue(project / "issues" / "2026-11-mdma-assisted-therapy.md")
    assert issue.slug == "2026-11-mdma-assisted-therapy"
    assert issue.date == date(2026, 11, 26)
    assert issue.status == "ready"
    assert issue.tags == ("mdma", "ptsd", "research-update")


def test_defaults_slug_from_file_name_status_draft(tmp_path: Path) -> None:
    text = GOOD.replace("slug: 2026-12-ketamine\n", "").replace("status: ready\n", "").replace("reviewed_by", "#reviewed_by")
    issue = load_issue(issue_file(tmp_path, text, "2026-12-from-the-name.md"))
    assert issue.slug == "2026-12-from-the-name"
    assert issue.status == "draft"
    assert issue.reviewed_by is None


def test_values_are_strings_never_guessed_types(tmp_path: Path) -> None:
    # YAML would read `yes` as true and 1.10 as 1.1; the loader keeps the author's text.
    text = GOOD.replace('"Ketamine and depression"', "1.10").replace("[Ann Author, Bob Writer]", '"Ann Author, Bob Writer"')
    text = text.replace("[ketamine, depression]", "yes")
    issue = load_issue(issue_file(tmp_path, text))
    assert issue.title == "1.10"
    assert issue.authors == ("Ann Author", "Bob Writer")  # a comma-separated string is a list too
    assert issue.tags == ("yes",)


def test_byte_order_mark_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    bom = load_issue(issue_file(tmp_path, "\ufeff" + GOOD, "bom.md"))
    crlf = load_issue(issue_file(tmp_path, GOOD.replace("\n", "\r\n"), "crlf.md"))
    assert bom.subject == crlf.subject == "Ketamine for depression: the evidence"
    assert bom.body_line == crlf.body_line == 12


# (name, replace this, by this, expected line, expected text in the message)
FRONT_MATTER_ERRORS = [
    ("unknown key", "tags: [ketamine, depression]\n", "tags: [ketamine]\nsubjet: x\n", 10, "front matter: unknown key 'subjet' (did you mean 'subject'?)"),
    ("yaml error", 'subject: "Ketamine for depression: the evidence"', "subject: a: b", 3, "front matter: invalid YAML: mapping values are not allowed here"),
    ("yaml tab", 'preheader: "What', 'preheader:\t"What', 4, "front matter: invalid YAML: found character '\\t' that cannot start any token"),
    ("yaml bracket", "tags: [ketamine, depression]", "tags: [ketamine, depression", 10, "front matter: invalid YAML"),
    ("missing subject", 'subject: "Ketamine for depression: the evidence"\n', "", 1, "front matter: 'subject' is required"),
    ("empty subject", 'subject: "Ketamine for depression: the evidence"', 'subject: ""', 1, "front matter: 'subject' is required"),
    ("missing date", "date: 2026-12-01\n", "", 1, "front matter: 'date' is required"),
    ("bad date", "date: 2026-12-01", "date: 2026-02-30", 5, "front matter: date '2026-02-30' is not a valid date"),
    ("date words", "date: 2026-12-01", "date: next Tuesday", 5, "front matter: date 'next Tuesday' is not a valid date"),
    ("bad status", "status: ready", "status: published", 10, "front matter: status 'published' is not one of draft, ready, sent"),
    ("bad slug", "slug: 2026-12-ketamine", "slug: Ketamine_Dec", 6, "front matter: slug 'Ketamine_Dec' may contain only lower-case letters"),
    ("double hyphen slug", "slug: 2026-12-ketamine", "slug: a--b", 6, "front matter: slug 'a--b'"),
    ("duplicate key", "tags: [ketamine, depression]\n", "tags: [ketamine]\ntitle: Again\n", 10, "front matter: 'title' is given twice"),
    ("subject list", 'subject: "Ketamine for depression: the evidence"', "subject: [a, b]", 3, "front matter: 'subject' must be text"),
    ("two-line subject", 'subject: "Ketamine for depression: the evidence"', "subject: |\n  one\n  two", 3, "front matter: 'subject' must be a single line"),
    ("authors mapping", "authors: [Ann Author, Bob Writer]", "authors: {a: b}", 7, "front matter: 'authors' must be a list of names"),
    ("reviewed_by list", 'reviewed_by: "Dr. C. Reviewer, MD"', "reviewed_by: [a]", 8, "front matter: reviewed_by must be a name"),
    ("no closing line", "status: ready\n---\n", "status: ready\n", 1, "front matter is not closed: no second '---' line"),
    ("no front matter", "---\ntitle:", "title:", 1, "front matter missing: the file must start with a line '---'"),
    ("empty body", GOOD[GOOD.index("\nHello") :], "\n\n   \n", 12, "the issue has no text after the front matter"),
]


@pytest.mark.parametrize(("name", "old", "new", "line", "what"), FRONT_MATTER_ERRORS, ids=[c[0] for c in FRONT_MATTER_ERRORS])
def test_front_matter_errors_name_file_and_line(tmp_path: Path, name: str, old: str, new: str, line: int, what: str) -> None:
    assert old in GOOD
    path = issue_file(tmp_path, GOOD.replace(old, new, 1))
    err = load_error(path)
    assert err.message.startswith(f"{path}:{line}: {what}"), err.message


def test_empty_front_matter_and_not_a_mapping(tmp_path: Path) -> None:
    path = issue_file(tmp_path, "---\n---\nBody.\n")
    assert load_error(path).message == f"{path}:1: front matter is empty"
    path = issue_file(tmp_path, "---\n- a list\n---\nBody.\n")
    assert load_error(path).message == f"{path}:2: front matter must be 'key: value' lines"


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    assert "issue file not found" in load_error(tmp_path / "nope.md").message
    path = tmp_path / "latin1.md"
    path.write_bytes(GOOD.replace("Hello", "H\xe9llo").encode("latin-1"))
    assert load_error(path).message == f"{path}:13:2: not UTF-8 text (byte 0xe9, which is é in Windows-1252)"  # line:column, not a byte offset


# --- errors found while rendering the body name the real file line ---------------------------------


BODY_ERRORS = [
    (
        "footnote cited, not defined",
        "Hello {{ first_name }}, the first paragraph.[^a]\n",
        "Hello {{ first_name }}, the first paragraph.[^a]\n\nA second paragraph\nwhose second line cites[^missing].\n",
        16,
        "footnote [^missing] is cited but not defined",
    ),
    (
        "footnote defined, never cited",
        "[^a]: Smith J. A trial. https://doi.org/10.1000/1\n",
        "[^a]: Smith J. A trial. https://doi.org/10.1000/1\n[^unused]: Nobody cites this.\n",
        16,
        "footnote [^unused] is defined but never cited",
    ),
    (
        "unknown merge field",
        "Hello {{ first_name }}, the first paragraph.[^a]\n",
        "Hello {{ first_name }},\nand {{ last_name }} on the second line.[^a]\n",
        14,
        "unknown merge field '{{ last_name }}'",
    ),
    (
        "unknown merge field in a link",
        "Hello {{ first_name }}, the first paragraph.[^a]\n",
        "Hello, [profile]({{ profile_url }}).[^a]\n",
        13,
        "unknown merge field '{{ profile_url }}'",
    ),
    (
        "unknown merge field in a list",
        "Hello {{ first_name }}, the first paragraph.[^a]\n",
        "Hello.[^a]\n\n- one\n- two {{ email }}\n",
        16,
        "unknown merge field '{{ email }}'",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "line", "what"), BODY_ERRORS, ids=[c[0] for c in BODY_ERRORS])
def test_body_errors_name_file_and_line(project: Path, settings, name: str, old: str, new: str, line: int, what: str) -> None:
    assert old in GOOD
    path = issue_file(project, GOOD.replace(old, new, 1))
    assert render_error(path, settings).message == f"{path}:{line}: {what}"


def test_slugify() -> None:
    assert slugify("MDMA-assisted therapy: where the research stands") == "mdma-assisted-therapy-where-the-research-stands"
    assert slugify("Psilocybin & café, Qualität") == "psilocybin-cafe-qualitat"
    assert slugify("???") == "issue"
    assert len(slugify("word " * 40)) <= 60
