"""Shared fixtures: a throwaway project folder with the real config, templates and sample issue."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's config and templates in tmp_path, as the current folder.

    Paths in the copied newsletter.toml are relative, so build output, the database and the
    outbox all land inside tmp_path.
    """
    shutil.copy(REPO / "newsletter.toml", tmp_path / "newsletter.toml")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    (tmp_path / "issues").mkdir()
    for issue in (REPO / "issues").glob("*.md"):
        shutil.copy(issue, tmp_path / "issues" / issue.name)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    for var in ("NEWSLETTER_CONFIG", "NEWSLETTER_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-secret-not-for-production")
    return tmp_path


@pytest.fixture
def settings(project: Path):
    from newsletter.config import load_settings

    return load_settings(project / "newsletter.toml")


def write(path: Path, text: str) -> Path:
    """Write dedented text (inputs are written inline in tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- golden files (tests/golden/) ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/* from the current output instead of comparing against them.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when pytest runs with --update-golden (golden tests then write instead of compare)."""
    return bool(request.config.getoption("--update-golden"))
