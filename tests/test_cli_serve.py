"""`newsletter serve`: started as a real process on a free port, it answers /healthz, keeps tokens
out of its access log, and stops on SIGTERM; a taken port or a bad config is a one-line error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests
from typer.testing import CliRunner

from newsletter.build.personalize import sign_token
from newsletter.cli import app
from newsletter.store import subscribers
from newsletter.store.db import open_store

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")
SECRET = b"test-secret-not-for-production"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> requests.Response:
    """Poll /healthz until it answers (the state), failing early if the process died."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {process.stdout.read()}")
        try:
            return requests.get(f"{url}/healthz", timeout=2)
        except requests.ConnectionError:
            pause.wait(0.05)
    raise AssertionError("serve never answered /healthz")


def test_serve_answers_healthz_and_keeps_tokens_out_of_the_log_then_stops(project, settings):
    conn = open_store(settings)
    sub_id = subscribers.add(conn, "log@example.org", source="test").id
    conn.close()
    port = free_port()
    process = subprocess.Popen(
        [NEWSLETTER, "serve", "--port", str(port)], cwd=project, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        health = wait_until_healthy(url, process)
        assert health.status_code == 200 and health.text == "ok"
        token = sign_token(SECRET, sub_id)
        assert requests.get(f"{url}/u/{token}", timeout=10).status_code == 200
        assert requests.post(f"{url}/u/{token}", data="List-Unsubscribe=One-Click", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert f"Serving {settings.name} at {url}" in output
    assert "/u/[token]" in output and token not in output
    conn = open_store(settings)
    assert subscribers.get(conn, sub_id).status == "unsubscribed"
    conn.close()


def test_an_answered_unsubscribe_survives_the_server_being_killed_at_once(project, settings):
    conn = open_store(settings)
    ids = [subscribers.add(conn, f"k{i}@example.org", source="test").id for i in range(20)]
    conn.close()
    port = free_port()
    process = subprocess.Popen([NEWSLETTER, "serve", "--port", str(port)], cwd=project, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        codes = [requests.post(f"{url}/u/{sign_token(SECRET, i)}", data="List-Unsubscribe=One-Click", timeout=10).status_code for i in ids]
    finally:
        process.kill()  # SIGKILL right after the last answer: no shutdown, no flush
        process.wait(timeout=30)
    assert codes == [200] * len(ids)
    conn = open_store(settings)
    assert set(subscribers.statuses(conn, ids).values()) == {"unsubscribed"}
    conn.close()


def test_a_taken_port_is_a_one_line_error_with_a_hint(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Error: 127.0.0.1:{port}: the port is already in use\nHint: " in result.output


def test_a_bad_config_is_reported_before_anything_listens(project):
    config = project / "newsletter.toml"
    config.write_text(config.read_text().replace('base_url = "https://news.kairoswellness.org"', "base_url = 42"))
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 1 and "Error:" in result.output and "base_url" in result.output and "Traceback" not in result.output


def test_serve_has_help():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output


def test_the_production_app_is_importable_and_built_from_newsletter_config(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # not the project folder: the env var finds it
    code = "import newsletter.web as web; from starlette.applications import Starlette; assert isinstance(web.app, Starlette); print(web.app.state.site.settings.name)"
    env = {**os.environ, "NEWSLETTER_CONFIG": str(project / "newsletter.toml")}
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Kairos Research Notes"
