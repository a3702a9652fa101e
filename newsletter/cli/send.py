"""``newsletter send`` and ``newsletter status``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app, err_console, issue_argument, out_console, report_error, run_guarded, state


@app.command()
def send(
    issue: Path = issue_argument(),
    tag: List[str] = typer.Option([], "--tag", help="Only subscribers with this tag (repeatable: any of them)."),
    exclude_tag: List[str] = typer.Option([], "--exclude-tag", help="Leave out subscribers with this tag (repeatable)."),
    provider: Optional[str] = typer.Option(None, "--provider", help="outbox, smtp or postmark (default: [provider] name)."),
    test: List[str] = typer.Option([], "--test", help="Send the exact message with a [TEST] subject to this address only (repeatable)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Send at most N messages this run; the rest stay pending."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation (for scripts)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and report sizes; send nothing."),
    retry_unknown: bool = typer.Option(False, "--retry-unknown", help="Resend recipients whose delivery is unknown (may duplicate)."),
    resend_to_new: bool = typer.Option(False, "--resend-to-new", help="After a completed send: send to subscribers who joined since."),
    skip_sync: bool = typer.Option(False, "--skip-sync", help="Do not pull the provider's suppressions first (send to the list as it is)."),
    join: bool = typer.Option(False, "--join", help="Share the send another process or machine is running: take pending batches alongside it."),
) -> None:
    """Send an issue to the active subscribers (or --test addresses), exactly once each."""
    from ..send.plan import SendRequest, execute_send, plan_send, refuse_before_sync, send_test
    from ..store.db import open_store

    settings = run_guarded(state.settings)
    conn = run_guarded(open_store, settings)
    if test:
        results = run_guarded(send_test, issue, tuple(test), settings, conn, provider=provider)
        _print_test_results(results)
        raise typer.Exit(0 if all(r.status == "accepted" for _, r in results) else 1)

    if join and (retry_unknown or resend_to_new or test):
        from ..errors import SendError

        report_error(SendError("--join: joins the running send as it is", hint="Run --retry-unknown, --resend-to-new or --test on their own, once the send has finished."))
        raise typer.Exit(1)
    request = SendRequest(issue, tuple(tag), tuple(exclude_tag), provider, limit, retry_unknown, resend_to_new, join)
    run_guarded(refuse_before_sync, request, settings, conn)  # before the provider hears of it
    if not skip_sync and not dry_run:
        _sync_first(settings, conn, provider or settings.provider)
    plan = None
    try:
        plan = run_guarded(plan_send, request, settings, conn)
        _print_plan(plan, dry_run)
        if dry_run or plan.recipients == 0 and not plan.existing:
            raise typer.Exit(0)
        if plan.needs_confirmation and not yes:
            _confirm(plan)
    except BaseException as stopped:  # a dry run, nothing to send, a declined or interrupted prompt
        if plan is not None:
            plan.close()  # execute_send closes it otherwise
        if isinstance(stopped, KeyboardInterrupt):
            _stop_interrupted("Interrupted before sending: nothing was sent.")
        raise
    try:
        report = _run_with_progress(execute_send, plan, conn)
    except KeyboardInterrupt:  # a second Ctrl-C while sending, or one outside the dispatch loop
        _stop_interrupted("Interrupted. Nothing that may have reached the provider will be sent twice: "
                          "run the same send command again to continue ('newsletter status ISSUE' shows how far it got).")
    _print_report(report)
    if report.run.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def status(
    issue: Path = issue_argument(sent_slug_ok=True),
    all_rows: bool = typer.Option(False, "--all", help="List every rejected and unknown recipient (default: the first 200 of each)."),
) -> None:
    """Show how far an issue's send got: counts by state, rejected and unknown recipients."""
    from ..send.plan import send_status
    from ..store.db import open_store

    settings = run_guarded(state.settings)
    slug = _slug(issue)
    conn = run_guarded(open_store, settings)
    console = out_console()
    _print_approval(console, issue, slug, settings, conn)
    report = run_guarded(send_status, conn, slug, limit=None if all_rows else 200)
    completed = f"  completed {_local_time(report.send.completed_at)}" if report.send.completed_at else "  not completed"
    console.print(f"[bold]{slug}[/]  provider {report.send.provider}  started {_local_time(report.send.created_at)}{completed}")
    console.print(_counts_table(report.counts))
    for state_name, meaning in STATE_MEANINGS.items():
        if report.counts.get(state_name):
            console.print(f"  {state_name:9} {meaning}", markup=False)
    if any(report.events.values()):
        console.print(_events_line(report.events), markup=False)
    elif report.send.provider == "postmark":
        console.print("Reported by the provider: nothing yet (are Postmark's webhooks pointed at the site? README, Postmark events)", markup=False)
    for sender, accepted, other, alive in report.senders:
        host, _, pid = sender.rpartition(":")
        running = "  (sending now)" if alive else ""
        console.print(f"  sent by process {pid} on {host}: {accepted:,} accepted, {other:,} rejected or in doubt{running}", markup=False)
    _list_rows(console, "Rejected", report.rejected, report.counts.get("rejected", 0), slug)
    _list_rows(console, "Unknown (the provider may or may not have them)", report.unknown, report.counts.get("unknown", 0), slug)
    if report.unknown:
        console.print("Hint: 'unknown' means the request may have reached the provider. Check its activity log; "
                      "then 'newsletter send ISSUE --retry-unknown' resends them (possibly a second copy).")


def _sync_first(settings, conn, provider: str) -> None:
    """Providers that keep a suppression list are asked first; a failed sync stops the send."""
    import os

    from ..send.plan import provider_factory
    from ..send.sync import sync_with
    from .subscribers import say_sync

    try:
        report = run_guarded(sync_with, conn, provider, provider_factory(provider, settings, os.environ))
    except KeyboardInterrupt:  # what was applied stays applied: each part is one transaction
        _stop_interrupted("Interrupted during the suppression sync: nothing was sent.")
    if report is not None:
        say_sync(report)


def _print_approval(console, issue: Path, slug: str, settings, conn) -> None:
    """The issue's sign-off: who, when, and whether it matches the file as it is now."""
    from ..send.approval import approval_summary

    approval, verdict = run_guarded(approval_summary, issue, slug, settings, conn)
    who = f"{approval.reviewer} at {_local_time(approval.approved_at)}: " if approval else ""
    console.print(f"Approval  {who}{verdict}", markup=False)


def _slug(issue: Path) -> str:
    if issue.suffix == ".md" and issue.exists():
        from ..build.issue import load_issue

        return run_guarded(load_issue, issue).slug
    return issue.stem


def _events_line(counts: dict) -> str:
    """What the provider reported back by webhook (Postmark), per recipient."""
    shown = ("delivered", "bounced", "complained")
    line = "Reported by the provider: " + ", ".join(f"{counts.get(k, 0):,} {k}" for k in shown)
    extra = [f"{counts[k]:,} {label}" for k, label in (("soft_bounce", "soft bounces"), ("unsubscribed", "suppressed by subscription change")) if counts.get(k)]
    return line + (f" ({', '.join(extra)})" if extra else "")


def _print_plan(plan, dry_run: bool) -> None:
    console = out_console()
    issue = plan.compiled.issue
    console.print(f"Issue     {issue.path} ({issue.slug})")
    console.print(f"Subject   {issue.subject}")
    console.print(f"Provider  {plan.provider}")
    what = "continuing: " if plan.existing else ""
    console.print(f"Recipients {what}{plan.recipients:,}")
    per = plan.message_bytes
    console.print(f"Size      {per / 1024:.1f} KB per message, {per * plan.recipients / 1e6:.1f} MB in all")
    for finding in plan.warnings:
        err_console().print(f"warning  {finding.location}  {finding.id}  {finding.message}", markup=False)
    if plan.dev_secret:
        err_console().print("note     unsubscribe links in the outbox are signed with a development key; set NEWSLETTER_SECRET for real sends", markup=False)
    if dry_run:
        console.print("Dry run: nothing was sent.")


def _stop_interrupted(text: str) -> None:
    err_console().print(f"\n{text}", markup=False)
    raise typer.Exit(130)


def _confirm(plan) -> None:
    question = f"Send to {plan.recipients:,} recipients through {plan.provider}? Type {plan.recipients} to confirm"
    try:
        answer = typer.prompt(question, default="", show_default=False)
    except typer.Abort as err:  # click turns Ctrl-C and end of input at a prompt into Abort
        if isinstance(err.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        answer = ""
    if answer.strip().replace(",", "") != str(plan.recipients):
        err_console().print("Cancelled: nothing was sent.", markup=False)
        raise typer.Exit(1)


def _run_with_progress(execute_send, plan, conn):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("Sending"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=err_console(), transient=False) as progress:
        task = progress.add_task("send", total=None, rate="")

        def started(total: int) -> None:
            progress.update(task, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)
            t = progress.tasks[0]
            if t.speed:
                progress.update(task, rate=f"{t.speed:,.0f}/s")

        return run_guarded(
            execute_send, plan, conn, on_start=started, on_progress=advance,
            on_note=lambda text: progress.console.print(f"note     {text}", markup=False),
        )


# What each ledger state means for the writer, shown by `status` under the counts.
STATE_MEANINGS = {
    "accepted": "the provider took the message (the outbox: its file is written); it is never sent again",
    "rejected": "not sent, for the reason listed below; never retried on its own",
    "unknown": "the request may have reached the provider but no answer came: not resent on its own (see below)",
    "skipped": "left the list (unsubscribed, bounced, erased) after the send started: not sent",
    "pending": "not sent yet: run the same send command to continue",
    "sending": "with the provider right now, or the run was stopped; the next run checks them first",
}


def _local_time(stored: str) -> str:
    """A stored UTC time (clock.py) in this computer's time zone, to the second."""
    from datetime import datetime

    return datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _counts_table(counts: dict):
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for state_name in ("accepted", "rejected", "unknown", "skipped", "pending", "sending"):
        table.add_column(state_name, justify="right")
    table.add_row(*(f"{counts.get(s, 0):,}" for s in ("accepted", "rejected", "unknown", "skipped", "pending", "sending")))
    return table


def _print_report(report) -> None:
    console = out_console()
    console.print(_counts_table(report.counts))
    run = report.run
    rate = (run.accepted / report.elapsed) if report.elapsed else 0
    console.print(f"This run: {run.accepted:,} accepted, {run.rejected:,} rejected, {run.unknown:,} unknown, {run.skipped:,} skipped in {report.elapsed:.1f} s ({rate:,.0f}/s)")
    if run.interrupted:
        console.print("Stopped by Ctrl-C: nothing new was sent after it, and what the provider already had is recorded.")
    if run.requeued:
        console.print(f"{run.requeued:,} recipient(s) went back to pending: the provider never got them, so the next run sends them.")
    for r in report.reconciled:
        if r.found or r.absent:
            console.print(f"Reconciled with {report.provider}: {r.found} found (accepted), {r.absent} not found (sent again)")
        if r.error:
            console.print(f"Could not reconcile: {r.error}", markup=False)
        if r.doubt:
            console.print(f"Left unknown (a resend could duplicate them): {r.doubt}", markup=False)
    if report.destination and run.accepted:
        console.print(f"The messages are files in {_shown_path(report.destination)}/ (one .eml per recipient: open one in a mail program).", markup=False)
    _list_rows(console, "Rejected", report.rejected, report.counts.get("rejected", 0), report.issue_slug)
    _list_rows(console, "Unknown", report.unknown, report.counts.get("unknown", 0), report.issue_slug)
    if run.stopped_by is not None:
        err_console().print(f"Error: {run.stopped_by.message}", markup=False)
        if run.stopped_by.hint:
            err_console().print(f"Hint: {run.stopped_by.hint}", markup=False)
        else:
            err_console().print("Hint: nothing that may have reached the provider will be sent twice; fix the cause and run the same send command again to continue.", markup=False)
    elif report.with_others:
        console.print(f"{report.with_others:,} recipient(s) are with the other sender(s) of this issue, still at work ('newsletter status ISSUE' follows them).")
    elif report.counts.get("pending"):
        console.print("Some recipients are still pending: run the same send command again to continue.")
    if report.counts.get("unknown"):
        console.print("Some deliveries are unknown: see 'newsletter status ISSUE' and README ('What unknown means').")


def _list_rows(console, title: str, rows, total: int, slug: str) -> None:
    """The rows shown (the first of ``total``), and how to see the rest."""
    if not rows:
        return
    console.print(f"[bold]{title}[/] ({total:,})")
    for d in rows:
        console.print(f"  {d.email}  {d.error_code or ''} {d.error_detail or ''}".rstrip(), markup=False)
    if total > len(rows):
        console.print(f"  {total - len(rows):,} more: newsletter status {slug} --all", markup=False)


def _shown_path(path: str) -> str:
    """A path as the writer would type it: relative to the current folder when inside it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _print_test_results(results) -> None:
    console = out_console()
    for address, result in results:
        extra = f" ({result.code}: {result.detail})" if result.status != "accepted" else ""
        if result.location:
            extra += f"  -> {_shown_path(result.location)}"
        console.print(f"{result.status:9} {address}{extra}", markup=False)
