"""`newsletter --help` imports nothing heavy: each command imports what it needs when it runs.

Start-up time is a measured target (bench/build.py prints it); this test checks the cause, not the
time: the modules below must not be in ``sys.modules`` after `--help` has printed, in a fresh
interpreter. A module-level import of one of them anywhere on the CLI's path fails it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "rich",  # only where output is drawn (tables, progress)
    "pydantic",  # what Typer 0.29+ imports for every command
    "jinja2",
    "markdown_it",
    "mjml",
    "yaml",
    "email_validator",
    "requests",
    "sqlite3",
    "sqlalchemy",
    "alembic",
    "starlette",
    "uvicorn",
)

PROBE = """
import sys
sys.argv = ["newsletter", *sys.argv[1:]]
from newsletter.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES", *sorted({name.partition(".")[0] for name in sys.modules}), file=sys.stderr)
"""


def _modules_after(*args: str, cwd: Path | None = None) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    last = done.stderr.splitlines()[-1].split()
    assert last[0] == "MODULES", done.stderr
    return set(last[1:]), done.stdout


@pytest.mark.parametrize("args", [("--help",), ("send", "--help"), ("subscribers", "--help"), ("subscribers", "import", "--help")])
def test_help_imports_no_heavy_module(args) -> None:
    loaded, shown = _modules_after(*args)
    assert "Usage:" in shown  # the help was printed
    assert sorted(loaded & set(HEAVY)) == []


def test_the_probe_sees_the_heavy_modules_of_a_command_that_needs_them(project: Path) -> None:
    """The same probe after `build` finds Jinja2, markdown-it and mjml: the check can fail."""
    loaded, shown = _modules_after("build", "issues/2026-11-mdma-assisted-therapy.md", "--out", str(project / "out"), cwd=project)
    assert "email.html" in shown
    assert {"jinja2", "markdown_it", "mjml", "yaml"} <= loaded
    # ...and not what build has no use for: the adapters' libraries (their options are read from
    # providers/option_specs.py) nor email-validator (the sample config's addresses are plain).
    assert sorted(loaded & {"smtplib", "ssl", "orjson", "email_validator", "requests", "sqlite3", "rich"}) == []
