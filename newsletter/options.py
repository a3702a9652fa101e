"""Declared settings: one ``Option`` per key, checked the same way for every table of
newsletter.toml and for every provider adapter's ``[providers.<name>]`` table.

``check_table`` turns what the file gave into typed values (a key not given gets its default)
and collects every problem instead of stopping at the first, so the config loader can report
them all at once. It imports nothing heavy: config loading runs before every command.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .plain_address import is_plain_address

REQUIRED: Any = object()  # the default of a key that must be given
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
SHOWN_VALUE_CHARS = 40


@dataclass(frozen=True)
class Option:
    """One setting: its key, its kind (a name in KINDS), its default and what it means.

    ``default`` is the value used when the key is not given; None means "not set" (the code
    that reads it decides, as the help says); REQUIRED means the key must be given.
    ``min``/``max`` bound numbers (inclusive); ``choices`` lists the allowed strings.
    """

    key: str
    kind: str
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file: the table and key it concerns (for its line) and the text."""

    table: str
    key: str | None
    text: str


class Invalid(ValueError):
    """A value does not fit its kind; ``detail`` says why when the kind knows more."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail


def check_table(table: str, given: Mapping[str, Any], options: Sequence[Option]) -> tuple[dict[str, Any], list[Problem]]:
    """Every declared key of ``[table]`` with its typed value (or default), and every problem."""
    declared = {option.key: option for option in options}
    problems = [Problem(table, key, f"[{table}] unknown key '{key}'{did_you_mean(key, declared)}") for key in given if key not in declared]
    values: dict[str, Any] = {}
    for option in options:
        if option.key not in given:
            if option.default is REQUIRED:
                problems.append(Problem(table, None, f"[{table}] {option.key} is required"))
            values[option.key] = None if option.default is REQUIRED else option.default
            continue
        try:
            values[option.key] = typed_value(option, given[option.key])
        except Invalid as err:
            problems.append(Problem(table, option.key, wrong_value(table, option, given[option.key], err.detail)))
            values[option.key] = None
    return values, problems


def typed_value(option: Option, value: Any) -> Any:
    """The value converted to its kind, or Invalid when it does not fit the kind, range or choices."""
    typed = KINDS[option.kind][1](value)
    if option.min is not None and typed < option.min or option.max is not None and typed > option.max:
        raise Invalid()
    if option.choices and typed not in option.choices:
        close = closest(typed, option.choices)
        raise Invalid(f"did you mean '{close}'?" if close else None)
    return typed


def wrong_value(table: str, option: Option, value: Any, detail: str | None) -> str:
    """``[table] key = <value>: must be <what the option accepts> (<why>)``."""
    why = f" ({detail[0].lower()}{detail[1:].rstrip('.')})" if detail else ""
    if option.kind == "database_url" and isinstance(value, str):
        from .storage_url import without_password

        value = without_password(value)  # a password in the file is never repeated on screen
    return f"[{table}] {option.key} = {shown(value)}: must be {expected(option)}{why}"


def expected(option: Option) -> str:
    """What an option accepts, in words: "a whole number from 1 to 500"."""
    if option.choices:
        return "one of " + ", ".join(option.choices)
    what = KINDS[option.kind][0]
    if option.min is not None and option.max is not None:
        return f"{what} from {_number(option.min)} to {_number(option.max)}"
    if option.min is not None:
        return f"{what} of {_number(option.min)} or more"
    if option.max is not None:
        return f"{what} of at most {_number(option.max)}"
    return what


def shown(value: Any) -> str:
    """A value as TOML would spell it, shortened: "many", 5000, true, ["a", "b"]."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def closest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None


def _number(value: float) -> str:
    return f"{value:g}"


# -- kinds: name -> (what it accepts, in words; the parser to the typed value) ------------------
def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid()
    return value


LINE_LIMIT = 200
# C0 controls (tab too: a header value folds on whitespace), DEL, C1 controls, Unicode line breaks.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _line(value: Any) -> str:
    """One line of plain text: the value becomes a header (From, List-Id) or a page title."""
    text = _string(value)
    m = CONTROL_RE.search(text)
    if m:
        raise Invalid("it contains a line break" if m.group(0) in "\r\n\u2028\u2029" else f"it contains the control character U+{ord(m.group(0)):04X}")
    if not text.strip():
        raise Invalid("it is empty")
    if len(text) > LINE_LIMIT:
        raise Invalid(f"it is {len(text):,} characters long")
    return text


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int subclass
        raise Invalid()
    return value


def _number_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid()
    return float(value)


def _seconds(value: Any) -> float:
    seconds = _number_value(value)
    if seconds <= 0:
        raise Invalid()
    return seconds


def _seconds_pair(value: Any) -> tuple[float, float]:
    """Seconds, or [connect, read] seconds (a timeout for the two phases of a request)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _seconds(value[0]), _seconds(value[1])
    seconds = _seconds(value)
    return seconds, seconds


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid()
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise Invalid()
    return tuple(value)


def _email(value: Any) -> str:
    """Checked by email-validator (syntax only, no DNS), kept as written. A plain address is
    known valid without importing it (plain_address.py): loading the config stays cheap."""
    text = _string(value)
    if is_plain_address(text):
        return value
    from .store.addresses import InvalidAddress, normalize_email

    try:
        normalize_email(text)
    except InvalidAddress as err:
        raise Invalid(err.reason) from None
    return value


def _url(schemes: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        parts = urlsplit(_string(value))
        if parts.scheme not in schemes or not parts.netloc:
            raise Invalid()
        return value

    return parse


def _origin(value: Any) -> str:
    """http(s)://host[:port] and nothing more: an adapter appends the API's paths itself."""
    parts = urlsplit(_string(value))
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid()
    return value.rstrip("/")
def _database_url(value: Any) -> str:
    from .storage_url import BadURL, check_url

    try:
        return check_url(_string(value), password_allowed=False)
    except BadURL as err:
        raise Invalid(str(err)) from None


def _colour(value: Any) -> str:
    if not COLOR_RE.match(_string(value)):
        raise Invalid()
    return value


def _regex(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    try:
        return re.compile(_string(value), re.I)
    except re.error as err:
        raise Invalid(str(err)) from None


def _path(value: Any) -> Path:
    if not isinstance(value, (str, PathLike)) or not str(value):
        raise Invalid()
    return Path(value).expanduser()


KINDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "string": ("a string", _string),
    "line": (f"one line of text (at most {LINE_LIMIT} characters, no control characters)", _line),
    "integer": ("a whole number", _integer),
    "number": ("a number", _number_value),
    "seconds": ("a number of seconds above 0", _seconds),
    "seconds_pair": ("seconds above 0, or [connect, read] seconds", _seconds_pair),
    "boolean": ("true or false", _boolean),
    "strings": ("a list of non-empty strings", _strings),
    "email": ("an email address", _email),
    "email_or_empty": ('an email address, or "" for none', lambda value: value if value == "" else _email(value)),
    "https_url": ("an absolute https:// URL", _url(("https",))),
    "url": ("an absolute http(s):// URL", _url(("https", "http"))),
    "origin": ("a scheme and host only, like https://api.example.com (no path)", _origin),
    "database_url": ("a postgresql://user@host:5432/database URL without a password", _database_url),
    "colour": ("a colour like #1a2b3c", _colour),
    "regex": ("a regular expression", _regex),
    "path": ("a path", _path),
}
