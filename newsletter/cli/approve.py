"""``newsletter approve``: a reviewer's sign-off of an issue's exact content."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from . import app, out_console, run_guarded, state


@app.command()
def approve(
    issue: Path = typer.Argument(..., help="The issue's Markdown file."),
    reviewer: str = typer.Option(..., "--reviewer", help='Who reviewed it, as readers see it in "Reviewed by" (e.g. "Dr. A. Rivera, MD").'),
    accept: List[str] = typer.Option([], "--accept", help="A finding the reviewer accepts as written (repeatable): a claim's key (claims:CATEGORY:HASH, from 'newsletter check'), else the check id."),
) -> None:
    """Record that REVIEWER signed off the issue as it is now; a real send requires it."""
    from ..send.approval import acceptance_name, approve_issue
    from ..store.db import open_store

    settings = run_guarded(state.settings)
    conn = run_guarded(open_store, settings)
    approval, run = run_guarded(approve_issue, issue, reviewer, tuple(accept), settings, conn)
    console = out_console()
    console.print(f"Approved  {issue} ({approval.issue_slug}) by {approval.reviewer} at {approval.approved_at}", markup=False)
    console.print(f"Content   sha256 {approval.content_hash[:16]}… (front matter, body, templates, content settings)", markup=False)
    if approval.accepted:
        console.print(f"Accepted  {', '.join(approval.accepted)}", markup=False)
    blocking = [f for f in run.findings if f.severity == "error" and acceptance_name(f) not in approval.accepted]
    if blocking:
        console.print(f"Note: {len(blocking)} error(s) still refuse a send ('newsletter check {issue}'); fix them, or accept them with --accept KEY.", markup=False)
    console.print("Any change to what subscribers get needs a new approval before a real send.", markup=False)
