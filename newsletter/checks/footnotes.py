"""Footnote problems found before rendering, so ``check`` reports them with everything else.

The Markdown stage stops at the first footnote cited but not defined (or defined but never
cited). Here every such problem becomes a finding, and a copy of the body with the offending
citations and definitions blanked out (same line count, so every other location stays right)
is rendered for the remaining checks.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..build.markdown import UNDEFINED_FOOTNOTE_RE, parser  # the exact parser the build uses
from ..models import Finding, Issue
from .context import finding


def scan_footnotes(issue: Issue) -> tuple[list[Finding], Issue]:
    """Findings for undefined and unused footnotes, and the issue with them blanked out."""
    lines = issue.body.splitlines(keepends=True)
    env: dict = {}
    tokens = parser().parse(issue.body, env)
    out: list[Finding] = []
    for label, index in _undefined(tokens, lines):
        out.append(
            finding(
                "footnote.undefined",
                "error",
                f"{issue.path}:{issue.body_line + index}",
                f"footnote [^{label}] is cited but not defined: add '[^{label}]: Author. Title. Journal. Year. https://doi.org/...' at the end",
            )
        )
        lines[index] = lines[index].replace(f"[^{label}]", "")
    for label in _unused(env):
        index = _definition_index(lines, label)
        where = f"{issue.path}:{issue.body_line + index}" if index is not None else str(issue.path)
        out.append(finding("footnote.unused", "error", where, f"footnote [^{label}] is defined but never cited: cite it with [^{label}] or delete the definition"))
        if index is not None:
            _blank_definition(lines, index)
    if not out:
        return [], issue
    return out, replace(issue, body="".join(lines))


def _undefined(tokens, lines: list[str]) -> list[tuple[str, int]]:
    """(label, 0-based body line) of every ``[^x]`` markdown-it left as plain text."""
    found = []
    for tok in tokens:
        if tok.type != "inline" or not tok.map:
            continue
        for child in tok.children or []:
            if child.type != "text":
                continue
            for m in UNDEFINED_FOOTNOTE_RE.finditer(child.content):
                index = next((i for i in range(tok.map[0], tok.map[1]) if m.group(0) in lines[i]), tok.map[0])
                found.append((m.group(1), index))
    return list(dict.fromkeys(found))


def _unused(env: dict) -> list[str]:
    refs = env.get("footnotes", {}).get("refs", {})
    return [key[1:] for key, ident in refs.items() if ident == -1]


def _definition_index(lines: list[str], label: str) -> int | None:
    pattern = re.compile(r"^\s{0,3}\[\^" + re.escape(label) + r"\]:")
    return next((i for i, line in enumerate(lines) if pattern.match(line)), None)


def _blank_definition(lines: list[str], index: int) -> None:
    """Empty the definition's first line and its indented continuation lines."""
    lines[index] = "\n"
    i = index + 1
    while i < len(lines) and lines[i].strip() and lines[i][:1] in (" ", "\t"):
        lines[i] = "\n"
        i += 1
