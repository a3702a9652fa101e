"""`newsletter status ISSUE` lists the first 200 rejected and unknown recipients and says how many
more there are; `--all` lists every one. The ledger is a real SQLite file filled by a real send
through the Postmark fake: a batch whose answer never came (unknown: the search that could settle it fails) and
a batch in which most recipients are suppressed (rejected, 406)."""

from __future__ import annotations

import re

from test_send import HELD, add_people, postmark_settings, run
from typer.testing import CliRunner

from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter.cli import app
from newsletter.store.db import open_store

SLUG = "2026-11-mdma-assisted-therapy"
UNKNOWN = 250  # the first batch, held by the server past the client's timeout
REJECTED = 210  # of the second batch, suppressed at Postmark
PEOPLE = UNKNOWN + REJECTED + 20


def listed(output: str, title: str) -> list[str]:
    """The addresses printed under a section title, up to the next line that is not indented."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        rows.append(line.split()[0])
    return rows


def test_status_lists_two_hundred_and_says_how_many_more_and_all_lists_every_one(settings, approved_sample):
    conn = open_store(settings)
    add_people(conn, PEOPLE)
    with FakePostmark(token="t") as fake:
        for i in range(UNKNOWN, UNKNOWN + REJECTED):
            fake.suppress(f"r{i}@example.com")
        fake.script(Fault(hang=HELD, path="/email/batch"))
        fake.script(Fault.status(500, {"ErrorCode": 500, "Message": "search down"}, path="/messages/outbound"), times=10)
        s = postmark_settings(settings, fake, workers=1, batch_size=UNKNOWN, reconcile_grace_seconds=3600)
        report = run(s, conn, env={"POSTMARK_SERVER_TOKEN": "t", "NEWSLETTER_SECRET": "x"})
    conn.close()
    assert (report.counts["unknown"], report.counts["rejected"], report.counts["accepted"]) == (UNKNOWN, REJECTED, 20)

    short = CliRunner().invoke(app, ["status", SLUG])
    assert short.exit_code == 0, short.output
    assert "Unknown (the provider may or may not have them) (250)" in short.output
    assert len(listed(short.output, "Unknown")) == 200 + 1  # 200 rows and the line naming the rest
    assert re.search(rf"^  50 more: newsletter status {SLUG} --all$", short.output, re.M)
    assert re.search(rf"^  10 more: newsletter status {SLUG} --all$", short.output, re.M)

    full = CliRunner().invoke(app, ["status", SLUG, "--all"])
    assert full.exit_code == 0, full.output
    assert "more: newsletter status" not in full.output
    assert listed(full.output, "Unknown") == [f"r{i}@example.com" for i in range(UNKNOWN)]
    assert sorted(listed(full.output, "Rejected")) == sorted(f"r{i}@example.com" for i in range(UNKNOWN, UNKNOWN + REJECTED))
