"""``check --online`` against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import set_checks
from newsletter.checks import online, run_checks


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        self.server.seen.append((self.command, self.path))
        if self.path == "/trickle":
            return self._trickle()
        if self.path == "/slow":
            self.server.release.wait()  # answers only at teardown: the client must time out
        status = {"/ok": 200, "/slow": 200, "/gone": 404, "/doi/10.1234/good": 302, "/doi/10.1234/missing": 404}.get(self.path, 404)
        if self.path == "/no-head":
            status = 405 if head else 200
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "https://publisher.invalid/article")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self) -> None:
        """A status line one byte every 0.25 s, far below the read timeout (about 4 minutes)."""
        for byte in b"HTTP/1.1 200 " + b"OK" * 500 + b"\r\nContent-Length: 0\r\n\r\n":
            if self.server.release.wait(0.25):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:  # the client gave up (its deadline shut the socket)
                return


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def local_only(monkeypatch):
    """Fail the test if the checker ever tries to reach anything but 127.0.0.1."""
    real = online._probe

    def guarded(target, timeout):
        assert urlsplit(target.url).hostname == "127.0.0.1", target.url
        return real(target, timeout)

    monkeypatch.setattr(online, "_probe", guarded)


def write_online_issue(project: Path, port: int) -> tuple[Path, object]:
    base = f"http://127.0.0.1:{port}"
    settings = set_checks(project, f'online_skip = ["https://news.kairoswellness.org/", "https://kairoswellness.org/"]\ndoi_resolver = "{base}/doi/"')
    body = f"""---
title: Links
subject: Checking links before sending
preheader: A draft whose links point at a local test server, nothing else.
date: 2026-11-26
authors: [Tester]
reviewed_by: Dr. Test
---

A trial: [working]({base}/ok), [no HEAD]({base}/no-head), [broken]({base}/gone).

A study (doi:10.1234/good) and another, https://doi.org/10.1234/missing
"""
    path = project / "issues" / "links.md"
    path.write_text(body, encoding="utf-8")
    return Path("issues/links.md"), settings


def online_findings(path, settings):
    return sorted((f.id, f.location, f.message) for f in run_checks(path, settings, online=True).findings if f.id.startswith("online."))


def test_broken_links_and_unresolvable_dois_are_warnings(project, server, local_only):
    path, settings = write_online_issue(project, server.server_address[1])
    found = online_findings(path, settings)
    assert [(i, loc) for i, loc, _ in found] == [("online.broken-link", f"{path}:10"), ("online.doi", f"{path}:12")]
    assert "HTTP 404" in found[0][2] and "10.1234/missing" in found[1][2]
    assert ("GET", "/no-head") in server.seen  # HEAD refused, GET fallback worked
    assert ("GET", "/doi/10.1234/good") not in server.seen  # the resolver's 302 is the answer


def test_working_urls_are_cached_for_24_hours(project, server, local_only):
    path, settings = write_online_issue(project, server.server_address[1])
    online_findings(path, settings)
    cache_file = settings.output_dir / ".linkcache.json"
    cached = json.loads(cache_file.read_text())["ok"]
    assert sorted(urlsplit(u).path for u in cached) == ["/doi/10.1234/good", "/no-head", "/ok"]

    server.seen.clear()
    online_findings(path, settings)
    assert sorted({p for _, p in server.seen}) == ["/doi/10.1234/missing", "/gone"]  # broken ones: always again

    cache_file.write_text(json.dumps({"ok": {u: t - 25 * 3600 for u, t in cached.items()}}))
    server.seen.clear()
    online_findings(path, settings)
    assert {p for _, p in server.seen} >= {"/ok", "/no-head", "/doi/10.1234/good"}


def test_offline_check_never_fetches(project, server):
    path, settings = write_online_issue(project, server.server_address[1])
    run_checks(path, settings)
    assert server.seen == []


def test_timeout_is_reported(server):
    target = online.Target(f"http://127.0.0.1:{server.server_address[1]}/slow", "slow", "link", "x")
    assert online._probe(target, timeout=0.2) == "timed out after 0.2 s"


def test_a_server_answering_a_byte_at_a_time_ends_at_the_deadline(server):
    target = online.Target(f"http://127.0.0.1:{server.server_address[1]}/trickle", "trickle", "link", "x")
    assert online._probe(target, timeout=2, deadline=1) == "no complete answer within 1 s"
    assert server.seen == [("HEAD", "/trickle")]  # no GET after the deadline: one bound for the URL
