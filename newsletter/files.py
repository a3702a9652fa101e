"""Writing a file so that a crash never leaves half of it: readers see the old file or the new.

The data goes to a temporary file in the same folder (a rename is atomic only within one file
system), is flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_write(path: Path, mode: str = "wb", *, private: bool = False, **open_args) -> Iterator[IO]:
    """Yield a file open in ``mode`` that replaces ``path`` when the block ends without error.

    ``private``: readable by the owner only (personal data: subscriber files, messages);
    otherwise the usual permissions under the umask. The temporary file is named
    ``.NAME.*.tmp``, so globs for ``*.eml`` or ``*.csv`` skip it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        if not private:
            os.chmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_args) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # Reading the umask means setting it: set a strict one meanwhile, so a file another thread
    # creates in between is never more open than intended.
    current = os.umask(0o077)
    os.umask(current)
    return current
