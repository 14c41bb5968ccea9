"""The in-memory serving index of one entity type: its records and blocking postings.

Blocking must be generous (recall first: whatever it misses can never be resolved) and cheap:
strong keys (tax id, e-mail, phone, name words in any order) bring every record they hit;
name words and their 4-letter prefixes bring the records sharing the rarest of them, ranked
by inverse document frequency, so a typo in one word still finds the record by another. The
name postings a query scans are bounded by a budget (`SCAN_BUDGET`, `name_candidates`), so the
work per query does not grow with the master; a query that names no entity type searches the
party types in one pass under one pooled budget (`candidates_together`).

The index is built once, at training (or refresh) time, into flat numpy/byte files
(`resolver.arrays`), so that a server loads a million records in about a second instead of
rebuilding Python objects per value at every start.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resolver.arrays import (
    Column,
    Postings,
    fnv1a,
    key_hashes,
    load_array,
    read_meta,
    write_meta,
)

Record = dict[str, str | None]
Posting = tuple[str, np.ndarray]  # a name key and its records

STRONG_KEYS = ("tax_id", "email", "phone", "name_sorted")
KEY_COLUMNS = (*STRONG_KEYS, "tax_root", "number")
MAX_STRONG_HITS = 200
MAX_POSTING = 50_000
NAME_CANDIDATES = 60
#: Postings longer than this are worth the check whether new records can still qualify.
CLOSE_FROM = 512
#: Name-posting entries one query may scan per entity type it searches (pooled over the types)
#: before the records seen so far are the only ones left in the race (see `name_candidates`).
SCAN_BUDGET = 50_000
#: The rarest name keys of each entity type scanned whatever the budget: a typo makes the
#: rarest key one the right record lacks, and its variant (or the next word) comes next.
ALWAYS_SCANNED = 3
FORMAT = 1


def name_keys(name: str) -> list[str]:
    """The blocking keys of a normalised name: its words and their 4-letter prefixes."""
    keys: set[str] = set()
    for token in name.split():
        keys.add("w:" + token)
        if len(token) >= 4:
            keys.add("p:" + token[:4])
    return sorted(keys)


class _Scratch:
    """Per-call score accumulators over all records, reused (cleared after use) across calls."""

    def __init__(self, size: int):
        self.size = size
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    def take(self) -> np.ndarray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return np.zeros(self.size, dtype=np.float64)

    def give_back(self, acc: np.ndarray) -> None:
        self._free.put(acc)


class ServingIndex:
    """Records of one entity type (normalised columns + raw display fields) and postings."""

    def __init__(
        self,
        ids: Column,
        columns: Mapping[str, Column],
        raw: Mapping[str, Column],
        postings: Postings,
        tf: Mapping[str, np.ndarray],
        rules: Sequence[Sequence[str]] = (),
    ):
        self._ids = ids
        self.columns: list[str] = list(columns)
        self._columns = dict(columns)
        self._raw = dict(raw)
        self.postings = postings
        self.tf = dict(tf)
        self.size = len(ids)
        #: The profile's blocking rules that no strong key covers, as posted (see `rule_key`).
        self.rules: list[list[str]] = [list(r) for r in rules]
        self._scratch = _Scratch(self.size)

    # -- building, saving, loading -----------------------------------------------------------
    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        columns: Iterable[str],
        tf_tables: Mapping[str, Mapping[str, float]] | None = None,
        blocking_rules: Sequence[Sequence[str]] = (),
    ) -> ServingIndex:
        """Build from a normalised frame (`unique_id`, role columns, `raw_*` columns); each of
        the profile's blocking rules that no strong key already covers gets postings too, so
        that a record whose name is mangled but whose birth date and postcode agree is found
        online as splink's blocking finds it in training."""
        wanted = [c for c in dict.fromkeys(columns) if c in frame.columns]
        encoded = {c: Column.encode(frame[c]) for c in wanted}
        raw = {
            c[4:]: Column.encode(frame[c].fillna("").astype(str))
            for c in frame.columns
            if c.startswith("raw_")
        }
        tf = {c: _tf_by_code(encoded[c], table) for c, table in (tf_tables or {}).items()}
        tf = {c: v for c, v in tf.items() if c in encoded}
        ids = Column.encode(frame["unique_id"].astype(str))
        rules = [
            list(r)
            for r in blocking_rules
            if r and all(c in frame.columns for c in r) and list(r) not in _COVERED
        ]
        postings = _build_postings(encoded, _rule_columns(frame, rules))
        return cls(ids, encoded, raw, postings, tf, rules)

    def save(self, folder: Path) -> None:
        """Write the index as flat files under folder (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._ids.save(folder, "ids")
        for name, column in self._columns.items():
            column.save(folder, f"col.{name}")
        for name, column in self._raw.items():
            column.save(folder, f"raw.{name}")
        for name, values in self.tf.items():
            np.save(folder / f"tf.{name}.npy", values)
        self.postings.save(folder, "postings")
        write_meta(
            folder,
            {
                "format": FORMAT,
                "size": self.size,
                "columns": self.columns,
                "raw": list(self._raw),
                "tf": list(self.tf),
                "rules": self.rules,
            },
        )

    @classmethod
    def load(cls, folder: Path) -> ServingIndex:
        """Load an index written by `save`, memory-mapped and read-only (`load_array`)."""
        meta = read_meta(folder)
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: index format {meta.get('format')}, expected {FORMAT}")
        columns = {str(n): Column.load(folder, f"col.{n}") for n in _names(meta["columns"])}
        raw = {str(n): Column.load(folder, f"raw.{n}") for n in _names(meta["raw"])}
        tf = {str(n): load_array(folder / f"tf.{n}.npy") for n in _names(meta["tf"])}
        ids = Column.load(folder, "ids")
        rules = meta.get("rules") or []
        assert isinstance(rules, list)
        return cls(ids, columns, raw, Postings.load(folder, "postings"), tf, rules)

    # -- records -----------------------------------------------------------------------------
    @cached_property
    def ids(self) -> list[str]:
        """Canonical ids in record order (decoded on first use)."""
        return [v or "" for v in self._ids.to_list()]

    def id_of(self, i: int) -> str:
        return self._ids.value(i) or ""

    def column(self, name: str) -> Column | None:
        return self._columns.get(name)

    def record(self, i: int) -> Record:
        """The normalised values of record i."""
        return {c: self._columns[c].value(i) for c in self.columns}

    def raw(self, i: int, fields: Iterable[str]) -> dict[str, str]:
        """Raw ERP values of record i (key and display fields)."""
        return {f: self._raw[f].value(i) or "" for f in fields if f in self._raw}

    def raw_column(self, field: str) -> list[str]:
        """All raw values of one ERP field, in record order."""
        column = self._raw.get(field)
        if column is None:
            return [""] * self.size
        return [v or "" for v in column.to_list()]

    # -- blocking ----------------------------------------------------------------------------
    def candidates(self, query: Record, budget: int | None = SCAN_BUDGET) -> np.ndarray:
        """Record positions worth scoring for a normalised query, strongest keys first; at most
        `budget` name-posting entries scanned (None: every usable posting, the exact top)."""
        return candidates_together([(self, query)], budget)[0]

    def _blocking_keys(self, query: Record) -> tuple[list[np.ndarray], list[Posting]]:
        """The records of the query's strong keys (short postings only) and its name postings."""
        strong = [f"{c}={query[c]}" for c in (*STRONG_KEYS, "tax_root") if query.get(c)]
        for rule in self.rules:
            values = [query.get(c) for c in rule]
            if all(values):
                strong.append(rule_key(rule, values))
        name = query.get("name")
        by_name = name_keys(name) if name else []
        found = self.postings.lookup([fnv1a(k) for k in strong + by_name])
        parts = [h for h in found[: len(strong)] if h is not None and len(h) <= MAX_STRONG_HITS]
        named = [
            (k, h) for k, h in zip(by_name, found[len(strong) :], strict=True) if h is not None
        ]
        return parts, named

    def _name_candidates(self, postings: list[Posting], budget: int | None = None) -> np.ndarray:
        """The exact top NAME_CANDIDATES by shared name keys (`name_candidates` of one index)."""
        return name_candidates([(self, postings)], budget)[0]

    def rows_where(self, column: str, value: str) -> np.ndarray:
        """Positions of the records whose key column (tax id, e-mail…) equals value."""
        found = self.postings.lookup([fnv1a(f"{column}={value}")])[0]
        values = self._columns.get(column)
        if found is None or values is None:
            return np.zeros(0, dtype=np.int64)
        same = np.asarray([v == value for v in values.values(found)], dtype=bool)
        result: np.ndarray = found[same].astype(np.int64)
        return result

    def candidates_by_key(self, query: Record) -> list[int]:
        """Records whose key roles (number, branch) equal every one the query gives."""
        number = query.get("number")
        if not number:
            return []
        hits = self.postings.lookup([fnv1a(f"number={number}")])[0]
        if hits is None:
            return []
        numbers = self._columns["number"].values(hits)
        hits = hits[np.asarray([v == number for v in numbers], dtype=bool)]
        branch = query.get("branch")
        branches = self._columns.get("branch")
        if branch is None or branches is None:
            return [int(i) for i in hits]
        return [int(i) for i, b in zip(hits, branches.values(hits), strict=True) if b == branch]


def candidates_together(
    queries: Sequence[tuple[ServingIndex, Record]], budget: int | None = SCAN_BUDGET
) -> list[np.ndarray]:
    """`ServingIndex.candidates` of several indexes (the party types of a query that names no
    entity type) in one pass: their name postings are taken together, rarest first (relative
    to each index's size), under one budget of scanned entries for them all."""
    keyed = [index._blocking_keys(query) for index, query in queries]
    lanes = [(index, named) for (index, _), (_, named) in zip(queries, keyed, strict=True)]
    by_name = name_candidates([lane for lane in lanes if lane[1]], budget)
    out: list[np.ndarray] = []
    for parts, named in keyed:
        if named:
            parts = [*parts, by_name.pop(0)]
        if not parts:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        rows = np.concatenate(parts)
        _, first = np.unique(rows, return_index=True)
        out.append(rows[np.sort(first)].astype(np.int64))
    return out


class _Lane:
    """One index's share of a name-candidate pass: its postings (rarest first), their weights,
    the score accumulator and the records seen so far."""

    def __init__(self, index: ServingIndex, postings: list[Posting]):
        postings.sort(key=lambda kv: (len(kv[1]), kv[0]))
        self.index = index
        self.usable = [kv for kv in postings if len(kv[1]) <= MAX_POSTING] or postings[:1]
        n = max(index.size, 1)
        self.weights = [
            math.log(1 + n / len(hits)) * (1.0 if key.startswith("w:") else 0.5)
            for key, hits in self.usable
        ]
        #: rest[k]: the most a record can still gain from keys k, k+1, …
        self.rest = [0.0] * (len(self.weights) + 1)
        for k in range(len(self.weights) - 1, -1, -1):
            self.rest[k] = self.weights[k] + self.rest[k + 1]
        self.acc = index._scratch.take()
        self.touched: list[np.ndarray] = []  # records in the order first seen
        self.found = 0
        self.scanned = 0  # postings scanned whole
        self.closed: np.ndarray | None = None  # the records still in the race, once closed

    def close(self, k: int, forced: bool) -> np.ndarray | None:
        """The seen records that can still reach the top before key k: all but those whose
        score plus every weight still to come stays under the current NAME_CANDIDATES-th best.
        None if a record not yet seen could still enter the top, unless `forced`."""
        seen = np.concatenate(self.touched)
        scores = self.acc[seen]
        kth = 0.0
        if len(seen) >= NAME_CANDIDATES:
            kth = float(np.partition(scores, len(seen) - NAME_CANDIDATES)[-NAME_CANDIDATES])
        if not forced and not kth > self.rest[k]:
            return None
        return np.sort(seen[scores + self.rest[k] >= kth])

    def add(self, k: int, hits: np.ndarray) -> None:
        weight = self.weights[k]
        if self.closed is not None:  # only the records still in the race gain
            closed = self.closed
            at = np.minimum(np.searchsorted(hits, closed), len(hits) - 1)
            self.acc[closed[hits[at] == closed]] += weight
            if len(closed) > NAME_CANDIDATES and k + 1 < len(self.weights):
                # Leave the race as soon as even every weight still to come cannot lift a
                # record to the current NAME_CANDIDATES-th best (exact: it keeps its score).
                scores = self.acc[closed]
                kth = np.partition(scores, len(closed) - NAME_CANDIDATES)[-NAME_CANDIDATES]
                self.closed = closed[scores + self.rest[k + 1] >= kth]
            return
        new = hits[self.acc[hits] == 0.0]  # every weight is > 0: a zero score is unseen
        self.touched.append(new)
        self.found += len(new)
        self.scanned += 1
        self.acc[hits] += weight

    def top(self) -> np.ndarray:
        """The NAME_CANDIDATES best-scored records seen, ties to the first seen; clears."""
        try:
            rows = np.concatenate(self.touched) if self.touched else np.zeros(0, np.int32)
            scores = self.acc[rows]
        finally:
            for part in self.touched:
                self.acc[part] = 0.0
            self.index._scratch.give_back(self.acc)
        if len(rows) > NAME_CANDIDATES:
            kth = np.partition(scores, len(scores) - NAME_CANDIDATES)[len(scores) - NAME_CANDIDATES]
            keep = np.flatnonzero(scores >= kth)
        else:
            keep = np.arange(len(rows))
        order = keep[np.lexsort((keep, -scores[keep]))][:NAME_CANDIDATES]
        result: np.ndarray = rows[order]
        return result


def name_candidates(
    lanes: Sequence[tuple[ServingIndex, list[Posting]]], budget: int | None = SCAN_BUDGET
) -> list[np.ndarray]:
    """Per index, the NAME_CANDIDATES records sharing the most (IDF-weighted) name keys with
    the query; ties go to the record found first (rarest key first).

    Keys are taken rarest first, across the indexes together (by posting length relative to
    the index). Once the NAME_CANDIDATES-th best score of an index exceeds the sum of its
    weights still to come, no record not yet seen can enter its result, so its longer postings
    only add to the records still in the race (found by binary search) instead of being
    scanned whole: the same result, a fraction of the work.

    With a budget (entries per index, pooled: an index whose keys are rare leaves its share
    to the others), a posting that would take the entries scanned so far over all indexes
    beyond the pool is not scanned either, once its index has scanned its ALWAYS_SCANNED
    rarest: the index closes there, the records it has seen the only ones left in the race.
    The work per query is then bounded by the budget plus ALWAYS_SCANNED postings of at most
    MAX_POSTING per index, whatever the size of the master; the cost is recall, of a record
    that shares with the query only keys too common to be scanned in time (measured by
    `tests/resolver/test_candidate_recall.py` and `benchmarks/recall.py`).
    """
    state = [_Lane(index, postings) for index, postings in lanes]
    steps = sorted(
        (len(hits) / max(lane.index.size, 1), n, k)
        for n, lane in enumerate(state)
        for k, (_, hits) in enumerate(lane.usable)
    )
    scanned = 0
    pooled = None if budget is None else budget * len(state)
    try:
        for _, n, k in steps:
            lane = state[n]
            hits = lane.usable[k][1][:MAX_POSTING]
            if lane.closed is None and lane.found:
                over = pooled is not None and scanned + len(hits) > pooled
                if over and lane.scanned >= ALWAYS_SCANNED:
                    lane.closed = lane.close(k, True)
                elif (
                    lane.found >= NAME_CANDIDATES
                    and len(hits) > CLOSE_FROM
                    # no record can yet score above what is still to come: skip the check
                    and lane.rest[0] - lane.rest[k] > lane.rest[k]
                ):
                    lane.closed = lane.close(k, False)
            if lane.closed is None:
                scanned += len(hits)
            lane.add(k, hits)
    finally:
        results = [lane.top() for lane in state]
    return results


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _tf_by_code(column: Column, table: Mapping[str, float]) -> np.ndarray:
    """Each vocabulary entry's term frequency (NaN where the table lacks it)."""
    words = pa.array(column.vocabulary(), type=pa.string())
    keys = pa.array(list(table), type=pa.string())
    position = pc.index_in(words, value_set=keys).to_numpy(zero_copy_only=False)
    values = np.asarray(list(table.values()), dtype=np.float64)
    out = np.full(len(words), np.nan)
    known = ~np.isnan(position.astype(np.float64))
    out[known] = values[position[known].astype(np.int64)]
    return out


#: Blocking rules the strong keys already post.
_COVERED = [[c] for c in KEY_COLUMNS]


def rule_key(rule: Sequence[str], values: Sequence[str | None]) -> str:
    """The posting key of a blocking rule's values: `rule:birth_date+postcode=19800101|2000`."""
    return f"rule:{'+'.join(rule)}=" + "|".join(v or "" for v in values)


def _rule_columns(frame: pd.DataFrame, rules: list[list[str]]) -> dict[str, Column]:
    """Per rule, the column of its posting keys' values (null where a value is missing)."""
    out: dict[str, Column] = {}
    for rule in rules:
        parts = [frame[c] for c in rule]
        present = parts[0].notna()
        joined = parts[0].fillna("").astype(str)
        for part in parts[1:]:
            present &= part.notna()
            joined = joined + "|" + part.fillna("").astype(str)
        out[f"rule:{'+'.join(rule)}"] = Column.encode(joined.where(present, None))
    return out


def _build_postings(
    columns: Mapping[str, Column], rule_columns: Mapping[str, Column] | None = None
) -> Postings:
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    keyed = [(name, columns.get(name)) for name in KEY_COLUMNS]
    for name, column in [*keyed, *(rule_columns or {}).items()]:
        if column is None:
            continue
        hashes = key_hashes(column, f"{name}=")
        rows = np.flatnonzero(column.codes >= 0)
        parts.append((hashes[column.codes[rows]], rows))
    names = columns.get("name")
    if names is not None:
        parts.append(_name_postings(names))
    return Postings.build(parts)


def _name_postings(names: Column) -> tuple[np.ndarray, np.ndarray]:
    """(key hash, record) for every distinct name key of every record."""
    vocabulary = pa.array(names.vocabulary(), type=pa.string())
    lists = pc.split_pattern(vocabulary, " ")
    words = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    long = pc.greater_equal(pc.utf8_length(words), 4).to_numpy(zero_copy_only=False)
    pairs = [
        _keyed(owner, words, "w:"),
        _keyed(owner[long], pc.utf8_slice_codeunits(words.filter(pa.array(long)), 0, 4), "p:"),
    ]
    owner_all = np.concatenate([o for o, _ in pairs])
    hash_all = np.concatenate([h for _, h in pairs])
    order = np.argsort(owner_all, kind="stable")
    owner_all, hash_all = owner_all[order], hash_all[order]
    count = np.bincount(owner_all, minlength=names.vocabulary_size)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    rows = np.flatnonzero(names.codes >= 0)
    codes = names.codes[rows]
    reps = count[codes]
    total = int(reps.sum())
    base = np.repeat(start[codes] - (np.cumsum(reps) - reps), reps) + np.arange(total)
    return hash_all[base], np.repeat(rows, reps)


def _keyed(owner: np.ndarray, words: pa.Array, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (vocabulary entry, hash of prefix+word) pairs."""
    word_column = Column.encode(words)
    pairs = np.unique(owner * max(word_column.vocabulary_size, 1) + word_column.codes)
    size = max(word_column.vocabulary_size, 1)
    hashes = key_hashes(word_column, prefix)
    return pairs // size, hashes[pairs % size]
