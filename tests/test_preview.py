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
def test_snapshot_writes_three_pngs(project, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_CHROMIUM", CHROMIUM)
    paths = take_snapshots(ISSUE, project / "newsletter.toml", project / "shots", NO_INTERNET)
    assert [p.name for p in paths] == ["desktop.png", "phone.png", "dark.png"]
    widths = {p.name: struct.unpack(">II", p.read_bytes()[16:24])[0] for p in paths}
    assert widths == {"desktop.png": 680, "phone.png": 375, "dark.png": 680}
    assert all(os.path.getsize(p) > 10_000 for p in paths)
