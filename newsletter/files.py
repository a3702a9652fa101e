"""Writing a file so that a crash never leaves half of it, and never through a planted link.

The data goes to a temporary file in the same folder (a rename is atomic only within one file
system), is flushed to disk, then renamed over the target: readers see the old file or the new.
The temporary file is created exclusively and without following a symbolic link
(``O_CREAT | O_EXCL | O_NOFOLLOW``), so a link planted under its name makes the open fail instead
of writing wherever it points; the rename replaces a link at the target itself, never its
target. ``real_folder`` refuses a folder that is itself a symbolic link (the build folder, the
outbox and their per-issue folders).
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import FileError

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
NAME_TRIES = 100  # fresh random names to try when one is taken (by a planted file or link)


@contextmanager
def atomic_write(path: Path, mode: str = "wb", *, private: bool = False, durable: bool = True, **open_args) -> Iterator[IO]:
    """Yield a file open in ``mode`` that replaces ``path`` when the block ends without error.

    ``private``: readable by the owner only (personal data: subscriber files, messages);
    otherwise the usual permissions under the umask. The temporary file is named
    ``.NAME.*.tmp``, so globs for ``*.eml`` or ``*.csv`` skip it. ``durable=False`` skips the
    fsync for output that is made again by running the command again (``build``'s files): the
    rename still leaves the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_exclusive(path, 0o600 if private else 0o666)  # the umask applies to 0o666
    try:
        with os.fdopen(fd, mode, **open_args) as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_exclusive(path: Path, permissions: int) -> tuple[int, Path]:
    """A new temporary file beside ``path``: a name that exists already (a file or a link,
    planted or left over) is never opened, another random name is tried."""
    for _ in range(NAME_TRIES):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, CREATE_FLAGS, permissions), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary file name after {NAME_TRIES} tries")


def real_folder(path: Path, what: str) -> Path:
    """``path`` as a folder (made when missing) that is not a symbolic link: a link there,
    planted or not, could send the files anywhere, so it is refused by name."""
    if path.is_symlink():
        raise FileError(
            f"{path}: {what} is a symbolic link; refusing to write through it",
            hint=f"Remove the link (or set the path to the real folder): files are written only into a real {what}.",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileError(f"{path}: cannot create {what}: {err.strerror or err}", hint="Check the path and its permissions.") from err
    if path.is_symlink() or not path.is_dir():
        raise FileError(f"{path}: {what} is not a folder", hint="Remove what is there, or set the path to a folder.")
    return path


class PartlyWritten(OSError):
    """``write_files`` stopped: the first ``written`` files are in place, the rest are not."""

    def __init__(self, written: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), getattr(cause, "filename", None))
        self.written = written
        self.cause = cause


def write_files(items: list[tuple[Path, bytes]], *, private: bool = False) -> None:
    """``atomic_write`` for many files at once, each whole or not at all, in order: every
    temporary file is written, then all are flushed to disk, then renamed in order. One flush
    to disk after another costs little: the file system's journal commits the data of every
    file written before it (ext4 ordered mode), so a batch pays for about one, not one a file.
    A failure raises ``PartlyWritten`` saying how many of the first files are in place."""
    made: list[tuple[int, Path, Path]] = []
    failure: OSError | None = None
    try:
        for path, data in items:
            fd, tmp = _create_exclusive(path, 0o600 if private else 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:  # this one is not written: it goes, the ones before it stay
                os.close(fd)
                tmp.unlink(missing_ok=True)
                raise
            made.append((fd, tmp, path))
    except OSError as err:
        failure = err
    placed = 0
    try:
        for fd, _, _ in made:  # start every file's write-back now, so the flushes below overlap
            _start_writeback(fd)
        for fd, _, _ in made:
            os.fsync(fd)
        for _, tmp, path in made:
            os.replace(tmp, path)
            placed += 1
    except OSError as err:
        failure = failure or err
    finally:
        for fd, _, _ in made:
            os.close(fd)
        for _, tmp, _ in made[placed:]:
            tmp.unlink(missing_ok=True)
    if failure is not None:
        raise PartlyWritten(placed, failure) from failure


def _start_writeback(fd: int) -> None:
    """Ask the kernel to start writing the file's dirty pages (Linux does for DONTNEED), without
    waiting: a hint only; fsync is still what makes the file durable."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        try:
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
