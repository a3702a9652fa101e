"""docs/architecture.md's import rules, checked on the code: a forbidden import fails here.

Every import in newsletter/ (module level and inside functions) is resolved to a full module name
and checked against RULES; library code outside cli/ never prints or exits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"

# Where a module lives (its first folder under newsletter/, or "top" for config/errors/models/
# mime/clock...) -> module prefixes it must not import. Mirrors docs/architecture.md.
STAGES = ("cli", "build", "checks", "send", "providers", "store", "lists", "preview", "web")
NETWORK = ("requests", "urllib3", "urllib.request", "http.client", "smtplib", "botocore", "boto3")
RULES: dict[str, tuple[str, ...]] = {
    # the shared values and settings depend on nothing of ours but each other
    "top": tuple(f"newsletter.{s}" for s in STAGES),
    # building an issue needs neither network nor database
    "build": ("newsletter.store", "newsletter.send", "newsletter.providers", "newsletter.web", "newsletter.cli", "newsletter.checks", "sqlite3", "socket", *NETWORK),
    # providers talk to a provider and nothing else: never the store
    "providers": ("newsletter.store", "newsletter.send", "newsletter.build", "newsletter.web", "newsletter.cli", "newsletter.lists", "sqlite3"),
    # the store is SQL only (socket: the send lock records the host name)
    "store": ("newsletter.build", "newsletter.send", "newsletter.providers", "newsletter.web", "newsletter.cli", "newsletter.lists", "newsletter.checks", *NETWORK),
    "lists": ("newsletter.send", "newsletter.providers", "newsletter.web", "newsletter.cli", *NETWORK),
    "checks": ("newsletter.store", "newsletter.send", "newsletter.providers", "newsletter.web", "newsletter.cli", "sqlite3", "requests"),
    "send": ("newsletter.web", "newsletter.cli", *NETWORK),
    "preview": ("newsletter.store", "newsletter.send", "newsletter.providers", "newsletter.web", "newsletter.cli", "sqlite3"),
    "web": ("newsletter.cli", "requests"),
    "cli": ("requests",),
}
# Outside store/, a connection may be passed along (and named in a type hint) but never queried.
SQL_CALLS = ("execute", "executemany", "executescript")
# Named exceptions, each for a reason: settings are checked against what each adapter declares
# (read from its class, nothing constructed), and an email setting is checked by the one
# definition of an address.
ALLOWED = {
    ("top", "newsletter.providers.base"),
    ("top", "newsletter.store.addresses"),
}
# Only cli/ talks to the terminal.
TERMINAL = ("typer", "rich", "click")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def area(path: Path, package: Path) -> str:
    rel = path.relative_to(package).parts
    return rel[0] if len(rel) > 1 else "top"


def imported(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, full module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # "from . import ledger" imports the module newsletter.store.ledger
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if not node.module]
    return found


def violations(path: Path, root: Path = PACKAGE) -> list[str]:
    where = area(path, root)
    forbidden = RULES.get(where, ())
    rel = path.relative_to(root.parent)
    bad = []
    for line, name in imported(path, root):
        if (where, name) in ALLOWED:
            continue
        for prefix in forbidden:
            if name == prefix or name.startswith(prefix + "."):
                bad.append(f"{rel}:{line}: {where}/ must not import {name}")
        if where != "cli" and name.split(".")[0] in TERMINAL:
            bad.append(f"{rel}:{line}: only cli/ talks to the terminal ({name})")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if where != "cli":
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "exit", "quit"):
                bad.append(f"{rel}:{node.lineno}: library code never prints or exits ({node.func.id})")
            if isinstance(node, ast.Attribute) and node.attr == "exit" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                bad.append(f"{rel}:{node.lineno}: library code never exits (sys.exit)")
    if where != "store":
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
                bad.append(f"{rel}:{node.lineno}: only store/ runs SQL ({node.func.attr})")
    return bad


def test_every_module_keeps_the_import_rules():
    problems = [v for path in modules() for v in violations(path)]
    assert not problems, "\n".join(problems)


def test_every_folder_of_the_package_is_a_known_stage():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__" and (p / "__init__.py").exists()}
    assert folders <= set(STAGES), f"a new stage folder needs a rule here and a line in docs/architecture.md: {folders - set(STAGES)}"


@pytest.mark.parametrize(
    "source, rule",
    [
        ("from ..store import ledger\n", "providers/ must not import newsletter.store"),
        ("import requests\n", "build/ must not import requests"),
        ("def f():\n    from ..store.db import open_db\n", "build/ must not import newsletter.store.db"),
        ("print('hi')\n", "never prints"),
        ("from rich.console import Console\n", "only cli/ talks to the terminal"),
        ("def f(conn):\n    conn.execute('DELETE FROM subscribers')\n", "only store/ runs SQL"),
    ],
)
def test_the_checker_catches_a_forbidden_import(tmp_path, source, rule):
    # A throwaway package laid out like ours, so the checker itself is shown to fail.
    fake = tmp_path / "newsletter"
    for folder in ("providers", "build"):
        (fake / folder).mkdir(parents=True)
        (fake / folder / "__init__.py").write_text("")
    target = fake / ("providers" if "providers/" in rule else "build") / "bad.py"
    target.write_text(source)
    found = violations(target, fake)
    assert any(rule in v for v in found), found


def test_the_architecture_notes_name_every_part_and_rule():
    """docs/architecture.md is the map: every stage folder appears in its tree and its rules table."""
    notes = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    on_disk = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert on_disk == set(STAGES), "a folder was added or removed: update STAGES, RULES and docs/architecture.md"
    for stage in STAGES:
        assert f"  {stage}/ " in notes, f"docs/architecture.md: the folder tree does not list {stage}/"
        assert f"| `{stage}/` |" in notes, f"docs/architecture.md: the import rules table has no row for {stage}/"
