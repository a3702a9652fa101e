"""What a local aiosmtpd sustains on its own: the ceiling of `bench/send.py`'s SMTP figure.

    python bench/smtp_ceiling.py [--messages 2000] [--connections 1,2,4]

The sink is bench/send.py's own (aiosmtpd, a handler that only counts), in its own process. The
client is the least a sender can do: smtplib, one message's bytes built once (the sample issue's
`email.eml`, ~55 KB) and sent again and again over N connections kept open, one thread each. No
personalization, no ledger: whatever rate this reaches, our send loop cannot beat. Prints
messages/s, the client's CPU and the server's CPU for each N.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


def sample_bytes() -> bytes:
    import tempfile

    from newsletter.build.pipeline import build_issue
    from newsletter.config import load_settings

    with tempfile.TemporaryDirectory() as out:
        result = build_issue(REPO / "issues" / "2026-11-mdma-assisted-therapy.md", load_settings(REPO / "newsletter.toml", env={}), Path(out))
        return next(p for p, _ in result.files if p.name == "email.eml").read_bytes()


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(port: int, data: bytes, messages: int, connections: int) -> float:
    per = messages // connections

    def sender() -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _ in range(per):
                smtp.sendmail("research@news.example.org", ["reader@example.org"], data)

    threads = [threading.Thread(target=sender) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", default="1,2,4")
    args = parser.parse_args()
    data = sample_bytes()
    sink = subprocess.Popen([sys.executable, "-c", "import send; send.smtp_sink()"], cwd=REPO / "bench", stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline().split()[1])
        run(port, data, 50, 1)  # warm-up
        print(f"message: {len(data):,} bytes, {args.messages:,} messages per run")
        for n in (int(c) for c in args.connections.split(",")):
            cpu0, srv0 = time.process_time(), server_cpu(sink.pid)
            wall = run(port, data, args.messages, n)
            cpu, srv = time.process_time() - cpu0, server_cpu(sink.pid) - srv0
            sent = args.messages // n * n
            print(f"  {n} connection(s): {sent / wall:,.0f} messages/s; client CPU {cpu / sent * 1e3:.2f} ms/message, server CPU {srv / sent * 1e3:.2f} ms/message")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
