"""Every command's --help shows all of its text: no help string eaten as markup, no type label on a
plain flag, and the commands listed in the order a month's work uses them."""

from __future__ import annotations

import re

import click
import pytest
import typer.main
from typer.testing import CliRunner

from newsletter.cli import WORKFLOW, app

ROOT = typer.main.get_command(app)
BOX = re.compile(r"[│╭╮╰╯─┃━]+")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


def _flat(text: str) -> str:
    """What a reader sees, as one line: the boxes gone, Markdown code marks gone, spaces collapsed."""
    return " ".join(BOX.sub(" ", text.replace("`", "")).split())


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=400, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


COMMANDS = _commands(ROOT)


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_shows_every_word_of_the_command_and_its_options(path, command) -> None:
    shown = _flat(_help(path))
    first_paragraph = (command.help or "").split("\n\n")[0]
    assert _flat(first_paragraph) in shown
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(param.help) in shown, f"{' '.join(path)} {param.name}: help text lost"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_plain_flags_show_no_value_type(path, command) -> None:
    lines = _help(path).splitlines()
    for param in command.params:
        if isinstance(param, click.Option) and param.is_flag:
            line = next(line for line in lines if param.opts[0] in line.split())
            assert not re.search(r"<bool>|BOOLEAN", line), line


def test_commands_are_listed_in_workflow_order() -> None:
    commands_panel = _help(()).partition("Commands")[2]
    listed = [m.group(1) for m in re.finditer(r"^\W+([a-z]+)  ", commands_panel, re.M)]
    assert listed == [name for name in WORKFLOW if name in ROOT.commands]
    assert set(ROOT.commands) <= set(WORKFLOW), "a new command needs its place in WORKFLOW"
