"""Benchmark of the build stage. Prints figures; asserts nothing (targets are printed beside them).

    python bench/build.py [--runs 200] [--cli-runs 10] [--issue PATH] [--node-mjml PATH]

(a) load + render + compile of one issue in this process: the cold first call (lazy imports of
    Jinja2, PyYAML, markdown-it, mjml; the Markdown parser and the Jinja environment are cached
    after it), then the median and p95 over --runs warm runs, with a per-stage breakdown.
    Target: median < 30 ms.
(b) the whole `newsletter build` process against the Node reference compiler (npm package mjml,
    `mjml in.mjml -o out.html`) compiling the same, already-rendered MJML alone: the two commands
    alternated, --cli-runs pairs, each process's wall time and CPU time (user + system, from
    wait4), and the ratios of the medians. Target (issue 14): ours at least 2.5x faster in CPU
    time (the issue's own measure; the wall ratio is printed beside it). `build` writes its three
    files atomically (temporary file, rename) without an fsync: they are made again by building again.
    Our process runs with bytecode caching allowed (PYTHONDONTWRITEBYTECODE removed from its
    environment, after one warm-up run writes the cache): an installed package has its bytecode,
    and recompiling our modules on every run is not what a user pays.
    Node's mjml is not a dependency; install it for the benchmark only, outside the repository:
        npm install --prefix /tmp/nl-bench-node mjml@4
    and pass --node-mjml /tmp/nl-bench-node/node_modules/.bin/mjml (that path is the default).
(c) start-up: `newsletter --help` wall time (target <= 110 ms), the import time of newsletter.cli,
    and which heavy modules `--help` imports (none expected; tests/test_cli_startup.py checks it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ISSUE = REPO / "issues" / "2026-11-mdma-assisted-therapy.md"
DEFAULT_NODE_MJML = Path("/tmp/nl-bench-node/node_modules/.bin/mjml")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(func, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def wall(cmd: list[str], runs: int, cwd: Path, env: dict | None = None) -> tuple[list[float], subprocess.CompletedProcess]:
    samples, done = [], None
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return samples, done


def run_once(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of cmd: CPU is the child's user + system time (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    proc.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime


def with_bytecode(env: dict | None = None) -> dict:
    """The environment with bytecode caching allowed (see (b) in the docstring)."""
    out = dict(os.environ if env is None else env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def line(label: str, samples: list[float], target: str = "") -> None:
    print(f"  {label:<44} median {ms(statistics.median(samples))}   p95 {ms(p95(samples))}   (n={len(samples)}){target}")


def in_process(issue_path: Path, runs: int):
    print(f"(a) in process: load + render + compile of {issue_path.name}")
    start = time.perf_counter()
    from newsletter.config import load_settings

    settings = load_settings(REPO / "newsletter.toml", env={})
    config_time = time.perf_counter() - start

    from newsletter.build.issue import load_issue
    from newsletter.build.render import render_issue

    start = time.perf_counter()
    compiled = render_issue(load_issue(issue_path), settings)
    cold = time.perf_counter() - start
    print(f"  import config + load newsletter.toml         {ms(config_time)}")
    print(f"  cold first call (lazy imports, caches empty) {ms(cold)}")

    def full():
        render_issue(load_issue(issue_path), settings)

    timed(full, 10)  # warm-up
    samples = timed(full, runs)
    med = statistics.median(samples)
    line("warm load + render + compile", samples, f"   target < 30 ms: {'met' if med < 0.030 else 'NOT met'}")

    # Per stage, on the same inputs.
    from newsletter.build import render as render_mod
    from newsletter.build.markdown import Theme, render_body
    from newsletter.build.render import compile_mjml

    issue = load_issue(issue_path)
    theme = Theme(text=settings.brand.text_color, link=settings.brand.link_color, accent=settings.brand.primary_color)
    body = render_body(issue.body, issue.path, issue.body_line, theme)
    context = render_mod._context(issue, settings, body)
    env = render_mod._environment(settings.templates_dir)
    stage_runs = max(20, runs // 2)
    line("  stage: load_issue (YAML + checks)", timed(lambda: load_issue(issue_path), stage_runs))
    line("  stage: Markdown -> MJML blocks + text", timed(lambda: render_body(issue.body, issue.path, issue.body_line, theme), stage_runs))
    line(
        "  stage: Jinja2 (MJML + text templates)",
        timed(lambda: (env.get_template("email.mjml.j2").render(context), env.get_template("email.txt.j2").render(context)), stage_runs),
    )
    mjml_samples = timed(lambda: compile_mjml(compiled.mjml, settings.templates_dir / "email.mjml.j2"), stage_runs)
    line("  stage: mjml-python compile", mjml_samples)
    print(f"  sizes: MJML {len(compiled.mjml):,} B, HTML {len(compiled.html.encode()):,} B, text {len(compiled.text.encode()):,} B")
    return compiled, settings, statistics.median(mjml_samples)


def cli_versus_node(issue_path: Path, compiled, runs: int, node_mjml: Path | None, mjml_python_median: float) -> None:
    print(f"\n(b) whole process: `newsletter build` vs Node `mjml in.mjml -o out.html`, alternated, {runs} pairs")
    script = Path(sys.executable).with_name("newsletter")
    if not script.exists():
        script = Path(shutil.which("newsletter") or "newsletter")
    env = with_bytecode()
    with tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp:
        tmp_path = Path(tmp)
        cmd = [str(script), "--config", str(REPO / "newsletter.toml"), "build", str(issue_path), "--out", str(tmp_path / "out")]
        run_once(cmd, REPO, env)  # warm the file cache, the bytecode and Jinja2's template cache
        floor_script = tmp_path / "typer_floor.py"
        floor_script.write_text(
            "import typer\napp = typer.Typer()\n\n@app.command()\ndef build(issue: str, out: str = '') -> None:\n    pass\n\n"
            "@app.command()\ndef new(title: str) -> None:\n    pass\n\napp()\n",
            encoding="utf-8",
        )
        floor, _ = wall([sys.executable, str(floor_script), "build", "x", "--out", "y"], runs, REPO, env)

        if node_mjml is None or not node_mjml.exists():
            ours = [run_once(cmd, REPO, env) for _ in range(runs)]
            pair_lines("newsletter build (load, render, compile, write 3 files)", ours)
            line("  for scale: an empty two-command Typer app (wall)", floor)
            print(
                "  Node mjml: not found"
                + (f" at {node_mjml}" if node_mjml else "")
                + ". Install it for the benchmark only (not a dependency):\n"
                "      npm install --prefix /tmp/nl-bench-node mjml@4\n"
                "  then run again (or pass --node-mjml PATH/node_modules/.bin/mjml)."
            )
            return
        mjml_file = tmp_path / "in.mjml"
        mjml_file.write_text(compiled.mjml, encoding="utf-8")
        node_cmd = [str(node_mjml), str(mjml_file), "-o", str(tmp_path / "node-out.html")]
        version = subprocess.run([str(node_mjml), "--version"], capture_output=True, text=True).stdout.split()
        run_once(node_cmd, tmp_path)
        ours, node = [], []
        for _ in range(runs):  # alternated, so both meet the same load on the machine
            ours.append(run_once(cmd, REPO, env))
            node.append(run_once(node_cmd, tmp_path))
        pair_lines("newsletter build (load, render, compile, write 3 files)", ours)
        pair_lines(f"node mjml {' '.join(version[-1:])} (compile the rendered MJML only)", node)
        line("  for scale: an empty two-command Typer app (wall)", floor)
        for what, k in (("CPU", 1), ("wall", 0)):
            ratio = statistics.median(n[k] for n in node) / statistics.median(o[k] for o in ours)
            target = f"   target >= 2.5x: {'met' if ratio >= 2.5 else 'NOT met'}" if what == "CPU" else ""
            print(f"  ratio ({what} time): node / ours = {ratio:.2f}x{target}")
        node_html = (tmp_path / "node-out.html").stat().st_size
        print(f"  (compile alone in process, mjml-python: {ms(mjml_python_median).strip()}; Node's HTML {node_html:,} B vs ours {len(compiled.html.encode()):,} B)")


def pair_lines(label: str, samples: list[tuple[float, float]]) -> None:
    line(f"{label}, wall", [w for w, _ in samples])
    line(f"{label}, CPU", [c for _, c in samples])


def startup(runs: int) -> None:
    print(f"\n(c) start-up (median of {runs})")
    script = Path(sys.executable).with_name("newsletter")
    if not script.exists():
        script = Path(shutil.which("newsletter") or "newsletter")
    bare, _ = wall([sys.executable, "-c", "pass"], runs, REPO)
    line("python -c pass (interpreter alone)", bare)
    helps, _ = wall([str(script), "--help"], runs, REPO, with_bytecode())
    med = statistics.median(helps)
    line("newsletter --help", helps, f"   target <= 110 ms: {'met' if med <= 0.110 else 'NOT met'}")
    code = "import time; t = time.perf_counter(); import newsletter.cli; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=with_bytecode()).stdout) for _ in range(runs)]
    line("import newsletter.cli (in the process)", imports)
    heavy = "rich pydantic jinja2 mjml markdown_it yaml requests email_validator sqlite3".split()
    check = (
        "import sys\nsys.argv = ['newsletter', '--help']\nfrom newsletter.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(m for m in %r if m in sys.modules), file=sys.stderr)" % heavy
    )
    eager = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stderr.strip()
    print(f"  heavy modules imported by `newsletter --help`: {eager or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issue", type=Path, default=DEFAULT_ISSUE)
    parser.add_argument("--runs", type=int, default=200, help="warm in-process runs (default 200)")
    parser.add_argument("--cli-runs", type=int, default=10, help="subprocess runs per command (default 10)")
    parser.add_argument("--node-mjml", type=Path, default=Path(os.environ.get("NODE_MJML", DEFAULT_NODE_MJML)))
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs\n")
    compiled, _settings, mjml_median = in_process(args.issue.resolve(), args.runs)
    cli_versus_node(args.issue.resolve(), compiled, args.cli_runs, args.node_mjml, mjml_median)
    startup(args.cli_runs)


if __name__ == "__main__":
    main()
