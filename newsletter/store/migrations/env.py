"""Alembic's environment: always given a connection by ``store/migrate.py`` (never a URL from
an .ini file), already inside the one transaction of the whole upgrade."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
