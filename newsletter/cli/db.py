"""``newsletter db ...``: the database itself (its schema)."""

from __future__ import annotations

import typer

from . import app, out_console, run_guarded, state

db_app = typer.Typer(name="db", help="The database itself: bring its schema up to date.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade() -> None:
    """Apply the schema migrations this version needs, in place and in one transaction (back the
    database up first). Every other command refuses a database that is behind."""
    from ..store.migrate import upgrade_database

    settings = run_guarded(state.settings)
    before, after = run_guarded(upgrade_database, settings)
    where = str(settings.database)
    if before == after:
        out_console().print(f"{where}: the schema is up to date (revision {after}).", markup=False)
    else:
        out_console().print(f"{where}: upgraded the schema from revision {before or 'none'} to {after}.", markup=False)
