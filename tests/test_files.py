from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.files import PartlyWritten, atomic_write, write_files


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


def test_many_files_are_written_whole_and_private(tmp_path: Path):
    items = [(tmp_path / f"{i}.eml", f"message {i}\n".encode() * 1000) for i in range(5)]
    (tmp_path / "2.eml").write_bytes(b"an older copy")
    write_files(items, private=True)
    assert sorted(os.listdir(tmp_path)) == [f"{i}.eml" for i in range(5)]  # no temporary file left
    for path, data in items:
        assert path.read_bytes() == data and path.stat().st_mode & 0o777 == 0o600


def test_a_failure_part_way_says_how_many_of_the_first_files_are_in_place(tmp_path: Path):
    items = [(tmp_path / "a.eml", b"a"), (tmp_path / "b.eml", b"b"), (tmp_path / "gone" / "c.eml", b"c"), (tmp_path / "d.eml", b"d")]
    with pytest.raises(PartlyWritten) as caught:
        write_files(items)
    assert caught.value.written == 2 and isinstance(caught.value.cause, FileNotFoundError)
    assert sorted(os.listdir(tmp_path)) == ["a.eml", "b.eml"]  # the ones after the failure are not written either
