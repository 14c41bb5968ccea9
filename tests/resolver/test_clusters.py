"""Stable cluster ids: a cluster keeps its id while it keeps most of its members; merges,
splits and retirements are recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from resolver.clusters import assign_stable_ids


def _groups(*clusters: str) -> pd.DataFrame:
    """'ab', 'c' → records a, b in one cluster and c alone."""
    rows = [(member, f"g{k}") for k, members in enumerate(clusters) for member in members]
    return pd.DataFrame(rows, columns=["unique_id", "group"])


def _previous(**clusters: str) -> pd.DataFrame:
    rows = [(member, cid) for cid, members in clusters.items() for member in members]
    return pd.DataFrame(rows, columns=["unique_id", "cluster_id"])


def _ids(result: pd.DataFrame) -> dict[str, str]:
    return dict(zip(result["unique_id"], result["cluster_id"], strict=True))


def _events(events: pd.DataFrame) -> set[tuple[str, str, str | None, int]]:
    return {
        (r.event, r.cluster_id, None if pd.isna(r.related_id) else r.related_id, int(r.members))
        for r in events.itertuples()
    }


def test_first_run_numbers_clusters_by_their_smallest_member() -> None:
    result = assign_stable_ids(_groups("cd", "ab", "e"), None, 1, "s-")
    assert _ids(result.clusters) == {
        "a": "s-00000001", "b": "s-00000001", "c": "s-00000002", "d": "s-00000002",
        "e": "s-00000003",
    }  # fmt: skip
    assert result.next_number == 4
    assert _events(result.events) == {
        ("created", "s-00000001", None, 2),
        ("created", "s-00000002", None, 2),
    }


@pytest.mark.parametrize(
    ("previous", "groups", "expected_ids", "expected_events"),
    [
        pytest.param(
            {"X": "abc", "Y": "d"}, ("abc", "d"),
            {"a": "X", "b": "X", "c": "X", "d": "Y"}, set(), id="unchanged",
        ),
        pytest.param(
            {"X": "abc"}, ("abcz",),
            {"a": "X", "b": "X", "c": "X", "z": "X"}, set(), id="new-record-joins",
        ),
        pytest.param(
            {"X": "abc"}, ("ab", "c"),
            {"a": "X", "b": "X", "c": "s-00000010"},
            {("split", "s-00000010", "X", 1)}, id="split-majority-keeps-id",
        ),
        pytest.param(
            {"X": "abcd"}, ("ab", "cd"),
            {"a": "s-00000010", "b": "s-00000010", "c": "s-00000011", "d": "s-00000011"},
            {("split", "s-00000010", "X", 2), ("split", "s-00000011", "X", 2),
             ("retired", "X", None, 0)}, id="even-split-retires-id",
        ),
        pytest.param(
            {"X": "abc", "Y": "de"}, ("abcde",),
            dict.fromkeys("abcde", "X"), {("merged", "X", "Y", 2)}, id="merge-keeps-larger",
        ),
        pytest.param(
            {"Y": "ab", "X": "cd"}, ("abcd",),
            dict.fromkeys("abcd", "X"), {("merged", "X", "Y", 2)}, id="merge-tie-keeps-smaller-id",
        ),
        pytest.param(
            {"X": "abc"}, ("ab",),
            {"a": "X", "b": "X"}, set(), id="deleted-member",
        ),
        pytest.param(
            {"X": "ab", "Y": "c"}, ("ab",),
            {"a": "X", "b": "X"}, {("retired", "Y", None, 0)}, id="deleted-singleton-retires",
        ),
        pytest.param(
            {"X": "ab"}, ("a", "b"),
            {"a": "s-00000010", "b": "s-00000011"},
            {("split", "s-00000010", "X", 1), ("split", "s-00000011", "X", 1),
             ("retired", "X", None, 0)}, id="pair-broken",
        ),
    ],
)  # fmt: skip
def test_ids_follow_their_majority(
    previous: dict[str, str],
    groups: tuple[str, ...],
    expected_ids: dict[str, str],
    expected_events: set[tuple[str, str, str | None, int]],
) -> None:
    result = assign_stable_ids(_groups(*groups), _previous(**previous), 10, "s-")
    assert _ids(result.clusters) == expected_ids
    assert _events(result.events) == expected_events


def test_rerun_on_its_own_output_changes_nothing() -> None:
    first = assign_stable_ids(_groups("ab", "cde", "f"), None, 1, "s-")
    again = assign_stable_ids(_groups("f", "ab", "cde"), first.clusters, first.next_number, "s-")
    assert _ids(again.clusters) == _ids(first.clusters)
    assert again.events.empty
    assert again.next_number == first.next_number
