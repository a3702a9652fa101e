"""Benchmark of Postmark events: webhooks per second over HTTP, suppressions per second by sync.
Prints figures; asserts nothing (a lost event is printed as such).

    python bench/events.py [--subscribers 4000] [--webhooks 4000] [--threads 8] [--suppressions 10000]

In a throwaway copy of the project with the SQLite store:
(a) POST /webhooks/postmark under a real uvicorn on 127.0.0.1 (its own process, one worker, as in
    production; --in-process: a thread of this one):
    Delivery records for distinct recipients, from one keep-alive client and then from --threads
    clients at once; rate, p50/p99 latency, and how many were stored (none may be lost). Then the
    same records again: redeliveries, recognised as duplicates.
(b) suppression sync against the Postmark fake (a real local HTTP server) holding --suppressions
    suppressions, half of them on the list: the dump (requests split when an answer is full;
    the fake's own filtering dominates), applying them, and a repeat `subscribers sync` whole.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # web_server.serving and fakes.postmark
USER, PASSWORD = "bench", "bench-webhook-password"


def project(folder: Path) -> Path:
    shutil.copy(REPO / "newsletter.toml", folder / "newsletter.toml")
    shutil.copytree(REPO / "templates", folder / "templates")
    return folder / "newsletter.toml"


def delivery(email: str) -> bytes:
    return json.dumps({
        "RecordType": "Delivery", "ServerID": 1, "MessageStream": "broadcast", "MessageID": str(uuid.uuid4()),
        "Recipient": email, "Tag": "bench-issue", "DeliveredAt": "2026-11-20T09:20:00Z", "Details": "250 OK",
        "Metadata": {"issue": "bench-issue"},
    }).encode()


def post_all(base: str, bodies: list[bytes], threads: int) -> list[float]:
    """Each thread posts its share over one keep-alive connection; latency per request.

    http.client sends headers and a bytes body in one write; requests (urllib3) writes them
    separately, which meets delayed ACKs and adds ~40 ms per request on loopback: a client
    artefact that Postmark's senders do not show."""
    import base64
    import http.client
    from urllib.parse import urlsplit

    host, port = urlsplit(base).hostname, urlsplit(base).port
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(share: list[bytes]) -> None:
        mine = []
        conn = http.client.HTTPConnection(host, port, timeout=30)
        for body in share:
            start = time.perf_counter()
            conn.request("POST", "/webhooks/postmark", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"webhook answered {answer.status}")
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(bodies[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies


def report(label: str, latencies: list[float], elapsed: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{label:<40} {len(latencies) / elapsed:8,.0f}/s   p50 {statistics.median(latencies) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms   (n={len(latencies)})")


@contextmanager
def uvicorn_process(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`uvicorn newsletter.web:app` in its own process, as in production; its base URL once
    /healthz answers (a state, polled)."""
    import requests

    with socket.socket() as probe:  # a free port (the tiny race is fine for a benchmark)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "uvicorn", "newsletter.web:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=folder, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                threading.Event().wait(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def bench_webhooks(settings, conn, addresses: list[str], count: int, threads: int, in_process: bool) -> None:
    from newsletter.store import events
    from newsletter.web.app import create_app
    from web_server import serving

    env = {"NEWSLETTER_SECRET": "bench-secret", "POSTMARK_WEBHOOK_USERNAME": USER, "POSTMARK_WEBHOOK_PASSWORD": PASSWORD}
    bodies = [delivery(addresses[i % len(addresses)]) for i in range(count)]
    half = count // 2
    server = serving(create_app(settings, env)) if in_process else uvicorn_process(Path.cwd(), env)
    print(f"(a) the site {'in this process (uvicorn in a thread)' if in_process else 'in its own uvicorn process, as in production'}")
    with server as base:
        start = time.perf_counter()
        lat = post_all(base, bodies[:half], 1)
        report("(a) webhooks, 1 client", lat, time.perf_counter() - start)
        start = time.perf_counter()
        lat = post_all(base, bodies[half:], threads)
        report(f"(a) webhooks, {threads} clients", lat, time.perf_counter() - start)
        stored = conn.execute("SELECT COUNT(*) FROM provider_events").fetchone()[0]  # bench only: a direct count
        print(f"    stored {stored:,} of {count:,} ({count - stored:,} lost); issue counts {events.issue_counts(conn, 'bench-issue')['delivered']:,} delivered recipients")
        start = time.perf_counter()
        lat = post_all(base, bodies[:half], threads)
        report(f"(a) redeliveries, {threads} clients", lat, time.perf_counter() - start)
        again = conn.execute("SELECT COUNT(*) FROM provider_events").fetchone()[0]
        print(f"    stored after redeliveries: {again:,} (unchanged: {again == stored})")


def bench_sync(settings, conn, total: int) -> None:
    from fakes.postmark import FakePostmark
    from newsletter.providers.postmark import PostmarkProvider
    from newsletter.send.sync import as_pulled, sync_suppressions
    from newsletter.store import events, subscribers

    reasons = ("HardBounce", "SpamComplaint", "ManualSuppression")
    day0 = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
    with FakePostmark(token="bench-token") as fake:
        for i in range(total):
            fake.suppress(f"gone{i}@example.net", reason=reasons[i % 3], created_at=day0 + timedelta(hours=i % 8000))
        for i in range(0, total, 2):
            subscribers.add(conn, f"gone{i}@example.net", source="bench")
        options = {"base_url": fake.url, "message_stream": "broadcast", "batch_size": 500, "timeout": (5.0, 60.0), "suppression_dump_cap": 500, "deadline": 120.0}
        provider = PostmarkProvider(options, {"POSTMARK_SERVER_TOKEN": "bench-token"})
        start = time.perf_counter()
        pulled = [as_pulled(s) for s in provider.suppressions(None)]
        dump = time.perf_counter() - start
        requests_made = sum(1 for r in fake.requests if r.path.endswith("/suppressions/dump"))
        print(f"(b) the dump: {requests_made} requests (the fake filters)  {len(pulled) / dump:8,.0f}/s   {dump:6.2f} s for {len(pulled):,}")
        start = time.perf_counter()
        c = events.apply_suppressions(conn, pulled)
        applying = time.perf_counter() - start
        print(f"(b) applying them ({c.new:,} new, {c.unknown:,} unknown)    {len(pulled) / applying:8,.0f}/s   {applying:6.2f} s")
        start = time.perf_counter()
        result = sync_suppressions(conn, provider)  # the whole command again: everything known now
        whole = time.perf_counter() - start
        print(f"(b) a repeat `subscribers sync`, whole          {result.pulled / whole:8,.0f}/s   {whole:6.2f} s ({result.counts.already:,} already suppressed)")
        provider.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=4000)
    parser.add_argument("--webhooks", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--suppressions", type=int, default=10_000)
    parser.add_argument("--in-process", action="store_true", help="run the site in a thread of this process instead")
    args = parser.parse_args()

    from newsletter.config import load_settings
    from newsletter.store import subscribers
    from newsletter.store.db import open_db

    with tempfile.TemporaryDirectory(prefix="nl-bench-events-") as tmp:
        os.chdir(tmp)
        settings = load_settings(project(Path(tmp)))
        conn = open_db(settings.database)
        addresses = [f"reader{i}@example.com" for i in range(args.subscribers)]
        for address in addresses:
            subscribers.add(conn, address, source="bench")
        print(f"{os.cpu_count()} CPUs, SQLite store, {args.subscribers:,} subscribers")
        bench_webhooks(settings, conn, addresses, args.webhooks, args.threads, args.in_process)
        bench_sync(settings, conn, args.suppressions)


if __name__ == "__main__":
    main()
