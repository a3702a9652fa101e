"""Curly quotes typed by a word processor (Word, Pages, Google Docs and macOS turn " into “ ”).

Around a whole front-matter value they were meant as YAML quotes (``title: “Ketamine: what we
know”``), which YAML does not know: a colon inside then breaks the file, and without one the quotes
would end up in the subject. So a value that starts with “ (or „) and ends with ” (or with ‘ and
’; one end may be straight) is read as quoted, and ``check`` says so. A value whose curly quotes
only mark a phrase (``“Set” and “setting” matter``) is left as text. Inside text, quotes that do not
pair up, or curly and straight ones mixed, are reported by ``check`` for the subject and preheader.
"""

from __future__ import annotations

import json
import re

DOUBLE_OPEN, DOUBLE_CLOSE = "“„", "”"
SINGLE_OPEN, SINGLE_CLOSE = "‘‚", "’"
CURLY = "“”„‘’‚"
# (opening, closing): English and German curly pairs, and one end left straight by an edit.
DOUBLE_PAIRS = {("“", "”"), ("„", "“"), ("„", "”"), ("“", '"'), ('"', "”"), ("„", '"')}
SINGLE_PAIRS = {("‘", "’"), ("‚", "‘"), ("‚", "’"), ("‘", "'"), ("'", "’")}
# A top-level 'key: value' line (never inside a block scalar, which is indented), and a comment.
KEY_LINE_RE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)(?P<sep>[ \t]*:[ \t]+)(?P<value>.*?)(?P<comment>[ \t]+#[^“”‘’]*)?[ \t]*$")


def whole_value_inner(value: str) -> str | None:
    """The text inside curly quotes that wrap the whole value, or None when they do not."""
    if len(value) < 2:
        return None
    first, last, inner = value[0], value[-1], value[1:-1]
    if (first, last) in DOUBLE_PAIRS:
        return inner if _phrases_balanced(inner) else None
    if (first, last) in SINGLE_PAIRS:
        return inner if not any(c in inner for c in SINGLE_OPEN) else None  # ’ inside is an apostrophe
    return None


def _phrases_balanced(inner: str) -> bool:
    """True when no quote inside closes before one opens (then the outer pair is one quotation)."""
    depth = 0
    for c in inner:
        depth += 1 if c in DOUBLE_OPEN else -1 if c == "”" else 0
        if depth < 0:
            return False
    return True


def unquote_lines(front: str) -> tuple[str, set[int]]:
    """The front matter with each top-level value in curly quotes rewritten as a double-quoted
    YAML string (its text taken literally), and the 0-based indexes of the lines rewritten."""
    out, rewritten = [], set()
    for n, line in enumerate(front.splitlines(keepends=True)):
        body = line.rstrip("\r\n")
        m = KEY_LINE_RE.match(body) if any(c in body for c in CURLY) else None
        inner = whole_value_inner(m.group("value")) if m else None
        if inner is None:
            out.append(line)
            continue
        rewritten.add(n)
        out.append(f"{m.group('key')}{m.group('sep')}{_yaml_string(inner)}{m.group('comment') or ''}{line[len(body):]}")
    return "".join(out), rewritten


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar holding exactly ``text`` (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def fix_for_line(line: str) -> str | None:
    """For a 'key: value' line with curly quotes that YAML could not read: the hint with the line
    as it should be written, or None when the line has no curly quotes."""
    m = KEY_LINE_RE.match(line.rstrip("\r\n"))
    if not m or not any(c in m.group("value") for c in CURLY):
        return None
    value = m.group("value")
    if value[:1] in DOUBLE_OPEN + SINGLE_OPEN and _phrases_balanced(value[1:]):
        value = value[1:].removesuffix("”").removesuffix("’")
        what = "Replace the curly quotes “ ” around the value with straight quotes \" \" (a word processor typed them)"
    else:
        what = "YAML does not read curly quotes as quotes: put straight quotes \" \" around the whole value (the curly ones inside stay as text)"
    return f"{what}: {m.group('key')}: {_yaml_string(value)}"


def quote_problem(text: str) -> str | None:
    """What is wrong with the quotation marks in one line of text, or None: curly double quotes
    that do not pair up, a ‘ never closed, or curly and straight double quotes mixed."""
    opened = sum(text.count(c) for c in DOUBLE_OPEN)
    closed = text.count("”")
    if (opened or closed) and '"' in text:
        return "mixes curly “ ” and straight \" quotes"
    if opened != closed or not _phrases_balanced(text):
        return f"has {opened} opening “ and {closed} closing ” quotes, which do not pair up"
    last_open = max(text.rfind(c) for c in SINGLE_OPEN)
    if last_open >= 0 and "’" not in text[last_open:]:
        return "opens a ‘ quote that is never closed with ’"
    return None
