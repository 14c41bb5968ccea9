"""The compact serving index: hashing, postings, columns, save/load, and vectorised scoring
that gives, pair for pair, the compiled model's single-pair score to the last bit."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import Resolver
from resolver import index as index_module
from resolver.arrays import Column, Postings, fnv1a, fnv1a_many, string_buffers
from resolver.index import ServingIndex, name_keys
from resolver.normalise import normalise_record


@settings(deadline=None)
@given(st.lists(st.text(max_size=30), max_size=30))
def test_vectorised_hash_equals_the_scalar_hash(words: list[str]) -> None:
    offsets, data = string_buffers(pa.array(words, type=pa.string()))
    assert fnv1a_many(data, offsets).tolist() == [fnv1a(w) for w in words]


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40))
def test_column_round_trips_values(values: list[str | None]) -> None:
    column = Column.encode(pd.Series(values, dtype=object))
    assert column.to_list() == values
    rows = np.arange(len(values))[::-1]
    assert column.values(rows) == values[::-1]


def test_postings_list_each_keys_records_once_in_order() -> None:
    keys = np.array([fnv1a(k) for k in ["a", "b", "a", "a", "c"]], dtype=np.uint64)
    rows = np.array([3, 1, 0, 3, 2])
    postings = Postings.build([(keys, rows)])
    found = postings.lookup([fnv1a("a"), fnv1a("zzz"), fnv1a("c")])
    assert found[0] is not None and found[0].tolist() == [0, 3]
    assert found[1] is None
    assert found[2] is not None and found[2].tolist() == [2]


def test_name_keys_are_words_and_prefixes() -> None:
    assert name_keys("souza comercio souza") == ["p:come", "p:souz", "w:comercio", "w:souza"]


def _queries(resolver: Resolver, entity_type: str, n: int) -> list[dict[str, str | None]]:
    """Master records with typos, swapped and missing values (every level gets reached)."""
    rng = random.Random(5)
    et = resolver.entity_types[entity_type]
    out = []
    for i in rng.sample(range(et.index.size), n):
        raw: dict[str, object] = {}
        for role, sources in et.spec.roles.items():
            value = et.index.raw(rng.randrange(et.index.size) if rng.random() < 0.2 else i, sources)
            text = value.get(sources[0], "")
            if rng.random() < 0.3 and len(text) > 3:
                p = rng.randrange(len(text) - 1)
                text = text[:p] + text[p + 1] + text[p] + text[p + 2 :]
            raw[role] = "" if rng.random() < 0.1 else text
        out.append(normalise_record(raw))
    return out


@pytest.mark.parametrize("entity_type", ["supplier", "customer", "employee", "contact"])
def test_vectorised_scores_equal_single_pair_scores(resolver: Resolver, entity_type: str) -> None:
    et = resolver.entity_types[entity_type]
    assert et.model is not None
    for query in _queries(resolver, entity_type, 30):
        rows = et.index.candidates(query)
        rows = np.unique(np.concatenate([rows, np.arange(0, et.index.size, 37)]))
        scores = et.model.score_rows(query, et.index, rows)
        for j, i in enumerate(rows.tolist()):
            single = et.model.score(query, et.index.record(i))
            assert scores.weights[j] == single.match_weight
            assert et.model.explain(query, et.index, scores, j) == single.explanation


def test_saved_index_loads_the_same(resolver: Resolver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    et = resolver.entity_types["supplier"]
    frame = pd.read_parquet(resolver.model_dir / "records_supplier.parquet")
    built = ServingIndex.build(frame, et.index.columns, et.model.tf_tables if et.model else None)
    built.save(tmp_path / "index")
    loaded = ServingIndex.load(tmp_path / "index")
    assert loaded.ids == et.index.ids == frame["unique_id"].tolist()
    for i in range(0, loaded.size, 97):
        assert loaded.record(i) == et.index.record(i)
        assert loaded.raw(i, ["A2_NOME", "A2_COD"]) == et.index.raw(i, ["A2_NOME", "A2_COD"])
    for query in _queries(resolver, "supplier", 20):
        assert loaded.candidates(query).tolist() == et.index.candidates(query).tolist()


def test_candidates_find_the_record_by_any_strong_key(resolver: Resolver) -> None:
    et = resolver.entity_types["supplier"]
    for i in range(0, et.index.size, 53):
        record = et.index.record(i)
        for key in ("tax_id", "email", "phone"):
            if record.get(key):
                found = et.index.candidates({key: record[key]})
                assert i in found.tolist() or len(found) > 200


def _reference_name_candidates(index: ServingIndex, name: str, wanted: int) -> list[int]:
    """The name candidates by brute force: every key's records scored, best first, ties to
    the record found first."""
    postings = []
    for key in name_keys(name):
        hits = index.postings.lookup([fnv1a(key)])[0]
        if hits is not None:
            postings.append((key, hits))
    postings.sort(key=lambda kv: (len(kv[1]), kv[0]))
    usable = [kv for kv in postings if len(kv[1]) <= index_module.MAX_POSTING] or postings[:1]
    scores: dict[int, float] = {}
    first: dict[int, int] = {}
    for key, hits in usable:
        weight = math.log(1 + index.size / len(hits)) * (1.0 if key.startswith("w:") else 0.5)
        for i in hits[: index_module.MAX_POSTING].tolist():
            scores[i] = scores.get(i, 0.0) + weight
            first.setdefault(i, len(first))
    return sorted(scores, key=lambda i: (-scores[i], first[i]))[:wanted]


@pytest.mark.parametrize("wanted", [3, 8, 60])
def test_pruned_name_candidates_equal_brute_force(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch, wanted: int
) -> None:
    # Tiny limits make the pruning (closing the set of records once no new one can qualify)
    # happen on the small sample as it does on millions of records.
    monkeypatch.setattr(index_module, "NAME_CANDIDATES", wanted)
    monkeypatch.setattr(index_module, "CLOSE_FROM", 0)
    for entity_type in ("supplier", "contact"):
        index = resolver.entity_types[entity_type].index
        for query in _queries(resolver, entity_type, 40):
            name = query.get("name")
            if not name:
                continue
            named = [
                (k, h)
                for k in name_keys(name)
                if (h := index.postings.lookup([fnv1a(k)])[0]) is not None
            ]
            got = index._name_candidates(named).tolist() if named else []
            assert got == _reference_name_candidates(index, name, wanted), name


def test_candidates_follow_the_profiles_blocking_rules(resolver: Resolver) -> None:
    """An employee whose name is mangled beyond every name key is still found by its birth
    date, as the profile's blocking rule [birth_date] finds it in training."""
    et = resolver.entity_types["employee"]
    assert ["birth_date"] in et.index.rules
    found = 0
    for i in range(0, et.index.size, 7):
        record = et.index.record(i)
        if not record.get("birth_date"):
            continue
        query = normalise_record({"name": "Qxzv Wvyk", "birth_date": record["birth_date"]})
        assert i in et.index.candidates(query).tolist()
        without = normalise_record({"name": "Qxzv Wvyk"})
        assert i not in et.index.candidates(without).tolist()
        found += 1
    assert found >= 5
