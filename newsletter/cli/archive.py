"""``newsletter archive``: the web versions, index and feed as static files."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app, err_console, out_console, run_guarded, state


@app.command()
def archive(
    out: Path = typer.Option(..., "--out", help="Folder to write (`DIR/issues/index.html`, `DIR/issues/<slug>/index.html`, `DIR/feed.xml`)."),
    include_drafts: bool = typer.Option(False, "--include-drafts", help="Every issue file, not only those the ledger shows as sent."),
) -> None:
    """Write the public archive (web version of every sent issue, the index and an Atom feed) as
    static files for any static host; the same pages the site serves at /issues/ and /feed.xml."""
    from ..store.db import open_store
    from ..web.archive_pages import write_archive

    settings = run_guarded(state.settings)
    conn = run_guarded(open_store, settings)
    try:
        result = run_guarded(write_archive, settings, conn, out, include_drafts=include_drafts)
    finally:
        conn.close()
    for problem in result.problems:
        err_console().print(f"Skipped: {problem.message}", markup=False)
    which = "issue" if len(result.issues) == 1 else "issues"
    out_console().print(f"Wrote {len(result.files)} files to {out} ({len(result.issues)} {which})", markup=False)
    if not result.issues:
        out_console().print("No issue has been sent yet: add --include-drafts to publish every issue file.", markup=False)
