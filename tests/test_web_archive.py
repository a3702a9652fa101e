"""The archive: after a real send to the outbox, `newsletter archive --out DIR` and the site's
/issues/, /issues/<slug>/ and /feed.xml (over real HTTP) publish the issue without anybody's data."""

from __future__ import annotations

import email
import re
import shutil
import xml.etree.ElementTree as ET
from email import policy
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from conftest import write
from newsletter.cli import app as cli
from newsletter.store import subscribers
from newsletter.store.db import open_store
from newsletter.web.app import create_app
from web_server import serving

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"
ATOM = "{http://www.w3.org/2005/Atom}"
PEOPLE = [("zelda.quimby@example.com", "Zelda"), ("xavier.brightwater@example.org", "Xavier"), ("noname@example.net", "")]


@pytest.fixture
def sent(settings):
    """The sample issue sent for real (newsletter send, outbox provider) to three people."""
    conn = open_store(settings)
    for address, name in PEOPLE:
        subscribers.add(conn, address, source="test", first_name=name)
    conn.close()
    result = CliRunner().invoke(cli, ["send", ISSUE])
    assert result.exit_code == 0, result.output
    return settings


def test_archive_command_writes_index_issue_and_feed_without_personal_data(sent, project):
    out = project / "public"
    result = CliRunner().invoke(cli, ["archive", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(1 issue)" in result.output
    page = (out / "issues" / SLUG / "index.html").read_text()
    index = (out / "issues" / "index.html").read_text()
    feed = (out / "feed.xml").read_text()

    assert f'href="/issues/{SLUG}/"' in index and "MDMA-assisted therapy for PTSD: where the research stands" in index
    assert "Two phase 3 trials" in index  # the preheader
    assert "Hi there," in page and "References" in page and "https://doi.org/10.1038/s41591-021-01336-3" in page
    assert f'href="{sent.base_url}/subscribe"' in page and ">Subscribe</a>" in page and ">Unsubscribe</a>" not in page
    assert "%%preferences_url%%" not in page and "Manage preferences" not in page  # a web version names nobody
    assert "%%" not in page

    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for address, name in PEOPLE:
            assert address not in text, path
            assert not name or name not in text, path
        assert "/u/" not in text and "/u/" not in text.replace("&#47;", "/"), path

    root = ET.fromstring(feed.encode())
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    rels = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert rels == {"alternate": f"{sent.base_url}/issues/", "self": f"{sent.base_url}/feed.xml"}
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}link").get("href") == f"{sent.base_url}/issues/{SLUG}/"
    assert entry.find(f"{ATOM}id").text == f"{sent.base_url}/issues/{SLUG}/"
    assert entry.find(f"{ATOM}updated").text == "2026-11-26T00:00:00Z"
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html" and "Hi there," in content.text and "MAPP1" in content.text


def test_unsent_issues_are_published_only_with_include_drafts(project):
    plain = CliRunner().invoke(cli, ["archive", "--out", str(project / "a")])
    assert plain.exit_code == 0 and "(0 issues)" in plain.output and "--include-drafts" in plain.output
    assert not (project / "a" / "issues" / SLUG).exists()
    drafts = CliRunner().invoke(cli, ["archive", "--out", str(project / "b"), "--include-drafts"])
    assert drafts.exit_code == 0 and (project / "b" / "issues" / SLUG / "index.html").is_file()


def test_the_site_serves_the_same_pages_and_every_view_in_browser_link_resolves(sent, project):
    CliRunner().invoke(cli, ["archive", "--out", str(project / "public")])
    with serving(create_app(sent)) as base:
        for eml in (project / "outbox" / SLUG).glob("*.eml"):
            message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
            text = message.get_body(("plain",)).get_content()
            link = re.search(r"https://\S+/issues/[^/\s]+/", text).group(0)
            assert link == f"{sent.base_url}/issues/{SLUG}/"
            reply = requests.get(base + link[len(sent.base_url):], timeout=30)
            assert reply.status_code == 200
            assert reply.text == (project / "public" / "issues" / SLUG / "index.html").read_text()
        index = requests.get(f"{base}/issues/", timeout=10)
        assert index.status_code == 200 and f"/issues/{SLUG}/" in index.text
        assert requests.get(f"{base}/issues", timeout=10).url == f"{base}/issues/"
        feed = requests.get(f"{base}/feed.xml", timeout=30)
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        assert ET.fromstring(feed.content).find(f"{ATOM}entry") is not None
        missing = requests.get(f"{base}/issues/no-such-issue/", timeout=10)
        assert missing.status_code == 404 and "Page not found" in missing.text


def test_the_site_hides_unsent_issues_unless_drafts_are_included(settings):
    with serving(create_app(settings)) as base:
        assert requests.get(f"{base}/issues/{SLUG}/", timeout=10).status_code == 404
        assert f"/issues/{SLUG}/" not in requests.get(f"{base}/issues/", timeout=10).text
        assert ET.fromstring(requests.get(f"{base}/feed.xml", timeout=10).content).find(f"{ATOM}entry") is None
    with serving(create_app(settings, include_drafts=True)) as base:
        assert requests.get(f"{base}/issues/{SLUG}/", timeout=30).status_code == 200


def test_a_broken_issue_file_is_skipped_not_fatal(sent, project):
    write(project / "issues" / "2026-12-broken.md", "---\ntitle: [unclosed\n---\nBody\n")
    with serving(create_app(sent)) as base:
        assert f"/issues/{SLUG}/" in requests.get(f"{base}/issues/", timeout=10).text
    result = CliRunner().invoke(cli, ["archive", "--out", str(project / "public")])
    assert result.exit_code == 0 and "Skipped:" in result.output and "2026-12-broken.md" in result.output


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium not installed")
def test_the_web_version_fits_375_px_in_chromium(settings):
    from measuring import measured_app

    from newsletter.preview.snapshots import dump_dom

    with serving(measured_app(create_app(settings, include_drafts=True))) as base:
        dom = dump_dom(CHROMIUM, f"{base}/__measure?path=/issues/{SLUG}/&width=375", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom).group(0)))
    assert attrs.get("measured") == "yes" and int(attrs["scroll-width"]) <= 375, attrs
