"""Benchmark of one-click unsubscribes (RFC 8058) against the site as production runs it. Prints
figures; asserts nothing.

    python bench/serve.py [--subscribers 20000] [--posts 10000] [--clients 32]

In a throwaway copy of the project, a SQLite store of N active subscribers is written; then
``newsletter serve`` runs as its own process (uvicorn, access log on, as in production) and
``--clients`` threads, each with one keep-alive connection, POST ``List-Unsubscribe=One-Click``
to the unsubscribe links of distinct subscribers. Printed: sustained POSTs/s, p50/p99 latency,
and lost = answered 200 but not unsubscribed in the database afterwards (must be 0).
The clients share the machine's cores with the server, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty, SimpleQueue

REPO = Path(__file__).resolve().parent.parent
NEWSLETTER = str(Path(sys.executable).parent / "newsletter")
SECRET = "bench-secret-not-for-production"
BODY = b"List-Unsubscribe=One-Click"
LOAD = ""


def project(folder: Path) -> Path:
    shutil.copy(REPO / "newsletter.toml", folder / "newsletter.toml")
    shutil.copytree(REPO / "templates", folder / "templates")
    return folder / "newsletter.toml"


def fill_store(settings, n: int) -> list[int]:
    """N active subscribers (the import path is not what is measured)."""
    from newsletter.store import subscribers
    from newsletter.store.db import open_db

    conn = open_db(settings.database)
    for i in range(n):
        subscribers.add(conn, f"reader{i}@example.org", source="bench", first_name=f"R{i}")
    ids = [r.subscriber_id for r in subscribers.iter_active(conn)]
    conn.close()
    return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen) -> None:
    pause = threading.Event()
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pause.wait(0.05)
    raise SystemExit("serve never answered /healthz")


def client(port: int, work: SimpleQueue, answered: list, latencies: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    while True:
        try:
            sub_id, path = work.get_nowait()
        except Empty:
            conn.close()
            return
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=BODY, headers=headers)  # bytes body: one packet with the headers
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as err:
            errors.append(repr(err))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - start)
        if response.status == 200:
            answered.append(sub_id)
        else:
            errors.append(f"HTTP {response.status}")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-access-log", action="store_true", help="uvicorn newsletter.web:app --no-access-log instead of newsletter serve")
    args = parser.parse_args()

    from newsletter.build.personalize import sign_token
    from newsletter.config import load_settings
    from newsletter.store import subscribers
    from newsletter.store.db import open_db

    global LOAD
    LOAD = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(project(folder), env={"NEWSLETTER_SECRET": SECRET})
        settings_path = folder / "newsletter.toml"
        started = time.perf_counter()
        ids = fill_store(settings, args.subscribers)
        print(f"store: {len(ids)} active subscribers written in {time.perf_counter() - started:.1f} s")
        targets = ids[: args.posts]
        work: SimpleQueue = SimpleQueue()
        for sub_id in targets:
            work.put((sub_id, f"/u/{sign_token(SECRET.encode(), sub_id)}?issue=2026-11-mdma-assisted-therapy"))

        port = free_port()
        env = {**os.environ, "NEWSLETTER_SECRET": SECRET, "NEWSLETTER_CONFIG": str(settings_path)}
        command = [NEWSLETTER, "serve", "--port", str(port)]
        if args.no_access_log:
            command = [sys.executable, "-m", "uvicorn", "newsletter.web:app", "--port", str(port), "--no-access-log", "--log-level", "warning"]
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(port, process)
            answered: list[int] = []
            latencies: list[float] = []
            errors: list[str] = []
            threads = [threading.Thread(target=client, args=(port, work, answered, latencies, errors)) for _ in range(args.clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        # The server's own CPU time (it was the only child waited for): steadier than POSTs/s
        # when other work shares the cores.
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = usage.ru_utime + usage.ru_stime

        conn = open_db(settings.database)
        now = subscribers.statuses(conn, answered)
        conn.close()
        lost = sum(1 for sub_id in answered if now.get(sub_id) != "unsubscribed")
        server = "uvicorn newsletter.web:app --no-access-log" if args.no_access_log else "newsletter serve (access log on)"
        print(f"one-click POSTs: {len(targets)} for distinct subscribers from {args.clients} clients (keep-alive), server: {server}")
        print(f"sustained        {len(latencies) / elapsed:8.0f} POSTs/s   ({elapsed:.2f} s)")
        print(f"latency          p50 {percentile(latencies, 0.50) * 1000:6.2f} ms   p99 {percentile(latencies, 0.99) * 1000:6.2f} ms")
        print(f"answered 200     {len(answered)}   errors {len(errors)}{'  e.g. ' + errors[0] if errors else ''}")
        print(f"server CPU       {server_cpu / max(1, len(latencies)) * 1000:6.2f} ms per POST (start-up included)   load average before: {LOAD}")
        print(f"lost             {lost}   (answered 200 but not unsubscribed in the database)")


if __name__ == "__main__":
    main()
