"""The preview server over real HTTP on 127.0.0.1, its live reload, and the page in headless
Chromium (marked ``browser``)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from newsletter.preview.server import PreviewError, open_preview
from newsletter.preview.snapshots import dump_dom, find_chromium, take_snapshots

ISSUE = Path("issues/2026-11-mdma-assisted-therapy.md")
SUBJECT = "MDMA therapy for PTSD: the evidence in November 2026"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium not installed (apt-get install chromium)")
NO_INTERNET = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"  # remote images fail fast, offline


@pytest.fixture
def server(project):
    # The November issue as sent (tests/fixtures/): these tests are about the preview, not about
    # the issue's current revision.
    (project / ISSUE).write_bytes((Path(__file__).resolve().parent / "fixtures" / ISSUE.name).read_bytes())
    srv = open_preview(ISSUE, project / "newsletter.toml", port=0)
    assert srv.watching.wait(60), "the preview never started watching its files"  # before a test edits one
    yield srv
    srv.close()


def get(server, path: str) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode("utf-8")
    conn.close()
    return resp.status, resp.getheader("Content-Type", ""), body


class EventStream:
    def __init__(self, server) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()
        assert self.resp.getheader("Content-Type") == "text/event-stream"

    def next(self) -> tuple[str, str]:
        """The next (event, data), skipping keep-alive comments."""
        event = data = None
        while True:
            line = self.resp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                return event, data

    def close(self) -> None:
        self.conn.close()


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_page_and_assets(server):
    status, kind, page = get(server, "/")
    assert status == 200 and kind.startswith("text/html")
    assert f'<span class="subject" id="subject">{SUBJECT}</span>' in page
    assert '<span class="from">Kairos Wellness Collective</span>' in page
    assert "Two phase 3 trials, a US decision not to approve" in page  # the preheader
    assert [v for v in re.findall(r'data-view="(\w+)"', page)] == ["desktop", "phone", "dark", "inverted"]
    assert "front-matter.reviewed-by" in page and '<pre class="text">' in page
    assert get(server, "/preview.css")[1].startswith("text/css")
    assert "EventSource('/events')" in get(server, "/preview.js")[2]


def test_email_variants(server):
    html = get(server, "/email.html")[2]
    assert f"<title>{SUBJECT}</title>" in html and '<base target="_blank">' in html
    dark = get(server, "/email-dark.html")[2]
    assert "prefers-color-scheme" not in dark and ".nl-card, .nl-card > table { background-color: #1c2421 !important; }" in dark
    assert "filter:invert(1) hue-rotate(180deg)" in get(server, "/email-inverted.html")[2]
    status, kind, text = get(server, "/email.txt")
    assert status == 200 and kind.startswith("text/plain") and text.startswith("Kairos Research Notes")
    assert get(server, "/nothing-here")[0] == 404


def test_issue_change_reloads_and_build_errors_show_in_the_page(project, server):
    events = EventStream(server)
    try:
        assert events.next() == ("hello", "1")
        edit(project / ISSUE, "where the research stands", "where the evidence stands")
        assert events.next() == ("reload", "2")
        assert "where the evidence stands" in get(server, "/")[2]

        edit(project / ISSUE, "date: 2026-11-26", "date: 26 November")
        assert events.next() == ("reload", "3")
        page = get(server, "/")[2]
        assert 'id="build-error"' in page
        assert f"{ISSUE}:5: front matter: date &#x27;26 November&#x27; is not a valid date" in page
        assert "Hint: Write it as YYYY-MM-DD" in page
        assert "where the evidence stands" in page  # the last good build stays on screen
        assert '"ok": false' in get(server, "/state.json")[2]

        edit(project / ISSUE, "date: 26 November", "date: 2026-11-26")
        assert events.next() == ("reload", "4")
        assert 'id="build-error"' not in get(server, "/")[2]
    finally:
        events.close()


def test_template_and_config_changes_reload(project, server):
    events = EventStream(server)
    try:
        events.next()
        edit(project / "templates/partials/footer.mjml.j2", "View in browser", "Read this issue on the web")
        assert events.next()[0] == "reload"
        assert "Read this issue on the web" in get(server, "/email.html")[2]
        edit(project / "newsletter.toml", 'from_name = "Kairos Wellness Collective"', 'from_name = "Kairos Research"')
        assert events.next()[0] == "reload"
        assert '<span class="from">Kairos Research</span>' in get(server, "/")[2]
        edit(project / "templates/partials/cta.mjml.j2", "{{ settings.cta_label }}", "{% if %}")
        assert events.next()[0] == "reload"
        page = get(server, "/")[2]
        assert "Build error" in page and "cta.mjml.j2:1: template syntax" in page
    finally:
        events.close()


def test_issue_broken_from_the_start_shows_only_the_error(project):
    edit(project / ISSUE, "title: ", "titel: ")
    srv = open_preview(ISSUE, project / "newsletter.toml", port=0, watch_files=False)
    try:
        page = get(srv, "/")[2]
        assert "unknown key &#x27;titel&#x27; (did you mean &#x27;title&#x27;?)" in page and "<iframe" not in page
        assert get(srv, "/email.html")[0] == 404
    finally:
        srv.close()


def test_busy_port_is_a_clear_error(project, server):
    with pytest.raises(PreviewError) as err:
        open_preview(ISSUE, project / "newsletter.toml", port=server.server_address[1], watch_files=False)
    assert "already in use" in err.value.message and "--port 0" in err.value.hint


def test_snapshot_without_chromium_says_how_to_install_it(project, monkeypatch):
    monkeypatch.setenv("PATH", str(project / "no-bin"))
    monkeypatch.delenv("NEWSLETTER_CHROMIUM", raising=False)
    with pytest.raises(PreviewError) as err:
        find_chromium()
    assert "apt-get install chromium" in err.value.hint


# --- real headless Chromium ---------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
def test_phone_view_has_no_horizontal_overflow_and_shows_the_subject(server):
    dom = dump_dom(CHROMIUM, server.url, NO_INTERNET)
    body = re.search(r"<body[^>]*>", dom).group(0)
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', body))
    assert attrs["measured"] == "yes", body
    assert attrs["phone-overflow"] == "no" and int(attrs["phone-scroll-width"]) <= 375, body
    assert attrs["phone-title"] == SUBJECT
    assert f'id="subject">{SUBJECT}<' in dom and "no horizontal scrolling" in dom


@pytest.mark.browser
@needs_chromium
def test_snapshot_writes_five_pngs(project, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_CHROMIUM", CHROMIUM)
    paths = take_snapshots(ISSUE, project / "newsletter.toml", project / "shots", NO_INTERNET)
    assert [p.name for p in paths] == ["desktop.png", "phone.png", "dark.png", "phone-dark.png", "preview.png"]
    sizes = {p.name: struct.unpack(">II", p.read_bytes()[16:24]) for p in paths}
    assert {name: w for name, (w, h) in sizes.items()} == {"desktop.png": 680, "phone.png": 375, "dark.png": 680, "phone-dark.png": 375, "preview.png": 1280}
    assert sizes["preview.png"][1] == 1000 and sizes["phone.png"][1] > 2000  # the page's first screen; the whole email
    cut = take_snapshots(ISSUE, project / "newsletter.toml", project / "cut", NO_INTERNET, max_height=900)
    assert {struct.unpack(">II", p.read_bytes()[16:24])[1] for p in cut if p.name != "preview.png"} == {900}
    assert all(os.path.getsize(p) > 10_000 for p in paths)


# --- issue 15, item 3: a phone, findings first, every build error, no browser ------------------


def test_page_has_a_viewport_the_counts_in_its_title_and_the_findings_before_the_frames(server):
    page = get(server, "/")[2]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    findings = server.preview.state.findings
    errors = sum(f.severity == "error" for f in findings)
    assert errors == 0 and len(findings) > 1  # the as-sent fixture: the reviewed-by and readability warnings
    assert f"<title>(0 errors, {len(findings)} warnings) Preview: {SUBJECT}</title>" in page
    assert page.index('id="findings"') < page.index('class="inbox"') < page.index("<iframe")


def test_every_build_error_of_the_issue_at_once(project, server):
    events = EventStream(server)
    try:
        events.next()
        text = (project / ISSUE).read_text(encoding="utf-8")
        text = text.replace("date: 2026-11-26", "date: 26 November").replace("title: ", "titel: ", 1)
        text = text.replace("status: ready", "status: posted")
        (project / ISSUE).write_text(text + "\nA line with a bell \x07 in it.\n", encoding="utf-8")
        assert events.next()[0] == "reload"
        page = get(server, "/")[2]
        errors = re.findall(r"<li><pre>([^<]*)</pre>", page)
        assert any("unknown key &#x27;titel&#x27;" in e for e in errors), errors
        assert any("&#x27;title&#x27; is required" in e for e in errors), errors
        assert any("date &#x27;26 November&#x27; is not a valid date" in e for e in errors), errors
        assert any("status &#x27;posted&#x27;" in e for e in errors), errors
        assert any("control character" in e for e in errors), errors
        assert f"<h2>{len(errors)} build errors</h2>" in page and f"<title>({len(errors)} build errors) Preview:" in page
        state = get(server, "/state.json")[2]
        assert '"ok": false' in state and state.count('"front matter: ') >= 4
    finally:
        events.close()


def test_check_reports_every_build_error_of_the_issue(project, settings):
    from newsletter.checks import run_checks

    edit(project / ISSUE, "date: 2026-11-26", "date: soon")
    edit(project / ISSUE, "title: ", "titel: ")
    run = run_checks(ISSUE, settings, spamassassin=False)
    messages = [f.message for f in run.findings]
    assert [f.id for f in run.findings] == ["build.issue"] * len(messages) and len(messages) == 3, messages
    assert any("unknown key 'titel'" in m for m in messages) and any("'title' is required" in m for m in messages)
    assert any("date 'soon' is not a valid date" in m for m in messages)


PHONE_WRAPPER = (  # the preview page in a 375 px frame: headless Chromium's window is at least 500 px wide
    '<!doctype html><html><body style="margin:0"><iframe id="phone" src="/" style="width:375px;height:800px;border:0"'
    " onload=\"var b=this.contentDocument.body;for(var i=0;i<b.attributes.length;i++){var a=b.attributes[i];"
    'if(a.name.indexOf(\'data-\')===0)document.body.setAttribute(a.name,a.value)}"></iframe></body></html>'
)


def same_origin_proxy(server):
    """A 127.0.0.1 server passing every request on to the preview, with /phone.html added, so
    the wrapper page may read the framed page's DOM."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/events":  # a stream never ends; the page works without it
                self.send_response(204)
                self.end_headers()
                return
            if self.path == "/phone.html":
                status, kind, body = 200, "text/html; charset=utf-8", PHONE_WRAPPER
            else:
                status, kind, body = get(server, self.path)
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return proxy


@pytest.mark.browser
@needs_chromium
def test_page_fits_a_375_px_phone(server):
    proxy = same_origin_proxy(server)
    try:
        dom = dump_dom(CHROMIUM, f"http://127.0.0.1:{proxy.server_address[1]}/phone.html", NO_INTERNET)
    finally:
        proxy.shutdown()
        proxy.server_close()
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom).group(0)))
    assert attrs.get("measured") == "yes" and int(attrs["page-width"]) == 375, attrs
    assert int(attrs["page-scroll-width"]) <= 375, attrs  # nothing on the page scrolls sideways
    assert attrs["phone-overflow"] == "no", attrs


def test_preview_says_which_address_to_open_when_no_browser_can_be_opened(project):
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TERM")}
    env["BROWSER"] = str(project / "no-such-browser")  # webbrowser tries only this, and it fails
    command = [str(Path(sys.executable).parent / "newsletter"), "preview", str(ISSUE), "--port", "0"]
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in process.stdout:  # waits for each line; ends if the process exits
            lines.append(line)
            if "No browser" in line:
                break
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    url = re.search(r"at (http://127\.0\.0\.1:\d+/)", lines[0]).group(1)
    assert lines[-1].startswith(f"No browser could be opened here: open {url} in a browser"), lines + [rest]
