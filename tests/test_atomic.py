"""atomic.py: a file is replaced whole or not at all, and its errors name the file asked for."""

from __future__ import annotations

import pytest

from datamap_widget.atomic import atomic_open, atomic_paths


def test_a_failed_block_leaves_the_earlier_files_and_no_temporary_file(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(RuntimeError):
        with atomic_paths(tmp_path / "a.txt", tmp_path / "b.txt") as (a, b):
            a.write_text("new a")
            b.write_text("new b")
            raise RuntimeError("stopped before the renames")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old a"
    with atomic_paths(tmp_path / "a.txt", tmp_path / "b.txt") as (a, b):
        a.write_text("new a")
        b.write_text("new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new a"


def test_errors_name_the_target_not_a_temporary_file(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match=f"Is a directory: '{tmp_path / 'folder'}'"):
        with atomic_open(tmp_path / "folder"):
            pass
    with pytest.raises(FileNotFoundError, match="missing/f.txt'"):
        with atomic_open(tmp_path / "missing" / "f.txt"):
            pass
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_open(tmp_path / "f.txt", "a"):
            pass


def test_a_symbolic_link_is_written_through(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with atomic_open(tmp_path / "link.txt", "w") as handle:
        handle.write("new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"
