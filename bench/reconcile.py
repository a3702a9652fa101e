"""Reconcile-search benchmark: what widening a window costs (issue 16).

An in-process Postmark fake holds ``--messages`` accepted messages of one issue, one every
``--spacing`` seconds, ending at 01:30 EST on 2026-11-01 (inside the repeated autumn hour). The
adapter's ``search_accepted`` is timed for the window of one in-doubt batch, plain and widened by
the default margin; each figure is the search's wall time, the requests and the records it read.
Prints figures; asserts nothing.

    .venv/bin/python bench/reconcile.py [--messages 20000] [--spacing 0.2] [--margin 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fakes.postmark import FakePostmark  # noqa: E402
from newsletter.providers.base import create_provider  # noqa: E402
from newsletter.send.reconcile import DEFAULT_MARGIN_SECONDS  # noqa: E402

TOKEN = "bench-token"
TAG = "2026-11-mdma-assisted-therapy"
END = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)  # 01:30 EST, the hour's second pass


def fill(fake: FakePostmark, messages: int, spacing: float) -> None:
    for i in range(messages):
        at = END - timedelta(seconds=spacing * (messages - 1 - i))
        fake.add_accepted(f"reader{i}@example.com", TAG, at, Metadata={"issue": TAG, "subscriber_id": str(i)})


def timed_search(provider, fake: FakePostmark, since: datetime, until: datetime) -> tuple[float, int, int, bool]:
    fake.clear()
    start = time.perf_counter()
    result = provider.search_accepted(TAG, since, until)
    return time.perf_counter() - start, len(fake.requests), len(result), result.complete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--spacing", type=float, default=0.2, help="seconds between accepted messages")
    parser.add_argument("--batch-seconds", type=float, default=60.0, help="how long the in-doubt batch took")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN_SECONDS)
    args = parser.parse_args(argv)
    with FakePostmark(token=TOKEN) as fake:
        fill(fake, args.messages, args.spacing)
        provider = create_provider("postmark", {"base_url": fake.url}, {"POSTMARK_SERVER_TOKEN": TOKEN})
        try:
            since, until = END - timedelta(seconds=args.batch_seconds), END
            margin = timedelta(seconds=args.margin)
            print(f"{args.messages:,} messages of the issue, one every {args.spacing} s, the last at 01:30 EST")
            for label, window in (("plain window", (since, until)), (f"widened by {args.margin:.0f} s", (since - margin, until + margin))):
                seconds, requests, records, complete = timed_search(provider, fake, *window)
                print(f"{label:22} {seconds * 1000:8.1f} ms  {requests:4} requests  {records:7,} records  complete={complete}")
        finally:
            provider.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
