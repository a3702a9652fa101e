"""The default provider: writes each message as an ``.eml`` file instead of sending it.

Needs no account. ``[providers.outbox] directory`` (the send loop passes ``[paths] outbox``
unless it is set) gets one folder per issue (the campaign's tag) and one file per recipient,
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
from ..files import PartlyWritten, real_folder, write_files
from ..mime import MimeTemplate, template_for
from ..models import Batch, RecipientValues, SendResult, Suppression
from . import option_specs
from .base import AcceptedRecord, SearchResult

UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
UNTAGGED = "untagged"


def safe_name(value: str) -> str:
    """A file-name-safe form of a tag or address (no separators, no leading dot)."""
    return UNSAFE.sub("_", value).lstrip(".") or "_"


class OutboxProvider:
    name = "outbox"
    options = option_specs.OUTBOX
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
        self._mime: MimeTemplate | None = None

    def folder(self, tag: str | None) -> Path:
        return self.directory / safe_name(tag or UNTAGGED)

    def destination(self, tag: str) -> str:
        return str(self.folder(tag))

    @staticmethod
    def file_name(recipient: RecipientValues) -> str:
        return f"{recipient.subscriber_id}-{safe_name(recipient.rcpt)}.eml"

    def send(self, batch: Batch) -> Sequence[SendResult]:
        """Each message built by the shared template (mime.py) and written as its own file; the
        batch's files are flushed to disk together (``files.write_files``)."""
        self._mime = template_for(self._mime, batch.campaign)
        if not len(batch):
            return []
        folder = self._real_folder(batch.campaign.tag)
        results: list[SendResult | None] = []
        files: list[tuple[Path, bytes]] = []
        for recipient in batch:
            try:
                data = self._mime.render(recipient)
            except Exception as err:  # noqa: BLE001 - the email package's many errors: nothing is written
                results.append(SendResult("rejected", code="invalid-message", detail=f"{recipient.rcpt}: the message cannot be built: {err}"))
                continue
            path = folder / self.file_name(recipient)
            files.append((path, data))
            results.append(SendResult("accepted", provider_message_id=recipient.message_id, location=str(path)))
        try:
            write_files(files, private=True)
        except PartlyWritten as err:
            # Nothing after the first file not written is settled; the results before it are.
            written = _settled_before(results, err.written)
            path = files[err.written][0]
            raise ProviderRequestError(
                f"outbox: {path.parent}: cannot write {path.name}: {err.strerror or err.cause}",
                hint="Make the outbox folder writable (or free disk space), then run the same send command again; "
                "the recipients not written are still pending.",
                partial_results=tuple(written),
            ) from err.cause
        return results

    def _real_folder(self, tag: str | None) -> Path:
        """The issue's folder, refused when it or the outbox is a symbolic link: the batch stops
        with the link named and goes back to pending (nothing was written)."""
        try:
            real_folder(self.directory, "the outbox folder")
            return real_folder(self.folder(tag), "the issue's outbox folder")
        except FileError as err:
            raise ProviderRequestError(f"outbox: {err.message}", hint=err.hint) from err

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


def _settled_before(results: list[SendResult], written: int) -> list[SendResult]:
    """The results up to the ``written``-th accepted one (rejections before it included)."""
    out: list[SendResult] = []
    accepted = 0
    for result in results:
        if result.status == "accepted":
            if accepted == written:
                break
            accepted += 1
        out.append(result)
    return out


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
