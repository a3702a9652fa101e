"""``newsletter issues``: every issue file with its state, date, approval and what its send did."""

from __future__ import annotations

from . import app, out_console, run_guarded, state


@app.command()
def issues() -> None:
    """List every issue (newest first) with its state, date, approval and send counts; any command takes
    the slug shown here, or `latest`, in place of the file name."""
    from ..build.issue_index import issue_files

    settings = run_guarded(state.settings)
    files = run_guarded(issue_files, settings.issues_dir)
    if not files:
        out_console().print(f"No issues in {settings.issues_dir} yet. Create one with: newsletter new \"TITLE\"", markup=False)
        return
    sends, approved = _ledger_facts(settings, files)
    named_apart = any(f.path.stem != f.slug for f in files)  # the file column only when it adds something
    columns = ("slug", "date", "state", "approved", "sent", "recipients", *(["file"] if named_apart else []))
    rows = [_row(f, sends, approved, named_apart) for f in files]
    console = out_console()
    if _table_width(columns, rows) <= console.width:
        console.print(_table(columns, rows))
    else:  # a narrow terminal: a slug split across lines cannot be copied, so one issue per block
        for row in rows:
            console.print(row[0], markup=False, style="bold")
            console.print("  " + "  ".join(f"{name}: {value}" for name, value in zip(columns[1:], row[1:], strict=True) if value), markup=False)
    for f in files:
        if f.problem:
            out_console().print(f"{f.path.name}: {f.problem.message}", markup=False)


def _row(f, sends: dict, approved: dict, named_apart: bool) -> list[str]:
    send, counts = sends.get(f.slug, (None, {}))
    return [
        f.slug, f.issue.date.isoformat() if f.issue else "", _state(f, send, counts), approved.get(f.slug, ""),
        _sent_when(send), f"{counts.get('accepted', 0):,} of {sum(counts.values()):,}" if send else "",
        *([f.path.name] if named_apart else []),
    ]


def _table_width(columns, rows) -> int:
    """The width of the table with no cell wrapped: content, one space each side, the rules."""
    widest = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    return sum(widest) + 3 * len(columns) + 1


def _table(columns, rows):
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column == "recipients" else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _ledger_facts(settings, files) -> tuple[dict, dict]:
    """slug -> (send record, counts by state) for the issues the ledger has, and slug -> what
    the approval says; no database file means nothing was sent or approved yet (and listing
    issues does not create one)."""
    if not settings.database.exists():
        return {}, {}
    from ..store import ledger
    from ..store.db import open_store

    conn = run_guarded(open_store, settings)
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
