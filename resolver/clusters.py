"""Stable cluster ids across dedupe runs, so that a steward's decision on a cluster survives
the next run (splink issue #1720 asks for exactly this).

A cluster of this run keeps a previous cluster's id when it holds most (more than half) of
that previous cluster's members; only one cluster can. A cluster holding most of several
previous ones is their merge: it keeps the id that gave it most members (the older on a tie)
and the others are recorded as merged into it. A cluster that keeps no id gets a new one;
members it took from previous clusters are recorded as a split from them. A previous id no
cluster keeps or absorbs is retired.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

EVENT_COLUMNS = ["event", "cluster_id", "related_id", "members"]


@dataclass(frozen=True)
class Assignment:
    """Each record's stable cluster id, what changed since the previous run, and the next
    number free for new ids."""

    clusters: pd.DataFrame  # unique_id, cluster_id
    events: pd.DataFrame  # event, cluster_id, related_id, members
    next_number: int


def assign_stable_ids(
    groups: pd.DataFrame,
    previous: pd.DataFrame | None,
    next_number: int,
    prefix: str,
) -> Assignment:
    """Stable ids for this run's clusters.

    `groups` has one row per record: `unique_id` and `group` (this run's cluster label);
    `previous` the last run's `unique_id` and `cluster_id` (None on the first run).
    """
    groups = groups[["unique_id", "group"]]
    if previous is None or previous.empty:
        previous = pd.DataFrame({"unique_id": pd.Series(dtype=object), "cluster_id": []})
    previous = previous[["unique_id", "cluster_id"]]
    prev_size = previous.groupby("cluster_id").size()
    joined = groups.merge(previous, on="unique_id", how="left")
    overlap = (
        joined.dropna(subset=["cluster_id"])
        .groupby(["group", "cluster_id"], sort=False)
        .size()
        .rename("overlap")
        .reset_index()
    )
    overlap["majority"] = overlap["overlap"] * 2 > overlap["cluster_id"].map(prev_size)
    held = overlap[overlap["majority"]].sort_values(
        ["group", "overlap", "cluster_id"], ascending=[True, False, True]
    )
    kept = held.drop_duplicates("group")
    group_id = dict(zip(kept["group"], kept["cluster_id"], strict=True))

    # New ids, numbered in the order of each new cluster's smallest member: deterministic.
    first_member = groups.groupby("group")["unique_id"].min()
    fresh = first_member[~first_member.index.isin(group_id)].sort_values()
    numbers = range(next_number, next_number + len(fresh))
    group_id.update({g: f"{prefix}{n:08d}" for g, n in zip(fresh.index, numbers, strict=True)})

    overlap["final_id"] = overlap["group"].map(group_id)
    moved = overlap[overlap["final_id"] != overlap["cluster_id"]]
    events = [
        pd.DataFrame(
            {
                "event": moved["majority"].map({True: "merged", False: "split"}),
                "cluster_id": moved["final_id"],
                "related_id": moved["cluster_id"],
                "members": moved["overlap"],
            }
        )
    ]
    # Creations are recorded for clusters of several records; a new singleton is just new.
    had_previous = set(overlap["group"])
    sizes = groups.groupby("group").size()
    created = [g for g in fresh.index if g not in had_previous and sizes[g] > 1]
    if created:
        events.append(
            pd.DataFrame(
                {
                    "event": "created",
                    "cluster_id": [group_id[g] for g in created],
                    "related_id": None,
                    "members": [int(sizes[g]) for g in created],
                }
            )
        )
    survivors = set(overlap.loc[overlap["majority"], "cluster_id"])
    retired = sorted(set(prev_size.index) - survivors)
    if retired:
        events.append(
            pd.DataFrame(
                {"event": "retired", "cluster_id": retired, "related_id": None, "members": 0}
            )
        )
    clusters = pd.DataFrame(
        {"unique_id": groups["unique_id"], "cluster_id": groups["group"].map(group_id)}
    )
    present = [e for e in events if not e.empty]
    if present:
        frame = pd.concat(present, ignore_index=True)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    frame["members"] = frame["members"].astype("int64")
    return Assignment(clusters, frame[EVENT_COLUMNS], next_number + len(fresh))
