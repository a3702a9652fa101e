"""Hostile issue files through `newsletter build` and `newsletter check`: wall time, peak memory
(the child's maximum resident set) and the first line of stderr. Prints figures; asserts nothing.

    python bench/bad_input.py [--runs 3]

Each input runs as its own process in a throwaway copy of the project, capped at 3 GiB of address
space (issue 9's acceptance: a clean `Error:` within 10 s and 3 GB). Before the limits, the alias
bomb took 4 GB and 56 s to a MemoryError and the deep list ended in a RecursionError traceback.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAD = "---\ntitle: A title\nsubject: A subject\npreheader: A preheader that says what is inside.\ndate: 2026-11-26\n"
LETTERS = "abcdefghi"
INPUTS = {
    "alias bomb (9 levels of 9)": "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    + "".join(f"{new}: &{new} [{', '.join(['*' + old] * 9)}]\n" for old, new in zip(LETTERS, LETTERS[1:], strict=False)),
    "list nested 1,000 deep": "tags: " + "[" * 1000 + "]" * 1000 + "\n",
    "list nested 30,000 deep": "tags: " + "[" * 30_000 + "]" * 30_000 + "\n",
    "300-character slug": "slug: " + "a" * 300 + "\n",
    "64 KB of front matter": "# " + "x" * 65_536 + "\n",
    "form feed in the body": None,
    "malformed merge field": None,
    "the sample issue (for comparison)": None,
}
BODIES = {"form feed in the body": "Ann\x0cSmith pasted from a PDF.\n", "malformed merge field": "Hi {{ first_name },\n"}
CAP = 3 * 1024**3


def cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def run_once(project: Path, args: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS in KB, exit code, first stderr line of one child process."""
    script = Path(sys.executable).with_name("newsletter")
    start = time.perf_counter()
    proc = subprocess.Popen([str(script), *args], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=cap)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so its own peak RSS is known
    wall = time.perf_counter() - start
    proc.stderr.close()
    code, peak = os.waitstatus_to_exitcode(status), usage.ru_maxrss
    first = next((line for line in err.splitlines() if line.startswith(("Error", "Traceback"))), err.splitlines()[0] if err else "")
    return wall, peak, code, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copy(REPO / "newsletter.toml", project / "newsletter.toml")
        shutil.copytree(REPO / "templates", project / "templates")
        (project / "issues").mkdir()
        shutil.copy(REPO / "issues" / "2026-11-mdma-assisted-therapy.md", project / "issues" / "sample.md")
        print(f"{'input':36} {'command':6} {'wall (median)':>14} {'peak RSS':>10}  exit  first line of stderr")
        for n, (name, extra) in enumerate(INPUTS.items()):
            path = project / "issues" / ("sample.md" if extra is None and name not in BODIES else f"bad-{n}.md")
            if path.name != "sample.md":
                path.write_text(HEAD + (extra or "") + "---\n" + BODIES.get(name, "Hello {{ first_name }}.\n"), encoding="utf-8")
            for command in (["build", "--out", "out"], ["check", "--no-spamassassin"]):
                results = [run_once(project, [command[0], str(path.relative_to(project)), *command[1:]]) for _ in range(runs)]
                wall = statistics.median(r[0] for r in results)
                peak = max(r[1] for r in results)
                print(f"{name:36} {command[0]:6} {wall * 1000:11.0f} ms {peak / 1024:7.0f} MB  {results[0][2]:4}  {results[0][3][:90]}")
        print(f"(each process capped at {CAP // 1024**3} GiB of address space; peak RSS includes the interpreter and its imports)")


if __name__ == "__main__":
    main()
