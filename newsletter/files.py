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
def atomic_write(path: Path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """Yield a file open in ``mode`` that replaces ``path`` when the block ends without error.

    The temporary file is named ``.NAME.*.tmp``, so globs for ``*.eml`` or ``*.csv`` skip it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_args) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
