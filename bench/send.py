"""Send benchmark: the sample issue through the outbox, SMTP (a local aiosmtpd sink), Postmark and
SendGrid (their fakes, answering every request after 50 ms), and the per-recipient steps alone.

Each server runs in its own process, so its CPU is visible and not ours. Prints figures; asserts
nothing.

    .venv/bin/python bench/send.py [--only outbox,smtp,postmark,postmark-bulk,sendgrid,mailgun,ses,steps] [--recipients 100000] [--ses-recipients 3000]
        [--local-recipients 20000] [--latency-ms 50] [--workers 4] [--bulk-size 5000]

"steps" pairs, in one run, what a message costs with the email package (before: the recipient's
whole message, then ``mime.to_bytes``) and with the campaign template (after: the recipient's
values, then ``MimeTemplate.render``), and the personalization step alone.

Targets (issue 14): the outbox >= 3,000 messages/s, SMTP to a local aiosmtpd >= 1,000 messages/s, personalization >= 150,000 recipients/s; (issue 4) 100,000 recipients through
Postmark in under 30 s wall on 2 cores, peak memory under 300 MB; (issue 11) through Postmark bulk and
SendGrid each in under 10 s wall, under 1 KB uploaded and under 2 s of our CPU per 100,000 recipients;
SES figures against its documented account send rates (14/s for a new production account).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
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
SECRET = "bench-secret"


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
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
        conn.execute("DELETE FROM subscribers")
        conn.executemany(
            "INSERT INTO subscribers (email, email_key, first_name, last_name, status, consent_source, consented_at, created_at, updated_at)"
            " VALUES (?, ?, ?, '', 'active', 'bench', ?, ?, ?)",
            ((f"reader{i}@example.com", f"reader{i}@example.com", f"Reader{i}", now, now, now) for i in range(n)),
        )
        conn.execute("COMMIT")
    conn.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(args: list[str], cwd: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


# -- the per-recipient steps, paired -----------------------------------------------------------
def best_rate(n: int, run) -> tuple[float, float]:
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        run()
        runs.append(time.perf_counter() - t)
    return n / min(runs), n / statistics.median(runs)


def bench_steps(settings, n: int = 100_000, mime_n: int = 5_000) -> None:
    from newsletter.mime import to_bytes

    compiled = compile_issue(REPO / ISSUE, settings)
    p = Personalizer(compiled, settings, SECRET.encode())
    people = [Recipient(i, f"reader{i}@example.com", f"Reader{i}") for i in range(n)]
    values = getattr(p, "values", None)  # absent before the campaign interface: the whole message was the step
    step = values or p.message
    best, median = best_rate(n, lambda: [step(r) for r in people])
    what = "values per part (Personalizer.values)" if values else "whole messages (Personalizer.message)"
    print(f"personalize: {n:,} recipients, {what}: best of 3 {best:,.0f} recipients/s (median {median:,.0f}/s)")
    when = datetime.now(timezone.utc)
    few = people[:mime_n]
    before, _ = best_rate(mime_n, lambda: [to_bytes(p.message(r), when) for r in few])
    print(f"message bytes, before (whole message + email package): {before:,.0f} messages/s")
    if values:
        from newsletter.mime import MimeTemplate

        template = MimeTemplate(p.campaign)
        after, _ = best_rate(mime_n, lambda: [template.render(values(r), when) for r in few])
        print(f"message bytes, after (values + MimeTemplate.render): {after:,.0f} messages/s ({after / before:.1f}x)")


# -- sends ---------------------------------------------------------------------------------------
def run_send(config: Path, provider: str, table: dict, env: dict, recipients: int, server: subprocess.Popen | None) -> tuple:
    settings = load_settings(config)
    fill_subscribers(settings.database, recipients)
    settings = dataclasses.replace(settings, provider=provider, providers={**settings.providers, provider: {**settings.provider_options(provider), **table}})
    conn = open_db(settings.database)
    approve_issue(Path(config.parent / ISSUE), "Bench Reviewer", (), settings, conn)  # a real send requires an approval
    plan = plan_send(SendRequest(Path(config.parent / ISSUE)), settings, conn, env=env)
    server_cpu0 = cpu_seconds(server.pid) if server else 0.0
    t0, cpu0 = time.perf_counter(), time.process_time()
    with LedgerMeter() as meter:
        report = execute_send(plan, conn, env=env)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server_cpu = (cpu_seconds(server.pid) - server_cpu0) if server else 0.0
    conn.close()
    print(
        f"{provider}: ledger writes: {meter.commits:,} commits for {meter.batches:,} batches, {meter.cpu:.2f} s CPU"
        f" ({meter.cpu / max(1, meter.batches) * 1000:.1f} ms a batch), {meter.cpu / cpu:.0%} of our CPU"
    )
    return settings, plan, report, wall, cpu, server_cpu


class LedgerMeter:
    """What the send spends writing the ledger: every ledger transaction goes through
    ``store.db.write`` (one call, one COMMIT), called by ``store/ledger.py`` from the send loop's
    main thread, so that thread's CPU inside it is the ledger's cost; a batch is a claim (rows
    marked 'sending'). Reads (the next pending chunk, the subscribers' statuses) are not counted."""

    def __enter__(self) -> "LedgerMeter":
        from newsletter.store import ledger

        self._ledger, self._write, self._mark = ledger, ledger.write, ledger._mark_sending
        self.cpu, self.commits, self.batches = 0.0, 0, 0

        def timed(conn, fn):
            start = time.thread_time()
            try:
                return self._write(conn, fn)
            finally:
                self.cpu += time.thread_time() - start
                self.commits += 1

        def counted(conn, rows, *args):
            self.batches += bool(rows)
            return self._mark(conn, rows, *args)

        ledger.write, ledger._mark_sending = timed, counted
        return self

    def __exit__(self, *exc) -> None:
        self._ledger.write, self._ledger._mark_sending = self._write, self._mark


def bench_outbox(tmp: Path, recipients: int, workers: int) -> None:
    config = make_project(tmp / "outbox")
    env = {"NEWSLETTER_SECRET": SECRET}
    _, _, report, wall, cpu, _ = run_send(config, "outbox", {"workers": workers}, env, recipients, None)
    accepted = report.counts["accepted"]
    print(f"outbox: {accepted:,} of {recipients:,} written ({workers} workers): wall {wall:.1f} s -> {accepted / wall:,.0f} messages/s; our CPU {cpu:.1f} s")


def bench_smtp(tmp: Path, recipients: int, workers: int) -> None:
    config = make_project(tmp / "smtp")
    sink, port = start_server([str(Path(__file__).resolve()), "--smtp-sink"], REPO)
    try:
        table = {"host": "127.0.0.1", "port": port, "security": "none", "workers": workers}
        _, plan, report, wall, cpu, sink_cpu = run_send(config, "smtp", table, {"NEWSLETTER_SECRET": SECRET}, recipients, sink)
    finally:
        sink.terminate()
        sink.wait()
    accepted = report.counts["accepted"]
    print(
        f"smtp: {accepted:,} of {recipients:,} accepted by a local aiosmtpd ({workers} workers, batches of {plan.providers.take().max_batch}): "
        f"wall {wall:.1f} s -> {accepted / wall:,.0f} messages/s; our CPU {cpu:.1f} s; the server's CPU {sink_cpu:.1f} s"
    )


def bench_postmark(tmp: Path, recipients: int, latency_ms: float, workers: int, batch_size: int | None) -> None:
    config = make_project(tmp / "postmark")
    fake, port = start_server(["-m", "fakes.postmark", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--token", TOKEN], REPO / "tests")
    try:
        table = {"base_url": f"http://127.0.0.1:{port}", "workers": workers}
        if batch_size:
            table["batch_size"] = batch_size
        env = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": SECRET}
        settings, plan, report, wall, cpu, fake_cpu = run_send(config, "postmark", table, env, recipients, fake)
    finally:
        fake.terminate()
        fake.wait()
    batch_size = min(int(settings.provider_options("postmark").get("batch_size", 500)), 500)
    sample = Personalizer(plan.compiled, settings, SECRET.encode()).message(Recipient(1, "reader1@example.com", "Reader1"))
    from newsletter.providers.base import create_provider

    one = len(encode_json([create_provider("postmark", {"base_url": "http://127.0.0.1:1"}, env)._message(sample)]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    accepted = report.counts["accepted"]
    print(f"postmark: {accepted:,} accepted of {recipients:,} (fake, {latency_ms:.0f} ms/request, {workers} workers, batches of {batch_size})")
    print(f"postmark: wall {wall:.1f} s -> {accepted / wall:,.0f} recipients/s; our CPU {cpu:.1f} s; fake's CPU {fake_cpu:.1f} s")
    print(f"postmark: peak memory (max RSS of this process) {peak:.0f} MB")
    print(f"postmark: uploaded per recipient: {one:,} bytes of JSON (html {len(sample.html.encode()):,} + text {len(sample.text.encode()):,} + headers); {one * recipients / 1e9:.2f} GB for the list")


def bench_postmark_bulk(tmp: Path, recipients: int, latency_ms: float, workers: int, bulk_size: int | None) -> None:
    """``mode = "bulk"``: one body per request and each recipient's values; the upload is what
    the fake received (request bodies of POST /email/bulk), divided by the recipients."""
    import json
    import urllib.request

    config = make_project(tmp / "postmark-bulk")
    fake, port = start_server(["-m", "fakes.postmark", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--token", TOKEN], REPO / "tests")
    try:
        table = {"base_url": f"http://127.0.0.1:{port}", "workers": workers, "mode": "bulk"}
        if bulk_size:
            table["bulk_size"] = bulk_size
        env = {"POSTMARK_SERVER_TOKEN": TOKEN, "NEWSLETTER_SECRET": SECRET}
        settings, plan, report, wall, cpu, fake_cpu = run_send(config, "postmark", table, env, recipients, fake)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages") as answer:
            counted = json.load(answer)
    finally:
        fake.terminate()
        fake.wait()
    size = plan.providers.take().max_batch
    accepted, uploaded = report.counts["accepted"], counted["bulk_bytes_received"]
    print(f"postmark-bulk: {accepted:,} accepted of {recipients:,}; the fake compiled {counted['count']:,} messages ({latency_ms:.0f} ms/request, {workers} workers, {size:,} recipients a request)")
    print(f"postmark-bulk: wall {wall:.1f} s -> {accepted / wall:,.0f} recipients/s; our CPU {cpu:.2f} s ({cpu * 100_000 / max(1, accepted):.2f} s per 100,000); fake's CPU {fake_cpu:.1f} s")
    print(f"postmark-bulk: uploaded {uploaded / 1e6:,.1f} MB in all, {uploaded / max(1, accepted):,.0f} bytes per recipient (the body once a request included)")
    # The adapter's own share of our CPU: what it does per request of bulk_size recipients.
    from newsletter.providers.postmark_bulk import EntryEncoder, Layout, bulk_template

    personalizer = Personalizer(plan.compiled, settings, SECRET.encode())
    campaign = personalizer.campaign
    values = [personalizer.values(Recipient(i, f"reader{i}@example.com", f"Reader{i}")) for i in range(1, recipients + 1)]
    start = time.process_time()
    for first in range(0, len(values), size):
        chunk = values[first : first + size]
        template = bulk_template(campaign, Layout.of(campaign, chunk), "broadcast", encode_json)
        encode = EntryEncoder(campaign, template, encode_json)
        template.prefix + b",".join([encode(v) for v in chunk]) + b"]}"
    adapter_cpu = time.process_time() - start
    print(f"postmark-bulk: of our CPU, the adapter's request bodies (layout, template, entries): {adapter_cpu * 100_000 / max(1, recipients):.2f} s per 100,000; the rest is the send loop (personalization, ledger)")


def bench_sendgrid(tmp: Path, recipients: int, latency_ms: float, workers: int) -> None:
    import json
    import urllib.request

    config = make_project(tmp / "sendgrid")
    fake, port = start_server(["-m", "fakes.sendgrid", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--key", TOKEN], REPO / "tests")
    try:
        table = {"base_url": f"http://127.0.0.1:{port}", "workers": workers}
        env = {"SENDGRID_API_KEY": TOKEN, "NEWSLETTER_SECRET": SECRET}
        _, plan, report, wall, cpu, fake_cpu = run_send(config, "sendgrid", table, env, recipients, fake)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages") as answer:
            uploaded = json.load(answer)["uploaded"]
    finally:
        fake.terminate()
        fake.wait()
    accepted = report.counts["accepted"]
    print(f"sendgrid: {accepted:,} accepted of {recipients:,} (fake, {latency_ms:.0f} ms/request, {workers} workers, batches of 1,000)")
    print(f"sendgrid: wall {wall:.1f} s -> {accepted / wall:,.0f} recipients/s; our CPU {cpu:.1f} s ({cpu / recipients * 100_000:.1f} s per 100,000); fake's CPU {fake_cpu:.1f} s")
    print(f"sendgrid: uploaded {uploaded / 1e6:,.1f} MB in all, {uploaded / recipients:,.0f} bytes per recipient (the parts once per 1,000)")


SES_RATES = (14, 50, 200, 1000)  # messages/s: a new production account's maximum send rate, then raised ones


def bench_ses(tmp: Path, recipients: int, latency_ms: float, workers: int) -> None:
    """SendEmail per recipient against moto's SES v2 behind the fault proxy (its own process),
    unpaced, then the time 100,000 recipients take at SES's documented account rates."""
    import json
    import math
    import urllib.request

    config = make_project(tmp / "ses")
    sender = load_settings(config).from_address
    fake, port = start_server(
        ["-m", "fakes.ses", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--access-key", "AKIABENCH0000000000", "--secret-key", SECRET, "--sender", sender],
        REPO / "tests",
    )
    try:
        table = {"base_url": f"http://127.0.0.1:{port}", "workers": workers, "rate_limit": 0}
        env = {"AWS_ACCESS_KEY_ID": "AKIABENCH0000000000", "AWS_SECRET_ACCESS_KEY": SECRET, "NEWSLETTER_SECRET": SECRET}
        _, plan, report, wall, cpu, fake_cpu = run_send(config, "ses", table, env, recipients, fake)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages") as answer:
            uploaded = json.load(answer)["uploaded"]
    finally:
        fake.terminate()
        fake.wait()
    accepted = report.counts["accepted"]
    rate = accepted / wall
    print(f"ses: {accepted:,} accepted of {recipients:,} (moto behind the proxy, {latency_ms:.0f} ms/call, {workers} workers, one SendEmail per recipient)")
    print(f"ses: wall {wall:.1f} s -> {rate:,.0f} recipients/s unpaced; our CPU {cpu:.2f} s ({cpu / recipients * 100_000:.1f} s per 100,000); fake's CPU {fake_cpu:.1f} s")
    print(f"ses: uploaded {uploaded / 1e6:,.1f} MB in all, {uploaded / recipients:,.0f} bytes per recipient (raw MIME, base64 in JSON)")
    for limit in SES_RATES:
        needed = math.ceil(limit * latency_ms / 1000)
        print(
            f"ses: at an account rate of {limit:>5,}/s: 100,000 recipients take {100_000 / limit / 60:,.1f} min"
            f" (rate_limit = {limit}; {needed} worker(s) at {latency_ms:.0f} ms/call reach it; upload {uploaded / recipients * limit / 1e6:,.1f} MB/s)"
        )


def bench_mailgun(tmp: Path, recipients: int, latency_ms: float, workers: int) -> None:
    import json
    import urllib.request

    config = make_project(tmp / "mailgun")
    domain = "news.kairoswellness.org"
    fake, port = start_server(["-m", "fakes.mailgun", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--key", TOKEN, "--domain", domain], REPO / "tests")
    try:
        table = {"base_url": f"http://127.0.0.1:{port}", "domain": domain, "workers": workers}
        env = {"MAILGUN_API_KEY": TOKEN, "NEWSLETTER_SECRET": SECRET}
        _, plan, report, wall, cpu, fake_cpu = run_send(config, "mailgun", table, env, recipients, fake)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages") as answer:
            uploaded = json.load(answer)["uploaded"]
    finally:
        fake.terminate()
        fake.wait()
    accepted = report.counts["accepted"]
    print(f"mailgun: {accepted:,} accepted of {recipients:,} (fake, {latency_ms:.0f} ms/request, {workers} workers, batches of 1,000)")
    print(f"mailgun: wall {wall:.1f} s -> {accepted / wall:,.0f} recipients/s; our CPU {cpu:.1f} s ({cpu / recipients * 100_000:.1f} s per 100,000); fake's CPU {fake_cpu:.1f} s")
    print(f"mailgun: uploaded {uploaded / 1e6:,.1f} MB in all, {uploaded / recipients:,.0f} bytes per recipient (the parts once per 1,000)")


# -- the SMTP sink (its own process) -----------------------------------------------------------
def smtp_sink() -> None:
    """aiosmtpd accepting everything and keeping nothing but a count."""
    from aiosmtpd.controller import Controller

    class Count:
        messages = 0

        async def handle_DATA(self, server, session, envelope) -> str:
            Count.messages += 1
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Count(), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    print(f"PORT {port}", flush=True)
    try:
        while True:  # until the bench terminates it
            time.sleep(3600)
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="postmark,postmark-bulk,sendgrid,mailgun,ses,outbox,smtp,steps", help="comma-separated: postmark, postmark-bulk, sendgrid, mailgun, ses, outbox, smtp, steps")
    parser.add_argument("--recipients", type=int, default=100_000, help="through Postmark and SendGrid")
    parser.add_argument("--local-recipients", type=int, default=20_000, help="through the outbox and SMTP")
    parser.add_argument("--ses-recipients", type=int, default=3_000, help="through SES (moto keeps every message: a few thousand show the rate)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=None, help="Postmark; default: [providers.postmark] batch_size in newsletter.toml")
    parser.add_argument("--bulk-size", type=int, default=None, help="Postmark bulk; default: [providers.postmark] bulk_size (5,000)")
    parser.add_argument("--smtp-sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smtp_sink:
        return smtp_sink()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="nl-bench-send-") as tmp:
        if "postmark" in only:  # first: peak RSS is a high-water mark
            bench_postmark(Path(tmp), args.recipients, args.latency_ms, args.workers, args.batch_size)
        if "postmark-bulk" in only:
            bench_postmark_bulk(Path(tmp), args.recipients, args.latency_ms, args.workers, args.bulk_size)
        if "sendgrid" in only:
            bench_sendgrid(Path(tmp), args.recipients, args.latency_ms, args.workers)
        if "mailgun" in only:
            bench_mailgun(Path(tmp), args.recipients, args.latency_ms, args.workers)
        if "ses" in only:
            bench_ses(Path(tmp), args.ses_recipients, args.latency_ms, args.workers)
        if "outbox" in only:
            bench_outbox(Path(tmp), args.local_recipients, args.workers)
        if "smtp" in only:
            bench_smtp(Path(tmp), args.local_recipients, args.workers)
        if "steps" in only:
            bench_steps(load_settings(make_project(Path(tmp) / "steps")))


if __name__ == "__main__":
    main()
