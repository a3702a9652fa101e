"""Stage 1: an issue file (YAML front matter + Markdown) -> a validated, frozen Issue.

Strict on purpose: a YAML error, an unknown or missing key, a bad date or status each raise an
IssueError that names the file and line. Values are read as plain strings (YAML's BaseLoader)
and converted here, so YAML never guesses a type behind the author's back.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import IssueError, located
from ..models import ISSUE_STATUSES, Issue

REQUIRED_KEYS = ("title", "subject", "preheader", "date")
OPTIONAL_KEYS = ("slug", "authors", "reviewed_by", "tags", "status")
ALL_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def load_issue(path: Path) -> Issue:
    """Read and validate one issue file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a byte-order mark (Notepad)
    except FileNotFoundError:
        raise IssueError(f"{path}: issue file not found", hint="Check the path; issues live in the issues/ folder.") from None
    except UnicodeDecodeError as err:
        raise IssueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})", hint="Save the file as UTF-8.") from err
    front, body, body_line = _split_front_matter(path, text)
    values, key_lines = _parse_yaml(path, front)
    return _build_issue(path, values, key_lines, body, body_line)


def _split_front_matter(path: Path, text: str) -> tuple[str, str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise IssueError(
            located(path, 1, "front matter missing: the file must start with a line '---'"),
            hint="Start the file with ---, the keys (title, subject, preheader, date, ...), then --- and the text.",
        )
    for n, line in enumerate(lines[1:], start=2):
        if line.strip() in ("---", "..."):
            return "".join(lines[1 : n - 1]), "".join(lines[n:]), n + 1
    raise IssueError(located(path, 1, "front matter is not closed: no second '---' line"), hint="Add a line --- after the last front-matter key.")


def _parse_yaml(path: Path, front: str) -> tuple[dict[str, Any], dict[str, int]]:
    import yaml

    try:
        node = yaml.compose(front, Loader=yaml.BaseLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise IssueError(located(path, line, f"front matter: invalid YAML: {problem}"), hint="Check the quoting and indentation on that line; quote values that contain ':' or '#'.") from err
    if node is None:
        raise IssueError(located(path, 1, "front matter is empty"), hint="Add at least title, subject, preheader and date.")
    if not isinstance(node, yaml.MappingNode):
        raise IssueError(located(path, 2, "front matter must be 'key: value' lines"), hint="Write one key per line, e.g. 'title: ...'.")
    values: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        line = key_node.start_mark.line + 2
        if key in values:
            raise IssueError(located(path, line, f"front matter: '{key}' is given twice"), hint="Keep one of them.")
        values[key] = _plain(value_node)
        key_lines[key] = line
    return values, key_lines


def _plain(node) -> Any:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return [_plain(n) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        return {k.value: _plain(v) for k, v in node.value}
    return node.value


def _build_issue(path: Path, values: dict[str, Any], key_lines: dict[str, int], body: str, body_line: int) -> Issue:
    def fail(key: str, what: str, hint: str) -> IssueError:
        return IssueError(located(path, key_lines.get(key, 1), f"front matter: {what}"), hint=hint)

    for key in values:
        if key not in ALL_KEYS:
            close = difflib.get_close_matches(key, ALL_KEYS, n=1)
            suggestion = f" (did you mean '{close[0]}'?)" if close else ""
            raise fail(key, f"unknown key '{key}'{suggestion}", f"Allowed keys: {', '.join(ALL_KEYS)}.")
    for key in REQUIRED_KEYS:
        if key not in values or values[key] in ("", None):
            raise IssueError(located(path, 1, f"front matter: '{key}' is required"), hint=f"Add a line '{key}: ...' between the two --- lines.")

    text = {k: _single_line(values[k], k, fail) for k in ("title", "subject", "preheader")}
    issue_date = _date(values["date"], fail)
    slug = values.get("slug") or path.stem
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise fail("slug", f"slug '{slug}' may contain only lower-case letters, digits and single hyphens", "Use e.g. 'slug: 2026-11-mdma-assisted-therapy'.")
    status = values.get("status", "draft")
    if status not in ISSUE_STATUSES:
        raise fail("status", f"status '{status}' is not one of {', '.join(ISSUE_STATUSES)}", "Use draft while writing, ready when it may be sent.")
    reviewed_by = values.get("reviewed_by")
    if reviewed_by is not None and not isinstance(reviewed_by, str):
        raise fail("reviewed_by", "reviewed_by must be a name", "Write e.g. 'reviewed_by: Dr. A. Rivera, MD'.")
    if not body.strip():
        raise IssueError(located(path, body_line, "the issue has no text after the front matter"), hint="Write the issue's Markdown below the second --- line.")
    return Issue(
        path=path,
        title=text["title"],
        subject=text["subject"],
        preheader=text["preheader"],
        date=issue_date,
        slug=slug,
        status=status,
        body=body,
        body_line=body_line,
        authors=_string_list(values.get("authors"), "authors", fail),
        reviewed_by=reviewed_by or None,
        tags=_string_list(values.get("tags"), "tags", fail),
        key_lines=key_lines,
    )


def _single_line(value: Any, key: str, fail) -> str:
    if not isinstance(value, str):
        raise fail(key, f"'{key}' must be text", f"Write it as '{key}: Some text' on one line.")
    cleaned = " ".join(value.split())
    if "\n" in value.strip() and cleaned != value.strip():
        raise fail(key, f"'{key}' must be a single line", "Join it onto one line.")
    return cleaned


def _date(value: Any, fail) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise fail("date", f"date '{value}' is not a valid date", "Write it as YYYY-MM-DD, e.g. 'date: 2026-11-26'.")


def _string_list(value: Any, key: str, fail) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise fail(key, f"'{key}' must be a list of names", f"Write e.g. '{key}: [first, second]'.")


def slugify(title: str) -> str:
    """A URL- and file-safe slug from a title (ASCII letters, digits and hyphens)."""
    import unicodedata

    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words)[:60].strip("-") or "issue"
