"""newsletter.toml: found upward, --config / NEWSLETTER_CONFIG, relative paths, every problem at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write
from newsletter.cli import app
from newsletter.config import find_config, load_settings
from newsletter.errors import ConfigError

MINIMAL = """
[newsletter]
name = "Test Notes"

[sender]
from_name = "Test Clinic"
from_address = "news@mail.example.org"
postal_address = "1 Test Street, Testville"

[site]
base_url = "https://news.example.org/"

[brand]
logo_url = "https://news.example.org/logo.png"
logo_alt = "Test Clinic"

[content]
disclaimer = "Not advice."
why_received = "You subscribed."

[cta]
label = "Book"
url = "https://example.org/book"

[unsubscribe]
mailto = "unsubscribe@mail.example.org"
"""


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value.message


# --- finding the file ---------------------------------------------------------------------------


def test_found_in_current_folder_and_upward(project: Path) -> None:
    assert find_config() == project / "newsletter.toml"
    deep = project / "issues" / "drafts" / "deeper"
    deep.mkdir(parents=True)
    assert find_config(start=deep) == (project / "newsletter.toml").resolve()


def test_explicit_path_and_environment(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = write(tmp_path / "elsewhere" / "custom.toml", MINIMAL)
    env_file = write(tmp_path / "from-env" / "env.toml", MINIMAL)
    assert find_config(explicit=other) == other.resolve()
    monkeypatch.setenv("NEWSLETTER_CONFIG", str(env_file))
    assert find_config() == env_file.resolve()
    assert find_config(explicit=other) == other.resolve()  # --config wins over the environment


def test_missing_explicit_file_and_none_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        find_config(explicit=tmp_path / "nope.toml")
    assert info.value.hint
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no newsletter.toml in this folder or any parent") as info:
        find_config(start=empty)
    assert "--config" in (info.value.hint or "")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write(tmp_path / "site" / "newsletter.toml", MINIMAL + '\n[paths]\ntemplates = "tpl"\noutput = "../out"\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(conf, env={})
    site = (tmp_path / "site").resolve()
    assert settings.templates_dir == site / "tpl"
    assert settings.issues_dir == site / "issues"
    assert settings.output_dir == (tmp_path / "out").resolve()
    assert settings.outbox_dir == site / "outbox"
    assert settings.database == site / "data" / "newsletter.db"
    assert load_settings(conf, env={"NEWSLETTER_DATABASE": "db/other.db"}).database == site / "db" / "other.db"


def test_defaults_and_normalised_values(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "newsletter.toml", MINIMAL), env={})
    assert settings.base_url == "https://news.example.org"  # trailing slash dropped
    assert settings.language == "en"
    assert settings.reply_to is None
    assert settings.brand.logo_width == 160
    assert settings.brand.primary_color == "#2f5d50"
    assert settings.first_name_fallback == "there"
    assert (settings.provider, settings.workers, settings.rate_limit) == ("outbox", 4, 0.0)
    assert settings.from_header == "Test Clinic <news@mail.example.org>"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.name = "changed"  # type: ignore[misc]


def test_the_repository_config_is_valid(settings) -> None:
    assert settings.name == "Kairos Research Notes"
    assert settings.provider_options("postmark")["message_stream"] == "broadcast"


# --- validation: every problem at once ----------------------------------------------------------


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('name = "Test Notes"', 'nmae = "Test Notes"')
        .replace('logo_alt = "Test Clinic"', 'logo_alt = "Test Clinic"\nlogo_width = "160"\nprimary_color = "green"')
        .replace('base_url = "https://news.example.org/"', 'base_url = "http://news.example.org/"')
        .replace('[cta]\nlabel = "Book"\nurl = "https://example.org/book"\n', "")
        .replace('from_address = "news@mail.example.org"', 'from_address = "news at example"')
        + "\n[provider]\nworkers = 0\nrate_limit = true\n\n[extras]\nx = 1\n"
    )
    message = problems_of(write(tmp_path / "newsletter.toml", text))
    expected = [
        "[newsletter] unknown key 'nmae' (did you mean 'name'?)",
        "[newsletter] name is required",
        '[brand] logo_width = "160": must be a whole number from 1 to 600',
        '[brand] primary_color = "green": must be a colour like #1a2b3c',
        '[site] base_url = "http://news.example.org/": must be an absolute https:// URL',
        "[cta] is required",
        '[sender] from_address = "news at example": must be an email address (an email address must have an @-sign)',
        "[provider] workers = 0: must be a whole number from 1 to 32",
        "[provider] rate_limit = true: must be a number of 0 or more",
        "unknown table [extras]",
    ]
    first, *listed = message.splitlines()
    assert first == f"{tmp_path / 'newsletter.toml'}: {len(expected)} problems:"
    assert len(listed) == len(expected)
    for problem in expected:
        assert sum(line.endswith(problem) for line in listed) == 1, problem
    assert all(line.startswith(f"  {tmp_path / 'newsletter.toml'}") for line in listed)


def test_non_https_urls_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace("https://example.org/book", "ftp://example.org/book").replace(
        "https://news.example.org/logo.png", "//news.example.org/logo.png"
    )
    message = problems_of(write(tmp_path / "newsletter.toml", text))
    assert '[cta] url = "ftp://example.org/book": must be an absolute https:// URL' in message
    assert '[brand] logo_url = "//news.example.org/logo.png": must be an absolute https:// URL' in message
    assert "2 problems" in message


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        ('logo_alt = "Test Clinic"', 'logo_alt = "x"\nlink_color = "#12345"', '[brand] link_color = "#12345": must be a colour like #1a2b3c'),
        ('logo_alt = "Test Clinic"', 'logo_alt = "x"\ntext_color = "#GGGGGG"', '[brand] text_color = "#GGGGGG": must be a colour'),
        ('logo_alt = "Test Clinic"', 'logo_alt = "x"\nlogo_width = true', "[brand] logo_width = true: must be a whole number"),
        ('label = "Book"', "label = 5", "[cta] label = 5: must be one line of text"),
        ('[site]\nbase_url = "https://news.example.org/"\n', "", "[site] is required"),
        ('mailto = "unsubscribe@mail.example.org"', 'mailto = "mailto:x"', '[unsubscribe] mailto = "mailto:x": must be an email address'),
        ("[content]", "[contnet]", "unknown table [contnet] (did you mean 'content'?)"),
        ('why_received = "You subscribed."', 'why_received = "x"\nwhy_recieved = "y"', "[content] unknown key 'why_recieved' (did you mean 'why_received'?)"),
    ],
)
def test_single_problems(tmp_path: Path, replace: str, by: str, problem: str) -> None:
    assert replace in MINIMAL
    assert problem in problems_of(write(tmp_path / "newsletter.toml", MINIMAL.replace(replace, by, 1)))


def test_a_table_given_as_a_plain_value_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = 'brand = "green"\n' + MINIMAL.replace(
        '[brand]\nlogo_url = "https://news.example.org/logo.png"\nlogo_alt = "Test Clinic"\n', ""
    )
    assert "[brand] must be a table" in problems_of(write(tmp_path / "newsletter.toml", text))


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "newsletter.toml", MINIMAL.replace('name = "Test Notes"', "name = Test Notes"))
    message = problems_of(path)
    assert message.startswith(f"{path}:2: invalid TOML")  # write() drops the leading blank line


# --- through the command line -------------------------------------------------------------------


def test_cli_config_option_and_environment_variable(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    issue = (project / "issues" / "2026-11-mdma-assisted-therapy.md").resolve()
    tmp_path = tmp_path_factory.mktemp("elsewhere")  # outside the project: no newsletter.toml upward
    monkeypatch.chdir(tmp_path)
    # No newsletter.toml upward from here: the command fails with a config error ...
    result = runner.invoke(app, ["build", str(issue), "--out", str(tmp_path / "o2")], env={"NEWSLETTER_CONFIG": None})
    assert result.exit_code == 1
    assert "no newsletter.toml in this folder or any parent" in result.stderr
    # ... and works with --config or NEWSLETTER_CONFIG.
    result = runner.invoke(app, ["--config", str(project / "newsletter.toml"), "build", str(issue), "--out", str(tmp_path / "o3")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o3" / "2026-11-mdma-assisted-therapy" / "email.html").is_file()
    result = runner.invoke(
        app, ["build", str(issue), "--out", str(tmp_path / "o4")], env={"NEWSLETTER_CONFIG": str(project / "newsletter.toml")}
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o4" / "2026-11-mdma-assisted-therapy" / "email.eml").is_file()


def test_cli_reports_config_problems_in_one_error_line(project: Path) -> None:
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('primary_color = "#2f5d50"', 'primary_colour = "#2f5d50"'), encoding="utf-8")
    result = CliRunner().invoke(app, ["build", "issues/2026-11-mdma-assisted-therapy.md"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    line = next(n for n, text in enumerate(toml.read_text(encoding="utf-8").splitlines(), 1) if text.startswith("primary_colour"))
    assert lines[0] == f"Error: newsletter.toml:{line}: [brand] unknown key 'primary_colour' (did you mean 'primary_color'?)"
    assert lines[1].startswith("Hint: ")
    assert len(lines) == 2
    assert "Traceback" not in result.output
