"""The YAML between an issue's two ``---`` lines -> plain values, parsed with limits.

An issue file may be pasted from anywhere, so the YAML is read as a stream of events and refused
BEFORE anything is built from it: anchors, aliases and tags (an alias bomb of a few hundred bytes
expands to gigabytes), nesting deeper than ``MAX_DEPTH`` (PyYAML's composer recurses, so a
1,000-deep list would end in a RecursionError), more than ``MAX_FRONT_MATTER_BYTES``. Values stay
strings, lists and mappings of strings (no type guessing); ``issue.py`` checks each one.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from ..errors import IssueError, located
from .curly_quotes import fix_for_line, unquote_lines, whole_value_inner

MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_DEPTH = 8  # the top-level mapping is 1, ``tags: [a, b]`` is 2
YAML_HINT = "Check the quoting and indentation on that line; quote values that contain ':' or '#'."


def parse_front_matter(path: Path, front: str, first_line: int = 2) -> tuple[Any, dict[str, int], tuple[str, ...]]:
    """The front matter's value (None when empty), the file line of each top-level key, and the
    top-level keys whose value (or an item of it) was written in curly quotes (curly_quotes.py).

    ``first_line`` is the file line of the front matter's first line (2: after the opening ---).
    """
    import yaml

    size = len(front.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise IssueError(
            located(path, 1, f"front matter is {size:,} bytes; at most {MAX_FRONT_MATTER_BYTES:,} are read"),
            hint="Keep only the keys (title, subject, preheader, date, ...) between the --- lines; the text goes below them.",
        )
    readable, rewritten = unquote_lines(front)
    builder = _Builder(path, first_line)
    try:
        for event in yaml.parse(readable, Loader=yaml.BaseLoader):
            builder.feed(event)
    except yaml.YAMLError as err:
        line = _yaml_error_line(err, readable, first_line)
        raise IssueError(located(path, line, f"front matter: invalid YAML: {_problem(err)}"), hint=_yaml_hint(front, line - first_line)) from None
    curly = builder.curly | {key for key, line in builder.key_lines.items() if line - first_line in rewritten}
    return builder.root, builder.key_lines, tuple(key for key in builder.key_lines if key in curly)


def _yaml_hint(front: str, index: int) -> str:
    """The exact fix when the line YAML stopped at has curly quotes, else the general hint."""
    lines = front.splitlines()
    return (fix_for_line(lines[index]) if 0 <= index < len(lines) else None) or YAML_HINT


class _Builder:
    """Builds the value from parser events with an explicit stack (no recursion), refusing what
    the limits forbid at the event that shows it."""

    def __init__(self, path: Path, first_line: int) -> None:
        self.path, self.first_line = path, first_line
        self.root: Any = None
        self.key_lines: dict[str, int] = {}
        self.stack: list[list | _Mapping] = []
        self.documents = 0
        self.curly: set[str] = set()  # top-level keys with a value unquoted by unquoted()

    def feed(self, event) -> None:
        import yaml

        line = event.start_mark.line + self.first_line if event.start_mark else 1
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.refuse(line, "a second YAML document ('---' inside the front matter)", "Keep one --- line before the keys and one after them.")
        elif isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise self.refuse(line, "YAML anchors and aliases (&name, *name) are not allowed", "Write each value out in full.")
        elif getattr(event, "tag", None):
            raise self.refuse(line, f"YAML tags ({shown(event.tag)}) are not allowed", "Remove the !tag; values are read as plain text.")
        elif isinstance(event, yaml.ScalarEvent):
            self.add(self.unquoted(event), line)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                raise self.refuse(line, f"values nested more than {MAX_DEPTH} deep", "Use 'key: value' lines and simple lists like 'tags: [a, b]'.")
            if self.stack and isinstance(self.stack[-1], _Mapping) and self.stack[-1].key is None:
                raise self.refuse(line, "a key must be a word, not a list or mapping", "Write 'key: value'.")
            self.stack.append(_Mapping() if isinstance(event, yaml.MappingStartEvent) else [])
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            self.add(done.values if isinstance(done, _Mapping) else done, line)

    def unquoted(self, event) -> str:
        """A plain value (not a key) in curly quotes, e.g. a list item, without them."""
        top = self.stack[-1] if self.stack else None
        inner = whole_value_inner(event.value) if event.style is None and top is not None else None
        if inner is None or (isinstance(top, _Mapping) and top.key is None):
            return event.value
        if isinstance(self.stack[0], _Mapping) and self.stack[0].key is not None:
            self.curly.add(self.stack[0].key)
        return inner

    def add(self, value: Any, line: int) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top, list):
            top.append(value)
        elif top.key is None:
            if value in top.values:
                raise self.refuse(line, f"'{shown(value)}' is given twice", "Keep one of them.")
            top.key = value
            if len(self.stack) == 1:
                self.key_lines[value] = line
        else:
            top.values[top.key], top.key = value, None

    def refuse(self, line: int, what: str, hint: str) -> IssueError:
        return IssueError(located(self.path, line, f"front matter: {what}"), hint=hint)


class _Mapping:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.key: str | None = None  # the key whose value comes next


def _yaml_error_line(err, front: str, first_line: int) -> int:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        return mark.line + first_line
    position = getattr(err, "position", None)  # a ReaderError (a character YAML refuses) has no mark
    return front.count("\n", 0, position) + first_line if isinstance(position, int) else 1


def _problem(err) -> str:
    problem = getattr(err, "problem", None)
    if problem:
        return problem
    character = getattr(err, "character", None)
    if character is not None:
        return f"character {shown(chr(character) if isinstance(character, int) else character)} is not allowed"
    return str(err).splitlines()[0]


def shown(value: object, limit: int = 40) -> str:
    """A value as it may appear in an error message: shortened, one line, control characters and
    lone surrogates escaped (printing them would garble the terminal or fail to encode)."""
    text = str(value)
    cut = text[:limit]
    out = "".join(c if unicodedata.category(c) not in ("Cc", "Cs", "Cf", "Zl", "Zp") else _escaped(c) for c in cut)
    return out + ("..." if len(text) > limit else "")


def _escaped(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"
