"""``newsletter new``: a new issue file with every front-matter key."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from ..config import Settings
from ..errors import IssueError
from .issue import slugify

# What the scaffold writes for the writer to replace: checks/readiness.py refuses a ready issue
# that still has any of it.
PLACEHOLDER_PREHEADER = "One or two sentences that summarise this issue (40-130 characters)."
PLACEHOLDER_BODY = (
    "## A section heading",
    "Optional: two to four one-line takeaways",
    "Write the issue here.",
    "Cite studies with footnotes like this.",
    "Author A, Author B. Title of the study.",
    "https://doi.org/10.xxxx/xxxxx",
)

TEMPLATE = """---
title: {title}
subject: {title}
preheader: "{placeholder_preheader}"
date: {date}
slug: {slug}
authors: ["Kairos Wellness Collective research team"]
reviewed_by: ""
tags: []
status: draft
---

*Research summary as of {month}.*

## Key points

- Optional: two to four one-line takeaways, shown in a box at the top. Delete this section to leave it out.

## A section heading

Write the issue here. The email already opens with "Hi" and the reader's first name, so do not add a greeting. Cite studies with footnotes like this.[^example]

[^example]: Author A, Author B. Title of the study. *Journal*. Year;Volume:Pages. https://doi.org/10.xxxx/xxxxx
"""


def new_issue(title: str, on: str | None, settings: Settings, today: date) -> Path:
    if not title.strip():
        raise IssueError("newsletter new: the title is empty", hint='Give a title, e.g. newsletter new "Ketamine and depression".')
    try:
        issue_date = date.fromisoformat(on) if on else today
    except ValueError:
        raise IssueError(f"--date: '{on}' is not a valid date", hint="Write it as YYYY-MM-DD, e.g. --date 2026-12-01.") from None
    slug = f"{issue_date:%Y-%m}-{slugify(title)}"
    path = settings.issues_dir / f"{slug}.md"
    if path.exists():
        raise IssueError(f"{path}: already exists", hint="Choose another title, or edit the existing file.")
    settings.issues_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(  # the title as a JSON string is valid double-quoted YAML; keep "café", not "caf\u00e9"
        TEMPLATE.format(placeholder_preheader=PLACEHOLDER_PREHEADER, title=json.dumps(title.strip(), ensure_ascii=False), date=issue_date.isoformat(), slug=slug, month=f"{issue_date:%B %Y}"),
        encoding="utf-8",
    )
    return path
