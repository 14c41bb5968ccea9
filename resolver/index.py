"""The in-memory serving index of one entity type: its records and blocking postings.

Blocking must be generous (recall first: whatever it misses can never be resolved) and cheap:
strong keys (tax id, e-mail, phone, name words in any order) bring every record they hit;
name words and their 4-letter prefixes bring the records sharing the rarest of them, ranked
by inverse document frequency, so a typo in one word still finds the record by another.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd

Record = dict[str, str | None]

STRONG_KEYS = ("tax_id", "email", "phone", "name_sorted")
MAX_STRONG_HITS = 200
MAX_POSTING = 50_000
NAME_CANDIDATES = 60


def _name_keys(name: str) -> set[str]:
    keys: set[str] = set()
    for token in name.split():
        keys.add("w:" + token)
        if len(token) >= 4:
            keys.add("p:" + token[:4])
    return keys


class ServingIndex:
    """Records of one entity type (normalised columns + raw display fields) and postings."""

    def __init__(self, frame: pd.DataFrame, columns: Iterable[str]):
        self.columns = [c for c in columns if c in frame.columns]
        self.ids: list[str] = frame["unique_id"].astype(str).tolist()
        self._values = {
            c: [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                for v in frame[c].tolist()
            ]
            for c in self.columns
        }
        raw_cols = [c for c in frame.columns if c.startswith("raw_")]
        self._raw = {c[4:]: frame[c].fillna("").astype(str).tolist() for c in raw_cols}
        self._postings = self._build_postings()
        self.size = len(self.ids)

    def _build_postings(self) -> dict[str, np.ndarray]:
        lists: dict[str, list[int]] = defaultdict(list)
        for col in (*STRONG_KEYS, "tax_root", "number"):
            for i, v in enumerate(self._values.get(col, [])):
                if v is not None:
                    lists[f"{col}={v}"].append(i)
        for i, v in enumerate(self._values.get("name", [])):
            if v is not None:
                for key in _name_keys(v):
                    lists[key].append(i)
        return {k: np.asarray(v, dtype=np.int32) for k, v in lists.items()}

    def record(self, i: int) -> Record:
        """The normalised values of record i."""
        return {c: self._values[c][i] for c in self.columns}

    def raw(self, i: int, fields: Iterable[str]) -> dict[str, str]:
        """Raw ERP values of record i (key and display fields)."""
        return {f: self._raw[f][i] for f in fields if f in self._raw}

    def raw_column(self, field: str) -> list[str]:
        """All raw values of one ERP field, in record order."""
        return self._raw.get(field, [""] * self.size)

    def candidates(self, query: Record) -> list[int]:
        """Record positions worth scoring for a normalised query."""
        found: dict[int, None] = {}
        for col in STRONG_KEYS:
            v = query.get(col)
            hits = self._postings.get(f"{col}={v}") if v else None
            if hits is not None and len(hits) <= MAX_STRONG_HITS:
                found.update(dict.fromkeys(hits.tolist()))
        root = query.get("tax_root")
        hits = self._postings.get(f"tax_root={root}") if root else None
        if hits is not None and len(hits) <= MAX_STRONG_HITS:
            found.update(dict.fromkeys(hits.tolist()))
        name = query.get("name")
        if name:
            found.update(dict.fromkeys(self._name_candidates(name)))
        return list(found)

    def _name_candidates(self, name: str) -> list[int]:
        postings = [(k, self._postings[k]) for k in _name_keys(name) if k in self._postings]
        if not postings:
            return []
        postings.sort(key=lambda kv: len(kv[1]))
        usable = [kv for kv in postings if len(kv[1]) <= MAX_POSTING] or postings[:1]
        scores: dict[int, float] = defaultdict(float)
        n = max(self.size, 1)
        for key, hits in usable:
            weight = math.log(1 + n / len(hits)) * (1.0 if key.startswith("w:") else 0.5)
            for i in hits[:MAX_POSTING].tolist():
                scores[i] += weight
        best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:NAME_CANDIDATES]
        return [i for i, _ in best]

    def candidates_by_key(self, query: Record) -> list[int]:
        """Records whose key roles (number, branch) equal every one the query gives."""
        number = query.get("number")
        if not number:
            return []
        hits = self._postings.get(f"number={number}")
        if hits is None:
            return []
        branch = query.get("branch")
        branches = self._values.get("branch")
        if branch is None or branches is None:
            return [int(i) for i in hits]
        return [i for i in hits.tolist() if branches[i] == branch]
