"""``newsletter preview``: a local page showing every version of a draft, rebuilt on each save.

A ThreadingHTTPServer on 127.0.0.1 serves the page (page.py), the email variants and a
server-sent-event stream at /events. A watchfiles thread rebuilds when the issue, a template or
newsletter.toml changes and tells every open page to reload. A build error is shown in the
page (the server keeps running); the frames keep the last version that built. Screenshots of
the email in headless Chromium are in snapshots.py.
"""

from __future__ import annotations

import errno
import json
import threading
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..config import load_settings
from ..errors import IssueError, NewsletterError
from ..models import Finding
from .page import CSS, JS, force_dark, framed, inverted, render_page

if TYPE_CHECKING:
    from ..checks.readability import Readability

HOST = "127.0.0.1"
KEEPALIVE_SECONDS = 15


class PreviewError(NewsletterError):
    """The preview cannot start (port in use) or cannot take screenshots (no Chromium)."""


@dataclass(frozen=True)
class Email:
    sender: str
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class PreviewState:
    version: int
    built_at: str
    email: Email | None  # the last version that built
    findings: tuple[Finding, ...]
    error: tuple[str, str | None] | None  # (message with location, hint) of the latest build's first error
    readability: Readability | None = None  # the prose scored, of the last version that built
    errors: tuple[tuple[str, str | None], ...] = ()  # every error of the latest build, the first is ``error``


class Preview:
    """The current build of one issue; rebuilt on demand, waited on by the event streams."""

    def __init__(self, issue_path: Path, config_path: Path) -> None:
        self.issue_path = issue_path
        self.config_path = config_path.resolve()
        self.templates_dir = self.config_path.parent / "templates"
        self.state = PreviewState(0, "", None, (), None)
        self.closing = False
        self._changed = threading.Condition()
        self._build_lock = threading.Lock()

    def rebuild(self) -> PreviewState:
        with self._build_lock:
            email, findings, errors, readability = self._build()
            state = PreviewState(
                version=self.state.version + 1,
                built_at=datetime.now().strftime("%H:%M:%S"),
                email=email or self.state.email,
                findings=findings,
                error=errors[0] if errors else None,
                errors=errors,
                readability=readability if email else self.state.readability,
            )
            with self._changed:
                self.state = state
                self._changed.notify_all()
            return state

    def _build(self) -> tuple[Email | None, tuple[Finding, ...], tuple[tuple[str, str | None], ...], Readability | None]:
        from ..checks import run_checks

        try:
            settings = load_settings(self.config_path)
            self.templates_dir = settings.templates_dir
            run = run_checks(self.issue_path, settings, spamassassin=False)  # SpamAssassin: seconds
        except NewsletterError as err:
            return None, (), _every(err), None
        except Exception as err:  # a bug must not stop the preview; show it where the author looks
            where = traceback.extract_tb(err.__traceback__)[-1]
            return None, (), ((f"internal error: {type(err).__name__}: {err} ({where.filename}:{where.lineno})", "Please report this with the issue file."),), None
        if run.message is None or run.compiled is None:
            return None, run.findings, _every(run.error) if run.error else (("build failed", None),), None
        m = run.message
        email = Email(parseaddr(m.from_)[0] or m.from_, m.subject, run.compiled.issue.preheader, m.html, m.text)
        return email, run.findings, (), run.readability

    def wait_for_change(self, version: int, timeout: float) -> int | None:
        """The new version once it differs from ``version``; None on timeout or when closing."""
        with self._changed:
            self._changed.wait_for(lambda: self.state.version != version or self.closing, timeout)
            return None if self.closing or self.state.version == version else self.state.version

    def close(self) -> None:
        with self._changed:
            self.closing = True
            self._changed.notify_all()

    # --- watching -----------------------------------------------------------------------------

    def watched(self) -> tuple[list[Path], Callable[[object, str], bool]]:
        """Folders to watch (not recursive; templates with their subfolders) and a path filter."""
        issue, config, templates = self.issue_path.resolve(), self.config_path, self.templates_dir.resolve()
        folders = {issue.parent, config.parent, templates}
        if templates.is_dir():
            folders.update(p for p in templates.rglob("*") if p.is_dir())

        def relevant(_change, path: str) -> bool:
            p = Path(path).resolve()
            return p in (issue, config) or (templates in p.parents and p.suffix in (".j2", ".mjml", ".txt", ".html"))

        return sorted(f for f in folders if f.is_dir()), relevant


def _every(err: NewsletterError) -> tuple[tuple[str, str | None], ...]:
    """(message, hint) of each problem the build found: an issue file reports all of them at once."""
    return tuple((e.message, e.hint) for e in (err.all() if isinstance(err, IssueError) else (err,)))


def watch(preview: Preview, stop: threading.Event, watching: threading.Event) -> None:
    """Rebuild on every relevant change until ``stop`` is set (runs in its own thread).
    ``watching`` is set once the folders are watched: an edit before that is not seen."""
    import watchfiles

    folders, relevant = preview.watched()
    # yield_on_timeout: the first (empty) yield comes once the watches are registered.
    for changes in watchfiles.watch(*folders, watch_filter=relevant, stop_event=stop, debounce=400, step=50, rust_timeout=200,
                                    yield_on_timeout=True, recursive=False, raise_interrupt=False):
        watching.set()
        if changes:
            preview.rebuild()


def _summary(report: Readability | None) -> dict | None:
    """The readability figures of /state.json (the page shows the sentences)."""
    if report is None:
        return None
    return {
        "grade": report.grade,
        "target": report.target,
        "words": report.words,
        "long_sentences": [{"line": s.line, "words": s.words} for s in report.long_sentences],
        "jargon": [{"term": use.term, "line": use.line} for use in report.jargon],
    }


class _Handler(BaseHTTPRequestHandler):
    server: "PreviewServer"

    def log_message(self, format: str, *args) -> None:  # library code never prints
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        state = self.server.preview.state
        email = state.email
        if path == "/events":
            return self._events()
        if path == "/":
            inbox = (email.sender, email.subject, email.preheader) if email else None
            page = render_page(version=state.version, built_at=state.built_at, inbox=inbox, text=email.text if email else None, findings=state.findings, errors=state.errors, readability=state.readability)
            return self._send(200, "text/html", page)
        if path == "/preview.css":
            return self._send(200, "text/css", CSS)
        if path == "/preview.js":
            return self._send(200, "text/javascript", JS)
        if path == "/state.json":
            body = {"version": state.version, "ok": state.error is None, "error": state.error, "errors": state.errors, "findings": [asdict(f) for f in state.findings], "readability": _summary(state.readability)}
            return self._send(200, "application/json", json.dumps(body))
        variants = {"/email.html": framed, "/email-dark.html": force_dark, "/email-inverted.html": inverted}
        if path in variants and email is not None:
            return self._send(200, "text/html", variants[path](email.html))
        if path == "/email.txt" and email is not None:
            return self._send(200, "text/plain", email.text)
        self._send(404, "text/plain", "not found")

    def _send(self, status: int, kind: str, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _events(self) -> None:
        """Server-sent events: 'hello' with the current version, then 'reload' on each change."""
        preview = self.server.preview
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        version = preview.state.version
        try:
            self._event("hello", version)
            while not preview.closing:
                new = preview.wait_for_change(version, KEEPALIVE_SECONDS)
                if new is None:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    continue
                version = new
                self._event("reload", version)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away (reloaded or closed)

    def _event(self, name: str, version: int) -> None:
        self.wfile.write(f"event: {name}\ndata: {version}\n\n".encode())
        self.wfile.flush()


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not keep the process alive

    def __init__(self, preview: Preview, port: int) -> None:
        self.preview = preview
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise PreviewError(f"{HOST}:{port}: the port is already in use", hint="Stop the other preview, or pass --port 0 to use any free port.") from err
            raise PreviewError(f"{HOST}:{port}: cannot listen: {err.strerror}") from err
        self._stop = threading.Event()
        self.watching = threading.Event()  # set once file changes are seen (like uvicorn's `started`)
        self._workers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def start(self, *, watch_files: bool = True) -> "PreviewServer":
        self._spawn(lambda: self.serve_forever(poll_interval=0.1), "preview-http")
        if watch_files:
            self._spawn(lambda: watch(self.preview, self._stop, self.watching), "preview-watch")
        return self

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._workers.append(thread)

    def close(self) -> None:
        self._stop.set()
        self.preview.close()
        self.shutdown()
        self.server_close()
        for thread in self._workers:
            thread.join(timeout=5)


def open_preview(issue_path: Path, config_path: Path, *, port: int = 8025, watch_files: bool = True) -> PreviewServer:
    """Build once, then serve and watch in background threads; ``close()`` stops everything."""
    preview = Preview(issue_path, config_path)
    preview.rebuild()
    return PreviewServer(preview, port).start(watch_files=watch_files)
