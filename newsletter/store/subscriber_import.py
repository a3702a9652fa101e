"""Bulk import into the subscriber list: one transaction, batched statements, no per-row SELECT.

A file is applied as it is read, a chunk at a time, inside that one transaction (``import_rows``):
its rows go first into a temporary table keyed by address (``_Staging``), where a later line of
an address already seen is merged into the first (the caller's ``merge``, the file's rule), then
the merged rows are applied to the list in the order of their first lines, a chunk at a time.
Memory stays flat however long the file; a failure anywhere rolls everything back.

The rules (see README, "Subscribers"):
- a new address is added with the file's status (an ``unsubscribed`` row is stored unsubscribed,
  so it is never mailed) and its consent;
- an existing active/pending record gets the file's names and extra tags, and any suppression the
  file states (an import can suppress, never un-suppress);
- an unsubscribed, bounced or complained record, or an erased (forgotten) address, is never
  touched: unless the row would change nothing, it is counted as "kept suppressed".
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from .. import clock
from . import forgotten
from .db import transaction
from .subscribers import IN_CHUNK, SUPPRESSED, clean_tags, in_chunks


class Incoming(NamedTuple):
    """One valid row of an import file. A named tuple, not a frozen dataclass: one is made for
    every line of a file and again when it comes back from staging, and a frozen dataclass's
    ``__init__`` (a setattr per field) was a fifth of an import's time."""

    line: int
    email: str  # normalized
    key: str  # lower-cased
    first_name: str = ""
    last_name: str = ""
    tags: tuple[str, ...] = ()
    status: str | None = None  # None: the file does not say (new records become active)
    consented_at: str | None = None
    consent_source: str | None = None
    consent_form: str | None = None
    consent_ip: str | None = None
    detail: str | None = None  # e.g. the unsubscribe reason the source gives


@dataclass(frozen=True)
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_suppressed: int = 0


@dataclass(frozen=True, slots=True)
class _Current:
    id: int
    first_name: str
    last_name: str
    status: str
    tags: frozenset[str]  # lower-cased


@dataclass
class _Plan:
    new: list[tuple[Incoming, tuple[str, ...]]] = field(default_factory=list)
    updates: list[tuple] = field(default_factory=list)  # (first, last, status, id)
    tags: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[int, str, str | None]] = field(default_factory=list)  # (id, kind, detail)
    unchanged: int = 0
    kept_suppressed: int = 0


Progress = Callable[[int], None]
Merge = Callable[[Incoming, Incoming], Incoming]  # (first line's row, a later line's) -> one row


def apply_import(
    conn: sqlite3.Connection,
    rows: Sequence[Incoming],
    *,
    source: str,
    tags: Sequence[str] = (),
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = 5000,
) -> ImportCounts:
    """Merge ``rows`` (one per address) into the list atomically; ``progress(rows_written)`` runs
    after each batch (an exception raised there, or anywhere, rolls everything back). ``dry_run``
    only counts."""
    size = max(1, batch)
    counts, _ = import_rows(conn, (rows[i : i + size] for i in range(0, len(rows), size)), source=source, tags=tags, dry_run=dry_run, progress=progress, batch=size)
    return counts


def import_rows(
    conn: sqlite3.Connection,
    chunks: Iterable[Sequence[Incoming]],
    *,
    merge: Merge | None = None,
    source: str,
    tags: Sequence[str] = (),
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = 5000,
) -> tuple[ImportCounts, int]:
    """Apply rows as they come, chunk by chunk, in one transaction: (counts, duplicates merged).

    With ``merge``, rows may repeat an address (within a chunk or across chunks): they are staged
    and merged first (``_Staging``), and applied once the last chunk is in. Without it the rows
    are one per address and each chunk is applied as it comes. ``chunks`` is consumed inside the
    transaction: whatever it raises (a bad line of the file) rolls everything back too."""
    extra = clean_tags(tags)
    at = clock.timestamp()
    # IMMEDIATE (the write lock first): nobody can unsubscribe between our read and our write.
    with transaction(conn, immediate=not dry_run):
        if merge is None:
            return _apply_chunks(conn, chunks, extra, source=source, at=at, dry_run=dry_run, progress=progress, batch=max(1, batch)), 0
        staging = _Staging(conn)
        try:
            duplicates = sum(staging.add(chunk, merge) for chunk in chunks)
            counts = _apply_chunks(conn, staging.rows(max(1, batch)), extra, source=source, at=at, dry_run=dry_run, progress=progress, batch=max(1, batch))
        finally:
            staging.drop()
    return counts, duplicates


def _apply_chunks(conn: sqlite3.Connection, chunks: Iterable[Sequence[Incoming]], extra: tuple[str, ...], *, source: str, at: str, dry_run: bool, progress: Progress | None, batch: int) -> ImportCounts:
    is_forgotten = forgotten.matcher(conn)
    added = updated = unchanged = kept_suppressed = written = 0
    for chunk in chunks:
        plan = _plan(conn, chunk, extra, is_forgotten)
        added, updated = added + len(plan.new), updated + len(plan.updates)
        unchanged, kept_suppressed = unchanged + plan.unchanged, kept_suppressed + plan.kept_suppressed
        if not dry_run:
            written = _write(conn, plan, source=source, at=at, progress=progress, batch=batch, written=written)
    return ImportCounts(added, updated, unchanged, kept_suppressed)


class _Staging:
    """A temporary table of one import's rows, one per address (``key``), in the order of their
    first lines (rowid): a later line of the same address is merged into its row. Lives in the
    connection's temporary database, inside the import's transaction; dropped at the end."""

    FIELDS = ("line", "email", "key", "first_name", "last_name", "tags", "status", "consented_at", "consent_source", "consent_form", "consent_ip", "detail")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute("DROP TABLE IF EXISTS temp.import_rows")
        conn.execute(f"CREATE TEMP TABLE import_rows ({', '.join(f if f != 'key' else 'key TEXT PRIMARY KEY' for f in self.FIELDS)})")

    def add(self, chunk: Sequence[Incoming], merge: Merge) -> int:
        """Stage a chunk; returns how many of its rows were merged into an earlier one."""
        fresh: dict[str, Incoming] = {}
        duplicates = 0
        for row in chunk:
            if row.key in fresh:
                fresh[row.key] = merge(fresh[row.key], row)
                duplicates += 1
            else:
                fresh[row.key] = row
        earlier = self._staged(list(fresh))
        for key, first in earlier.items():
            fresh[key] = merge(first, fresh[key])
            duplicates += 1
        self.conn.executemany(
            f"UPDATE import_rows SET {', '.join(f'{f} = ?' for f in self.FIELDS if f != 'key')} WHERE key = ?",
            [(*_values(fresh[key])[:2], *_values(fresh[key])[3:], key) for key in earlier],
        )
        self.conn.executemany(
            f"INSERT INTO import_rows ({', '.join(self.FIELDS)}) VALUES ({', '.join('?' * len(self.FIELDS))})",
            [_values(row) for key, row in fresh.items() if key not in earlier],
        )
        return duplicates

    def _staged(self, keys: list[str]) -> dict[str, Incoming]:
        found: dict[str, Incoming] = {}
        cursor = self.conn.cursor()
        cursor.row_factory = None
        for part in in_chunks(keys, IN_CHUNK):
            sql = f"SELECT {', '.join(self.FIELDS)} FROM import_rows WHERE key IN ({','.join('?' * len(part))})"
            found.update((row[2], _incoming(row)) for row in cursor.execute(sql, part))
        return found

    def rows(self, size: int) -> Iterator[list[Incoming]]:
        """The merged rows in the order of their first lines, a chunk at a time."""
        cursor = self.conn.cursor()
        cursor.row_factory = None
        last = 0
        while True:
            got = cursor.execute(f"SELECT rowid, {', '.join(self.FIELDS)} FROM import_rows WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, size)).fetchall()
            if not got:
                return
            last = got[-1][0]
            yield [_incoming(row[1:]) for row in got]

    def drop(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("DROP TABLE IF EXISTS temp.import_rows")


def _values(row: Incoming) -> tuple:
    return (*row[:5], _tags_text(row.tags), *row[6:])


def _incoming(values: Sequence) -> Incoming:
    return Incoming._make((*values[:5], _tags_of(values[5]), *values[6:]))


TAG_SEPARATOR = "\x1f"  # the unit separator: a tag that holds one is written as JSON instead


def _tags_text(tags: tuple[str, ...]) -> str:
    """Tags as one text: joined by TAG_SEPARATOR, or a JSON list (starting with '[') when a tag
    holds the separator or the first starts with '[' (rare: the reader strips brackets)."""
    if (tags and tags[0].startswith("[")) or any(TAG_SEPARATOR in t for t in tags):
        return json.dumps(tags)
    return TAG_SEPARATOR.join(tags)


def _tags_of(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(json.loads(text)) if text.startswith("[") else tuple(text.split(TAG_SEPARATOR))


def _plan(conn: sqlite3.Connection, rows: Sequence[Incoming], extra: tuple[str, ...], is_forgotten: Callable[[str], bool] | None) -> _Plan:
    current = _load_current(conn, [r.key for r in rows])
    plan = _Plan()
    for row in rows:
        wanted_tags = clean_tags(row.tags + extra) if extra else row.tags
        known = current.get(row.key)
        if known is not None:
            _plan_existing(plan, known, row, wanted_tags)
        elif is_forgotten is not None and is_forgotten(row.key):
            plan.kept_suppressed += 1
        else:
            plan.new.append((row, wanted_tags))
    return plan


def _plan_existing(plan: _Plan, known: _Current, row: Incoming, wanted_tags: tuple[str, ...]) -> None:
    new_tags = [t for t in wanted_tags if t.lower() not in known.tags]
    first = row.first_name or known.first_name  # an empty cell never erases a name
    last = row.last_name or known.last_name
    renamed = (first, last) != (known.first_name, known.last_name)
    if known.status in SUPPRESSED:
        if (row.status or "active") == known.status and not new_tags and not renamed:
            plan.unchanged += 1
        else:
            plan.kept_suppressed += 1
        return
    status, kind = _status_change(known.status, row.status)
    if not (new_tags or renamed or kind):
        plan.unchanged += 1
        return
    plan.updates.append((first, last, status, known.id))
    if kind:
        plan.events.append((known.id, kind, _detail(row, f"was {known.status}")))
    if renamed:
        plan.events.append((known.id, "updated", _detail(row, "name changed")))
    if new_tags:
        plan.tags += [(known.id, t) for t in new_tags]
        plan.events.append((known.id, "tagged", ", ".join(new_tags)))


def _status_change(current: str, stated: str | None) -> tuple[str, str | None]:
    """(resulting status, event kind or None). Suppression applies; pending -> active only when
    the file says active; an active record is never downgraded to pending."""
    if stated in SUPPRESSED:
        return stated, stated
    if stated == "active" and current == "pending":
        return "active", "confirmed"
    return current, None


def _detail(row: Incoming, what: str | None) -> str:
    return "; ".join(p for p in (what, row.detail, f"line {row.line}") if p)


def _write(conn: sqlite3.Connection, plan: _Plan, *, source: str, at: str, progress: Progress | None, batch: int, written: int = 0) -> int:
    for part in in_chunks(plan.new, batch):
        _insert_new(conn, part, source=source, at=at)
        written += len(part)
        if progress:
            progress(written)
    for part in in_chunks(plan.updates, batch):
        conn.executemany(
            "UPDATE subscribers SET first_name = ?, last_name = ?, status = ?, updated_at = ? WHERE id = ?",
            [(first, last, status, at, sub_id) for first, last, status, sub_id in part],
        )
        written += len(part)
        if progress:
            progress(written)
    conn.executemany("INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag) VALUES (?, ?)", plan.tags)
    _insert_events(conn, plan.events, source=source, at=at)
    return written


def _insert_new(conn: sqlite3.Connection, part: Sequence[tuple[Incoming, tuple[str, ...]]], *, source: str, at: str) -> None:
    before = _last_id(conn)
    conn.executemany(
        "INSERT INTO subscribers (email, email_key, first_name, last_name, status, consent_source, consented_at,"
        " consent_form, consent_ip, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.email, r.key, r.first_name, r.last_name, r.status or "active", r.consent_source or source,
                r.consented_at or at, r.consent_form, r.consent_ip, at, at,
            )
            for r, _ in part
        ],
    )
    ids = _new_ids(conn, part, before)
    conn.executemany(
        "INSERT OR IGNORE INTO subscriber_tags (subscriber_id, tag) VALUES (?, ?)",
        [(sub_id, t) for sub_id, (_, tags) in zip(ids, part, strict=True) for t in tags],
    )
    events = []
    for sub_id, (r, _) in zip(ids, part, strict=True):
        status = r.status or "active"
        events.append((sub_id, "imported", _detail(r, f"as {status}" if status != "active" else None)))
    _insert_events(conn, events, source=source, at=at)


def _last_id(conn: sqlite3.Connection) -> int:
    """The largest id ever used (AUTOINCREMENT never reuses one, even after a forget)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'").fetchone()
    return max(row[0] if row else 0, conn.execute("SELECT COALESCE(MAX(id), 0) FROM subscribers").fetchone()[0])


def _new_ids(conn: sqlite3.Connection, part: Sequence[tuple[Incoming, tuple[str, ...]]], before: int) -> list[int]:
    """Ids of the rows just inserted, in order. We hold the write lock, so AUTOINCREMENT gave
    them before+1, before+2...; checked, and looked up by key should that ever not hold."""
    if _last_id(conn) == before + len(part):
        return list(range(before + 1, before + len(part) + 1))
    by_key = dict(conn.execute("SELECT email_key, id FROM subscribers WHERE id > ?", (before,)).fetchall())
    return [by_key[r.key] for r, _ in part]


def _insert_events(conn: sqlite3.Connection, events: list[tuple[int, str, str | None]], *, source: str, at: str) -> None:
    conn.executemany(
        "INSERT INTO subscriber_events (subscriber_id, at, kind, source, detail) VALUES (?,?,?,?,?)",
        [(sub_id, at, kind, source, detail) for sub_id, kind, detail in events],
    )


def existing_keys(conn: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    """Which of these keys are in the list (any status)."""
    found: set[str] = set()
    for part in in_chunks(list(set(keys)), IN_CHUNK):
        marks = ",".join("?" * len(part))
        found.update(r[0] for r in conn.execute(f"SELECT email_key FROM subscribers WHERE email_key IN ({marks})", part))
    return found


def _load_current(conn: sqlite3.Connection, keys: list[str]) -> dict[str, _Current]:
    """The existing records for these keys, looked up in chunks (the list may be far larger)."""
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: this reads up to one row per line of the file
    rows: dict[str, tuple] = {}
    for part in in_chunks(keys, IN_CHUNK):
        marks = ",".join("?" * len(part))
        sql = f"SELECT email_key, id, first_name, last_name, status FROM subscribers WHERE email_key IN ({marks})"
        rows.update((row[0], row[1:]) for row in cursor.execute(sql, part))
    tags: dict[int, set[str]] = {}
    for part in in_chunks([row[0] for row in rows.values()], IN_CHUNK):
        marks = ",".join("?" * len(part))
        for sub_id, tag in cursor.execute(f"SELECT subscriber_id, tag FROM subscriber_tags WHERE subscriber_id IN ({marks})", part):
            tags.setdefault(sub_id, set()).add(tag.lower())
    return {key: _Current(*row, frozenset(tags.get(row[0], ()))) for key, row in rows.items()}
