"""Approvals: a reviewer's sign-off of one issue's exact content (``newsletter approve``).

Rows are only added: the latest per issue is the one a send compares with, the earlier ones stay
as the history of sign-offs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Mapping, Sequence

from .db import transaction


@dataclass(frozen=True)
class Approval:
    issue_slug: str
    reviewer: str
    approved_at: str  # clock.timestamp()
    content_hash: str
    parts: Mapping[str, str]  # part name -> sha256 (build/fingerprint.py)
    body: str  # the Markdown body as approved
    accepted: tuple[str, ...]  # finding ids the reviewer accepted


def record(conn: sqlite3.Connection, approval: Approval) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO approvals (issue_slug, reviewer, approved_at, content_hash, parts, body, accepted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                approval.issue_slug, approval.reviewer, approval.approved_at, approval.content_hash,
                json.dumps(dict(approval.parts), sort_keys=True), approval.body, json.dumps(list(approval.accepted)),
            ),
        )


def latest(conn: sqlite3.Connection, issue_slug: str) -> Approval | None:
    row = conn.execute("SELECT * FROM approvals WHERE issue_slug = ? ORDER BY id DESC LIMIT 1", (issue_slug,)).fetchone()
    return None if row is None else _approval(row)


def history(conn: sqlite3.Connection, issue_slug: str) -> Sequence[Approval]:
    rows = conn.execute("SELECT * FROM approvals WHERE issue_slug = ? ORDER BY id", (issue_slug,)).fetchall()
    return [_approval(row) for row in rows]


def _approval(row: sqlite3.Row) -> Approval:
    return Approval(
        row["issue_slug"], row["reviewer"], row["approved_at"], row["content_hash"],
        json.loads(row["parts"]), row["body"], tuple(json.loads(row["accepted"])),
    )
