"""A real PostgreSQL server for the tests: Debian's binaries, ``initdb`` in a temporary folder
owned by an unprivileged user (the server refuses to run as root), on a free port on 127.0.0.1,
stopped and removed at the end of the session.

Each test gets a database of its own, copied from a template already upgraded to the schema's
head (``CREATE DATABASE ... TEMPLATE``: a file copy on the server, some tens of milliseconds).
Without the binaries (``scripts/test.sh`` installs them on Debian) the PostgreSQL cases skip and
say why.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "newsletter_test"
PASSWORD = "pg-test-password-not-for-production"
TEMPLATE = "newsletter_template"
_numbers = itertools.count(1)


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps each major version apart)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    bin: Path
    folder: Path
    port: int
    user: str | None  # who runs it (None: the current user, when not root)
    password: str = PASSWORD

    def url(self, database: str, *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120, cwd=self.folder)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        """Stop (every connection cut) and start again with the same options and log file."""
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "-t", "60", "stop")
        self.start()

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self) -> str:
        """A fresh database at the schema's head, copied from the template."""
        name = f"t{os.getpid()}_{next(_numbers)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return name

    def empty_database(self) -> str:
        name = f"e{os.getpid()}_{next(_numbers)}"
        self.sql(f"CREATE DATABASE {name}")
        return name


def start_server() -> Server:
    """initdb + start; raises RuntimeError with the reason when it cannot."""
    bin_folder = binaries()
    if bin_folder is None:
        raise RuntimeError("PostgreSQL is not installed (bash scripts/test.sh installs Debian's postgresql package)")
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            raise RuntimeError("running as root and there is no 'postgres' user to run the server as") from None
    folder = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    password_file = folder / "pw"
    password_file.write_text(PASSWORD)
    if user:
        os.chown(password_file, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    server = Server(bin_folder, folder, free_port(), user)
    server.run(
        "initdb", "-D", str(folder / "data"), "-U", SUPERUSER, f"--pwfile={password_file}",
        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
    )
    server.start()
    _make_template(server)
    return server


def _make_template(server: Server) -> None:
    from newsletter.store.migrate import upgrade_engine
    from newsletter.store.postgres import engine_for

    server.sql(f"CREATE DATABASE {TEMPLATE}")
    engine = engine_for(server.url(TEMPLATE))
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def remove(server: Server) -> None:
    server.stop("immediate")
    shutil.rmtree(server.folder, ignore_errors=True)
