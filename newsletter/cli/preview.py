"""``newsletter preview``: serve the live preview, or write screenshots with --snapshot."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from . import app, issue_argument, run_guarded, state


@app.command()
def preview(
    issue: Path = issue_argument(),
    port: int = typer.Option(8025, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open a browser."),
    snapshot: Optional[Path] = typer.Option(
        None, "--snapshot", help="Write desktop.png, phone.png, dark.png, phone-dark.png and preview.png to this folder with headless Chromium, then exit."
    ),
    snapshot_height: int = typer.Option(16000, "--snapshot-height", min=200, max=16000, help="With --snapshot: cut each email screenshot to its top this many px."),
) -> None:
    """Preview an issue at desktop and phone widths, in dark mode and as plain text, with its
    preflight findings; the page reloads whenever the issue, a template or newsletter.toml changes."""
    from ..preview.server import open_preview
    from ..preview.snapshots import take_snapshots

    config_path = run_guarded(lambda: state.settings().path)
    if snapshot is not None:
        paths = run_guarded(lambda: take_snapshots(issue, config_path, snapshot, max_height=snapshot_height))
        for path in paths:
            typer.echo(f"Wrote {path}")
        return
    with _ctrl_c_sets() as stopped:
        server = run_guarded(lambda: open_preview(issue, config_path, port=port))
        try:
            _announce(server, issue, open_browser=not no_open and not stopped.is_set())
            stopped.wait()
            typer.echo("Stopped.")
        finally:
            server.close()


@contextmanager
def _ctrl_c_sets():
    """Ctrl+C sets an event instead of raising KeyboardInterrupt wherever the main thread happens to
    be: raised between two lines (after the server started, before the cleanup was armed), it left
    the server's threads running and the process hanging."""
    stopped = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stopped.set())
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)


def _announce(server, issue: Path, *, open_browser: bool) -> None:
    typer.echo(f"Previewing {issue} at {server.url}  (Ctrl+C to stop)")
    for message, _hint in server.preview.state.errors:
        typer.echo(f"Build error (shown in the page): {message}")
    if open_browser and not _browser_opened(server.url):
        typer.echo(f"No browser could be opened here: open {server.url} in a browser yourself (on this machine, or through an SSH tunnel).")


def _browser_opened(url: str) -> bool:
    """webbrowser.open says False, or raises, when it finds no browser (a server, a container)."""
    import webbrowser

    try:
        return bool(webbrowser.open(url))
    except webbrowser.Error:
        return False
