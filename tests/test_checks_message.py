"""Preflight checks on the message as it goes on the wire, and the SpamAssassin score."""

from __future__ import annotations

import os
import re
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import set_checks
from newsletter.build.pipeline import compile_issue, sample_message
from newsletter.checks import check_issue, run_checks
from newsletter.mime import to_bytes

SAMPLE = Path("issues/2026-11-mdma-assisted-therapy.md")


def sample_eml(settings) -> tuple[object, bytes]:
    compiled = compile_issue(SAMPLE, settings)
    return compiled, to_bytes(sample_message(compiled, settings), datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc))


def message_findings(settings, edit=lambda eml: eml):
    compiled, eml = sample_eml(settings)
    found = check_issue(compiled, settings, eml=edit(eml))
    return sorted((f.id, f.message) for f in found if f.id.startswith("message."))


def header(eml: bytes, name: bytes) -> bytes:
    return re.search(rb"^" + name + rb": .*?\r\n(?![ \t])", eml, re.M | re.S).group(0)


def test_the_sample_message_passes(project, settings):
    assert message_findings(settings) == []


@pytest.mark.parametrize(
    "edit, expected_id, words",
    [
        (lambda e: e.replace(header(e, b"Subject"), header(e, b"Subject") * 2, 1), "message.header-count", "Subject appears 2 times"),
        (lambda e: e.replace(header(e, b"Date"), b"", 1), "message.header-count", "Date appears 0 times"),
        (lambda e: e.replace(header(e, b"Message-ID"), b"", 1), "message.header-count", "Message-ID appears 0 times"),
        (lambda e: e.replace(header(e, b"List-Unsubscribe"), header(e, b"List-Unsubscribe") * 2, 1), "message.header-count", "List-Unsubscribe appears 2 times"),
        (lambda e: e.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <https://example.net/x>, <https://", 1), "message.list-unsubscribe", "exactly one https"),
        (lambda e: e.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: https://", 1), "message.list-unsubscribe", "angle brackets"),
        (lambda e: e.replace(b"List-Unsubscribe=One-Click", b"One-Click", 1), "message.list-unsubscribe-post", "exactly 'List-Unsubscribe=One-Click'"),
        (lambda e: e.replace(b"From: Kairos", b"From: a@b.org, Kairos", 1), "message.from", "exactly one address"),
        (lambda e: e.replace(b"Subject: MDMA", "Subject: MDMA \u00e9".encode(), 1), "message.header-ascii", "Subject"),
        (lambda e: e.replace(b'text/plain; charset="utf-8"', b'text/plain; charset="iso-8859-1"', 1), "message.charset", "iso-8859-1"),
        (lambda e: e.replace(b"\r\n\r\nKairos Research Notes", b"\r\n\r\n" + b"x" * 1200 + b"\r\nKairos Research Notes", 1), "message.line-length", "1200 octets"),
    ],
)
def test_header_and_wire_defects(project, settings, edit, expected_id, words):
    found = message_findings(settings, edit)
    assert {i for i, _ in found} == {expected_id}, found
    assert any(words in message for _, message in found), found


def test_parts_out_of_order_and_html_only(project, settings):
    def swap(eml: bytes) -> bytes:
        boundary = re.search(rb'boundary="([^"]+)"', eml).group(1)
        head, *parts, tail = eml.split(b"--" + boundary)
        return (b"--" + boundary).join([head, parts[1], parts[0], tail])

    assert [i for i, _ in message_findings(settings, swap)] == ["message.structure"]
    html_only = lambda e: e.replace(b"multipart/alternative", b"multipart/mixed", 1)  # noqa: E731
    assert [i for i, _ in message_findings(settings, html_only)] == ["message.structure"]


# --- SpamAssassin ---------------------------------------------------------------------------------


def fake_spamassassin(folder: Path, score: float, rules: str) -> Path:
    """A stand-in ``spamassassin`` printing the shape of a real ``-t`` report."""
    folder.mkdir(exist_ok=True)
    script = folder / "spamassassin"
    report = [
        f"X-Spam-Status: Yes, score={score} required=5.0 tests=GUARANTEED_100_PERCENT,",
        "\tHTML_IMAGE_ONLY_24 autolearn=no version=4.0.1",
        "",
        f"Content analysis details:   ({score} points, 5.0 required)",
        "",
        " pts rule name              description",
        "---- ---------------------- --------------------------------------------------",
        rules,
    ]
    script.write_text("#!/bin/sh\ncat > /dev/null\ncat <<'EOF'\n" + "\n".join(report) + "\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.parametrize("score, severity", [(5.5, "error"), (2.8, "warning"), (0.7, None)])
def test_spamassassin_score_thresholds(project, spamassassin_on, monkeypatch, score, severity):
    rules = " 2.7 GUARANTEED_100_PERCENT   BODY: One hundred percent guaranteed\n 2.8 HTML_IMAGE_ONLY_24      BODY: HTML: images with 2000-2400 bytes of words"
    monkeypatch.setenv("PATH", f"{fake_spamassassin(project / 'bin', score, rules)}{os.pathsep}{os.environ['PATH']}")
    found = [f for f in run_checks(SAMPLE, spamassassin_on).findings if f.id == "spam.score"]
    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity:
        assert f"scores {score:g}" in found[0].message and "HTML_IMAGE_ONLY_24 2.8, GUARANTEED_100_PERCENT 2.7" in found[0].message


def test_spamassassin_absent_or_skipped_gives_no_finding(project, spamassassin_on, monkeypatch):
    from newsletter.checks import spamassassin_available

    fake_spamassassin(project / "bin", 9.9, "")
    monkeypatch.setenv("PATH", str(project / "empty"))
    assert not spamassassin_available()
    assert [f for f in run_checks(SAMPLE, spamassassin_on).findings if f.id.startswith("spam.")] == []
    monkeypatch.setenv("PATH", str(project / "bin"))
    assert [f for f in run_checks(SAMPLE, spamassassin_on, spamassassin=False).findings if f.id.startswith("spam.")] == []


def test_the_checks_setting_decides_whether_send_runs_spamassassin(project, monkeypatch):
    """``[checks] spamassassin`` is what ``send`` obeys: on, a spam score of 9.9 refuses the send."""
    from newsletter.errors import SendError
    from newsletter.send.plan import SendRequest, plan_send
    from newsletter.store.db import open_store

    monkeypatch.setenv("PATH", f"{fake_spamassassin(project / 'bin', 9.9, ' 9.9 MIRACLE_CURE BODY: miracle')}{os.pathsep}{os.environ['PATH']}")
    on = set_checks(project, "spamassassin = true")
    conn = open_store(on)
    try:
        with pytest.raises(SendError, match=r"SpamAssassin scores 9\.9.*\(spam\.score\)"):
            plan_send(SendRequest(SAMPLE), on, conn, env={})
        off = set_checks(project, "spamassassin = false")
        assert not [f for f in plan_send(SendRequest(SAMPLE), off, conn, env={}).warnings if f.id.startswith("spam.")]
    finally:
        conn.close()


def counting(folder: Path) -> Path:
    """The fake of ``folder`` made to append a line to ``folder/runs`` each time it is run."""
    script = folder / "spamassassin"
    script.write_text(script.read_text().replace("cat > /dev/null\n", f"cat > /dev/null\necho run >> '{folder / 'runs'}'\n", 1))
    return folder / "runs"


def test_spamassassin_scores_each_content_once_and_keeps_the_report_in_the_build_folder(project, spamassassin_on, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_spamassassin(project / 'bin', 2.8, ' 2.8 HTML_IMAGE_ONLY_24 BODY: images')}{os.pathsep}{os.environ['PATH']}")
    runs = counting(project / "bin")
    scores = lambda: [f.message for f in run_checks(SAMPLE, spamassassin_on).findings if f.id == "spam.score"]  # noqa: E731
    first = scores()
    assert first and "scores 2.8" in first[0]
    assert scores() == first  # a new Date, Message-ID and MIME boundary: the same content
    compiled, _ = sample_eml(spamassassin_on)
    assert [f.message for f in check_issue(compiled, spamassassin_on) if f.id == "spam.score"] == first  # send's path: check_issue
    monkeypatch.setenv("NEWSLETTER_SECRET", "another-secret")  # other tokens in the signed links, the same content
    assert [f.message for f in check_issue(compiled, spamassassin_on) if f.id == "spam.score"] == first
    assert runs.read_text().count("run") == 1
    cached = list((spamassassin_on.output_dir / ".cache" / "spamassassin").glob("*.txt"))
    assert len(cached) == 1 and "score=2.8" in cached[0].read_text()

    issue = project / SAMPLE
    issue.write_text(issue.read_text(encoding="utf-8").replace("MDMA", "MDMA (midomafetamine)", 1), encoding="utf-8")
    assert scores() == first
    assert runs.read_text().count("run") == 2  # other content: scored again

    fake_spamassassin(project / "bin", 5.5, " 5.5 MIRACLE_CURE BODY: miracle")  # SpamAssassin itself changed
    counting(project / "bin")
    assert "scores 5.5" in scores()[0]
    assert runs.read_text().count("run") == 3


def test_a_spamassassin_run_without_a_score_is_not_kept(project, spamassassin_on, monkeypatch):
    folder = project / "bin"
    fake_spamassassin(folder, 1.0, "")
    (folder / "spamassassin").write_text(f"#!/bin/sh\ncat > /dev/null\necho run >> '{folder / 'runs'}'\necho 'no report'\n")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    for _ in range(2):
        assert [f.id for f in run_checks(SAMPLE, spamassassin_on).findings if f.id.startswith("spam.")] == ["spam.unavailable"]
    assert (folder / "runs").read_text().count("run") == 2


@pytest.mark.skipif(not shutil.which("spamassassin"), reason="spamassassin not installed (apt-get install spamassassin)")
def test_real_spamassassin_scores_the_sample_below_the_warning_level(project, spamassassin_on):
    found = run_checks(SAMPLE, spamassassin_on).findings
    assert [f for f in found if f.id.startswith("spam.")] == []
