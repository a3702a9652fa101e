"""Every setting declared (options.py, each provider adapter) and checked when the config loads:
all problems at once, each with its line and key, before any lock, database or network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, write
from newsletter.cli import app
from newsletter.config import TABLES, key_lines, load_settings
from newsletter.errors import ConfigError
from newsletter.options import KINDS, REQUIRED, typed_value
from newsletter.providers.base import REGISTRY, SEND_OPTIONS, create_provider, provider_class, provider_options
from newsletter.providers.option_specs import BY_PROVIDER
from newsletter.send.dispatch import RetryPolicy

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"


def edit_config(project: Path, old: str, new: str) -> Path:
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    assert old in text, old
    toml.write_text(text.replace(old, new, 1), encoding="utf-8")
    return toml


def line_of(path: Path, start: str) -> int:
    return next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text.startswith(start))


def line_after(path: Path, new: str) -> int:
    """The line of the last line of ``new`` in the file (where an edited key now is)."""
    text = path.read_text(encoding="utf-8")
    return text[: text.index(new) + len(new.rstrip("\n"))].count("\n") + 1


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    return info.value.message


# --- acceptance: the command stops at the config, with the key, and creates nothing ---------------

BAD_SETTINGS = [
    ("workers = 4", 'workers = "many"', '[provider] workers = "many": must be a whole number from 1 to 32'),
    ("batch_size = 250", "batch_size = 250\nbacth_size = 100", "[providers.postmark] unknown key 'bacth_size' (did you mean 'batch_size'?)"),
    ("batch_size = 250", "batch_size = 5000", "[providers.postmark] batch_size = 5000: must be a whole number from 1 to 500"),
    ("rate_limit = 0 ", "rate_limit = -3 ", "[provider] rate_limit = -3: must be a number of 0 or more"),
    ("timeout = 30\n", 'timeout = 30\nworkers = "many"\n', '[providers.smtp] workers = "many": must be a whole number from 1 to 32'),
]
COMMANDS = [["send", ISSUE, "--yes"], ["subscribers", "import", "people.csv"]]


@pytest.mark.parametrize(("old", "new", "problem"), BAD_SETTINGS, ids=["workers", "bacth_size", "batch_size", "rate_limit", "smtp-workers"])
@pytest.mark.parametrize("command", COMMANDS, ids=["send", "import"])
def test_a_bad_setting_stops_the_command_before_the_database(project: Path, old: str, new: str, problem: str, command: list[str]) -> None:
    write(project / "people.csv", "email,first_name\nalex@example.org,Alex\n")
    toml = edit_config(project, old, new)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"Error: newsletter.toml:{line_after(toml, new)}: {problem}"
    assert result.stderr.splitlines()[1].startswith("Hint: ")
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))
    assert not list(project.rglob("*.db*")), "no database may be created"
    assert not (project / "outbox").exists()


def test_all_problems_at_once_through_the_real_command(project: Path) -> None:
    """A subprocess, as the clinic runs it: one count line, then one line per key, in file order."""
    for old, new, _ in BAD_SETTINGS[:2] + BAD_SETTINGS[3:]:
        edit_config(project, old, new)
    edit_config(project, 'name = "outbox"', 'name = "postmak"')
    result = subprocess.run([sys.executable, "-m", "newsletter.cli", "send", ISSUE, "--yes"], capture_output=True, text=True, cwd=project)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: newsletter.toml: 5 problems:"
    assert [re.sub(r"^  newsletter\.toml:\d+: ", "", line) for line in lines[1:6]] == [
        "[provider] name = \"postmak\": must be one of outbox, smtp, postmark, sendgrid, ses, mailgun (did you mean 'postmark'?)",
        '[provider] workers = "many": must be a whole number from 1 to 32',
        "[provider] rate_limit = -3: must be a number of 0 or more",
        "[providers.postmark] unknown key 'bacth_size' (did you mean 'batch_size'?)",
        '[providers.smtp] workers = "many": must be a whole number from 1 to 32',
    ]
    assert lines[6].startswith("Hint: ") and len(lines) == 7
    assert not list(project.rglob("*.db*"))


LOAD_WITHOUT = ("requests", "smtplib", "ssl", "orjson", "email_validator", *(f"newsletter.providers.{n}" for n in REGISTRY))


def test_loading_the_config_imports_no_adapter_and_no_http_library(project: Path) -> None:
    """The adapters' options are read from providers/option_specs.py and the config's plain
    addresses are checked without email-validator: none of these is imported to load the file."""
    code = (
        "import sys; from newsletter.config import load_settings; load_settings(__import__('pathlib').Path('newsletter.toml')); "
        f"print(sorted(m for m in {LOAD_WITHOUT!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project, check=True)
    assert result.stdout.strip() == "[]"


def test_every_registered_adapter_declares_its_options_in_option_specs() -> None:
    """The class's ``options`` is the tuple the config loader checked the table against."""
    for name in REGISTRY:
        assert provider_class(name).options is BY_PROVIDER[name], name


# --- providers ------------------------------------------------------------------------------------


def test_the_table_of_a_provider_not_selected_is_checked_too(project: Path) -> None:
    toml = edit_config(project, 'security = "starttls"', 'security = "starttl"')
    assert problems_of(toml) == (
        f'newsletter.toml:{line_of(toml, "security")}: [providers.smtp] security = "starttl": '
        "must be one of starttls, ssl, none (did you mean 'starttls'?)"
    )


def test_an_unknown_provider_table_is_an_error_with_did_you_mean(project: Path) -> None:
    toml = edit_config(project, "[providers.smtp]", "[providers.smpt]")
    assert problems_of(toml) == f"newsletter.toml:{line_of(toml, '[providers.smpt]')}: [providers.smpt] unknown provider 'smpt' (did you mean 'smtp'?)"


def test_a_provider_given_as_a_plain_value(tmp_path: Path, project: Path) -> None:
    toml = edit_config(project, "[providers.smtp]\n", "[providers]\nsmtp = 5\n[providers.other_smtp]\n")
    message = problems_of(toml)
    assert "[providers.smtp] must be a table" in message and "unknown provider 'other_smtp'" in message


def test_provider_values_are_typed_and_only_the_given_keys_are_kept(project: Path) -> None:
    edit_config(project, "batch_size = 250", 'batch_size = 250\ntimeout = [5, 60]\nmax_attempts = 3')
    edit_config(project, "timeout = 30\n", 'timeout = 30\nca_file = "certs/ca.pem"\n')
    settings = load_settings(project / "newsletter.toml", env={})
    assert settings.providers["postmark"] == {
        "base_url": "https://api.postmarkapp.com", "message_stream": "broadcast", "batch_size": 250, "timeout": (5.0, 60.0), "max_attempts": 3,
    }
    # Relative paths resolve against the config's folder, as every path in the file does.
    assert settings.providers["smtp"]["ca_file"] == (project / "certs" / "ca.pem").resolve()
    assert settings.providers["smtp"]["timeout"] == 30.0 and isinstance(settings.providers["smtp"]["timeout"], float)


def test_create_provider_gives_the_adapter_typed_values_with_defaults(tmp_path: Path) -> None:
    smtp = create_provider("smtp", {"host": "127.0.0.1"}, {})
    assert (smtp.port, smtp.security, smtp.timeout, smtp.max_batch, smtp.ca_file) == (587, "starttls", 30.0, 10, None)
    assert create_provider("smtp", {"host": "127.0.0.1", "security": "ssl"}, {}).port == 465
    outbox = create_provider("outbox", {"directory": str(tmp_path)}, {})
    assert (outbox.directory, outbox.max_batch) == (tmp_path, 100)
    postmark = create_provider("postmark", {"timeout": 7}, {"POSTMARK_SERVER_TOKEN": "t"})
    assert (postmark.base_url, postmark.stream, postmark.max_batch, postmark.timeout) == ("https://api.postmarkapp.com", "broadcast", 500, (7.0, 7.0))
    postmark.close()


def test_create_provider_refuses_options_built_in_code_that_do_not_fit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_provider("postmark", {"batch_size": 0, "timeot": 5}, {"POSTMARK_SERVER_TOKEN": "t"})
    assert info.value.message == (
        "newsletter.toml: [providers.postmark] unknown key 'timeot' (did you mean 'timeout'?); "
        "[providers.postmark] batch_size = 0: must be a whole number from 1 to 500"
    )
    with pytest.raises(ConfigError, match=r"\[provider\] name 'sparkpost' is not a known provider"):
        create_provider("sparkpost", {}, {})


def test_every_declared_option_is_well_formed() -> None:
    """Kinds exist, defaults fit their own option, no adapter redeclares a send-loop key."""
    declared = {f"[{t}]": options for t, options in TABLES.items()} | {f"[providers.{n}]": provider_options(n) for n in REGISTRY}
    for where, options in declared.items():
        keys = [o.key for o in options]
        assert len(keys) == len(set(keys)), where
        for option in options:
            assert option.kind in KINDS and option.help, (where, option.key)
            if option.default not in (None, REQUIRED):
                typed_value(option, option.default)  # raises Invalid when the default does not fit
    for name in REGISTRY:
        assert not {o.key for o in provider_class(name).options} & {o.key for o in SEND_OPTIONS}, name


def test_the_send_loop_defaults_in_the_help_are_the_real_ones() -> None:
    defaults = RetryPolicy()
    for option in SEND_OPTIONS:
        if hasattr(defaults, option.key):
            assert option.help.endswith(f"({getattr(defaults, option.key):g})"), option.key


# --- every other table ----------------------------------------------------------------------------


def test_email_addresses_are_checked_by_email_validator(project: Path) -> None:
    toml = edit_config(project, 'reply_to = "hello@kairoswellness.org"', 'reply_to = "hello@kairos..org"')
    assert problems_of(toml) == (
        f'newsletter.toml:{line_of(toml, "reply_to")}: [sender] reply_to = "hello@kairos..org": must be an email address '
        "(an email address cannot have two periods in a row)"
    )
    edit_config(project, 'reply_to = "hello@kairos..org"', 'reply_to = "hallo@bücher.example"')
    assert load_settings(toml, env={}).reply_to == "hallo@bücher.example"  # kept as written


def test_checks_topics_and_signup_are_checked_when_the_config_loads(project: Path) -> None:
    # the project fixture's [checks] table holds "spamassassin = false": add to it, not a second table
    toml = edit_config(project, "spamassassin = false", 'spamassassin = false\nignore = "claim"\ndisclaimer_pattern = "(("\ndoi_reslover = "x"')
    edit_config(project, "confirm_days = 7", "confirm_days = 0")
    edit_config(project, 'psilocybin = "Psilocybin research"', 'psilocybin = ""')
    message = problems_of(toml)
    assert message.startswith("newsletter.toml: 5 problems:\n")
    for problem in (
        f"newsletter.toml:{line_of(toml, 'psilocybin')}: [topics] psilocybin must be a label (a non-empty string)",
        f"newsletter.toml:{line_of(toml, 'confirm_days')}: [signup] confirm_days = 0: must be a whole number of 1 or more",
        f'newsletter.toml:{line_of(toml, "ignore")}: [checks] ignore = "claim": must be a list of non-empty strings',
        f"newsletter.toml:{line_of(toml, 'disclaimer_pattern')}: [checks] disclaimer_pattern = \"((\": must be a regular expression (missing ), unterminated subpattern at position 1)",
        f"newsletter.toml:{line_of(toml, 'doi_reslover')}: [checks] unknown key 'doi_reslover' (did you mean 'doi_resolver'?)",
    ):
        assert f"\n  {problem}" in message, problem


def test_checks_values_arrive_typed(project: Path) -> None:
    edit_config(project, "spamassassin = false", 'spamassassin = false\nignore = ["claims.*"]\ndisclaimer_pattern = "not medical advice"')
    checks = load_settings(project / "newsletter.toml", env={}).checks
    assert checks["ignore"] == ("claims.*",) and checks["spamassassin"] is False
    assert checks["disclaimer_pattern"].search("NOT MEDICAL ADVICE")  # compiled, case-insensitive
    assert set(checks) == {"ignore", "disclaimer_pattern", "spamassassin"}  # unset keys: the checks' defaults


def test_a_missing_required_key_points_at_its_table(project: Path) -> None:
    toml = edit_config(project, 'logo_alt = "Kairos Wellness Collective"\n', "")
    assert problems_of(toml) == f"newsletter.toml:{line_of(toml, '[brand]')}: [brand] logo_alt is required"


def test_the_path_outside_the_current_folder_is_shown_whole(project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = edit_config(project, "workers = 4", "workers = 0")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert problems_of(toml).startswith(f"{toml}:{line_of(toml, 'workers')}: [provider] workers = 0")


def test_key_lines_follow_tables_and_dotted_keys_and_skip_multiline_strings() -> None:
    text = '[content]\ndisclaimer = """\nname = "not a key"\n"""\nfirst_name_fallback = "x"\n\n[providers]\npostmark.batch_size = 5\n[ providers . "smtp" ]  # comment\nport = 1\n'
    lines = key_lines(text)
    assert lines[("content", None)] == 1 and lines[("content", "disclaimer")] == 2
    assert ("content", "name") not in lines and lines[("content", "first_name_fallback")] == 5
    assert lines[("providers.postmark", "batch_size")] == 8
    assert lines[("providers.smtp", None)] == 9 and lines[("providers.smtp", "port")] == 10


# --- the user guide lists every setting -------------------------------------------------------------


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    level = title.split()[0]
    following = re.search(rf"\n{level} ", text[start + len(title) + 2 :])
    return text[start : start + len(title) + 2 + following.start()] if following else text[start:]


def test_the_readme_lists_every_key_of_every_table_and_provider() -> None:
    configuration = readme_section("## Configuration")
    for table, options in TABLES.items():
        row = next((line for line in configuration.splitlines() if line.startswith(f"| `[{table}]`")), "")
        for option in options:
            assert f"`{option.key}`" in row, f"README Configuration: [{table}] {option.key}"
    for option in SEND_OPTIONS:
        assert f"`{option.key}`" in configuration, f"README Configuration: [providers.<name>] {option.key}"
    for name in REGISTRY:
        section = readme_section(f"### {name}") if name != "outbox" else readme_section("### outbox (the default: no account needed)")
        for option in provider_class(name).options:
            assert f"`{option.key}`" in section, f"README Providers, {name}: {option.key}"
