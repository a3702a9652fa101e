"""Benchmark of the public site's sign-up and archive. Prints figures; asserts nothing.

    python bench/site.py [--runs 50]

In a throwaway copy of the project, the sample issue is sent to the outbox (one subscriber), the
app runs under a real uvicorn on 127.0.0.1, and requests over HTTP measure (against /healthz,
the cost of one request through uvicorn and the middleware, with no work):
(a) the web version /issues/<slug>/: the first request (compiles the issue), then warm ones (cached);
(b) /issues/ and /feed.xml, warm;
(c) POST /subscribe for new addresses (the answer; the email is written after it);
(d) write_archive (`newsletter archive --out DIR`) in process;
(e) in process, the work behind a warm archive request (listing the issues, the index, the feed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # web_server.serving: uvicorn in a thread on 127.0.0.1
ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"


def project(folder: Path) -> Path:
    shutil.copy(REPO / "newsletter.toml", folder / "newsletter.toml")
    shutil.copytree(REPO / "templates", folder / "templates")
    (folder / "issues").mkdir()
    shutil.copy(REPO / ISSUE, folder / ISSUE)
    return folder / "newsletter.toml"


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def summary(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{label:<34} median {statistics.median(samples) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms   (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs

    import requests

    from newsletter.build.pipeline import compile_issue
    from newsletter.config import load_settings
    from newsletter.send.plan import SendRequest, execute_send, plan_send
    from newsletter.store import subscribers
    from newsletter.store.db import open_db
    from newsletter.web.app import create_app
    from newsletter.web.archive_pages import feed_xml, index_page, listed_issues, web_issue, write_archive
    from web_server import serving

    with tempfile.TemporaryDirectory(prefix="nl-bench-site-") as tmp:
        os.chdir(tmp)
        settings = load_settings(project(Path(tmp)))
        settings = dataclasses.replace(settings, signup=dataclasses.replace(settings.signup, per_ip_per_hour=10**6))
        conn = open_db(settings.database)
        subscribers.add(conn, "reader@example.com", source="bench")
        env = {"NEWSLETTER_SECRET": "bench-secret"}
        execute_send(plan_send(SendRequest(Path(ISSUE)), settings, conn, env=env), conn, env=env)

        with serving(create_app(settings, env)) as base, requests.Session() as http:
            summary("(0) /healthz: the HTTP floor", [timed(lambda: http.get(f"{base}/healthz").raise_for_status()) for _ in range(runs)])
            page = f"{base}/issues/{SLUG}/"
            print(f"{'(a) web version, first request':<34} {timed(lambda: http.get(page).raise_for_status()) * 1000:7.2f} ms (compiles the issue)")
            summary("(a) web version, warm", [timed(lambda: http.get(page).raise_for_status()) for _ in range(runs)])
            summary("(b) /issues/", [timed(lambda: http.get(f"{base}/issues/").raise_for_status()) for _ in range(runs)])
            summary("(b) /feed.xml", [timed(lambda: http.get(f"{base}/feed.xml").raise_for_status()) for _ in range(runs)])
            form = {"consent": "yes", "website": "", "topics": "mdma"}
            summary("(c) POST /subscribe (new address)", [
                timed(lambda i=i: http.post(f"{base}/subscribe", data={**form, "email": f"bench{i}@example.com"}).raise_for_status()) for i in range(runs)
            ])
        listed = lambda: listed_issues(settings, conn, include_drafts=False)[0]  # noqa: E731
        entry = web_issue(compile_issue(Path(ISSUE), settings), settings)
        summary("(e) list the sent issues", [timed(listed) for _ in range(runs)])
        summary("(e) index page", [timed(lambda: index_page(settings, listed())) for _ in range(runs)])
        summary("(e) feed from cached entries", [timed(lambda: feed_xml(settings, [entry], time.time())) for _ in range(runs)])
        summary("(d) write_archive, 1 issue", [timed(lambda: write_archive(settings, conn, Path(tmp) / "public")) for _ in range(max(3, runs // 10))])
        conn.close()
        os.chdir(REPO)


if __name__ == "__main__":
    main()
