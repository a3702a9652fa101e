"""Sign-up requests and rate limits (migration 3 of the old registry)."""

from newsletter.store.migrations import run

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE = """
CREATE TABLE signup_requests (
    -- The latest unconfirmed sign-up per subscriber; confirming applies it and deletes it.
    subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    requested_at TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '',        -- tags chosen on the form, comma-separated
    consent_version TEXT NOT NULL
);
CREATE TABLE signup_attempts (
    -- Rate limits shared by every web worker. Keyed hashes only (no IP or address in clear),
    -- pruned after a day.
    kind TEXT NOT NULL CHECK (kind IN ('ip','address')),
    key_hash TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX signup_attempts_key ON signup_attempts (kind, key_hash, at);
"""

POSTGRESQL = """
CREATE TABLE signup_requests (
    subscriber_id BIGINT PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    requested_at TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '',
    consent_version TEXT NOT NULL
);
CREATE TABLE signup_attempts (
    kind TEXT NOT NULL CHECK (kind IN ('ip','address')),
    key_hash TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX signup_attempts_key ON signup_attempts (kind, key_hash, at);
"""


def upgrade() -> None:
    from alembic import op

    run(op, sqlite=SQLITE, postgresql=POSTGRESQL)
