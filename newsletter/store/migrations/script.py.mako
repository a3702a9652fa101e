"""${message}"""

from newsletter.store.migrations import run

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None

SQLITE = """
"""

POSTGRESQL = """
"""


def upgrade() -> None:
    from alembic import op

    run(op, sqlite=SQLITE, postgresql=POSTGRESQL)
