"""Files that appear whole or not at all: written aside, flushed to disk, then renamed into place.

`atomic_write` is the one way Canon writes a file that a reader may open at any moment (a model
pointer, a calibration table, a label file, an extract, a secret): the content goes to a temporary
file beside the target (same folder, so the rename stays on one file system), is fsynced, and
replaces the target with `os.replace`. A reader sees the old file or the new one, never half of
one; a failure part-way leaves the target untouched and removes the temporary file. The
temporary file is created with mode 0600 (`tempfile.mkstemp`), which the target keeps.

It lives in the resolver, the lowest layer, so that every layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = ["atomic_write", "atomic_write_text"]


@overload
def atomic_write(
    path: Path, mode: Literal["w"] = "w", *, newline: str | None = None
) -> AbstractContextManager[IO[str]]: ...


@overload
def atomic_write(
    path: Path, mode: Literal["wb"], *, newline: None = None
) -> AbstractContextManager[IO[bytes]]: ...


def atomic_write(
    path: Path, mode: Literal["w", "wb"] = "w", *, newline: str | None = None
) -> AbstractContextManager[IO[str]] | AbstractContextManager[IO[bytes]]:
    """A context manager giving a file to write `path`'s new content into (text in UTF-8 with
    mode "w", bytes with "wb"); on a clean exit the content replaces `path` atomically."""
    return _atomic(path, mode, newline)


def atomic_write_text(path: Path, text: str) -> Path:
    """Replace `path` with `text` (UTF-8) atomically; `path`."""
    with atomic_write(path) as fh:
        fh.write(text)
    return path


@contextmanager
def _atomic(path: Path, mode: str, newline: str | None) -> Iterator[IO[Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
