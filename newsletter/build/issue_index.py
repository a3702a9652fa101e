"""Which issue a command means, and the list of issues: a writer may name an issue by its file,
its slug or ``latest`` instead of retyping a 60-character file name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import IssueError, NewsletterError
from ..models import Issue
from .issue import load_issue

LATEST = "latest"


@dataclass(frozen=True)
class IssueFile:
    """One Markdown file of the issues folder: the loaded issue, or why it does not load."""

    path: Path
    issue: Issue | None
    problem: NewsletterError | None = None

    @property
    def slug(self) -> str:
        return self.issue.slug if self.issue else self.path.stem


def issue_files(issues_dir: Path) -> list[IssueFile]:
    """Every ``*.md`` in the issues folder, newest date first (then by file name); a file that
    does not load is listed with its problem, not skipped."""
    found = []
    for path in sorted(issues_dir.glob("*.md")):
        try:
            found.append(IssueFile(path, load_issue(path)))
        except NewsletterError as err:
            found.append(IssueFile(path, None, err))
    return sorted(found, key=lambda f: (f.issue.date.isoformat() if f.issue else "", f.path.name), reverse=True)


def find_issue(reference: str | Path, issues_dir: Path) -> Path:
    """The issue file meant by ``reference``: an existing file as given, ``latest`` (the issue
    with the newest date), or a slug or file stem from the issues folder."""
    given = Path(reference)
    if given.is_file():
        return given
    name = str(reference)
    if given.suffix == ".md" or "/" in name or not issues_dir.is_dir():
        return given  # a path that does not exist: load_issue says so, with its own hint
    files = issue_files(issues_dir)
    if name == LATEST:
        dated = [f for f in files if f.issue]
        if not dated:
            raise IssueError(f"{issues_dir}: no issue to call 'latest'", hint="Create one with: newsletter new \"TITLE\"")
        return _as_typed(dated[0].path)
    matches = sorted(f.path for f in files if name in (f.slug, f.path.stem))
    if len(matches) == 1:
        return _as_typed(matches[0])
    if matches:
        raise IssueError(f"{name}: {len(matches)} issue files have this slug: {', '.join(p.name for p in matches)}", hint="Give the file name instead, and make the slugs unique.")
    raise IssueError(f"{name}: no such issue file or slug in {issues_dir}", hint="List the issues with: newsletter issues")


def _as_typed(path: Path) -> Path:
    """Relative to the current folder when inside it, so errors show the path a writer types."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
