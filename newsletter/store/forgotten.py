"""Erased addresses, kept only as keyed hashes so a later import cannot add the person back.

The key is NEWSLETTER_SECRET when set; otherwise a random key created once per database and kept
in ``subscriber_meta``. Lookups try every key available, so hashes written before the secret was
set still match afterwards. Changing NEWSLETTER_SECRET once it has been used makes its hashes
unmatchable: keep it stable. The hashed text is the lower-cased normalized address (its key).
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


def add(conn: sqlite3.Connection, key: str, at: str, env: Mapping[str, str] | None = None) -> None:
    digest = _digest(_write_key(conn, env), key)
    conn.execute("INSERT OR IGNORE INTO forgotten (email_hash, forgotten_at) VALUES (?, ?)", (digest, at))


def contains(conn: sqlite3.Connection, key: str, env: Mapping[str, str] | None = None) -> bool:
    test = matcher(conn, env)
    return test is not None and test(key)


def remove(conn: sqlite3.Connection, key: str, env: Mapping[str, str] | None = None) -> None:
    digests = [_digest(k, key) for k in _read_keys(conn, env)]
    conn.executemany("DELETE FROM forgotten WHERE email_hash = ?", [(d,) for d in digests])


def matcher(conn: sqlite3.Connection, env: Mapping[str, str] | None = None) -> Callable[[str], bool] | None:
    """A fast membership test for many keys (imports), or None when nobody was ever forgotten."""
    hashes = {row[0] for row in conn.execute("SELECT email_hash FROM forgotten")}
    if not hashes:
        return None
    keys = _read_keys(conn, env)
    return lambda key: any(_digest(k, key) in hashes for k in keys)


def _digest(hash_key: bytes, key: str) -> str:
    return hmac.new(hash_key, key.encode("utf-8"), hashlib.sha256).hexdigest()


def _env_key(env: Mapping[str, str] | None) -> bytes | None:
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


def _write_key(conn: sqlite3.Connection, env: Mapping[str, str] | None) -> bytes:
    return _env_key(env) or _db_key(conn, create=True)  # type: ignore[return-value]


def _read_keys(conn: sqlite3.Connection, env: Mapping[str, str] | None) -> list[bytes]:
    return [k for k in (_env_key(env), _db_key(conn, create=False)) if k]
