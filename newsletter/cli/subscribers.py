"""``newsletter subscribers ...``: import, inspect and maintain the subscriber list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from . import app, err_console, out_console, run_guarded, state

if TYPE_CHECKING:
    import sqlite3

subscribers_app = typer.Typer(
    name="subscribers",
    help="Import, inspect and maintain the subscriber list (only 'active' subscribers are mailed).",
    no_args_is_help=True,
)
app.add_typer(subscribers_app, name="subscribers")

SHOWN_REJECTS = 10


def _db() -> sqlite3.Connection:
    from ..store.db import open_store

    return run_guarded(lambda: open_store(state.settings()))


@subscribers_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV export from Mailchimp, Substack, Buttondown, listmonk, or email,first_name,last_name,tags,status."),
    tag: List[str] = typer.Option([], "--tag", help="Add this tag to every imported subscriber (repeatable)."),
    source: Optional[str] = typer.Option(None, "--source", help="Where the consent came from (default: import:FILE)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would change; write nothing."),
) -> None:
    """Import subscribers from a CSV file, in one transaction: all rows or none."""
    from ..lists.importer import import_file

    conn = _db()
    try:
        report = run_guarded(lambda: import_file(conn, file, tags=tag, source=source, dry_run=dry_run))
    except KeyboardInterrupt:
        typer.echo("Interrupted: nothing was imported; the subscriber list is unchanged.", err=True)
        raise typer.Exit(130) from None
    _print_import(file, report)


@subscribers_app.command()
def add(
    email: str = typer.Argument(..., help="The address to add."),
    first_name: str = typer.Option("", "--first-name", help="First name (used in the greeting)."),
    last_name: str = typer.Option("", "--last-name", help="Last name."),
    tag: List[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    source: str = typer.Option("cli", "--source", help="Where the consent came from (e.g. 'paper form, clinic desk')."),
    resubscribe: bool = typer.Option(False, "--resubscribe", help="Re-activate someone unsubscribed or erased who asked again."),
) -> None:
    """Add one subscriber (active), recording their consent."""
    from ..store.subscribers import add as add_subscriber

    conn = _db()
    sub = run_guarded(
        lambda: add_subscriber(
            conn, email, source=source, first_name=first_name, last_name=last_name, tags=tag, resubscribe=resubscribe
        )
    )
    _say(f"Added {sub.email} ({sub.status})" + (f", tags: {', '.join(sub.tags)}" if sub.tags else ""))


@subscribers_app.command()
def unsubscribe(
    email: str = typer.Argument(..., help="The subscriber's address."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept in the history)."),
) -> None:
    """Stop mailing someone. Safe to repeat."""
    from ..store.subscribers import get
    from ..store.subscribers import unsubscribe as unsubscribe_subscriber

    conn = _db()
    changed = run_guarded(lambda: unsubscribe_subscriber(conn, email, source="cli", reason=reason))
    sub = run_guarded(lambda: get(conn, email))
    if changed:
        _say(f"Unsubscribed {sub.email}; they will not be mailed.")
    else:
        _say(f"{sub.email} is already {sub.status}; they are not mailed (no change).")


@subscribers_app.command()
def show(email: str = typer.Argument(..., help="The subscriber's address.")) -> None:
    """Show one subscriber, whether they are mailed and why, and their history."""
    from rich.table import Table
    from rich.text import Text

    from ..store.subscribers import get, history

    conn = _db()
    sub = run_guarded(lambda: get(conn, email))
    events = history(conn, sub.id)
    console = out_console()
    lines = [
        f"{sub.email}  (id {sub.id})",
        f"Status:  {sub.status}: {_mailed(sub.status, events)}",
        f"Name:    {' '.join(p for p in (sub.first_name, sub.last_name) if p) or '(none)'}",
        f"Tags:    {', '.join(sub.tags) or '(none)'}",
        f"Consent: {sub.consent.source}, {sub.consent.consented_at}"
        + (f", form {sub.consent.form}" if sub.consent.form else "")
        + (f", IP {sub.consent.ip}" if sub.consent.ip else ""),
        f"Created: {sub.created_at}   Updated: {sub.updated_at}",
    ]
    for line in lines:
        console.print(line, markup=False)
    table = Table("When", "Event", "Source", "Detail", title="History", title_justify="left")
    for event in events:
        table.add_row(Text(event.at), Text(event.kind), Text(event.source), Text(event.detail or ""))
    console.print(table)


@subscribers_app.command("list")
def list_(
    status: Optional[str] = typer.Option(None, "--status", help="Only this status: active, pending, unsubscribed, bounced, complained."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only subscribers with this tag."),
    search: Optional[str] = typer.Option(None, "--search", help="Only addresses or names containing this text."),
    limit: int = typer.Option(100, "--limit", help="Show at most this many (0: all)."),
) -> None:
    """List subscribers, oldest first."""
    from rich.table import Table
    from rich.text import Text

    from ..store.subscriber_admin import search as search_subscribers
    from ..store.subscribers import check_status

    conn = _db()
    if status:
        run_guarded(lambda: check_status(status, where="--status"))
    table = Table("Email", "Name", "Status", "Tags")
    shown = more = 0
    for sub in search_subscribers(conn, status=status, tag=tag, text=search):
        if limit and shown >= limit:
            more += 1
            continue
        shown += 1
        name = " ".join(p for p in (sub.first_name, sub.last_name) if p)
        table.add_row(Text(sub.email), Text(name), Text(sub.status), Text(", ".join(sub.tags)))
    console = out_console()
    if not shown:
        console.print("No subscribers match.", markup=False)
        return
    console.print(table)
    if more:
        console.print(f"... and {more:,} more (use --limit 0 to list all).", markup=False)


@subscribers_app.command()
def count() -> None:
    """Count subscribers by status and by tag."""
    from rich.table import Table
    from rich.text import Text

    from ..store.subscriber_admin import counts

    result = counts(_db())
    console = out_console()
    by_status = Table("Status", "Subscribers", title="By status", title_justify="left")
    for name, n in result.by_status.items():
        by_status.add_row(name, f"{n:,}")
    by_status.add_row("total", f"{result.total:,}", style="bold")
    console.print(by_status)
    if result.by_tag:
        by_tag = Table("Tag", "Subscribers", "Active", title="By tag", title_justify="left")
        for name, (n, active) in result.by_tag.items():
            by_tag.add_row(Text(name), f"{n:,}", f"{active:,}")
        console.print(by_tag)
    else:
        console.print("No tags yet.", markup=False)


@subscribers_app.command()
def export(
    file: Path = typer.Argument(..., help="The CSV file to write (replaced if it exists)."),
    status: Optional[str] = typer.Option(None, "--status", help="Only this status (default: everyone)."),
) -> None:
    """Export subscribers to CSV; importing that file back changes nothing."""
    from ..lists.writer import write_export
    from ..store.subscribers import check_status

    conn = _db()
    if status:
        run_guarded(lambda: check_status(status, where="--status"))
    written = write_export(conn, file, status=status)
    _say(f"Exported {written:,} subscriber{'s' if written != 1 else ''} to {file}")


@subscribers_app.command()
def tag(
    email: str = typer.Argument(..., help="The subscriber's address."),
    tags: List[str] = typer.Argument(..., help="One or more tags."),
) -> None:
    """Add tags to a subscriber."""
    from ..store.subscriber_admin import tag as tag_subscriber

    conn = _db()
    added = run_guarded(lambda: tag_subscriber(conn, email, tags, source="cli"))
    _say(f"Tagged {email.strip()}: {', '.join(added)}" if added else f"{email.strip()} already has those tags (no change).")


@subscribers_app.command()
def untag(
    email: str = typer.Argument(..., help="The subscriber's address."),
    tags: List[str] = typer.Argument(..., help="One or more tags."),
) -> None:
    """Remove tags from a subscriber."""
    from ..store.subscriber_admin import untag as untag_subscriber

    conn = _db()
    removed = run_guarded(lambda: untag_subscriber(conn, email, tags, source="cli"))
    _say(f"Untagged {email.strip()}: {', '.join(removed)}" if removed else f"{email.strip()} has none of those tags (no change).")


@subscribers_app.command()
def forget(email: str = typer.Argument(..., help="The address of the person to erase.")) -> None:
    """Erase a person: record, tags and history deleted; a keyed hash blocks re-imports."""
    from ..store.subscriber_admin import forget as forget_subscriber

    conn = _db()
    gone = run_guarded(lambda: forget_subscriber(conn, email))
    _say(f"Erased {gone.email}: record, tags and history deleted.")
    _say("A keyed hash of the address is kept so imports skip it; `subscribers add --resubscribe` lifts that.")


@subscribers_app.command()
def sync(provider: Optional[str] = typer.Option(None, "--provider", help="The provider to pull from (default: [provider] name).")) -> None:
    """Pull the provider's suppressions (bounces, complaints, unsubscribes) into the list."""
    from ..send.plan import provider_factory
    from ..send.sync import sync_with

    settings = run_guarded(state.settings)
    name = provider or settings.provider
    conn = _db()
    report = run_guarded(lambda: sync_with(conn, name, provider_factory(name, settings, os.environ)))
    if report is None:
        _say(f"{name} keeps no suppression list to pull: nothing to sync.")
        return
    say_sync(report)


def say_sync(report) -> None:
    """The counts of one sync (also printed by `send` before it plans)."""
    c = report.counts
    _say(f"Synced {report.pulled:,} suppression(s) from {report.provider}: {c.new:,} new, {c.already:,} already suppressed, {c.unknown:,} unknown address(es)")


def _print_import(file: Path, report) -> None:
    from rich.table import Table
    from rich.text import Text

    parsed, counts = report.parsed, report.counts
    console = out_console()
    title = f"{file}: {parsed.format} format, {parsed.encoding}, {parsed.total:,} row{'s' if parsed.total != 1 else ''}"
    table = Table("Result", "Rows", title=Text(title), title_justify="left")
    for label, n in (
        ("added", counts.added),
        ("updated", counts.updated),
        ("unchanged", counts.unchanged),
        ("kept suppressed", counts.kept_suppressed),
        ("duplicates merged", parsed.duplicates),
        ("rejected", len(parsed.rejected)),
    ):
        table.add_row(label, f"{n:,}")
    console.print(table)
    if parsed.encoding == "windows-1252":  # Mac-Roman cannot be told apart from it reliably: say so
        line, column = parsed.not_utf8_at or (1, 1)
        err_console().print(
            f"warning  {file}: not UTF-8 text; read as Windows-1252 (the first such character is at line {line}, column {column}). "
            "If accents look wrong there (a Mac-Roman file), save it as CSV UTF-8 and import again.", markup=False,
        )
    if counts.kept_suppressed:
        _say(
            f"Kept suppressed: {counts.kept_suppressed:,} row(s) name people who unsubscribed, bounced, complained "
            "or were erased; they were left as they are and will not be mailed."
        )
    for rejected in parsed.rejected[:SHOWN_REJECTS]:
        _say(f"{file}:{rejected.line}: {rejected.reason}")
    if len(parsed.rejected) > SHOWN_REJECTS:
        _say(f"... and {len(parsed.rejected) - SHOWN_REJECTS:,} more rejected rows.")
    if report.rejected_path:
        _say(f"Rejected rows, with their line and reason: {report.rejected_path}")
    if report.dry_run:
        _say("Dry run: nothing was written.")


def _mailed(status: str, events) -> str:
    """A one-line answer to "is this person mailed, and why (not)?"."""
    if status == "active":
        return "mailed"
    if status == "pending":
        return "not mailed until they confirm (or an import or `add --resubscribe` marks them active)"
    cause = next((e for e in reversed(events) if e.kind == status or (e.kind == "imported" and f"as {status}" in (e.detail or ""))), None)
    if cause is None:
        return "not mailed"
    why = f" ({cause.detail})" if cause.detail else ""
    return f"not mailed since {cause.at}, {cause.kind} via {cause.source}{why}"


def _say(text: str) -> None:
    out_console().print(text, markup=False)
