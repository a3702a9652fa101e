"""Sign-off tied to the content: ``newsletter approve`` records it, a real send requires it.

An approval holds the fingerprint of everything that reaches subscribers
(build/fingerprint.py). A send through any provider but the outbox refuses an issue whose
current fingerprint is not the approved one and says which part changed; the outbox only warns.
The email's "Reviewed by" line is the approval's reviewer, and nobody else's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Sequence

from .. import clock
from ..build.fingerprint import Fingerprint, changed_parts, content_fingerprint
from ..build.issue import load_issue, placeholder_reviewer
from ..build.render import render_issue
from ..config import Settings
from ..errors import ApprovalError, SendError
from ..models import CompiledIssue, Finding, Issue
from ..store import approvals
from ..store.approvals import Approval

UNAPPROVED_TEST_PREFIX = "[TEST] [not approved] "
APPROVED_TEST_PREFIX = "[TEST] "


@dataclass(frozen=True)
class ApprovalState:
    """The issue as it is now, against its latest approval (if any)."""

    issue: Issue
    fingerprint: Fingerprint
    approval: Approval | None

    @property
    def current(self) -> bool:
        return self.approval is not None and self.approval.content_hash == self.fingerprint.digest

    @property
    def reviewer(self) -> str | None:
        """Who signed off this exact content: the email's "Reviewed by" (None: no such line)."""
        return self.approval.reviewer if self.current and self.approval else None

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.approval.accepted if self.current and self.approval else ()

    def changes(self) -> list[tuple[str, int | None]]:
        """What changed since the approval: (description, file line or None), in file order."""
        if self.approval is None or self.current:
            return []
        out = []
        for part in changed_parts(self.approval.parts, self.fingerprint.parts):
            kind, _, name = part.partition(": ")
            if part == "body":
                line = self.issue.body_line + _first_changed_line(self.approval.body, self.issue.body)
                out.append((f"the body (from line {line})", line))
            elif kind == "front matter":
                line = self.issue.key_lines.get(name)
                out.append((f"front matter '{name}'" + (f" (line {line})" if line else ""), line))
            else:  # "template: partials/footer.mjml.j2", "config: [brand]"
                out.append((f"{kind} {name}", None))
        return out


def approval_state(issue: Issue, settings: Settings, conn) -> ApprovalState:
    return ApprovalState(issue, content_fingerprint(issue, settings), approvals.latest(conn, issue.slug))


def compile_for_send(issue_path: Path, settings: Settings, conn) -> tuple[CompiledIssue, ApprovalState]:
    """The issue compiled as subscribers get it: "Reviewed by" the approval's reviewer, or no
    such line while the current content has no approval (whatever the front matter says)."""
    issue = load_issue(issue_path)
    state = approval_state(issue, settings, conn)
    return render_issue(replace(issue, reviewed_by=state.reviewer), settings), state


def approve_issue(
    issue_path: Path, reviewer: str, accept: Sequence[str], settings: Settings, conn, *, now: datetime | None = None,
):
    """Record ``reviewer``'s sign-off of the issue's current content and the finding ids they
    accepted (only ids of current findings). Returns (the approval, the current CheckRun)."""
    from ..checks import run_checks

    name = " ".join(reviewer.split())
    if placeholder_reviewer(name):
        raise ApprovalError(
            f"--reviewer: '{name}' is not a reviewer's name",
            hint='Give the name of the person who reviewed the issue, as readers should see it: --reviewer "Dr. A. Rivera, MD".',
        )
    issue = load_issue(issue_path)
    run = run_checks(issue_path, settings)
    if run.error is not None:
        raise run.error
    _check_accepted(issue, accept, run.findings)
    fingerprint = content_fingerprint(issue, settings)
    approval = Approval(issue.slug, name, clock.timestamp(now), fingerprint.digest, fingerprint.parts, issue.body, tuple(dict.fromkeys(accept)))
    approvals.record(conn, approval)
    return approval, run


def acceptance_name(f: Finding) -> str:
    """What ``--accept`` names a finding by: its key where it has one (a claim: that sentence's
    claim only), else its check id (e.g. ``subject.length``)."""
    return f.key or f.id


def is_accepted(f: Finding, state: ApprovalState) -> bool:
    return acceptance_name(f) in state.accepted


def _check_accepted(issue: Issue, accept: Sequence[str], findings: Sequence[Finding]) -> None:
    ids = list(dict.fromkeys(acceptance_name(f) for f in findings))
    for wanted in accept:
        if wanted not in ids:
            close = difflib.get_close_matches(wanted, ids, n=1)
            raise ApprovalError(
                f"{issue.path}: --accept {wanted}: no current finding has this id or key" + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint=f"Run 'newsletter check {issue.path}': accept a claim by the key its finding ends with (claims:<category>:<hash>), any other finding by its id.",
            )


def require_approval(state: ApprovalState, provider: str) -> Finding | None:
    """Nothing when the current content is approved. Otherwise a real send is refused (SendError
    naming what changed and the command to run); the outbox gets a warning instead."""
    if state.current:
        return None
    issue = state.issue
    command = f'newsletter approve {issue.path} --reviewer "NAME"'
    if state.approval is None:
        where, what = str(issue.path), "not approved: no reviewer has signed off this issue"
        hint = f"Have it reviewed, then record the sign-off: {command}"
    else:
        changes = state.changes()
        line = next((n for _, n in changes if n), None)
        where = f"{issue.path}:{line}" if line else str(issue.path)
        what = f"changed since {state.approval.reviewer} approved it at {state.approval.approved_at}: " + ", ".join(c for c, _ in changes)
        hint = f"Have the change reviewed, then approve the new content: {command}"
    if provider == "outbox":
        return Finding("approval.missing", "warning", where, f"{what} (the outbox writes files; any other provider refuses this send)")
    raise SendError(f"{where}: {what}", hint=hint)


def approval_summary(issue_path: Path, slug: str, settings: Settings, conn) -> tuple[Approval | None, str]:
    """For ``status``: the issue's latest approval and how it stands against the file as it is
    now ("matches the current content", or what changed); a slug without its file is not compared."""
    latest = approvals.latest(conn, slug)
    if latest is None:
        return None, f'none: a real send needs newsletter approve {issue_path} --reviewer "NAME"'
    if not (issue_path.suffix == ".md" and issue_path.is_file()):
        return latest, "not compared (the issue's file is not here)"
    state = approval_state(load_issue(issue_path), settings, conn)
    if state.current:
        return latest, "matches the current content"
    return latest, "changed since: " + ", ".join(c for c, _ in state.changes()) + " (a real send is refused until it is approved again)"


def prefix_for_test_send(state: ApprovalState) -> str:
    """Test sends go out before approval; their subject says whether the content is approved."""
    return APPROVED_TEST_PREFIX if state.current else UNAPPROVED_TEST_PREFIX


def _first_changed_line(old: str, new: str) -> int:
    """0-based index of the first line that differs (or where one text ends)."""
    a, b = old.splitlines(), new.splitlines()
    for n, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return n
    return min(len(a), len(b))
