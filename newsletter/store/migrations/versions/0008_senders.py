"""Senders that cooperate: who claimed each ledger row, and the processes sending an issue."""

from newsletter.store.migrations import run

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# deliveries.sender: the process (host:pid) that reserved a pending row, then marked and sent
# it; NULL for a row nobody holds (and for every row written before this revision).
SQLITE = """
ALTER TABLE deliveries ADD COLUMN sender TEXT;
CREATE TABLE send_senders (
    -- Each process sending an issue (the first, and every 'send --join'), with its heartbeat:
    -- a sender whose heartbeat is stale (or whose process is gone, on this host) is dead, and
    -- the rows it held are released (pending) or put in doubt (sending -> unknown).
    issue_slug TEXT NOT NULL,
    sender TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    joined_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    PRIMARY KEY (issue_slug, sender)
);
"""

POSTGRESQL = """
ALTER TABLE deliveries ADD COLUMN sender TEXT;
CREATE TABLE send_senders (
    issue_slug TEXT NOT NULL,
    sender TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    joined_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    PRIMARY KEY (issue_slug, sender)
);
"""


def upgrade() -> None:
    from alembic import op

    run(op, sqlite=SQLITE, postgresql=POSTGRESQL)
