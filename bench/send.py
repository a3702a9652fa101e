"""Send benchmark: 100,000 recipients of the sample issue through the Postmark adapter.

The Postmark fake runs in a separate process (so its CPU is visible and not ours), answering
every request after 50 ms. Prints figures; asserts nothing.

    .venv/bin/python bench/send.py [--recipients 100000] [--latency-ms 50] [--workers 4]

Targets (issue 4): 100,000 recipients in under 30 s wall on 2 cores, peak memory under 300 MB,
personalization alone at least 100,000 recipients/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from newsletter.build.personalize import Personalizer  # noqa: E402
from newsletter.build.pipeline import compile_issue  # noqa: E402
from newsletter.config import load_settings  # noqa: E402
from newsletter.models import Recipient  # noqa: E402
from newsletter.providers.postmark import encode_json  # noqa: E402
from newsletter.send.approval import approve_issue  # noqa: E402
from newsletter.send.plan import SendRequest, execute_send, plan_send  # noqa: E402
from newsletter.store.db import open_db  # noqa: E402

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
TOKEN = "bench-token"


def make_project(folder: Path) -> Path:
    for name in ("newsletter.toml",):
        shutil.copy(REPO / name, folder / name)
    shutil.copytree(REPO / "templates", folder / "templates")
    shutil.copytree(REPO / "issues", folder / "issues")
    return folder / "newsletter.toml"


def fill_subscribers(db: Path, n: int) -> None:
    """Bulk-insert n active subscribers straight into the schema (the import has its own bench)."""
    conn = open_db(db)
    now = "2026-11-01T00:00:00.000000Z"
    with conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO subscribers (email, email_key, first_name, last_name, status, consent_source, consented_at, created_at, updated_at)"
            " VALUES (?, ?, ?, '', 'active', 'bench', ?, ?, ?)",
            ((f"reader{i}@example.com", f"reader{i}@example.com", f"Reader{i}", now, now, now) for i in range(n)),
        )
        conn.execute("COMMIT")
    conn.close()


def start_fake(latency_ms: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.postmark", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--token", TOKEN],
        cwd=REPO / "tests", stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_personalize(settings, n: int = 100_000) -> None:
    compiled = compile_issue(REPO / ISSUE, settings)
    p = Personalizer(compiled, settings, b"bench-secret")
    people = [Recipient(i, f"reader{i}@example.com", f"Reader{i}") for i in range(n)]
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        for r in people:
            p.message(r)
        runs.append(time.perf_counter() - t)
    best = min(runs)
    print(f"personalize: {n:,} recipients, best of 3 {best:.2f} s -> {n / best:,.0f} recipients/s (median {n / statistics.median(runs):,.0f}/s)")


def bench_send(config: Path, recipients: int, latency_ms: float, workers: int, batch_size: int | None) -> None:
    settings = load_settings(config)
    fill_subscribers(settings.database, recipients)
    fake, port = start_fake(latency_ms)
    try:
        table = {**settings.provider_options("postmark"), "base_url": f"http://127.0.0.1:{port}", "workers": workers}
        if batch_size:
            table["batch_size"] = batch_size
        settings = dataclasses.replace(settings, provider="postmark", providers={"postmark": table})
        batch_size = min(int(table.get("batch_size", 500)), 500)
        env = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": "bench-secret"}
        conn = open_db(settings.database)
        approve_issue(Path(config.parent / ISSUE), "Bench Reviewer", (), settings, conn)  # a real send requires an approval
        plan = plan_send(SendRequest(Path(config.parent / ISSUE)), settings, conn, env=env)
        sample = Personalizer(plan.compiled, settings, b"bench-secret").message(Recipient(1, "reader1@example.com", "Reader1"))
        from newsletter.providers.base import create_provider

        one = len(encode_json([create_provider("postmark", {"base_url": "http://127.0.0.1:1"}, env)._message(sample)]))
        fake_cpu0, t0, cpu0 = cpu_seconds(fake.pid), time.perf_counter(), time.process_time()
        report = execute_send(plan, conn, env=env)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        fake_cpu = cpu_seconds(fake.pid) - fake_cpu0
    finally:
        fake.terminate()
        fake.wait()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"send: {report.counts['accepted']:,} accepted of {recipients:,} through Postmark (fake, {latency_ms:.0f} ms/request, {workers} workers, batches of {batch_size})")
    print(f"send: wall {wall:.1f} s -> {report.counts['accepted'] / wall:,.0f} recipients/s; our CPU {cpu:.1f} s; fake's CPU {fake_cpu:.1f} s")
    print(f"send: peak memory (max RSS of this process) {peak:.0f} MB")
    print(f"send: uploaded per recipient: {one:,} bytes of JSON (html {len(sample.html.encode()):,} + text {len(sample.text.encode()):,} + headers); {one * recipients / 1e9:.2f} GB for the list")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=None, help="default: [providers.postmark] batch_size in newsletter.toml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nl-bench-send-") as tmp:
        config = make_project(Path(tmp))
        bench_send(config, args.recipients, args.latency_ms, args.workers, args.batch_size)  # first: peak RSS is a high-water mark
        bench_personalize(load_settings(config))


if __name__ == "__main__":
    main()
