"""`resolver.atomic`: a file is replaced whole or not at all."""

from __future__ import annotations

import pickle
import stat
from pathlib import Path

import pytest

from resolver.atomic import atomic_write, atomic_write_text


def test_writes_text_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "CURRENT"
    assert atomic_write_text(path, "v1\n") == path
    assert path.read_text(encoding="utf-8") == "v1\n"
    atomic_write_text(path, "v2 — é\n")
    assert path.read_text(encoding="utf-8") == "v2 — é\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["CURRENT"]


def test_a_failure_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half of the new")
        raise RuntimeError("stop")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_nothing_is_visible_before_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "active.json"
    with atomic_write(path) as fh:
        fh.write("{}")
        fh.flush()
        assert not path.exists()
    assert path.read_text(encoding="utf-8") == "{}"


def test_binary_mode_and_csv_newlines(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "cache.pickle", "wb") as fh:
        pickle.dump({"wien": "vienna"}, fh)
    assert pickle.loads((tmp_path / "cache.pickle").read_bytes()) == {"wien": "vienna"}
    with atomic_write(tmp_path / "x.csv", newline="") as fh:
        fh.write("a\r\nb\r\n")
    assert (tmp_path / "x.csv").read_bytes() == b"a\r\nb\r\n"


def test_the_file_is_private(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "secret", "s3cret\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
