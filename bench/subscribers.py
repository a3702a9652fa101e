"""Subscriber store benchmark: prints figures, asserts nothing.

    python bench/subscribers.py [--rows 100000] [--sizes 100000,1000000] [--stream-rows 1000000]

1. Generates a CSV of --rows subscribers (plain format, ~2% unsubscribed, ~1% mixed-case
   duplicates, a few invalid rows), imports it into a fresh database (best of 3), then
   re-imports it (everything unchanged).
2. For each of --sizes, the same kind of file imported by `import_file` in a fresh process of its
   own: its wall time and its peak memory (VmHWM: the process's peak RSS, interpreter included).
   Targets (issue 14): 100,000 rows <= 2.5 s; 1,000,000 rows <= 25 s, peak memory <= 150 MB
   and flat from 100,000 to 1,000,000 rows (the file is read and applied a chunk at a time).
3. Bulk-inserts --stream-rows active subscribers through the store's import API (no CSV, no
   validation) and streams them with iter_active in a fresh process, reporting its peak memory
   (tracemalloc and ru_maxrss; target: under 200 MB).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from newsletter.lists.importer import import_file, read_import
from newsletter.store.db import open_db
from newsletter.store.subscriber_import import Incoming, apply_import
from newsletter.store.subscribers import iter_active

FIRST = ["Ann", "José", "Zoë", "Li", "Mira", "Omar", "Sam", "Priya", "Tom", "", "Ines", "Kwame"]
LAST = ["Lee", "García", "Okafor", "Nguyen", "Smith", "Müller", "Khan", "", "Rossi", "Ito"]
TAGS = ["research", "clinicians", "patients", "donors", "press", ""]


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,first_name,last_name,tags,status\n")
        for i in range(rows):
            email = f"user{i}@example.org"
            if i % 100 == 99:  # a duplicate of an earlier row, in another case
                email = f"USER{i - 50}@Example.org"
            if i % 1000 == 999:
                email = f"broken{i}@"
            status = "unsubscribed" if i % 50 == 0 else "active"
            tags = ";".join(sorted({rnd.choice(TAGS), rnd.choice(TAGS)} - {""}))
            out.write(f"{email},{rnd.choice(FIRST)},{rnd.choice(LAST)},{tags},{status}\n")


def bench_import(folder: Path, rows: int, runs: int = 3) -> None:
    csv_path = folder / "subscribers.csv"
    make_csv(csv_path, rows)
    timings = []
    for run in range(runs):  # a fresh database each time; the best run is the least disturbed
        conn = open_db(folder / f"import{run}.db")
        started = time.perf_counter()
        report = import_file(conn, csv_path)
        timings.append(time.perf_counter() - started)
        conn.close()
    started = time.perf_counter()
    parsed = read_import(csv_path)
    parse_s = time.perf_counter() - started
    c = report.counts
    shown = ", ".join(f"{t:.2f}" for t in timings)
    print(f"import of {rows:,} rows into an empty list: best {min(timings):.2f} s of [{shown}] (target < 5 s)")
    print(f"  of which parsing + validating: {parse_s:.2f} s")
    print(f"  added {c.added:,}, duplicates merged {parsed.duplicates:,}, rejected {len(parsed.rejected):,}")
    conn = open_db(folder / "import0.db")
    started = time.perf_counter()
    again = import_file(conn, csv_path)
    print(f"re-import of the same file: {time.perf_counter() - started:.2f} s, unchanged {again.counts.unchanged:,}")
    conn.close()


def bench_import_memory(folder: Path, sizes: list[int]) -> None:
    for rows in sizes:
        csv_path = folder / f"subscribers-{rows}.csv"
        make_csv(csv_path, rows)
        result = subprocess.run(
            [sys.executable, __file__, "--import-only", str(csv_path), str(folder / f"memory-{rows}.db")], capture_output=True, text=True, check=True,
        )
        print(result.stdout, end="")
        csv_path.unlink()


def import_only(csv_path: Path, db: Path) -> None:
    """Runs in a fresh process so its peak RSS is the import's alone."""
    conn = open_db(db)
    before = _peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(conn, csv_path)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    size = csv_path.stat().st_size / 2**20
    print(
        f"import of {report.parsed.total:,} rows ({size:.0f} MB file) in a fresh process: {elapsed:.2f} s wall, {cpu:.2f} s CPU"
        f" ({report.parsed.total / elapsed:,.0f} rows/s), peak memory {_peak_rss_mb():.0f} MB (at start {before:.0f} MB);"
        f" added {report.counts.added:,}, duplicates merged {report.parsed.duplicates:,}, rejected {len(report.rejected):,}"
    )


def bench_stream(folder: Path, rows: int) -> None:
    db = folder / "stream.db"
    conn = open_db(db)
    started = time.perf_counter()
    batch = 100_000
    for start in range(0, rows, batch):
        chunk = [
            Incoming(line=i, email=f"reader{i}@example.com", key=f"reader{i}@example.com", first_name="Reader",
                     tags=("research",) if i % 3 else ())
            for i in range(start, min(rows, start + batch))
        ]  # fmt: skip
        apply_import(conn, chunk, source="bench")
    conn.close()
    print(f"bulk insert of {rows:,} active subscribers: {time.perf_counter() - started:.2f} s")
    result = subprocess.run([sys.executable, __file__, "--stream-only", str(db)], capture_output=True, text=True, check=True)
    print(result.stdout, end="")


def stream_only(db: Path) -> None:
    """Runs in a fresh process so ru_maxrss reflects the streaming alone."""
    conn = open_db(db)
    started = time.perf_counter()
    count = sum(1 for _ in iter_active(conn))
    elapsed = time.perf_counter() - started
    segment = sum(1 for _ in iter_active(conn, include_tags=["research"]))
    tracemalloc.start()
    sum(1 for _ in iter_active(conn))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = _peak_rss_mb()
    print(f"iter_active streamed {count:,} recipients in {elapsed:.2f} s ({segment:,} tagged 'research')")
    print(f"  peak Python allocations while streaming: {peak / 2**20:.1f} MB; process peak RSS: {maxrss_mb:.0f} MB")


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux: VmHWM, because ru_maxrss survives exec and would report
    the (larger) parent's figure; elsewhere ru_maxrss (KiB on Linux, bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 2**20 if sys.platform == "darwin" else 2**10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts imported in fresh processes")
    parser.add_argument("--stream-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--import-only", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_only:
        stream_only(args.stream_only)
        return
    if args.import_only:
        import_only(*args.import_only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench_import(Path(tmp), args.rows)
        bench_import_memory(Path(tmp), [int(n) for n in args.sizes.split(",") if n])
        bench_stream(Path(tmp), args.stream_rows)


if __name__ == "__main__":
    main()
