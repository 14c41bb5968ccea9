"""Compact, fast-loading columns and postings for the serving index, stored as flat files.

A column is dictionary-encoded: one int32 code per record (-1 for null) into a vocabulary of
distinct values kept as one UTF-8 buffer and its offsets, so a million records cost a few
bytes each beyond their text, load without building a Python object per value, and decode one
value in a slice. Postings (blocking key → records) are keyed by a 64-bit FNV-1a hash of the
key: a sorted hash array searched with numpy, and the records of all keys in one int32 array.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = 2**64 - 1


def fnv1a(text: str, seed: int = FNV_OFFSET) -> int:
    """64-bit FNV-1a of a string's UTF-8 bytes, continuing from `seed`."""
    h = seed
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * FNV_PRIME) & _MASK
    return h


def fnv1a_many(data: bytes, offsets: np.ndarray, seed: int = FNV_OFFSET) -> np.ndarray:
    """`fnv1a` of every string of a buffer (string k is data[offsets[k]:offsets[k+1]])."""
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    order = np.argsort(-lengths, kind="stable")  # longest first: the live ones are a prefix
    starts, lengths = starts[order], lengths[order]
    buf = np.frombuffer(data, dtype=np.uint8)
    h = np.full(len(order), seed, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    live = len(order)
    for pos in range(int(lengths[0]) if len(lengths) else 0):
        while live and lengths[live - 1] <= pos:
            live -= 1
        h[:live] ^= buf[starts[:live] + pos].astype(np.uint64)
        h[:live] *= prime
    out = np.empty_like(h)
    out[order] = h
    return out


def _arrow_strings(values: pd.Series | pa.Array) -> pa.Array:
    array = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.string():
        array = pc.cast(array, pa.string())
    return array


def string_buffers(strings: pa.Array) -> tuple[np.ndarray, bytes]:
    """Offsets (from 0) and UTF-8 bytes of a null-free Arrow string array."""
    if len(strings) == 0:
        return np.zeros(1, dtype=np.int64), b""
    raw_offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    offsets = raw_offsets[strings.offset : strings.offset + len(strings) + 1].astype(np.int64)
    data = strings.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


@dataclass(frozen=True)
class Column:
    """A dictionary-encoded string column (see the module docstring)."""

    codes: np.ndarray  # int32 per record; -1 = null
    offsets: np.ndarray  # vocabulary offsets into data, len(vocabulary) + 1
    data: bytes | mmap.mmap  # the vocabulary's UTF-8 bytes

    @classmethod
    def encode(cls, values: pd.Series | pa.Array) -> Column:
        """Encode a column of str/None values."""
        encoded = pc.dictionary_encode(_arrow_strings(values))
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
        offsets, data = string_buffers(encoded.dictionary)
        return cls(codes, _narrow(offsets), data)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def vocabulary_size(self) -> int:
        return len(self.offsets) - 1

    def word(self, code: int) -> str:
        """The vocabulary entry of a code."""
        return self.data[int(self.offsets[code]) : int(self.offsets[code + 1])].decode("utf-8")

    def value(self, row: int) -> str | None:
        code = int(self.codes[row])
        return None if code < 0 else self.word(code)

    def values(self, rows: np.ndarray) -> list[str | None]:
        """The values of some records, decoded."""
        codes = self.codes[rows]
        if self.vocabulary_size == 0:
            return [None] * len(codes)
        safe = np.where(codes < 0, 0, codes)
        starts, ends = self.offsets[safe].tolist(), self.offsets[safe + 1].tolist()
        data = self.data
        return [
            None if c < 0 else data[s:e].decode("utf-8")
            for c, s, e in zip(codes.tolist(), starts, ends, strict=True)
        ]

    def vocabulary(self) -> list[str]:
        """Every distinct value, in code order."""
        bounds = self.offsets.tolist()
        data = self.data
        return [data[bounds[k] : bounds[k + 1]].decode("utf-8") for k in range(len(bounds) - 1)]

    def to_list(self) -> list[str | None]:
        """Every record's value (for the whole column: evaluation, calibration, refresh)."""
        words = self.vocabulary()
        return [None if c < 0 else words[c] for c in self.codes.tolist()]

    def save(self, folder: Path, name: str) -> None:
        np.save(folder / f"{name}.codes.npy", self.codes)
        np.save(folder / f"{name}.offsets.npy", self.offsets)
        (folder / f"{name}.data.bin").write_bytes(bytes(self.data))

    @classmethod
    def load(cls, folder: Path, name: str, *, map_data: bool = True) -> Column:
        """Memory-mapped, read-only (`load_array`); `map_data=False` reads the vocabulary's
        bytes into the process instead."""
        codes = load_array(folder / f"{name}.codes.npy")
        offsets = load_array(folder / f"{name}.offsets.npy")
        return cls(codes, offsets, _read(folder / f"{name}.data.bin", map_data))


def load_array(path: Path) -> np.ndarray:
    """A saved array, memory-mapped read-only: its pages live in the OS page cache, shared by
    every process that maps the file (the workers of `canon serve --workers N`), and are read
    only when touched. Writing to it raises; index files are never changed in place (a refresh
    writes a new model folder), so a mapping always shows one version's bytes."""
    mapped = np.load(path, mmap_mode="r")
    # a plain ndarray view of the mapping (it keeps the mapping alive): np.memmap's
    # per-slice bookkeeping would cost every posting lookup on the resolve path
    view: np.ndarray = mapped.view(np.ndarray)
    return view


def _narrow(offsets: np.ndarray) -> np.ndarray:
    return offsets.astype(np.uint32 if offsets[-1] < 2**32 else np.int64)


def _read(path: Path, map_data: bool) -> bytes | mmap.mmap:
    if not map_data or path.stat().st_size == 0:
        return path.read_bytes()
    with path.open("rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


@dataclass(frozen=True)
class Postings:
    """Blocking keys → records, keyed by `fnv1a(key)` (a collision only adds candidates)."""

    hashes: np.ndarray  # uint64, sorted, distinct
    starts: np.ndarray  # int64, len(hashes) + 1: records of key k are rows[starts[k]:starts[k+1]]
    rows: np.ndarray  # int32

    @classmethod
    def build(cls, parts: Iterable[tuple[np.ndarray, np.ndarray]]) -> Postings:
        """From (key hash, record) pairs; each posting lists its records in ascending order."""
        chunks = list(parts)
        hashes = np.concatenate([h for h, _ in chunks] or [np.zeros(0, np.uint64)])
        rows = np.concatenate([r for _, r in chunks] or [np.zeros(0, np.int64)])
        order = np.lexsort((rows, hashes))
        hashes, rows = hashes[order], rows[order].astype(np.int32)
        if len(hashes):
            keep = np.ones(len(hashes), dtype=bool)
            keep[1:] = (hashes[1:] != hashes[:-1]) | (rows[1:] != rows[:-1])
            hashes, rows = hashes[keep], rows[keep]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        starts = np.append(np.flatnonzero(first), len(hashes)).astype(np.int64)
        return cls(hashes[first], starts, rows)

    def lookup(self, keys: Sequence[int]) -> list[np.ndarray | None]:
        """The records of each key hash, or None for a key no record has."""
        if not len(self.hashes) or not keys:
            return [None] * len(keys)
        wanted = np.asarray(keys, dtype=np.uint64)
        at = np.searchsorted(self.hashes, wanted)
        found = (at < len(self.hashes)) & (
            self.hashes[np.minimum(at, len(self.hashes) - 1)] == wanted
        )
        out: list[np.ndarray | None] = []
        for k, ok in zip(at.tolist(), found.tolist(), strict=True):
            out.append(self.rows[self.starts[k] : self.starts[k + 1]] if ok else None)
        return out

    def save(self, folder: Path, name: str) -> None:
        for part in ("hashes", "starts", "rows"):
            np.save(folder / f"{name}.{part}.npy", getattr(self, part))

    @classmethod
    def load(cls, folder: Path, name: str) -> Postings:
        return cls(
            *(load_array(folder / f"{name}.{part}.npy") for part in ("hashes", "starts", "rows"))
        )


def key_hashes(column: Column, prefix: str) -> np.ndarray:
    """`fnv1a(prefix + value)` of every vocabulary entry of a column."""
    return fnv1a_many(bytes(column.data), column.offsets.astype(np.int64), fnv1a(prefix))


def write_meta(folder: Path, meta: dict[str, object]) -> None:
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return meta
