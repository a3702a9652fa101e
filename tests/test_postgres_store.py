"""The shared store on PostgreSQL: the URL in the config and the environment, `db upgrade`, and
the faults an operator meets (a wrong password, a server that never answers), each one
`Error:` line without the password. The store's behaviour on both engines is the subject of
the suites marked ``both_engines`` (test_subscribers, test_send, test_web_*...)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import no_sqlite_file
from newsletter.config import load_settings
from newsletter.errors import ConfigError
from newsletter.secrets import Redactor
from newsletter.store import migrations

REPO = Path(__file__).resolve().parent.parent


def set_storage(project: Path, lines: str) -> Path:
    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[storage]\n", f"[storage]\n{lines}\n", 1), encoding="utf-8")
    return config


def cli(project: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "newsletter.cli", *args], cwd=project, env=full, capture_output=True, text=True, timeout=timeout)


# --- configuration ----------------------------------------------------------------------------


def test_a_password_in_the_config_file_is_refused_with_where_it_goes_instead(project):
    config = set_storage(project, 'url = "postgresql://clinic:hunter22@db.example.org/newsletter"')
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert "newsletter.toml:" in refused.value.message and "[storage] url" in refused.value.message
    assert "holds a password" in refused.value.message
    assert "hunter22" not in refused.value.message + (refused.value.hint or "")
    assert "PGPASSWORD" in refused.value.hint


def test_the_url_from_the_file_or_the_environment(project, monkeypatch):
    config = set_storage(project, 'url = "postgresql://clinic@db.example.org:5433/newsletter"')
    assert load_settings(config).database_url == "postgresql://clinic@db.example.org:5433/newsletter"
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "postgresql://staff:from-the-env@127.0.0.1/list")
    settings = load_settings(config)
    assert settings.database_url == "postgresql://staff:from-the-env@127.0.0.1/list"  # the environment may hold it
    assert settings.database_shown == "postgresql://staff:***@127.0.0.1/list"
    assert Redactor.from_env(os.environ)("login failed for from-the-env") == "login failed for [redacted]"


@pytest.mark.parametrize("value", ["mysql://x@h/db", "postgresql://x@h", "sqlite:///data/newsletter.db"])
def test_a_url_that_is_not_postgresql_is_a_located_error(project, monkeypatch, value):
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", value)
    with pytest.raises(ConfigError, match="environment: NEWSLETTER_DATABASE_URL: "):
        load_settings(project / "newsletter.toml")


# --- against the real server -------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_in_an_empty_database_and_commands_wait_for_it(project, pg_server):
    url = pg_server.url(pg_server.empty_database())
    env = {"NEWSLETTER_DATABASE_URL": url}
    before = cli(project, "subscribers", "count", env=env)
    assert before.returncode == 1
    assert "the database schema is behind this version of newsletter (at none" in before.stderr
    assert "newsletter db upgrade" in before.stderr
    upgraded = cli(project, "db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded the schema from revision none to {migrations.HEAD}" in upgraded.stdout
    assert pg_server.password not in upgraded.stdout
    added = cli(project, "subscribers", "add", "ann@example.org", env=env)
    assert added.returncode == 0, added.stderr
    assert "1" in cli(project, "subscribers", "count", env=env).stdout
    assert no_sqlite_file(project)  # nothing was written to a SQLite file anywhere


def test_a_wrong_password_is_one_error_line_without_the_password(project, pg_server):
    database = pg_server.new_database()
    wrong = pg_server.url(database).replace(pg_server.password, "not-the-password-42")
    run = cli(project, "subscribers", "count", env={"NEWSLETTER_DATABASE_URL": wrong})
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert len(errors) == 1 and "the database server refused the login" in errors[0], run.stderr
    assert "not-the-password-42" not in run.stderr + run.stdout
    assert "PGPASSWORD" in run.stderr


def test_the_password_from_pgpassword(project, pg_server):
    url = pg_server.url(pg_server.new_database(), password=False)
    run = cli(project, "subscribers", "count", env={"NEWSLETTER_DATABASE_URL": url, "PGPASSWORD": pg_server.password})
    assert run.returncode == 0, run.stderr


def test_a_server_that_accepts_and_never_answers_is_a_timeout_not_a_hang(project):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:  # take the connection and say nothing
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            url = f"postgresql://clinic:s3cret-pw@127.0.0.1:{port}/newsletter?connect_timeout=2"
            run = cli(project, "subscribers", "count", env={"NEWSLETTER_DATABASE_URL": url}, timeout=60)
        finally:
            stop.set()
            thread.join()
            for conn in held:
                conn.close()
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert run.returncode == 1 and len(errors) == 1, run.stderr
    assert "did not answer in time" in errors[0] and "s3cret-pw" not in run.stderr
    assert held, "the command never connected to the silent server"
