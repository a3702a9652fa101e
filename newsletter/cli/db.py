"""``newsletter db ...``: the database itself (its schema)."""

from __future__ import annotations

import typer

from . import app, out_console, report_error, run_guarded, state

db_app = typer.Typer(name="db", help="The database itself: bring its schema up to date, move the list to PostgreSQL.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade() -> None:
    """Apply the schema migrations this version needs, in place and in one transaction (back the
    database up first). Every other command refuses a database that is behind."""
    from ..store.migrate import upgrade_database

    settings = run_guarded(state.settings)
    before, after = run_guarded(upgrade_database, settings)
    where = settings.database_shown
    if before == after:
        out_console().print(f"{where}: the schema is up to date (revision {after}).", markup=False)
    else:
        out_console().print(f"{where}: upgraded the schema from revision {before or 'none'} to {after}.", markup=False)


@db_app.command()
def copy(
    to: str = typer.Option(..., "--to", metavar="URL", help="The empty PostgreSQL database: postgresql://user@host:5432/database (password from PGPASSWORD or ~/.pgpass)."),
) -> None:
    """Copy the SQLite list, its history, consent and erasure records, approvals and send ledgers
    into an empty PostgreSQL database, in one transaction, and check the counts. Refuses a target
    that holds rows. Then set [storage] url (or NEWSLETTER_DATABASE_URL) to use it."""
    from ..storage_url import BadURL, check_url
    from ..store.copy import copy_to_postgres, open_source

    settings = run_guarded(state.settings)
    try:
        url = check_url(to, password_allowed=True)
    except BadURL as err:
        from ..errors import ConfigError

        report_error(ConfigError(f"--to: {err}", hint="Give the target as postgresql://user@host:5432/database."))
        raise typer.Exit(1) from None
    source = run_guarded(open_source, settings)
    try:
        report = run_guarded(copy_to_postgres, source, url)
    finally:
        source.close()
    console = out_console()
    total = sum(report.rows.values())
    console.print(f"Copied {total:,} rows from {report.source} to {report.target} (counts checked):", markup=False)
    for table, n in report.rows.items():
        if n:
            console.print(f"  {table:18} {n:,}", markup=False)
    console.print("Next: set [storage] url in newsletter.toml (or NEWSLETTER_DATABASE_URL) to this database on every machine.", markup=False)
