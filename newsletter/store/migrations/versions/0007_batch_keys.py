"""Batch identities in the send ledger."""

from newsletter.store.migrations import run

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Each delivery row keeps the key of the batch it was last sent in (send/dispatch.py batch_key):
# the same on every retry of that batch, so providers that honour an idempotency key can resend
# an in-doubt batch under it, and others tag the batch with it.

SQLITE = """
ALTER TABLE deliveries ADD COLUMN batch_key TEXT;
"""

POSTGRESQL = """
ALTER TABLE deliveries ADD COLUMN batch_key TEXT;
"""


def upgrade() -> None:
    from alembic import op

    run(op, sqlite=SQLITE, postgresql=POSTGRESQL)
