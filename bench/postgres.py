"""The shared store on PostgreSQL: prints figures, asserts nothing.

    .venv/bin/python bench/postgres.py [--only imports,ledger,senders] [--rows 100000,1000000]
        [--recipients 100000] [--latency-ms 50]

A throwaway PostgreSQL server is started as in the tests (tests/pg_server.py: initdb in a
temporary folder, a free port on 127.0.0.1; fsync off there, so these are the engine's CPU costs,
not a disk's) and removed at the end.

- imports: a CSV of each --rows size imported with `newsletter subscribers import` into a fresh
  database (one process each: wall time and peak RSS). Aim (issue 12): 1,000,000 rows under 60 s
  with flat memory.
- ledger: rows/s of the ledger's work on both engines, in process: the snapshot (create_send)
  and the send loop's claim + record per batch of 500 (commit_batch), SQLite and PostgreSQL.
- senders: --recipients through the Postmark fake (its own process, --latency-ms per request):
  one `newsletter send`, then (a fresh database) one plus a second started with `--join` as soon
  as the first has begun; wall time until both exit.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import pg_server  # noqa: E402

from newsletter.models import Recipient  # noqa: E402
from newsletter.store import ledger  # noqa: E402
from newsletter.store.db import open_db  # noqa: E402
from newsletter.store.postgres import open_pg  # noqa: E402

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
TOKEN = "bench-token"


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,tags\n")
        for i in range(rows):
            out.write(f"user{i}@example.org,First{i % 97},Last{i % 89},{'research' if i % 3 == 0 else ''}\n")


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "newsletter.toml", folder / "newsletter.toml")
    shutil.copytree(REPO / "templates", folder / "templates")
    shutil.copytree(REPO / "issues", folder / "issues")
    return folder


def newsletter(project: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsletter.cli", *args], cwd=project, env=env, capture_output=True, text=True)


def peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_imports(server, tmp: Path, sizes: list[int]) -> None:
    project = make_project(tmp / "imports")
    for rows in sizes:
        csv = tmp / f"list-{rows}.csv"
        make_csv(csv, rows)
        env = {**os.environ, "NEWSLETTER_DATABASE_URL": server.url(server.new_database()), "NEWSLETTER_SECRET": "bench"}
        t0 = time.perf_counter()
        # /usr/bin/time's peak RSS of just this child (RUSAGE_CHILDREN is the max over all children so far)
        run = subprocess.run(
            ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "newsletter.cli", "subscribers", "import", str(csv)],
            cwd=project, env=env, capture_output=True, text=True,
        ) if Path("/usr/bin/time").exists() else newsletter(project, "subscribers", "import", str(csv), env=env)
        wall = time.perf_counter() - t0
        peak = re.findall(r"^(\d+)$", run.stderr, re.M)
        shown = f"{int(peak[-1]) / 1024:.0f} MB" if peak else f"<= {peak_child_mb():.0f} MB"
        ok = "ok" if run.returncode == 0 else f"FAILED: {run.stderr.strip().splitlines()[-1:]}"
        print(f"import into PostgreSQL: {rows:,} rows in {wall:.1f} s ({rows / wall:,.0f} rows/s), peak RSS {shown} ({ok})")


def bench_ledger(server, tmp: Path, rows: int = 100_000, batch: int = 500) -> None:
    for name, conn in (("SQLite", open_db(tmp / "ledger.db")), ("PostgreSQL", open_pg(server.url(server.new_database()), busy_timeout=30))):
        recipients = [Recipient(i + 1, f"reader{i}@example.com", f"Reader{i}") for i in range(rows)]
        t0 = time.perf_counter()
        send, _ = ledger.create_send(conn, f"bench-{name}", "S", "postmark", {}, recipients)
        snapshot = time.perf_counter() - t0
        ledger.acquire_lock(conn, send.issue_slug)
        t0 = time.perf_counter()
        previous: list = []
        for chunk in ledger.iter_pending(conn, send, batch):
            claimed = ledger.commit_batch(conn, outcomes=previous, claim=[(d.id, f"<{d.id}@bench>") for d in chunk], heartbeat_of=send.issue_slug)
            previous = [(did, "accepted", None, None) for did in claimed]
        ledger.commit_batch(conn, outcomes=previous)
        loop = time.perf_counter() - t0
        counts = ledger.counts(conn, send)
        ledger.release_lock(conn, send.issue_slug)
        conn.close()
        print(
            f"ledger on {name}: snapshot {rows / snapshot:,.0f} rows/s; reserve + claim + record in batches of {batch}: "
            f"{rows / loop:,.0f} rows/s ({counts['accepted']:,} accepted)"
        )


def start_fake(latency_ms: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.postmark", "--port", "0", "--latency-ms", str(latency_ms), "--light", "--token", TOKEN],
        cwd=REPO / "tests", stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    return proc, int(re.search(r"(\d+)\s*$", line).group(1))


def bench_senders(server, tmp: Path, recipients: int, latency_ms: float) -> None:
    for senders in (1, 2):
        project = make_project(tmp / f"senders-{senders}")
        fake, port = start_fake(latency_ms)
        try:
            config = project / "newsletter.toml"
            text = config.read_text()
            text = re.sub(r'\[provider\]\nname = "outbox"', '[provider]\nname = "postmark"', text)
            text = re.sub(r"\[providers\.postmark\][^\[]*", "", text)
            config.write_text(text + f'\n[providers.postmark]\nbase_url = "http://127.0.0.1:{port}"\nmessage_stream = "broadcast"\n')
            url = server.url(server.new_database())
            env = {**os.environ, "NEWSLETTER_DATABASE_URL": url, "NEWSLETTER_SECRET": "bench", "POSTMARK_SERVER_TOKEN": TOKEN}
            csv = tmp / f"send-{recipients}.csv"
            if not csv.exists():
                make_csv(csv, recipients)
            assert newsletter(project, "subscribers", "import", str(csv), env=env).returncode == 0
            approved = newsletter(project, "approve", ISSUE, "--reviewer", "Bench Reviewer", env=env)
            assert approved.returncode == 0, approved.stderr
            t0 = time.perf_counter()
            first = subprocess.Popen([sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes", "--skip-sync"], cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            procs = [first]
            if senders == 2:
                conn = open_pg(url, busy_timeout=30)
                while ledger.find_send(conn, "2026-11-mdma-assisted-therapy") is None and first.poll() is None:
                    time.sleep(0.05)
                conn.close()
                procs.append(subprocess.Popen([sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes", "--skip-sync", "--join"], cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            codes = [p.wait() for p in procs]
            wall = time.perf_counter() - t0
            conn = open_pg(url, busy_timeout=30)
            send = ledger.find_send(conn, "2026-11-mdma-assisted-therapy")
            counts, shares = ledger.counts(conn, send), ledger.sent_by(conn, send)
            conn.close()
            split = ", ".join(f"{a:,}" for _, a, _ in shares)
            print(
                f"send through the Postmark fake ({latency_ms:.0f} ms/request): {senders} sender(s), {counts['accepted']:,} accepted "
                f"in {wall:.1f} s ({counts['accepted'] / wall:,.0f}/s; per sender {split}; exit codes {codes})"
            )
        finally:
            fake.terminate()
            fake.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="imports,ledger,senders")
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    args = parser.parse_args()
    only = set(args.only.split(","))
    server = pg_server.start_server()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    try:
        if "ledger" in only:
            bench_ledger(server, tmp)
        if "imports" in only:
            bench_imports(server, tmp, [int(n) for n in args.rows.split(",")])
        if "senders" in only:
            bench_senders(server, tmp, args.recipients, args.latency_ms)
    finally:
        pg_server.remove(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
