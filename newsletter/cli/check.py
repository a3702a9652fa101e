"""``newsletter check``: preflight findings for one issue, as text or JSON; exit 1 on any error."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer

from . import app, issue_argument, printable, report_error, run_guarded, state


class Format(str, Enum):
    text = "text"
    json = "json"


@app.command()
def check(
    issue: Path = issue_argument(),
    online: bool = typer.Option(False, "--online", help="Also fetch every link and image and resolve every DOI (network; cached 24 h)."),
    format: Format = typer.Option(Format.text, "--format", help="text: one finding per line; json: a list of objects."),
    spamassassin: bool = typer.Option(True, "--spamassassin/--no-spamassassin", help="Score the message with a local SpamAssassin, when installed."),
) -> None:
    """Check an issue before sending: content, links, images, accessibility, the message itself."""
    from ..checks import run_checks, spamassassin_available, spamassassin_wanted

    settings = run_guarded(state.settings)
    result = run_guarded(lambda: run_checks(issue, settings, online=online, spamassassin=spamassassin, prior=_prior_send(settings)))
    findings = result.findings
    if format is Format.json:
        typer.echo(json.dumps([asdict(f) for f in findings], indent=2, ensure_ascii=False))
    else:
        for f in findings:
            typer.echo(printable(f"{f.severity}  {f.location}  {f.id}  {f.message}"))
        if result.compiled is not None and spamassassin_wanted(settings, spamassassin) and not spamassassin_available():
            typer.echo("Note: SpamAssassin is not installed, so the spam score was not checked (apt-get install spamassassin).")
        typer.echo(_summary(findings))
        if result.error is not None:  # nothing could be checked: say why in the house format too
            report_error(result.error)
    if result.failed:
        raise typer.Exit(1)


def _prior_send(settings):
    """The ledger's send of a slug (readiness.slug-sent); no database file: nothing was sent,
    and a check creates none."""
    def prior(slug: str):
        if not settings.database.exists():
            return None
        from ..checks import PriorSend
        from ..store import ledger
        from ..store.db import open_store

        conn = open_store(settings)
        try:
            send = ledger.find_send(conn, slug)
        finally:
            conn.close()
        return PriorSend(send.subject, send.created_at) if send else None

    return prior


def _summary(findings) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    verdict = "cannot be sent until the errors are fixed" if errors else "ready to send" if not warnings else "may be sent; review the warnings"
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}: {verdict}."
