"""Preflight benchmark: `newsletter send --dry-run` with SpamAssassin, scoring every run (before
issue 14: the cache folder removed before each run) against reading the cached score (after),
alternated in one run. Prints figures; asserts nothing.

    .venv/bin/python bench/preflight.py [--runs 3] [--subscribers 1000]

A copy of the repository's project in a temporary folder, the subscribers imported, the sample
issue approved; each run is a fresh process: its wall time, CPU time (user + system, with
spamassassin's, from wait4) and peak memory (the larger of ours and spamassassin's max RSS).
Without spamassassin installed there is nothing to compare and it says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ISSUE = "issues/2026-11-mdma-assisted-therapy.md"


def newsletter(folder: Path, *args: str, env: dict) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MB) of one `newsletter ARGS` in ``folder``."""
    script = Path(sys.executable).with_name("newsletter")
    start = time.perf_counter()
    proc = subprocess.Popen([str(script), *args], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"newsletter {' '.join(args)} failed:\n{proc.stderr.read().decode()}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("spamassassin") is None:
        print("spamassassin is not installed (apt-get install spamassassin): nothing to compare")
        return
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NEWSLETTER_SECRET"] = "bench-secret"
    with tempfile.TemporaryDirectory(prefix="nl-bench-preflight-") as tmp:
        folder = Path(tmp)
        for name in ("newsletter.toml", "templates", "issues"):
            (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, folder / name)
        people = folder / "people.csv"
        people.write_text("email,first_name\n" + "".join(f"reader{i}@example.org,Reader\n" for i in range(args.subscribers)), encoding="utf-8")
        newsletter(folder, "subscribers", "import", str(people), env=env)
        newsletter(folder, "approve", ISSUE, "--reviewer", "Bench Reviewer", env=env)
        cache = folder / "build" / ".cache" / "spamassassin"
        before, after = [], []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)  # before: every run scores the message
            before.append(newsletter(folder, "send", ISSUE, "--dry-run", env=env))
            after.append(newsletter(folder, "send", ISSUE, "--dry-run", env=env))  # after: the score of the run before
        for label, runs in (("before (scored every run)", before), ("after (cached score)     ", after)):
            print(
                f"send --dry-run, {args.subscribers:,} subscribers, {label}: wall {statistics.median(r[0] for r in runs):.2f} s,"
                f" CPU {statistics.median(r[1] for r in runs):.2f} s, peak {statistics.median(r[2] for r in runs):.0f} MB (median of {args.runs})"
            )
        saved = statistics.median(r[1] for r in before) - statistics.median(r[1] for r in after)
        print(f"CPU saved per run: {saved:.2f} s; cached reports: {len(list(cache.glob('*.txt')))} in {cache.relative_to(folder)}")


if __name__ == "__main__":
    main()
