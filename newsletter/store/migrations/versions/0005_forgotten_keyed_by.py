"""Erasure hashes keyed by the database (migration 5 of the old registry)."""

from newsletter.store.migrations import run

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Which key made each erasure hash (store/forgotten.py): rows from before this migration may have
# been keyed with NEWSLETTER_SECRET ('legacy'); new rows use the database's own key ('database').

SQLITE = """
ALTER TABLE forgotten ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'legacy';
"""

POSTGRESQL = """
ALTER TABLE forgotten ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'legacy';
"""


def upgrade() -> None:
    from alembic import op

    run(op, sqlite=SQLITE, postgresql=POSTGRESQL)
