"""The database schema as an explicit, ordered list of migrations.

``db.migrate`` applies each pending one in a transaction together with its version record. A new
table or column is a new entry at the end; an applied entry is never edited.
"""

from __future__ import annotations

SUBSCRIBERS = """
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the send ledger refers to ids
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,               -- lower-cased email: uniqueness ignores case
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active','pending','unsubscribed','bounced','complained')),
    consent_source TEXT NOT NULL,
    consented_at TEXT NOT NULL,
    consent_form TEXT,
    consent_ip TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (email_key);
CREATE INDEX subscribers_status ON subscribers (status, id);
CREATE TABLE subscriber_tags (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    tag TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (subscriber_id, tag)
) WITHOUT ROWID;
CREATE INDEX subscriber_tags_tag ON subscriber_tags (tag, subscriber_id);
CREATE TABLE subscriber_events (
    id INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, id);
CREATE TABLE forgotten (
    email_hash TEXT PRIMARY KEY,           -- HMAC-SHA256 of the normalized, lower-cased address
    forgotten_at TEXT NOT NULL
);
CREATE TABLE subscriber_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

SEND_LEDGER = """
CREATE TABLE sends (
    id INTEGER PRIMARY KEY,
    issue_slug TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    provider TEXT NOT NULL,
    segment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    send_id INTEGER NOT NULL REFERENCES sends(id),
    subscriber_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','sending','accepted','rejected','unknown','skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    provider_message_id TEXT,
    error_code TEXT,
    error_detail TEXT,
    sending_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (send_id, subscriber_id)
);
CREATE INDEX deliveries_by_state ON deliveries (send_id, state, id);
CREATE TABLE send_locks (
    issue_slug TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
"""

SIGNUP = """
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

PROVIDER_EVENTS = """
CREATE TABLE provider_events (
    -- One row per webhook record a provider sent; the unique identity (a hash of the record's
    -- type and ids, no address) makes a redelivered record change nothing.
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    identity TEXT NOT NULL,
    record_type TEXT NOT NULL,
    kind TEXT NOT NULL,                    -- delivered, bounced, soft_bounce, complained, unsubscribed...
    issue_slug TEXT,                       -- the issue's tag, when the message carried it
    subscriber_id INTEGER,                 -- NULL: an address not (or no longer) in the list
    occurred_at TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (provider, identity)
);
CREATE INDEX provider_events_issue ON provider_events (issue_slug, kind);
"""

# Which key made each erasure hash (store/forgotten.py): rows from before this migration may have
# been keyed with NEWSLETTER_SECRET ('legacy'); new rows use the database's own key ('database').
FORGOTTEN_KEYED_BY = """
ALTER TABLE forgotten ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'legacy';
"""

APPROVALS = """
CREATE TABLE approvals (
    -- A reviewer's sign-off of one issue's exact content (build/fingerprint.py); the latest row
    -- per issue is the one that counts. Rows are never changed: the history of sign-offs stays.
    id INTEGER PRIMARY KEY,
    issue_slug TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,            -- sha256 over the parts
    parts TEXT NOT NULL,                   -- JSON: part name -> sha256 (to say what changed since)
    body TEXT NOT NULL,                    -- the approved Markdown body (to say which line changed)
    accepted TEXT NOT NULL DEFAULT '[]'    -- JSON list of the finding ids the reviewer accepted
);
CREATE INDEX approvals_issue ON approvals (issue_slug, id);
"""

# (version, description, SQL)
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "subscribers", SUBSCRIBERS),
    (2, "send ledger", SEND_LEDGER),
    (3, "sign-up requests and rate limits", SIGNUP),
    (4, "provider events (webhooks)", PROVIDER_EVENTS),
    (5, "erasure hashes keyed by the database", FORGOTTEN_KEYED_BY),
    (6, "approvals (sign-off of an issue's content)", APPROVALS),
)
