"""The default provider: writes each message as an ``.eml`` file instead of sending it.

Needs no account. ``[providers.outbox] directory`` (the send loop passes ``[paths] outbox``
unless it is set) gets one folder per issue (``msg.tag``) and one file per recipient,
``<subscriber_id>-<address>.eml``, written atomically (``files.atomic_write``), so a crash
never leaves half a message and a re-run simply rewrites the same file.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import ConfigError, FileError, ProviderRequestError
from ..files import atomic_write, real_folder
from ..mime import to_bytes
from ..models import OutgoingMessage, SendResult, Suppression
from ..options import Option
from .base import AcceptedRecord, SearchResult

UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
UNTAGGED = "untagged"


def safe_name(value: str) -> str:
    """A file-name-safe form of a tag or address (no separators, no leading dot)."""
    return UNSAFE.sub("_", value).lstrip(".") or "_"


class OutboxProvider:
    name = "outbox"
    options = (
        Option("directory", "path", None, "the folder the .eml files are written to (default: [paths] outbox)"),
        Option("batch_size", "integer", 100, "messages per batch", min=1, max=100),
    )
    # Resending writes the same file again (same name, same content but the Date header), so
    # a retry can never produce a second copy: the idempotency key is honoured by construction.
    honours_idempotency_key = True
    search_grace_seconds = 0.0  # the folder listing is exact at once: no index to wait for

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        if options["directory"] is None:
            raise ConfigError(
                "[providers.outbox] directory is required",
                hint="Set [paths] outbox in newsletter.toml (the send command passes it here).",
            )
        self.directory: Path = options["directory"]
        self.max_batch: int = options["batch_size"]

    def folder(self, tag: str | None) -> Path:
        return self.directory / safe_name(tag or UNTAGGED)

    def destination(self, tag: str) -> str:
        return str(self.folder(tag))

    @staticmethod
    def file_name(msg: OutgoingMessage) -> str:
        return f"{msg.subscriber_id}-{safe_name(msg.rcpt)}.eml"

    def send(self, batch: Sequence[OutgoingMessage]) -> Sequence[SendResult]:
        results = []
        for msg in batch:
            try:
                data = to_bytes(msg)
            except Exception as err:  # noqa: BLE001 - the email package's many errors: nothing was written
                results.append(SendResult("rejected", code="invalid-message", detail=f"{msg.rcpt}: the message cannot be built: {err}"))
                continue
            try:
                path = self._real_folder(msg.tag) / self.file_name(msg)
                self._write(path, data)
            except ProviderRequestError as err:
                err.partial_results = tuple(results)  # the files before this one are written
                raise
            results.append(SendResult("accepted", provider_message_id=msg.message_id, location=str(path)))
        return results

    def _real_folder(self, tag: str | None) -> Path:
        """The issue's folder, refused when it or the outbox is a symbolic link: the batch stops
        with the link named and goes back to pending (nothing was written)."""
        try:
            real_folder(self.directory, "the outbox folder")
            return real_folder(self.folder(tag), "the issue's outbox folder")
        except FileError as err:
            raise ProviderRequestError(f"outbox: {err.message}", hint=err.hint) from err

    def _write(self, path: Path, data: bytes) -> None:
        try:
            with atomic_write(path, private=True) as out:
                out.write(data)
        except OSError as err:
            # Nothing of this file was written (os.replace is atomic). A local folder that refuses
            # a file (read-only, full, gone) refuses the next one too: the run stops with the cause.
            raise ProviderRequestError(
                f"outbox: {path.parent}: cannot write {path.name}: {err.strerror or err}",
                hint="Make the outbox folder writable (or free disk space), then run the same send command again; "
                "the recipients not written are still pending.",
            ) from err

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult:
        """Every file of the issue written in [since, until] (by modification time): the folder
        is on this machine, read whole, so the answer is complete and exactly that window."""
        since, until = _aware(since), _aware(until)
        return SearchResult(tuple(self._records(self.folder(tag), since.timestamp(), until.timestamp())), since, until)

    def _records(self, folder: Path, start: float, end: float) -> Iterator[AcceptedRecord]:
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.eml")):
            if path.name.startswith(".") or not start <= path.stat().st_mtime <= end:
                continue
            headers = _read_headers(path)
            message_id = str(headers["Message-ID"]) if headers["Message-ID"] else None
            yield AcceptedRecord(
                email=parseaddr(str(headers.get("To", "")))[1],
                provider_message_id=message_id,
                metadata={"subscriber_id": path.name.partition("-")[0]},
                message_id=message_id,
            )

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        return ()  # nothing is delivered, so nothing ever bounces

    def close(self) -> None:
        pass


def _read_headers(path: Path) -> EmailMessage:
    """The header block only (up to the first empty line): bodies can be large."""
    lines = []
    with path.open("rb") as f:
        for line in f:
            if line in (b"\r\n", b"\n"):
                break
            lines.append(line)
    return BytesHeaderParser(policy=default_policy).parsebytes(b"".join(lines))  # type: ignore[return-value]


def _aware(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the ledger stores UTC)."""
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
