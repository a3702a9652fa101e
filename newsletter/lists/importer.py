"""Reading subscriber CSV files: the exports of common tools, and our own (see writer.py).

Reading: UTF-8 with or without BOM, else Windows-1252; the delimiter (, ; tab) is sniffed; the
columns are recognised by name through ``COLUMNS`` (Mailchimp, Substack, Buttondown, listmonk and
our plain ``email,first_name,last_name,tags,status``) and status words through ``STATUS_VALUES``.
Invalid rows are rejected with their line and reason; duplicates (ignoring case) are merged into
their first line, the most restrictive status winning so an unsubscribe is never lost. Writing
to the database is ``store.subscriber_import``'s job, in one transaction.

A file is read as a stream (``_Reader``): its encoding is decided by a first pass over the bytes,
then its rows are parsed and validated a chunk at a time, and ``import_file`` hands each chunk to
the store as it comes, so memory does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Sequence

from .. import clock
from ..errors import SubscriberError
from ..file_formats import office_format
from ..recipients import RecipientProblem, clean_name
from ..store.addresses import Address, InvalidAddress, candidate_key, normalize_email
from ..store.subscriber_import import ImportCounts, Incoming, Progress, existing_keys, import_rows
from ..text_files import byte_line_column
from .file_kind import refuse_non_csv, refuse_package
from .writer import unneutralized, write_rejected

# field -> header names that mean it (normalized: lower-case, spaces and hyphens as "_").
# When a file has several of them, the first one listed with a non-empty cell wins.
COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address", "e_mail", "emailaddress", "mail"),
    "first_name": ("first_name", "fname", "firstname", "given_name"),
    "last_name": ("last_name", "lname", "lastname", "surname", "family_name"),
    "name": ("name", "full_name"),  # listmonk: split at the first space
    "tags": ("tags", "tag"),  # separated by , or ; (Mailchimp writes "a","b")
    "status": ("status", "member_status", "subscriber_type", "email_marketing_status"),
    "unsubscribed_at": ("unsub_time",),  # Mailchimp "unsubscribed" export
    "cleaned_at": ("clean_time",),  # Mailchimp "cleaned" export: hard bounces
    "email_disabled": ("email_disabled",),  # Substack: true = no longer emailed
    "reason": ("unsub_reason", "unsub_reason_other", "unsubscribe_reason"),
    "consented_at": ("consented_at", "confirm_time", "optin_time", "created_at", "creation_date", "subscribed_at"),
    "consent_source": ("consent_source",),
    "consent_form": ("consent_form", "signup_form", "referrer_url"),
    "consent_ip": ("consent_ip", "confirm_ip", "optin_ip", "ip_address", "ip"),
}

# status word in a file (normalized like headers) -> our status
STATUS_VALUES: dict[str, str] = {
    "active": "active", "subscribed": "active", "confirmed": "active",
    "pending": "pending", "unconfirmed": "pending",
    "unsubscribed": "unsubscribed", "bounced": "bounced", "complained": "complained",
    # Mailchimp member status
    "cleaned": "bounced", "transactional": "pending", "nonsubscribed": "pending",
    # Buttondown subscriber_type
    "regular": "active", "premium": "active", "trialed": "active", "unpaid": "active", "gifted": "active",
    "churning": "active", "churned": "active", "paused": "active", "past_due": "active",
    "unactivated": "pending", "removed": "unsubscribed", "undeliverable": "bounced",
    # listmonk
    "enabled": "active", "disabled": "unsubscribed", "blocklisted": "unsubscribed",
}  # fmt: skip
NOT_IMPORTED = {"spammy": "marked spammy by the source", "archived": "archived in the source"}

# Which tool wrote the file, for the summary only: (name, a header that gives it away).
FORMATS = (
    ("Mailchimp", "email_address"),
    ("Substack", "active_subscription"),
    ("Buttondown", "subscriber_type"),
    ("listmonk", "attributes"),
)
_RESTRICTIVENESS = {None: 0, "active": 1, "pending": 2, "unsubscribed": 3, "bounced": 4, "complained": 5}
_TRUE = {"true", "t", "yes", "y", "1"}
_TAG_SEPARATOR = re.compile(r"[,;]")
KnownKeys = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    format: str
    encoding: str
    delimiter: str
    header: tuple[str, ...]  # as written in the file
    rows: tuple[Incoming, ...]  # read_import: the merged rows; import_file streams them instead: ()
    rejected: tuple[Rejected, ...]
    duplicates: int
    total: int  # data rows read (blank rows excluded)
    not_utf8_at: tuple[int, int] | None = None  # line, column of the first byte that is not UTF-8
    kept: int = 0  # valid rows after merging duplicates (len(rows) when they are kept)


@dataclass(frozen=True)
class ImportReport:
    parsed: ParsedFile
    counts: ImportCounts
    rejected_path: Path | None
    dry_run: bool

    @property
    def rejected(self) -> tuple[Rejected, ...]:
        return self.parsed.rejected


def import_file(
    conn: sqlite3.Connection,
    path: Path,
    *,
    tags: Sequence[str] = (),
    source: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = 5000,
) -> ImportReport:
    """Read, validate and merge one CSV file, a chunk at a time as it is read, inside one
    transaction: nothing is written to the database unless the whole file goes in. Rejected rows
    go to FILE.rejected.csv (not on a dry run)."""
    reader = _Reader(path)
    counts, duplicates = import_rows(
        conn, reader.chunks(known=lambda keys: existing_keys(conn, keys), size=batch), merge=_merge,
        source=source or f"import:{path.name}", tags=tags, dry_run=dry_run, progress=progress, batch=batch,
    )
    kept = counts.added + counts.updated + counts.unchanged + counts.kept_suppressed
    parsed = reader.parsed((), duplicates, kept)
    rejected_path = None if dry_run else write_rejected(parsed)
    return ImportReport(parsed, counts, rejected_path, dry_run)


def read_import(path: Path, *, known: KnownKeys | None = None) -> ParsedFile:
    """Parse and validate a file, its merged rows kept in memory. ``known(keys)`` may return the
    keys already in the list: those addresses were validated when stored, so they skip the
    (costly) validation again."""
    reader = _Reader(path)
    by_key: dict[str, Incoming] = {}
    duplicates = 0
    for chunk in reader.chunks(known=known):
        for row in chunk:
            if row.key in by_key:
                duplicates += 1
                by_key[row.key] = _merge(by_key[row.key], row)
            else:
                by_key[row.key] = row
    return reader.parsed(tuple(by_key.values()), duplicates, len(by_key))


class _Reader:
    """One import file, read as a stream: its encoding, delimiter and header first, then its
    rows a chunk at a time (``chunks``), counted, with the rejected ones kept aside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.encoding, codec, skip, self.not_utf8_at = _encoding(path)
        csv.field_size_limit(max(csv.field_size_limit(), READ_LIMIT))
        with _text(path, codec, skip) as head:
            self.delimiter = _delimiter(path, head.read(SNIFF_CHARS))
        self._file = _text(path, codec, skip)
        try:
            self._reader = csv.reader(self._file, delimiter=self.delimiter)
            self.header = _header(path, next((row for row in self._reader if any(c.strip() for c in row)), None))
        except BaseException:
            self._file.close()
            raise
        self._where = _locate(tuple(_normal(h) for h in self.header))
        if "email" not in self._where:
            self._file.close()
            raise SubscriberError(
                f"{path}:{self._reader.line_num}: no email column (columns: {', '.join(self.header) or 'none'})",
                hint="Name the address column 'email' or 'Email Address'.",
            )
        self.rejected: list[Rejected] = []
        self.total = 0

    def chunks(self, *, known: KnownKeys | None = None, size: int = 5000) -> Iterator[list[Incoming]]:
        """The valid rows, in file order (an address may repeat), ``size`` lines at a time."""
        try:
            for chunk in _chunks(_records(self.path, self._reader), max(1, size)):
                values = [_values(cells, self._where) for _, cells in chunk]
                self.total += len(chunk)
                # Validating is the costly step: an address already in the list, or seen earlier
                # in this chunk in the same spelling (any case), is not validated again (and
                # store/addresses.py checks each domain once).
                seen: dict[str, str | None] = dict.fromkeys(known([candidate_key(v.get("email", "")) for v in values])) if known else {}
                kept = []
                for (line, cells), row_values in zip(chunk, values, strict=True):
                    row = _row(line, row_values, seen)
                    if isinstance(row, Rejected):
                        self.rejected.append(replace(row, values=tuple(cells)))
                    else:
                        kept.append(row)
                yield kept
        finally:
            self._file.close()

    def parsed(self, rows: tuple[Incoming, ...], duplicates: int, kept: int) -> ParsedFile:
        names = {_normal(h) for h in self.header}
        fmt = next((name for name, marker in FORMATS if marker in names), "plain")
        return ParsedFile(
            self.path, fmt, self.encoding, self.delimiter, self.header, rows, tuple(self.rejected), duplicates, self.total, self.not_utf8_at, kept,
        )


def _records(path: Path, reader) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) for every non-blank row after the header."""
    last_line = reader.line_num
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if any(c.strip() for c in cells):
                yield line, cells
    except csv.Error as err:
        raise SubscriberError(f"{path}:{reader.line_num}: unreadable CSV: {err}", hint="Fix that line and import again.") from err


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------------------- reading helpers


BLOCK = 1 << 20  # bytes read at a time while deciding the encoding
SNIFF_CHARS = 64 * 1024  # the start of the file the delimiter is sniffed from


def _encoding(path: Path) -> tuple[str, str, int, tuple[int, int] | None]:
    """(encoding's name, codec, bytes of byte order mark to skip, the line and column of the first
    byte that is not UTF-8 or None), from a pass over the file's bytes, a block at a time."""
    refuse_package(path)
    try:
        data = path.open("rb")
    except FileNotFoundError:
        raise SubscriberError(f"{path}: file not found", hint="Check the path of the CSV file.") from None
    except OSError as err:
        raise SubscriberError(f"{path}: cannot read: {err.strerror}") from err
    with data:
        try:
            head = data.read(BLOCK)
            if office_format(head, path.suffix) is not None:  # a ZIP's directory is at its end
                refuse_non_csv(path, head + data.read())
            for bom, codec in BOMS:  # Excel's "Unicode text" is UTF-16 with a BOM
                if head.startswith(bom):
                    if _first_undecodable(data, codec, len(bom)) is not None:
                        raise SubscriberError(f"{path}: starts with a {codec[:6].upper()} byte order mark but is not {codec[:6].upper()} text", hint=RESAVE_CSV_HINT)
                    return codec[:6], codec, len(bom), None
            skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0  # UTF-8's byte order mark, as Excel writes it
            bad = _first_undecodable(data, "utf-8", skip)
            if bad is None:
                return "utf-8", "utf-8", skip, None
            data.seek(skip)
            before = data.read(bad + 1)
            line, column = byte_line_column(before, bad)
            if _first_undecodable(data, "cp1252", skip) is not None:
                raise SubscriberError(f"{path}:{line}:{column}: neither UTF-8 nor Windows-1252 text (byte 0x{before[bad]:02x})", hint=RESAVE_CSV_HINT)
            return "windows-1252", "cp1252", skip, (line, column)
        except OSError as err:
            raise SubscriberError(f"{path}: cannot read: {err.strerror}") from err


def _first_undecodable(data: IO[bytes], codec: str, skip: int) -> int | None:
    """The offset (after ``skip``) of the first byte ``codec`` cannot decode, or None."""
    data.seek(skip)
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    while True:
        block = data.read(BLOCK)
        held = len(decoder.getstate()[0])  # bytes of a character split across blocks
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as err:
            return offset - held + err.start
        if not block:
            return None
        offset += len(block)


def _text(path: Path, codec: str, skip: int) -> IO[str]:
    raw = path.open("rb")
    raw.seek(skip)
    return io.TextIOWrapper(raw, encoding=codec, newline="")


RESAVE_CSV_HINT = (
    "Save the file as CSV UTF-8 and import again: Excel: File > Save As, CSV UTF-8 (Comma delimited); "
    "Numbers: File > Export To > CSV..., Text Encoding: Unicode (UTF-8); LibreOffice: File > Save As, Text CSV, "
    "Character set: Unicode (UTF-8); Notepad: File > Save As, Encoding: UTF-8."
)
BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
MAX_CELL = 64 * 1024  # characters; a row with a longer cell is rejected, not the whole file
# The csv module refuses a whole file at its first cell over field_size_limit (128 KB by
# default); read up to this, so a longer cell rejects only its row.
READ_LIMIT = 16 * 1024 * 1024


def _delimiter(path: Path, text: str) -> str:
    """Sniff among , ; and tab; trust the result only if the header then has an email column."""
    if not text.strip():
        raise SubscriberError(f"{path}: the file is empty", hint="Export the list again; expected a header row first.")
    first_line = text.lstrip().splitlines()[0]
    candidates = []
    try:
        candidates.append(csv.Sniffer().sniff(text[:64 * 1024], delimiters=",;\t").delimiter)
    except csv.Error:
        pass  # the sample did not decide: fall back on the header
    candidates += sorted(",;\t", key=first_line.count, reverse=True)
    for delimiter in candidates:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if "email" in _locate(tuple(_normal(h) for h in header)):
            return delimiter
    return candidates[0]


def _header(path: Path, cells: list[str] | None) -> tuple[str, ...]:
    if cells is None:
        raise SubscriberError(f"{path}: the file is empty", hint="Export the list again; expected a header row first.")
    return tuple(c.strip() for c in cells)


def _normal(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().strip('"').strip().lower())


def _locate(header: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """field -> the column indexes that may hold it, in preference order."""
    found = {}
    for name, aliases in COLUMNS.items():
        indexes = tuple(header.index(a) for a in aliases if a in header)
        if indexes:
            found[name] = indexes
    return found


def _values(cells: list[str], where: dict[str, tuple[int, ...]]) -> dict[str, str]:
    """field -> the first non-empty cell among its columns (absent when all are empty)."""
    values, count = {}, len(cells)
    for name, indexes in where.items():
        if name == "status":  # several status columns: the most restrictive wins
            stated = [word for word in (cells[i].strip() for i in indexes if i < count) if word]
            if stated:
                values[name] = stated[0] if len(stated) == 1 else _most_restrictive(stated)
            continue
        for index in indexes:
            if index < count:
                value = unneutralized(cells[index].strip())
                if value:
                    values[name] = value
                    break
    return values


def _row(line: int, values: dict[str, str], seen: dict[str, str | None]) -> Incoming | Rejected:
    """One row checked; ``seen`` maps lower-cased address texts already validated to their key
    (None: the key is that text itself, an address already in the list)."""
    long = max(map(len, values.values()), default=0) > MAX_CELL and next(name for name, value in values.items() if len(value) > MAX_CELL)
    if long:
        return Rejected(line, f"the {long} cell is {len(values[long]):,} characters long (at most {MAX_CELL:,})", ())
    raw = values.get("email")
    if not raw:
        return Rejected(line, "no email address", ())
    text = raw.lower()
    if text in seen:
        address = Address(raw, seen[text] or text)
    else:
        try:
            address = normalize_email(raw)
        except InvalidAddress as err:
            return Rejected(line, str(err), ())
        seen[text] = address.key
    status, problem = _status(values)
    if problem:
        return Rejected(line, problem, ())
    first, last = values.get("first_name", ""), values.get("last_name", "")
    if not (first or last) and "name" in values:
        first, _, last = values["name"].partition(" ")
    try:  # recipients.py: the rules every message follows (separators -> spaces; controls, length refused)
        first = clean_name(first)
    except RecipientProblem as err:
        return Rejected(line, err.reason, ())
    return Incoming(
        line=line,
        email=address.email,
        key=address.key,
        first_name=first,
        last_name=last.strip(),
        tags=_tags(values.get("tags", "")),
        status=status,
        consented_at=_timestamp(values["consented_at"]) if "consented_at" in values else None,
        consent_source=values.get("consent_source"),
        consent_form=values.get("consent_form"),
        consent_ip=values.get("consent_ip"),
        detail=values.get("reason"),
    )


def _status(values: dict[str, str]) -> tuple[str | None, str | None]:
    """(our status or None when the row does not say, a reason to reject the row or None)."""
    stated = None
    if "status" in values:
        stated, problem = _status_word(values["status"])
        if problem:
            return None, problem
    if "unsubscribed_at" in values or values.get("email_disabled", "").lower() in _TRUE:
        stated = max(stated, "unsubscribed", key=_RESTRICTIVENESS.__getitem__)
    if "cleaned_at" in values:
        stated = max(stated, "bounced", key=_RESTRICTIVENESS.__getitem__)
    return stated, None


def _most_restrictive(words: list[str]) -> str:
    """Of several status cells, the one that says the least mailing (an unknown word first, so
    the row is rejected rather than guessed)."""
    read = [(word, *_status_word(word)) for word in words]
    unknown = next((word for word, _, problem in read if problem), None)
    return unknown or max(read, key=lambda r: _RESTRICTIVENESS[r[1]])[0]


@lru_cache(maxsize=256)
def _status_word(text: str) -> tuple[str | None, str | None]:
    word = _normal(text)
    if word in NOT_IMPORTED:
        return None, NOT_IMPORTED[word]
    if word not in STATUS_VALUES:
        return None, f"unknown status '{text}' (use active, pending, unsubscribed, bounced or complained)"
    return STATUS_VALUES[word], None


@lru_cache(maxsize=4096)  # tag cells repeat a lot
def _tags(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    parts = (p.strip().strip("[]").strip().strip("'\"").strip() for p in _TAG_SEPARATOR.split(text))
    seen: dict[str, str] = {}
    for part in parts:
        if part and part.lower() not in seen:
            seen[part.lower()] = part
    return tuple(seen.values())


def _timestamp(text: str) -> str:
    """ISO 8601 UTC when the text is a recognisable date-time (naive means UTC), else as given."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return clock.timestamp(moment)


def _merge(first: Incoming, later: Incoming) -> Incoming:
    """A duplicate line adds what the first lacked; the most restrictive status wins."""
    status = max(first.status, later.status, key=_RESTRICTIVENESS.__getitem__)
    return first._replace(
        first_name=first.first_name or later.first_name,
        last_name=first.last_name or later.last_name,
        tags=first.tags + tuple(t for t in later.tags if t.lower() not in {x.lower() for x in first.tags}),
        status=status,
        consented_at=first.consented_at or later.consented_at,
        consent_source=first.consent_source or later.consent_source,
        consent_form=first.consent_form or later.consent_form,
        consent_ip=first.consent_ip or later.consent_ip,
        detail=first.detail or later.detail,
    )
