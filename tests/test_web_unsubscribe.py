"""Unsubscribe at /u/<token> over real HTTP against uvicorn: RFC 8058 one-click from a real send's
List-Unsubscribe header, the page's button and undo, forged tokens, concurrency, the page in
headless Chromium with JavaScript off."""

from __future__ import annotations

import email
import random
import re
import string
from concurrent.futures import ThreadPoolExecutor
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from typer.testing import CliRunner

from newsletter.build.personalize import PREFERENCES, sign_token, verify_token
from newsletter.cli import app as cli
from newsletter.store import subscribers
from newsletter.store.db import open_store
from newsletter.web.app import create_app
from web_server import serving

pytestmark = pytest.mark.both_engines  # SQLite and PostgreSQL (conftest.py, tests/pg_server.py)

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"
SECRET = b"test-secret-not-for-production"  # conftest's NEWSLETTER_SECRET
ONE_CLICK = "List-Unsubscribe=One-Click"


def db(settings):
    return open_store(settings)


def add_people(settings, n: int, prefix: str = "p") -> list[int]:
    conn = db(settings)
    ids = [subscribers.add(conn, f"{prefix}{i}@example.com", source="test", first_name=f"P{i}").id for i in range(n)]
    conn.close()
    return ids


def status(settings, subscriber_id: int) -> str:
    conn = db(settings)
    try:
        return subscribers.get(conn, subscriber_id).status
    finally:
        conn.close()


def events(settings, subscriber_id: int) -> list[subscribers.Event]:
    conn = db(settings)
    try:
        return subscribers.history(conn, subscriber_id)
    finally:
        conn.close()


def link(base: str, subscriber_id: int, query: str = "") -> str:
    return f"{base}/u/{sign_token(SECRET, subscriber_id)}{query}"


def one_click(url: str, **kwargs) -> requests.Response:
    return requests.post(url, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30, **kwargs)


def local(url: str, base: str) -> str:
    """The link as sent, with its scheme and host pointed at the local server."""
    parts = urlsplit(url)
    return f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def test_one_click_from_a_real_send_unsubscribes_and_a_changed_token_does_not(project, settings):
    ids = add_people(settings, 3)
    result = CliRunner().invoke(cli, ["send", ISSUE])
    assert result.exit_code == 0, result.output
    sent = sorted((project / "outbox" / SLUG).glob("*.eml"))
    message = email.message_from_bytes(sent[0].read_bytes(), policy=policy.default)
    to_id = subscribers.get(db(settings), message["To"].addresses[0].addr_spec).id
    https = re.search(r"<(https://[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert message["List-Unsubscribe-Post"] == ONE_CLICK and https.endswith(f"?issue={SLUG}")
    with serving(create_app(settings)) as base:
        token = urlsplit(https).path.rsplit("/", 1)[1]
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        bad = one_click(local(https.replace(token, forged), base))
        assert bad.status_code == 400 and all(status(settings, i) == "active" for i in ids)
        answer = one_click(local(https, base))
        assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert status(settings, to_id) == "unsubscribed"
    assert [s for s in ids if status(settings, s) == "active"] == [i for i in ids if i != to_id]
    last = events(settings, to_id)[-1]
    assert (last.kind, last.source) == ("unsubscribed", "one-click") and f"issue {SLUG}" in last.detail


@pytest.mark.parametrize(
    "body, content_type",
    [
        (ONE_CLICK, "application/x-www-form-urlencoded"),
        (ONE_CLICK, "text/plain"),
        (ONE_CLICK, None),
        (b'--xx\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--xx--\r\n', "multipart/form-data; boundary=xx"),
        (b"", None),
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_one_click_accepts_any_body_with_or_without_trailing_slash(settings, body, content_type, slash):
    (sub_id,) = add_people(settings, 1)
    headers = {"Content-Type": content_type} if content_type else {}
    with serving(create_app(settings)) as base:
        session = requests.Session()
        request = requests.Request("POST", f"{link(base, sub_id)}{slash}", data=body, headers=headers).prepare()
        if content_type is None:
            request.headers.pop("Content-Type", None)
        answer = session.send(request, timeout=30)
        assert answer.status_code == 200, answer.text
        assert status(settings, sub_id) == "unsubscribed"
        again = one_click(link(base, sub_id) + slash)  # a repeat is harmless
        assert again.status_code == 200
    assert [(e.kind, e.source) for e in events(settings, sub_id)].count(("unsubscribed", "one-click")) == 1


def test_get_changes_nothing_and_shows_the_list_and_masked_address(settings):
    (sub_id,) = add_people(settings, 1, prefix="amelia")
    before = events(settings, sub_id)
    with serving(create_app(settings)) as base:
        for url in (link(base, sub_id), link(base, sub_id, f"?issue={SLUG}"), link(base, sub_id) + "/"):
            page = requests.get(url, timeout=30)
            assert page.status_code == 200
            assert settings.name in page.text and "a***@example.com" in page.text and "amelia0@" not in page.text
            assert re.search(r'<form method="post" action="/u/[^"]+"', page.text) and "<script" not in page.text
            assert f'href="/p/{sign_token(SECRET, sub_id, PREFERENCES)}' in page.text
            assert requests.head(url, timeout=30).status_code == 200
    assert status(settings, sub_id) == "active" and events(settings, sub_id) == before


def test_the_button_then_undo_are_recorded_with_their_sources(settings):
    (sub_id,) = add_people(settings, 1)
    with serving(create_app(settings)) as base:
        url = link(base, sub_id, f"?issue={SLUG}")
        done = requests.post(url, data={"from": "page"}, timeout=30)
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        assert status(settings, sub_id) == "unsubscribed"
        action = re.search(r'<form method="post" action="([^"]+)"><input type="hidden" name="action" value="undo">', done.text).group(1)
        assert action.startswith("/u/")  # site-relative: no redirect anywhere else
        evil = requests.post(base + action, data={"action": "undo"}, headers={"Origin": "https://evil.example"}, timeout=30)
        assert evil.status_code == 403 and status(settings, sub_id) == "unsubscribed"
        undone = requests.post(base + action, data={"action": "undo"}, headers={"Origin": base}, timeout=30)
        assert undone.status_code == 200 and "subscribed again" in undone.text
        assert status(settings, sub_id) == "active"
        twice = requests.post(base + action, data={"action": "undo"}, timeout=30)
        assert twice.status_code == 200 and "Nothing to undo" in twice.text
    kinds = [(e.kind, e.source, e.detail) for e in events(settings, sub_id)][-2:]
    assert kinds[0][:2] == ("unsubscribed", "page") and f"issue {SLUG}" in kinds[0][2]
    assert kinds[1][:2] == ("resubscribed", "page") and "undo" in kinds[1][2]


def test_an_issue_parameter_that_is_no_slug_is_ignored_not_recorded(settings):
    (sub_id,) = add_people(settings, 1)
    with serving(create_app(settings)) as base:
        assert one_click(link(base, sub_id, "?issue=%3Cscript%3E")).status_code == 200
    assert events(settings, sub_id)[-1].detail == "was active"


def test_undo_never_lifts_an_unsubscribe_made_by_staff(settings):
    (sub_id,) = add_people(settings, 1)
    conn = db(settings)
    subscribers.unsubscribe(conn, sub_id, source="staff")
    conn.close()
    with serving(create_app(settings)) as base:
        answer = requests.post(link(base, sub_id), data={"action": "undo"}, timeout=30)
    assert answer.status_code == 200 and "Nothing to undo" in answer.text and status(settings, sub_id) == "unsubscribed"


def test_bad_tokens_change_nothing_and_an_erased_subscriber_is_404(settings):
    ids = add_people(settings, 2)
    token = sign_token(SECRET, ids[0])
    bad = [token[:-1], token[:5], "", "x" * 500, token.upper(), "-1." + token.split(".")[1], token + "a", "%00", "é." + token.split(".")[1]]
    with serving(create_app(settings)) as base:
        for value in bad:
            for answer in (one_click(f"{base}/u/{value}"), requests.get(f"{base}/u/{value}", timeout=30)):
                assert answer.status_code in (400, 404, 405), (value, answer.status_code)
        conn = db(settings)
        conn.execute("DELETE FROM subscriber_events WHERE subscriber_id = ?", (ids[1],))
        conn.execute("DELETE FROM subscribers WHERE id = ?", (ids[1],))
        conn.close()
        assert one_click(link(base, ids[1])).status_code == 404
        assert requests.get(link(base, ids[1]), timeout=30).status_code == 404
    assert status(settings, ids[0]) == "active"


def test_the_pages_carry_the_security_headers_and_the_body_cap(settings):
    (sub_id,) = add_people(settings, 1)
    with serving(create_app(settings)) as base:
        for answer in (requests.get(link(base, sub_id), timeout=30), one_click(link(base, sub_id)), one_click(f"{base}/u/bad.token")):
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            assert answer.headers["Referrer-Policy"] == "no-referrer" and answer.headers["Cache-Control"] == "no-store"
        huge = requests.post(link(base, sub_id), data=b"x" * (65 * 1024), timeout=30)
        assert huge.status_code == 413


def test_200_concurrent_one_click_posts_are_all_kept(settings):
    ids = add_people(settings, 200)
    with serving(create_app(settings)) as base:
        urls = [link(base, i, f"?issue={SLUG}") for i in ids]
        with ThreadPoolExecutor(max_workers=200) as pool:
            codes = list(pool.map(lambda url: one_click(url).status_code, urls))
    assert codes == [200] * 200
    conn = db(settings)
    assert subscribers.statuses(conn, ids) == {i: "unsubscribed" for i in ids}
    conn.close()


def forgeries(rng: random.Random, genuine: list[str]) -> list[str]:
    """Random, truncated, bit-flipped and other-secret tokens, none of them genuine."""
    alphabet = string.ascii_letters + string.digits + "-_."
    out = []
    for token in genuine:
        ident, _, mac = token.partition(".")
        out.append("".join(rng.choice(alphabet) for _ in range(len(token))))
        out.append(token[: rng.randrange(len(token))])
        pos = rng.randrange(len(token))
        flipped = chr(ord(token[pos]) ^ (1 << rng.randrange(7)))
        out.append(token[:pos] + flipped + token[pos + 1 :])
        out.append(sign_token(b"another-secret", int(ident, 36)))
        out.append(f"{ident}.{mac[::-1]}" if mac != mac[::-1] else f"{ident}.{mac}x")
    real = set(genuine)
    return [t for t in out if t not in real]


@pytest.mark.slow  # ~12 s: 300 keep-alive POSTs meet the client's delayed ACKs
def test_ten_thousand_forged_tokens_are_refused(settings):
    rng = random.Random(8058)
    ids = add_people(settings, 60)
    genuine = [sign_token(SECRET, rng.randrange(1, 10**9)) for _ in range(2_000)]
    fakes = forgeries(rng, genuine)
    assert len(fakes) >= 10_000
    assert [t for t in fakes if verify_token(SECRET, t) is not None] == []
    over_http = forgeries(rng, [sign_token(SECRET, i) for i in ids])  # 300 for people who exist
    with serving(create_app(settings)) as base, requests.Session() as session:
        for token in over_http:
            answer = session.post(f"{base}/u/{requests.utils.quote(token, safe='')}", data=ONE_CLICK.encode(), timeout=30)
            assert 400 <= answer.status_code < 500, (token, answer.status_code)
    conn = db(settings)
    assert set(subscribers.statuses(conn, ids).values()) == {"active"}
    conn.close()


def test_tokens_never_reach_the_access_log(settings, caplog):
    (sub_id,) = add_people(settings, 1)
    from newsletter.web.security import redact

    token = sign_token(SECRET, sub_id)
    assert token not in redact(f'"POST /u/{token}?issue={SLUG} HTTP/1.1" 200')
    assert token not in redact(f'"GET /p/{sign_token(SECRET, sub_id, PREFERENCES)}/ HTTP/1.1" 200')


# --- the pages in headless Chromium, JavaScript off -------------------------------------------------

CHROMIUM = __import__("shutil").which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium not installed")
NO_INTERNET = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
# A harness frames the page (sandboxed: the page's own scripts cannot run), measures its width at
# 375 px, presses the first submit button once, and records the heading of each page it loads.
HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head>
<body data-measured="no"><iframe id="page" src="{path}" sandbox="allow-same-origin allow-forms" style="width:375px;height:900px;border:0" scrolling="no"></iframe>
<script>
var frame = document.getElementById('page'), loads = 0, body = document.body, presses = {presses};
frame.addEventListener('load', function () {{
  var doc = frame.contentDocument;
  loads += 1;
  body.setAttribute('data-h1-' + loads, doc.querySelector('h1').textContent);
  body.setAttribute('data-width-' + loads, String(doc.documentElement.scrollWidth));
  body.setAttribute('data-scripts-' + loads, String(doc.scripts.length));
  if (loads <= presses) {{ doc.querySelector('[type=submit]').click(); }} else {{ body.setAttribute('data-measured', 'yes'); }}
}});
</script></body></html>"""


def harnessed(app):
    from measuring import measured_app

    inner = measured_app(app)

    async def wrapper(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__flow":
            from urllib.parse import parse_qs

            query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
            body = HARNESS.format(path=query["path"], presses=int(query["presses"])).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html; charset=utf-8")]})
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)

    return wrapper


def browse(settings, path: str, presses: int) -> dict[str, str]:
    from newsletter.preview.snapshots import dump_dom

    with serving(harnessed(create_app(settings))) as base:
        dom = dump_dom(CHROMIUM, f"{base}/__flow?path={requests.utils.quote(path, safe='')}&presses={presses}", NO_INTERNET, "--virtual-time-budget=10000")
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom).group(0)))


@pytest.mark.browser
@needs_chromium
def test_in_chromium_the_button_unsubscribes_undo_resubscribes_and_pages_fit_375_px(settings):
    (sub_id,) = add_people(settings, 1)
    attrs = browse(settings, f"/u/{sign_token(SECRET, sub_id)}?issue={SLUG}", presses=2)
    assert attrs.get("measured") == "yes", attrs
    assert attrs["h1-1"].startswith("Unsubscribe from") and attrs["h1-2"] == "You are unsubscribed" and attrs["h1-3"] == "You are subscribed again"
    assert all(int(attrs[f"width-{n}"]) <= 375 for n in (1, 2, 3)) and {attrs[f"scripts-{n}"] for n in (1, 2, 3)} == {"0"}
    assert [(e.kind, e.source) for e in events(settings, sub_id)][-2:] == [("unsubscribed", "page"), ("resubscribed", "page")]
    assert status(settings, sub_id) == "active"
