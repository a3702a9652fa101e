"""`newsletter new` and `newsletter build`, through Typer's CliRunner and the installed console script."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.build.issue import ALL_KEYS, load_issue
from newsletter.cli import app

SAMPLE = "issues/2026-11-mdma-assisted-therapy.md"
SLUG = "2026-11-mdma-assisted-therapy"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_error(result, *, starts: str) -> str:
    """Exit 1, `Error: ...` then `Hint: ...` on stderr, nothing else, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: " + starts), lines[0]
    assert lines[1].startswith("Hint: ") and len(lines[1]) > len("Hint: ")
    assert "Traceback" not in result.output
    return lines[0]


# --- build -----------------------------------------------------------------------------------------


@pytest.fixture
def built(project: Path):
    result = invoke("build", SAMPLE, "--out", "out")
    assert result.exit_code == 0, result.output
    return result, project / "out" / SLUG


def test_build_writes_three_files_and_prints_each_path_and_size(built) -> None:
    result, folder = built
    names = ["email.html", "email.txt", "email.eml"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    printed = result.stdout.splitlines()
    assert len(printed) == 3
    for line, name in zip(printed, names, strict=True):
        size = (folder / name).stat().st_size
        assert line == f"out/{SLUG}/{name}  {size:,} bytes ({size / 1024:.1f} KB)"
    assert result.stderr == ""


def test_build_output_is_personalized_for_the_sample_recipient(built) -> None:
    _, folder = built
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) < 102_400
    assert "Hi Alex," in html and "Hi Alex," in text
    assert "%%" not in html and "%%" not in text
    assert f"https://news.kairoswellness.org/issues/{SLUG}/" in text
    assert re.search(r"https://news\.kairoswellness\.org/u/1\.[\w-]+\?issue=" + SLUG + r"\n$", text)


def test_default_output_folder_is_paths_output(project: Path) -> None:
    result = invoke("build", SAMPLE)
    assert result.exit_code == 0, result.output
    assert (project / "build" / SLUG / "email.eml").is_file()


def test_eml_is_a_complete_multipart_alternative_message(built) -> None:
    _, folder = built
    raw = (folder / "email.eml").read_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF on the wire
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.defects == []
    assert message.get_content_type() == "multipart/alternative"
    for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert message[header], header
    assert message["From"] == "Kairos Wellness Collective <research@news.kairoswellness.org>"
    assert message["To"] == "Alex <reader@example.org>"
    assert message["Subject"] == "MDMA therapy for PTSD: the evidence in November 2026"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime is not None
    assert re.fullmatch(r"<[0-9a-f]{20}\.2026-11-mdma-assisted-therapy@news\.kairoswellness\.org>", message["Message-ID"])
    unsubscribe = message["List-Unsubscribe"]
    assert re.fullmatch(r"<https://news\.kairoswellness\.org/u/1\.[\w-]+\?issue=[a-z0-9-]+>", unsubscribe)  # the clinic sets no mailto
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]  # text first
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == (folder / "email.txt").read_text(encoding="utf-8")
    # (the email package ends a body with a line break; the HTML file has none)
    assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == (folder / "email.html").read_text(encoding="utf-8")
    assert "−23.7" in parts[0].get_content()  # non-ASCII survives the round trip


def test_build_of_a_missing_issue(project: Path) -> None:
    assert_one_error(invoke("build", "issues/nope.md"), starts="issues/nope.md: issue file not found")


# --- new -------------------------------------------------------------------------------------------


def test_new_creates_an_issue_with_every_key_that_loads_and_builds(project: Path) -> None:
    result = invoke("new", "Ketamine & depression: what's new?", "--date", "2026-12-01")
    assert result.exit_code == 0, result.output
    path = project / "issues" / "2026-12-ketamine-depression-what-s-new.md"
    assert result.stdout.splitlines() == [
        "Created issues/2026-12-ketamine-depression-what-s-new.md",
        "Next: write the issue, then run: newsletter build issues/2026-12-ketamine-depression-what-s-new.md",
    ]
    front = path.read_text(encoding="utf-8").split("---\n")[1]
    assert [line.split(":")[0] for line in front.splitlines()] == list(ALL_KEYS[:4]) + ["slug", "authors", "reviewed_by", "tags", "status"]
    issue = load_issue(path)
    assert (issue.title, issue.subject) == ("Ketamine & depression: what's new?",) * 2
    assert issue.date == date(2026, 12, 1)
    assert issue.slug == "2026-12-ketamine-depression-what-s-new"
    assert issue.status == "draft"
    built = invoke("build", str(path), "--out", "out")
    assert built.exit_code == 0, built.output
    html = (project / "out" / issue.slug / "email.html").read_text(encoding="utf-8")
    assert 'class="nl-key-box"' in html  # the scaffold's Key points section becomes the box
    body = path.read_text(encoding="utf-8")
    assert "## Key points" in body and "do not add a greeting" in body


def test_new_defaults_to_today_and_keeps_non_ascii_titles_readable(project: Path) -> None:
    result = invoke("new", "Psilocybin und Qualität")
    assert result.exit_code == 0, result.output
    path = project / "issues" / f"{date.today():%Y-%m}-psilocybin-und-qualitat.md"
    assert 'title: "Psilocybin und Qualität"' in path.read_text(encoding="utf-8")
    assert load_issue(path).date == date.today()


def test_new_refuses_an_existing_file_and_a_bad_date(project: Path) -> None:
    assert invoke("new", "Twice", "--date", "2026-12-01").exit_code == 0
    assert_one_error(invoke("new", "Twice", "--date", "2026-12-01"), starts=f"{project / 'issues' / '2026-12-twice.md'}: already exists")
    assert_one_error(invoke("new", "Bad date", "--date", "2026-13-01"), starts="--date: '2026-13-01' is not a valid date")
    assert_one_error(invoke("new", "   "), starts="newsletter new: the title is empty")


# --- errors: one line, a hint, exit 1, no traceback ---------------------------------------------


def test_issue_without_subject(project: Path) -> None:
    path = project / SAMPLE
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^subject: .*\n", "", text), encoding="utf-8")
    line = assert_one_error(invoke("build", SAMPLE, "--out", "out"), starts=f"{SAMPLE}:1: front matter: 'subject' is required")
    assert "subject" in line
    assert not (project / "out").exists()


def test_front_matter_error(project: Path) -> None:
    path = project / SAMPLE
    text = path.read_text(encoding="utf-8")
    line = text.splitlines().index("status: ready") + 1
    path.write_text(text.replace("status: ready", "status: done"), encoding="utf-8")
    assert_one_error(invoke("build", SAMPLE), starts=f"{SAMPLE}:{line}: front matter: status 'done' is not one of draft, ready, sent")


def test_markdown_error(project: Path) -> None:
    path = project / SAMPLE
    text = path.read_text(encoding="utf-8").replace("QT prolongation.[^mitchell2021]", "QT prolongation.[^mitchel2021]")
    path.write_text(text, encoding="utf-8")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "[^mitchel2021]" in ln)
    assert_one_error(invoke("build", SAMPLE), starts=f"{SAMPLE}:{line}: footnote [^mitchel2021] is cited but not defined")


def break_template(project: Path, name: str, old: str, new: str) -> tuple[Path, int]:
    path = project / "templates" / name
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return path, source[: source.index(old)].count("\n") + 1


def test_template_syntax_error(project: Path) -> None:
    path, line = break_template(project, "partials/header.mjml.j2", "{% if credits %}", "{% iff credits %}")
    assert_one_error(invoke("build", SAMPLE), starts=f"{path}:{line}: template syntax: ")


def test_template_undefined_variable(project: Path) -> None:
    path, line = break_template(project, "partials/footer.mjml.j2", "{{ settings.postal_address }}", "{{ settings.postal }}")
    assert_one_error(invoke("build", SAMPLE), starts=f"{path}:{line}: template uses an undefined value: ")


def test_template_producing_invalid_mjml(project: Path) -> None:
    path, _ = break_template(project, "email.mjml.j2", "  </mj-body>\n", "")
    assert_one_error(invoke("build", SAMPLE), starts=f"{path}: MJML does not compile: ")


def test_config_error(project: Path) -> None:
    (project / "newsletter.toml").write_text("[newsletter\n", encoding="utf-8")
    assert_one_error(invoke("build", SAMPLE), starts=f"{(project / 'newsletter.toml').resolve()}:1: invalid TOML")


def test_help_for_every_command() -> None:
    for args in (["--help"], ["build", "--help"], ["new", "--help"]):
        result = invoke(*args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout


def test_console_script_prints_no_traceback(project: Path) -> None:
    script = Path(sys.executable).with_name("newsletter")
    if not script.exists():
        script = Path(shutil.which("newsletter") or "")
    if not script.is_file():
        pytest.skip("the newsletter console script is not installed (pip install -e .)")
    path = project / SAMPLE
    path.write_text(path.read_text(encoding="utf-8").replace("date: 2026-11-26", "date: 26/11/2026"), encoding="utf-8")
    done = subprocess.run([str(script), "build", SAMPLE, "--out", "out"], cwd=project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == f"Error: {SAMPLE}:5: front matter: date '26/11/2026' is not a valid date"
    assert done.stderr.splitlines()[1].startswith("Hint: ")
    assert done.stdout == ""
    fixture = Path(__file__).resolve().parent / "fixtures" / "every-element.md"
    ok = subprocess.run([str(script), "build", str(fixture), "--out", "out"], cwd=project, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert [line.split()[0] for line in ok.stdout.splitlines()] == [f"out/every-element/email.{ext}" for ext in ("html", "txt", "eml")]
