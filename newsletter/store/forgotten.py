"""Erased addresses, kept only as keyed hashes so a later import cannot add the person back.

The key belongs to the database, not to NEWSLETTER_SECRET: a random 32-byte key created on the
first ``forget`` and kept in ``subscriber_meta``, so an erasure holds whatever the secret is
later (rotated, or another on a second machine) and travels with a copy of the database. The
hashed text is the lower-cased normalized address (its key).

Before migration 5 a hash was keyed with NEWSLETTER_SECRET when it was set. A keyed hash cannot
be re-keyed without the address it hides, so those rows (``keyed_by = 'legacy'``) are still
honoured: they are tried with the database key and with the current NEWSLETTER_SECRET, which
matches as long as that secret is the one they were made with. New rows are ``'database'``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from typing import Callable, Mapping

from ..config import secret
from ..errors import ConfigError

SECRET_ENV = "NEWSLETTER_SECRET"
_META_KEY = "forget_hash_key"
DATABASE, LEGACY = "database", "legacy"  # forgotten.keyed_by


def add(conn: sqlite3.Connection, key: str, at: str, env: Mapping[str, str] | None = None) -> None:
    digest = _digest(_db_key(conn, create=True), key)  # type: ignore[arg-type]
    conn.execute("INSERT OR IGNORE INTO forgotten (email_hash, forgotten_at, keyed_by) VALUES (?, ?, ?)", (digest, at, DATABASE))


def contains(conn: sqlite3.Connection, key: str, env: Mapping[str, str] | None = None) -> bool:
    test = matcher(conn, env)
    return test is not None and test(key)


def remove(conn: sqlite3.Connection, key: str, env: Mapping[str, str] | None = None) -> None:
    digests = [_digest(k, key) for k in (_db_key(conn, create=False), _env_key(env)) if k]
    conn.executemany("DELETE FROM forgotten WHERE email_hash = ?", [(d,) for d in digests])


def matcher(conn: sqlite3.Connection, env: Mapping[str, str] | None = None) -> Callable[[str], bool] | None:
    """A fast membership test for many keys (imports), or None when nobody was ever forgotten."""
    own: set[str] = set()
    legacy: set[str] = set()
    for digest, keyed_by in conn.execute("SELECT email_hash, keyed_by FROM forgotten"):
        (own if keyed_by == DATABASE else legacy).add(digest)
    if not own and not legacy:
        return None
    db_key = _db_key(conn, create=False)
    legacy_keys = [k for k in (db_key, _env_key(env) if legacy else None) if k]

    def test(key: str) -> bool:
        if db_key is not None and own and _digest(db_key, key) in own:
            return True
        return bool(legacy) and any(_digest(k, key) in legacy for k in legacy_keys)

    return test


def _digest(hash_key: bytes, key: str) -> str:
    return hmac.new(hash_key, key.encode("utf-8"), hashlib.sha256).hexdigest()


def _env_key(env: Mapping[str, str] | None) -> bytes | None:
    """NEWSLETTER_SECRET, only ever to match the rows written before migration 5."""
    try:
        return secret(SECRET_ENV, env, purpose="keyed hashes of erased addresses").encode("utf-8")
    except ConfigError:
        return None


def _db_key(conn: sqlite3.Connection, *, create: bool) -> bytes | None:
    row = conn.execute("SELECT value FROM subscriber_meta WHERE key = ?", (_META_KEY,)).fetchone()
    if row:
        return bytes.fromhex(row[0])
    if not create:
        return None
    fresh = secrets.token_bytes(32)
    conn.execute("INSERT INTO subscriber_meta (key, value) VALUES (?, ?)", (_META_KEY, fresh.hex()))
    return fresh
