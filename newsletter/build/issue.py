"""Stage 1: an issue file (YAML front matter + Markdown) -> a validated, frozen Issue.

Strict on purpose: a YAML error, an unknown or missing key, a bad date or status each raise an
IssueError that names the file and line. Values are read as plain strings (YAML's BaseLoader)
and converted here, so YAML never guesses a type behind the author's back.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Callable

from ..errors import IssueError, located
from ..file_formats import iwork_package, office_format
from ..models import ISSUE_STATUSES, Issue
from ..text_files import RESAVE_TEXT_HINT, byte_described, byte_line_column
from .front_matter import parse_front_matter, shown
from .issue_text import MERGE_HINT, control_character, line_column, template_syntax

REQUIRED_KEYS = ("title", "subject", "preheader", "date")
OPTIONAL_KEYS = ("slug", "authors", "reviewed_by", "tags", "status")
ALL_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_SLUG = 80  # a folder name, a URL path segment and part of every Message-ID
MAX_TEXT = 250  # title, subject, preheader
MAX_NAME = 200  # each author, tag and the reviewer
MAX_NAMES = 50
# A reviewer "name" that is a note to self: it never reaches subscribers (README, Approval).
PLACEHOLDER_REVIEWER_RE = re.compile(
    r"\b(pending|tb[acd]|todo|fixme|to be (?:confirmed|decided|added|named)|none|nobody|unknown|placeholder|x{2,})\b|\bn/a\b"
    r"|^\W*(?:the |your )?(?:name|reviewer|reviewer'?s name|clinical reviewer)\W*$",
    re.I,
)


def placeholder_reviewer(name: str | None) -> bool:
    """True for an empty name, one without two letters, or a placeholder ("pending", "TBD", "NAME")."""
    text = (name or "").strip()
    return sum(c.isalpha() for c in text) < 2 or bool(PLACEHOLDER_REVIEWER_RE.search(text))


def load_issue(path: Path) -> Issue:
    """Read and validate one issue file."""
    text = _read_text(path)
    front, body, body_line = _split_front_matter(path, text)
    values, key_lines, curly = _parse_yaml(path, front)
    return replace(_build_issue(path, values, key_lines, body, body_line), curly_quoted=curly)


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # never more: the path may be a device or a huge file
    except FileNotFoundError:
        raise IssueError(f"{path}: issue file not found", hint="Check the path; issues live in the issues/ folder.") from None
    except IsADirectoryError:
        _refuse_document(path, iwork_package(True, path.suffix, (path / "Index").is_dir() or (path / "Index.zip").exists()))
        raise IssueError(f"{path}: is a folder, not an issue file", hint="Give the path of the .md file.") from None
    except OSError as err:
        raise IssueError(f"{path}: cannot read the issue file: {err.strerror}", hint="Check the path and its permissions.") from None
    _refuse_document(path, office_format(data, path.suffix))
    if len(data) > MAX_FILE_BYTES:
        raise IssueError(f"{path}: the issue file is over {MAX_FILE_BYTES // (1024 * 1024)} MB", hint="An issue is text; put images on the web and link them.")
    try:
        return data.decode("utf-8-sig")  # tolerate a byte-order mark (Notepad)
    except UnicodeDecodeError as err:
        line, column = byte_line_column(data, err.start)
        raise IssueError(f"{path}:{line}:{column}: not UTF-8 text ({byte_described(data, err.start)})", hint=RESAVE_TEXT_HINT) from None


# How to save a document as the plain-text file an issue is, in the program that wrote it.
SAVE_AS_TEXT = {
    "Word": "In Word: File > Save As, File Format: Plain Text (.txt), Encoding: Unicode (UTF-8); then rename the file to .md.",
    "RTF": "In TextEdit: Format > Make Plain Text, then File > Save, Plain Text Encoding: Unicode (UTF-8), with a name ending in .md.",
    "Pages": "In Pages: File > Export To > Plain Text..., then rename the file to .md.",
    "OpenDocument text": "In LibreOffice Writer: File > Save As, File type: Text (.txt), Character set: Unicode (UTF-8); then rename the file to .md.",
    "PDF": "A PDF cannot be read back as an issue: save the original document as plain text (UTF-8) instead.",
}

DOCUMENT_NAMES = {"Word": "a Word document", "RTF": "an RTF document", "Pages": "a Pages document", "OpenDocument text": "an OpenDocument text document", "PDF": "a PDF", "ZIP": "a ZIP archive"}


def _refuse_document(path: Path, kind: str | None) -> None:
    """A document saved in a word processor's own format (or any office file) is named."""
    if kind is None:
        return
    program = "Word" if kind.startswith("Word") else kind
    what = DOCUMENT_NAMES.get(program, f"a spreadsheet ({kind})")
    hint = SAVE_AS_TEXT.get(program, "An issue is a plain-text Markdown file (UTF-8): start one with 'newsletter new \"Title\"'.")
    raise IssueError(f"{path}: this is {what}, not a text file: save it as plain text (UTF-8) with the .md ending", hint=hint)


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


def _parse_yaml(path: Path, front: str) -> tuple[dict[str, Any], dict[str, int], tuple[str, ...]]:
    values, key_lines, curly = parse_front_matter(path, front)
    if values is None or values == "":
        raise IssueError(located(path, 1, "front matter is empty"), hint="Add at least title, subject, preheader and date.")
    if not isinstance(values, dict):
        raise IssueError(located(path, 2, "front matter must be 'key: value' lines"), hint="Write one key per line, e.g. 'title: ...'.")
    return values, key_lines, curly


def _build_issue(path: Path, values: dict[str, Any], key_lines: dict[str, int], body: str, body_line: int) -> Issue:
    """The Issue, or an IssueError naming every problem found (``others``): the writer fixes
    them in one go instead of one per run."""
    errors: list[IssueError] = []

    def fail(key: str, what: str, hint: str) -> IssueError:
        return IssueError(located(path, key_lines.get(key, 1), f"front matter: {what}"), hint=hint)

    def attempt(make: Callable[[], Any], default: Any = None) -> Any:
        try:
            return make()
        except IssueError as err:
            errors.append(err)
            return default

    for key in values:
        if key not in ALL_KEYS:
            close = difflib.get_close_matches(key, ALL_KEYS, n=1)
            suggestion = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(fail(key, f"unknown key '{shown(key)}'{suggestion}", f"Allowed keys: {', '.join(ALL_KEYS)}."))
    given = {k for k in REQUIRED_KEYS if k in values and values[k] not in ("", None)}
    for key in REQUIRED_KEYS:
        if key not in given:
            errors.append(IssueError(located(path, 1, f"front matter: '{key}' is required"), hint=f"Add a line '{key}: ...' between the two --- lines."))

    text = {k: attempt(lambda k=k: _single_line(values[k], k, fail), "") if k in given else "" for k in ("title", "subject", "preheader")}
    issue_date = attempt(lambda: _date(values["date"], fail)) if "date" in given else None
    slug = attempt(lambda: _slug(values.get("slug") or path.stem, "slug" in values, fail), "")
    status = values.get("status", "draft")
    if status not in ISSUE_STATUSES:
        errors.append(fail("status", f"status '{shown(status)}' is not one of {', '.join(ISSUE_STATUSES)}", "Use draft while writing, ready when it may be sent."))
    reviewed_by = values.get("reviewed_by")
    if reviewed_by is not None and not isinstance(reviewed_by, str):
        errors.append(fail("reviewed_by", "reviewed_by must be a name", "Write e.g. 'reviewed_by: Dr. A. Rivera, MD'."))
    elif reviewed_by:
        reviewed_by = attempt(lambda: _single_line(reviewed_by, "reviewed_by", fail, MAX_NAME))
    attempt(lambda: _check_body(path, body, body_line))
    authors = attempt(lambda: _string_list(values.get("authors"), "authors", fail), ())
    tags = attempt(lambda: _string_list(values.get("tags"), "tags", fail), ())
    if errors:
        raise IssueError(errors[0].message, hint=errors[0].hint, others=tuple(errors[1:]))
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
        authors=authors,
        reviewed_by=reviewed_by or None,
        tags=tags,
        key_lines=key_lines,
    )


def _single_line(value: Any, key: str, fail, limit: int = MAX_TEXT) -> str:
    """One line of plain text: it becomes a header (Subject), a page title or a path."""
    if not isinstance(value, str):
        raise fail(key, f"'{key}' must be text", f"Write it as '{key}: Some text' on one line.")
    cleaned = " ".join(value.split())
    if "\n" in value.strip() and cleaned != value.strip():
        raise fail(key, f"'{key}' must be a single line", "Join it onto one line.")
    problem = control_character(value) or template_syntax(cleaned, merge_fields=False)
    if problem:
        raise fail(key, f"'{key}' contains a {problem[1]}" if problem[1].startswith("control") else f"'{key}' contains {problem[1]}", _text_hint(problem[1]))
    if len(cleaned) > limit:
        raise fail(key, f"'{key}' is {len(cleaned):,} characters; at most {limit} are allowed", "Shorten it; a subject or title over 100 characters is cut off in most inboxes anyway.")
    return cleaned


def _text_hint(problem: str) -> str:
    if problem.startswith("control"):
        return "Delete it: it usually comes with text pasted from a PDF or a word processor (in a double-quoted value, a \\ escape)."
    return MERGE_HINT


def _slug(slug: Any, given: bool, fail) -> str:
    source = "" if given else " (from the file name; set 'slug:' to choose another)"
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise fail("slug", f"slug '{shown(slug)}'{source} may contain only lower-case letters, digits and single hyphens", "Use e.g. 'slug: 2026-11-mdma-assisted-therapy'.")
    if len(slug) > MAX_SLUG:
        raise fail("slug", f"slug '{shown(slug)}'{source} is {len(slug)} characters; at most {MAX_SLUG} are allowed", "It names the web page and the build folder: keep it short, e.g. 'slug: 2026-11-mdma-therapy'.")
    return slug


def _check_body(path: Path, body: str, body_line: int) -> None:
    if not body.strip():
        raise IssueError(located(path, body_line, "the issue has no text after the front matter"), hint="Write the issue's Markdown below the second --- line.")
    for problem in (control_character(body), template_syntax(body, merge_fields=True)):
        if problem:
            line, column = line_column(body, problem[0], body_line)
            raise IssueError(f"{path}:{line}:{column}: {problem[1]}", hint=_text_hint(problem[1]))


def _date(value: Any, fail) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise fail("date", f"date '{shown(value)}' is not a valid date", "Write it as YYYY-MM-DD, e.g. 'date: 2026-11-26'.")


def _string_list(value: Any, key: str, fail) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise fail(key, f"'{key}' must be a list of names", f"Write e.g. '{key}: [first, second]'.")
    if len(value) > MAX_NAMES:
        raise fail(key, f"'{key}' has {len(value)} entries; at most {MAX_NAMES} are allowed", "Keep the list short.")
    return tuple(_single_line(v, key, fail, MAX_NAME) for v in value if v.strip())


def slugify(title: str) -> str:
    """A URL- and file-safe slug from a title (ASCII letters, digits and hyphens)."""
    import unicodedata

    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words)[:60].strip("-") or "issue"
