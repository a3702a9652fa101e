"""``newsletter preview --snapshot``: desktop, phone and dark-mode screenshots of the email,
taken by headless Chromium from a preview server on 127.0.0.1 that lives for the snapshot only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .server import PreviewError, open_preview

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_TIMEOUT = 60
# (file, route, width, the preview page's view whose measured height it takes; None: PREVIEW_HEIGHT)
SHOTS = (
    ("desktop.png", "/email.html", 680, "desktop"),
    ("phone.png", "/email.html", 375, "phone"),
    ("dark.png", "/email-dark.html", 680, "desktop"),
    ("phone-dark.png", "/email-dark.html", 375, "dark"),
    ("preview.png", "/", 1280, None),
)
MAX_HEIGHT = 16_000
PREVIEW_HEIGHT = 1000  # the preview page's first screen: the findings, then the views side by side


def find_chromium() -> str:
    for name in (os.environ.get("NEWSLETTER_CHROMIUM"), *CHROMIUM_NAMES):
        found = shutil.which(name) if name else None
        if found:
            return found
    raise PreviewError(
        "chromium: no Chromium or Chrome found on PATH (needed for --snapshot)",
        hint="Install it (Debian/Ubuntu: apt-get install chromium), or set NEWSLETTER_CHROMIUM to the browser's path.",
    )


def chromium_command(exe: str, profile: Path, *args: str) -> list[str]:
    """Headless Chromium that talks to nothing but the URL it is given."""
    base = [exe, "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        base.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    return base + list(args)


def dump_dom(exe: str, url: str, *extra: str, timeout: float = CHROMIUM_TIMEOUT) -> str:
    """The page's DOM after load (its scripts have run), from ``chromium --dump-dom``."""
    with tempfile.TemporaryDirectory(prefix="newsletter-chromium-") as profile:
        command = chromium_command(exe, Path(profile), "--window-size=1500,1000", *extra, "--dump-dom", url)
        try:
            run = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise PreviewError(f"chromium: no answer within {timeout:.0f} s loading {url}", hint="Check that Chromium starts: chromium --headless --dump-dom about:blank") from err
    if run.returncode != 0:
        raise PreviewError(f"chromium: exited with code {run.returncode} loading {url}", hint="Run it by hand to see why: chromium --headless --dump-dom about:blank")
    return run.stdout.decode("utf-8", "replace")


def take_snapshots(issue_path: Path, config_path: Path, out_dir: Path, *extra: str, max_height: int = MAX_HEIGHT) -> list[Path]:
    """Write desktop.png, phone.png, dark.png and phone-dark.png of the email, each as tall as the
    email up to ``max_height`` px (its top part, e.g. for a README), and preview.png of the page."""
    exe = find_chromium()
    server = open_preview(issue_path, config_path, port=0, watch_files=False)
    try:
        state = server.preview.state
        if state.email is None:
            message, hint = state.error or ("the issue does not build", None)
            raise PreviewError(message, hint=hint)
        dom = dump_dom(exe, server.url, *extra)
        heights = {view: int(h) for view, h in re.findall(r'data-(\w+)-height="(\d+)"', dom)}
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="newsletter-shots-") as tmp:
            jobs = []
            for name, route, width, view in SHOTS:
                height = min(heights.get(view, 3000) + 40 if view else PREVIEW_HEIGHT, max_height, MAX_HEIGHT)
                command = chromium_command(exe, Path(tmp) / name, f"--window-size={width},{height}", f"--screenshot={out_dir / name}", *extra, server.url.rstrip("/") + route)
                jobs.append((out_dir / name, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            for path, job in jobs:
                try:
                    job.wait(timeout=CHROMIUM_TIMEOUT)
                except subprocess.TimeoutExpired:
                    job.kill()
                if job.returncode != 0 or not path.is_file():
                    raise PreviewError(f"{path}: chromium did not write the screenshot", hint="Run it by hand: chromium --headless --screenshot=x.png URL")
        return [path for path, _ in jobs]
    finally:
        server.close()
