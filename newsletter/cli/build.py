"""``newsletter new`` and ``newsletter build``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from . import app, issue_argument, printable, run_guarded, state


@app.command()
def build(
    issue: Path = issue_argument(),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: [paths] output, usually build/)."),
) -> None:
    """Build an issue into `DIR/<slug>/`: `email.html`, `email.txt` and `email.eml` (a sample recipient's copy)."""
    from ..build.pipeline import build_issue

    result = run_guarded(lambda: build_issue(issue, state.settings(), out))
    for path, size in result.files:  # plain lines: no need for rich's console (15 ms to import)
        typer.echo(printable(f"{_display(path)}  {_size(size)}"))


@app.command()
def new(
    title: str = typer.Argument(..., help="The issue's title."),
    on: Optional[str] = typer.Option(None, "--date", help="Issue date, YYYY-MM-DD (default: today)."),
) -> None:
    """Create `issues/YYYY-MM-<slug>.md` with every front-matter key, ready to write."""
    from ..build.scaffold import new_issue

    path = run_guarded(lambda: new_issue(title, on, state.settings(), today=date.today()))
    typer.echo(printable(f"Created {_display(path)}"))
    typer.echo(printable(f"Next: write the issue, then run: newsletter build {_display(path)}"))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _size(n: int) -> str:
    return f"{n:,} bytes ({n / 1024:.1f} KB)"
