"""The command line: the only place that prints, prompts or exits.

Each command group lives in its own module here and registers on ``app``; library errors
(NewsletterError) become ``Error: ...`` / ``Hint: ...`` on stderr and exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import NewsletterError

app = typer.Typer(
    name="newsletter",
    help="Turn Markdown research issues into email, preview and check them, and send them exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help and usage errors in click's plain format: Typer's Rich panels import rich and
    # markdown-it (40 ms) on every `--help`; help strings are plain text (backticks mark code).
    rich_markup_mode=None,
)


class State:
    """Per-invocation options shared by every command (set by the app callback)."""

    config_path: Optional[Path] = None
    _settings = None

    def settings(self):
        if self._settings is None:
            from ..config import find_config, load_settings

            self._settings = load_settings(find_config(explicit=self.config_path))
        return self._settings


state = State()


@app.callback()
def _global_options(
    config: Optional[Path] = typer.Option(
        None, "--config", envvar="NEWSLETTER_CONFIG", help="Path to newsletter.toml (default: found from the current folder upward)."
    ),
) -> None:
    state.config_path = config
    state._settings = None


def issue_argument(*, sent_slug_ok: bool = False):
    """The ISSUE argument of every command that takes one: a file, a slug or 'latest'.
    ``sent_slug_ok``: a slug with no file left is passed on as it is (``status`` of a sent issue)."""

    def resolve(value: Path) -> Path:
        from ..build.issue_index import find_issue

        settings = run_guarded(state.settings)
        if sent_slug_ok:
            try:
                return find_issue(value, settings.issues_dir)
            except NewsletterError:
                return value
        return run_guarded(find_issue, value, settings.issues_dir)

    return typer.Argument(
        ..., metavar="ISSUE", callback=resolve,
        help="The issue: its Markdown file (e.g. issues/2026-11-mdma-assisted-therapy.md), its slug, or 'latest'.",
    )


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def out_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def report_error(err: NewsletterError) -> None:
    """Print one error in the house format: ``Error: <location>: <what>`` then ``Hint: ...``,
    redacted of every configured secret (whatever raised it)."""
    import os

    from ..secrets import Redactor

    redact = Redactor.from_env(os.environ)
    sys.stderr.write(printable(f"Error: {redact(err.message)}") + "\n")
    if err.hint:
        sys.stderr.write(printable(f"Hint: {redact(err.hint)}") + "\n")
    sys.stderr.flush()


def printable(text: str) -> str:
    """Text that any terminal encoding can print: control characters (but the line breaks of a
    message listing several problems) and lone surrogates from a bad value are escaped, never
    written raw (or crashing the print)."""
    import re

    text = re.sub(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


def run_guarded(func, *args, **kwargs):
    """Run library code; turn a NewsletterError into the house error format and exit 1."""
    try:
        return func(*args, **kwargs)
    except NewsletterError as err:
        report_error(err)
        raise typer.Exit(1) from None
    except Exception as err:
        fault = storage_fault(err)
        if fault is None:
            raise
        report_error(fault)
        raise typer.Exit(1) from None


def storage_fault(err: BaseException) -> NewsletterError | None:
    """A database error that reached the command line (a damaged page read, a lock held past the
    busy timeout) as the one error an operator should see, naming the file and how to recover."""
    if type(err).__module__ != "sqlite3":
        return None
    from ..store.db import fault_error, fault_kind

    if fault_kind(err) is None:
        return None
    return fault_error(err, state._settings.database if state._settings is not None else None)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except NewsletterError as err:  # raised outside run_guarded (e.g. in a callback)
        report_error(err)
        sys.exit(1)
    except Exception as err:
        fault = storage_fault(err)
        if fault is None:
            raise
        report_error(fault)
        sys.exit(1)


# Command groups register themselves on import.
from . import approve as _approve  # noqa: E402,F401
from . import archive as _archive  # noqa: E402,F401
from . import build as _build  # noqa: E402,F401
from . import check as _check  # noqa: E402,F401
from . import db as _db  # noqa: E402,F401
from . import issues as _issues  # noqa: E402,F401
from . import preview as _preview  # noqa: E402,F401
from . import send as _send  # noqa: E402,F401
from . import serve as _serve  # noqa: E402,F401
from . import subscribers as _subscribers  # noqa: E402,F401

# `--help` lists commands in the order a month's work uses them (command groups come after).
WORKFLOW = ("issues", "new", "build", "preview", "check", "approve", "send", "status", "serve", "archive", "db", "subscribers")


def _workflow_rank(info) -> int:
    name = info.name or typer.main.get_command_name(info.callback.__name__)
    return WORKFLOW.index(name) if name in WORKFLOW else len(WORKFLOW)


app.registered_commands.sort(key=_workflow_rank)
