from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.files import atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path):
    target = tmp_path / "email.html"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w", encoding="utf-8") as out:
        out.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["email.html"]


def test_private_files_are_the_owners_only_and_others_follow_the_umask(tmp_path: Path):
    with atomic_write(tmp_path / "export.csv", private=True) as out:
        out.write(b"email\n")
    with atomic_write(tmp_path / "sub" / "email.txt") as out:
        out.write(b"text\n")
    umask = os.umask(0o077)
    os.umask(umask)
    assert (tmp_path / "export.csv").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "sub" / "email.txt").stat().st_mode & 0o777 == 0o666 & ~umask
