"""``newsletter serve``: the public site (unsubscribe, preferences, sign-up, archive) under uvicorn."""

from __future__ import annotations

import typer

from . import app, run_guarded, state


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; keep 127.0.0.1 behind a reverse proxy)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    include_drafts: bool = typer.Option(False, "--include-drafts", help="Publish every issue file in the archive, not only the sent ones (for a look before sending)."),
) -> None:
    """Serve the clinic's public site: unsubscribe and preference links, sign-up, the archive and
    /healthz. For production, see the README (uvicorn or gunicorn on newsletter.web:app)."""
    from ..web.server import listen

    settings = run_guarded(state.settings)
    listening = run_guarded(listen, settings, host, port, include_drafts=include_drafts)
    typer.echo(f"Serving {settings.name} at {listening.url}  (Ctrl+C to stop)")
    listening.run()  # uvicorn stops on Ctrl-C or SIGTERM after the requests in flight
