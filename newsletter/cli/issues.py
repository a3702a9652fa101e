"""``newsletter issues``: every issue file with its state, date, approval and what its send did."""

from __future__ import annotations

from . import app, out_console, run_guarded, state


@app.command()
def issues() -> None:
    """List every issue (newest first) with its state, date, approval and send counts; any command takes
    the slug shown here, or `latest`, in place of the file name."""
    from rich.table import Table

    from ..build.issue_index import issue_files

    settings = run_guarded(state.settings)
    files = run_guarded(issue_files, settings.issues_dir)
    if not files:
        out_console().print(f"No issues in {settings.issues_dir} yet. Create one with: newsletter new \"TITLE\"", markup=False)
        return
    sends, approved = _ledger_facts(settings, files)
    named_apart = any(f.path.stem != f.slug for f in files)  # the file column only when it adds something
    table = Table(show_header=True, header_style="bold")
    for column in ("slug", "date", "state", "approved", "sent", "recipients", *(["file"] if named_apart else [])):
        # Nothing is cut: a long slug folds onto a second line, the short columns never wrap.
        table.add_column(column, justify="right" if column == "recipients" else "left", overflow="fold", no_wrap=column in ("date", "sent", "recipients"))
    for f in files:
        send, counts = sends.get(f.slug, (None, {}))
        table.add_row(
            f.slug, f.issue.date.isoformat() if f.issue else "", _state(f, send, counts), approved.get(f.slug, ""),
            _sent_when(send), f"{counts.get('accepted', 0):,} of {sum(counts.values()):,}" if send else "",
            *([f.path.name] if named_apart else []),
        )
    out_console().print(table)
    for f in files:
        if f.problem:
            out_console().print(f"{f.path.name}: {f.problem.message}", markup=False)


def _ledger_facts(settings, files) -> tuple[dict, dict]:
    """slug -> (send record, counts by state) for the issues the ledger has, and slug -> what
    the approval says; no database file means nothing was sent or approved yet (and listing
    issues does not create one)."""
    if not settings.database.exists():
        return {}, {}
    from ..store import ledger
    from ..store.db import open_db

    conn = run_guarded(open_db, settings.database)
    try:
        sends, approved = {}, {}
        for f in files:
            send = ledger.find_send(conn, f.slug)
            if send is not None:
                sends[f.slug] = (send, ledger.counts(conn, send))
            if f.issue is not None:
                approved[f.slug] = _approval(f.issue, settings, conn)
        return sends, approved
    finally:
        conn.close()


def _approval(issue, settings, conn) -> str:
    """The reviewer when the approval matches the file as it is now; 'changed since NAME' when
    it was edited after; empty when never approved."""
    from ..send.approval import approval_state

    approval = run_guarded(approval_state, issue, settings, conn)
    if approval.approval is None:
        return ""
    return approval.reviewer or f"changed since {approval.approval.reviewer}"


def _state(f, send, counts: dict) -> str:
    if f.issue is None:
        return "cannot be read"
    if send is None:
        return f.issue.status  # draft or ready, as its front matter says
    if send.completed_at:
        return "sent"
    return "unknown left" if counts.get("unknown") else "partly sent"


def _sent_when(send) -> str:
    if send is None:
        return ""
    from .send import _local_time

    return _local_time(send.completed_at or send.created_at).rsplit(" ", 1)[0]  # the zone is the reader's own


__all__ = ["issues"]
