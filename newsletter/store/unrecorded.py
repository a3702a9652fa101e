"""Results the ledger could not take: the side journal ``<database>.unrecorded.jsonl``.

When the database stays locked or full past the busy timeout, the outcomes of batches the
provider already answered are appended here (one JSON line per ledger row, fsynced) instead of
being lost, so a message the provider accepted is never left ``unknown`` because a ledger write
failed. The next ``send`` or ``status`` writes them into the ledger first (``replay``) and
removes the file. Replaying twice changes nothing: a row only moves on from ``sending`` (or,
for a known answer, from ``unknown``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Sequence

from .. import clock
from ..errors import StoreError
from ..models import SendResult
from .db import transaction, write

# Which ledger states a journal line may replace: an answer the provider gave beats "in doubt".
REPLACES = {"accepted": ("sending", "unknown"), "rejected": ("sending", "unknown"), "unknown": ("sending",), "pending": ("sending",)}


def journal_path(conn: sqlite3.Connection) -> Path:
    """Beside the SQLite file; on PostgreSQL a local file of the sending machine
    (``PgConnection.journal``, in the folder of ``[storage] database``)."""
    return getattr(conn, "journal", None) or Path(f"{getattr(conn, 'path', 'database')}.unrecorded.jsonl")


def keep(conn: sqlite3.Connection, outcomes: Sequence[tuple[int, str, SendResult | None, str | None]]) -> Path:
    """Append (delivery id, state, result, detail) outcomes to the journal, durably."""
    path = journal_path(conn)
    data = "".join(
        json.dumps(
            {
                "id": did, "state": state, "provider_message_id": r.provider_message_id if r else None,
                "code": r.code if r else None, "detail": (r.detail if r else None) or detail, "at": clock.timestamp(),
            },
            sort_keys=True,
        ) + "\n"
        for did, state, r, detail in outcomes
    ).encode()
    try:
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _sync_folder(path.parent)
    except OSError as err:
        raise StoreError(
            f"{path}: cannot keep the results the ledger could not take: {err.strerror}",
            hint="Free disk space beside the database; the recipients of the last batches stay 'unknown' until "
            "'newsletter status ISSUE' or the provider's activity log settles them.",
        ) from err
    return path


def replay(conn: sqlite3.Connection) -> int:
    """Write the journal's results into the ledger and remove it; how many rows it changed."""
    path = journal_path(conn)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    except OSError as err:
        raise StoreError(f"{path}: cannot read the results kept beside the ledger: {err.strerror}", hint="Check the file's permissions.") from err
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash while it was written: its rows stay 'sending'

    def apply() -> int:
        changed = 0
        with transaction(conn):
            for e in entries:
                allowed = REPLACES.get(e.get("state"), ())
                if not allowed:
                    continue
                changed += conn.execute(
                    "UPDATE deliveries SET state = ?, provider_message_id = COALESCE(?, provider_message_id), error_code = ?, error_detail = ?, updated_at = ? "
                    f"WHERE id = ? AND state IN ({', '.join('?' * len(allowed))})",
                    (e["state"], e.get("provider_message_id"), e.get("code"), e.get("detail"), e.get("at") or clock.timestamp(), e["id"], *allowed),
                ).rowcount
        return changed

    changed = write(conn, apply)
    path.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return changed


def _sync_folder(folder: Path) -> None:
    """A created or removed file survives a power cut only once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
