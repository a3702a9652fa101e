"""``newsletter check``: text and JSON output, exit codes, build errors as findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write, write_checks
from newsletter.cli import app

SAMPLE = "issues/2026-11-mdma-assisted-therapy.md"
AS_SENT = Path(__file__).resolve().parent / "fixtures" / "2026-11-mdma-assisted-therapy.md"


def run(*args: str):
    return CliRunner().invoke(app, ["check", *args], catch_exceptions=False)


@pytest.fixture
def no_spamassassin(monkeypatch, tmp_path, spamassassin_on):
    """SpamAssassin switched on in [checks] but not installed (nothing of that name on PATH)."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))


def broken_issue(project: Path) -> str:
    filler = "\n\n".join(f"Paragraph {i} about sleep, daylight and the evening routine of adults." for i in range(1500))
    write(
        project / "issues/broken.md",
        """\
        ---
        title: Broken
        subject: A broken issue for the preflight checks
        preheader: Everything in here is wrong on purpose, so check has work to do.
        date: 2026-11-26
        authors: [Tester]
        reviewed_by: Dr. Test
        status: ready
        ---

        ![](https://news.kairoswellness.org/img/chart.png){width=560}

        Read [our notes](/notes/sleep) on this guaranteed cure.[^missing]
        """,
    )
    with open(project / "issues/broken.md", "a", encoding="utf-8") as f:
        f.write("\n" + filler + "\n")
    return "issues/broken.md"


def as_sent(project: Path) -> None:
    """The November issue as sent (the frozen fixture): the exact findings below are about the
    check's output, not about the current revision of the issue's text."""
    (project / SAMPLE).write_bytes(AS_SENT.read_bytes())


def test_sample_issue_text_output_exits_0(project, no_spamassassin):
    as_sent(project)
    write_checks(project, 'spamassassin = true\nignore = ["readability.*"]')  # the prose: test_readability.py
    result = run(SAMPLE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"warning  {SAMPLE}:8  front-matter.reviewed-by  reviewed_by is 'Clinical review pending': a placeholder, left out of the email; its 'Reviewed by' line comes from 'newsletter approve'"
    )
    assert lines[1].startswith("Note: SpamAssassin is not installed")
    assert lines[2] == "0 errors, 1 warning: may be sent; review the warnings."


def test_json_output_is_a_list_of_objects(project):
    as_sent(project)
    write_checks(project, 'ignore = ["readability.*"]')  # the prose: test_readability.py
    result = run(SAMPLE, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data == [
        {
            "id": "front-matter.reviewed-by",
            "severity": "warning",
            "location": f"{SAMPLE}:8",
            "message": "reviewed_by is 'Clinical review pending': a placeholder, left out of the email; its 'Reviewed by' line comes from 'newsletter approve'",
            "key": None,
        }
    ]


def test_broken_issue_lists_each_defect_and_exits_1(project):
    path = broken_issue(project)
    result = run(path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    expected = {
        ("error", f"{path}:11", "image.alt"),
        ("error", f"{path}:13", "link.scheme"),
        ("error", f"{path}:13", "footnote.undefined"),
        ("error", "email.html", "html.size"),
        ("error", f"{path}:13", "claims.guarantee"),
        ("error", f"{path}:13", "claims.cure"),
    }
    got = {tuple(line.split("  ")[:3]) for line in lines if line.startswith(("error  ", "warning  "))}
    assert expected <= got
    assert lines[-1] == "6 errors, 0 warnings: cannot be sent until the errors are fixed."
    data = json.loads(run(path, "--format", "json").output)
    assert sorted(d["id"] for d in data) == ["claims.cure", "claims.guarantee", "footnote.undefined", "html.size", "image.alt", "link.scheme"]
    assert {d["key"].split(":")[1] for d in data if d["id"].startswith("claims.")} == {"cure", "guarantee"}


def test_build_error_is_a_finding_not_a_traceback(project, no_spamassassin):
    write(project / "issues/bad.md", "---\ntitle: x\nsubject: y\ndate: 2026-11-26\n---\n\nText.\n")
    result = run("issues/bad.md")
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("error  issues/bad.md:1  build.issue  front matter: 'preheader' is required Hint:")
    assert "Traceback" not in result.output and "Note:" not in result.output  # nothing was built to score
    missing = run("issues/nope.md", "--format", "json")
    assert missing.exit_code == 1 and json.loads(missing.output)[0]["id"] == "build.issue"


def test_config_error_uses_the_house_error_format(project):
    write_checks(project, "claims = []")
    result = CliRunner().invoke(app, ["check", SAMPLE])
    assert result.exit_code == 1
    assert "Error: " in result.output and "unknown key 'claims'" in result.output and "Hint: " in result.output


def test_spamassassin_option(project, no_spamassassin):
    result = run(SAMPLE, "--no-spamassassin")
    assert result.exit_code == 0 and "Note:" not in result.output


def test_spamassassin_switched_off_in_config_gives_no_note(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))  # the project's [checks] has it off
    result = run(SAMPLE)
    assert result.exit_code == 0 and "Note:" not in result.output


def test_help_for_check_and_preview():
    for command, option in (("check", "--online"), ("check", "--format"), ("preview", "--snapshot"), ("preview", "--no-open")):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and option in result.output
