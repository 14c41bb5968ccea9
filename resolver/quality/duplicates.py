"""Fuzzy duplicates from batch dedupe (`resolver.dedupe`): the uniqueness metric, and the
clusters of two or more records with their members side by side and, per scored pair, the
match-weight waterfall (the prior, then one step per comparison).

The latest dedupe run of each entity type is reused when it was made with the active model
(and at the asked threshold); otherwise dedupe runs first, writing its usual outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from resolver.dedupe import DEFAULT_THRESHOLD, dedupe_workdir
from resolver.quality.build import MetricSpec, from_rows
from resolver.quality.source import Master
from resolver.quality.types import ClusterMember, ClusterPair, DuplicateCluster, WaterfallStep
from resolver.quality.types import MetricResult as Metric
from resolver.scoring import CompiledModel

#: Clusters reported per entity type, biggest first (the metric counts them all).
MAX_CLUSTERS = 2_000
Say = Callable[[str], None]


def latest_dedupe(
    master: Master, entity_type: str, threshold: float | None, say: Say
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Clusters (unique_id, cluster_id, cluster_size) and pairs of the latest usable run."""
    home = master.workdir / "dedupe" / entity_type
    run_dir = _usable_run(home, master.model_dir, threshold)
    if run_dir is None:
        say(f"deduping {entity_type}")
        summary = dedupe_workdir(master.workdir, entity_type, threshold)
        run_dir = Path(summary.path)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    clusters = pd.read_parquet(run_dir / "clusters.parquet")
    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    return clusters, pairs, float(record["threshold"])


def _usable_run(home: Path, model_dir: Path, threshold: float | None) -> Path | None:
    pointer = home / "LATEST"
    if not pointer.exists():
        return None
    run_dir = home / "runs" / pointer.read_text(encoding="utf-8").strip()
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = threshold if threshold is not None else DEFAULT_THRESHOLD
    # The model folder's name is its version: the workdir may be named another way this time.
    same_model = Path(record.get("model_dir", "")).name == model_dir.name
    if not same_model or abs(record["threshold"] - wanted) > 1e-12:
        return None
    return run_dir


def duplicates(
    master: Master, threshold: float | None, say: Say
) -> tuple[list[Metric], list[DuplicateCluster]]:
    """The fuzzy-cluster metric of every party entity type, and their clusters."""
    metrics, found = [], []
    for name in master.parties():
        clusters, pairs, p = latest_dedupe(master, name, threshold, say)
        multi = clusters[clusters["cluster_size"] > 1]
        live = master.records(name)
        labels = _labels(master, name, multi["unique_id"].tolist())
        rows = [
            (uid, labels.get(uid, uid), f"in duplicate cluster {cid} of {size} records")
            for uid, cid, size in zip(
                multi["unique_id"], multi["cluster_id"], multi["cluster_size"], strict=True
            )
        ]
        sizes = multi.groupby("cluster_id").size()
        biggest = int(sizes.max()) if len(sizes) else 0
        spec = MetricSpec(
            f"{name}.uniqueness.fuzzy_clusters", name, None, "uniqueness",
            f"{name} records not in a duplicate cluster",
            f"Share of {name} records that batch dedupe (splink, pairs with match probability "
            f"≥ {p}) puts in no cluster of two or more; this run: {len(sizes)} such clusters, "
            f"the biggest of {biggest} records.",
            "high",
        )  # fmt: skip
        metrics.append(from_rows(spec, rows, live))
        found += _clusters(master, name, multi, pairs)
    return metrics, found


def _labels(master: Master, name: str, ids: list[str]) -> dict[str, str]:
    spec = master.types[name]
    column = (spec.roles.get("name") or [""])[0]
    if not ids or not column:
        return {}
    frame = pd.DataFrame({"cid": ids})
    master.con.register("wanted_ids", frame)
    try:
        got = master.con.execute(
            f'SELECT r.canonical_id, r."{column}" FROM "raw_{name}" r '
            "JOIN wanted_ids w ON w.cid = r.canonical_id"
        ).fetchall()
    finally:
        master.con.unregister("wanted_ids")
    return {str(c): str(v) for c, v in got}


def _clusters(
    master: Master, name: str, multi: pd.DataFrame, pairs: pd.DataFrame
) -> list[DuplicateCluster]:
    sizes = multi.groupby("cluster_id").size().sort_values(ascending=False, kind="stable")
    chosen = [str(c) for c in sizes.index[:MAX_CLUSTERS]]
    members = multi[multi["cluster_id"].isin(chosen)]
    ids = [str(u) for u in members["unique_id"]]
    raw = _raw_roles(master, name, ids)
    model = _model(master.model_dir, name)
    waterfall = _Waterfall(model, _normalised(master, name, ids))
    inside = pairs[pairs["cluster_id"].isin(chosen)]
    scored: dict[str, list[ClusterPair]] = {c: [] for c in chosen}
    for cid, left, right, p, w, differing in zip(
        inside["cluster_id"], inside["unique_id_l"], inside["unique_id_r"],
        inside["match_probability"], inside["match_weight"], inside["differing_fields"],
        strict=True,
    ):  # fmt: skip
        scored[str(cid)].append(
            waterfall.pair(str(left), str(right), float(p), float(w), str(differing or ""))
        )
    who: dict[str, list[str]] = {c: [] for c in chosen}
    for uid, cid in zip(members["unique_id"], members["cluster_id"], strict=True):
        who[str(cid)].append(str(uid))
    return [
        DuplicateCluster(
            cid,
            name,
            len(who[cid]),
            tuple(ClusterMember(uid, raw.get(uid, {})) for uid in sorted(who[cid])),
            tuple(sorted(scored[cid], key=lambda s: (-s.match_probability, s.left_id))),
        )  # fmt: skip
        for cid in chosen
    ]


class _Waterfall:
    """Scores a pair of records with the compiled model (equal to splink's weights) and
    lays its match weight out as the prior plus one step per comparison."""

    def __init__(self, model: CompiledModel, records: dict[str, dict[str, str | None]]):
        self.model = model
        self.records = records
        self.column_of = {c.name: c.column for c in model.comparisons}

    def pair(
        self, left: str, right: str, probability: float, weight: float, differing: str
    ) -> ClusterPair:
        score = self.model.score(self.records.get(left, {}), self.records.get(right, {}))
        steps = [WaterfallStep("prior", None, round(self.model.prior_match_weight, 6))]
        for e in score.explanation:
            label = f"{e.comparison}: {e.level}"
            steps.append(WaterfallStep(label, self.column_of.get(e.comparison), e.match_weight))
        fields = tuple(self.column_of.get(f, f) for f in differing.split(",") if f)
        return ClusterPair(left, right, probability, weight, fields, tuple(steps))


def _raw_roles(master: Master, name: str, ids: list[str]) -> dict[str, dict[str, str]]:
    """Each record's role values as written (the first non-empty column of each role)."""
    spec = master.types[name]
    if not ids:
        return {}
    selects = []
    for role, cols in spec.roles.items():
        merged = "coalesce(" + ", ".join(f"nullif(r.\"{c}\", '')" for c in cols) + ", '')"
        selects.append(f'{merged} AS "{role}"')
    master.con.register("wanted_ids", pd.DataFrame({"cid": ids}))
    try:
        frame = master.con.execute(
            f'SELECT r.canonical_id, {", ".join(selects)} FROM "raw_{name}" r '
            "JOIN wanted_ids w ON w.cid = r.canonical_id"
        ).df()
    finally:
        master.con.unregister("wanted_ids")
    roles = list(spec.roles)
    return {
        str(rec["canonical_id"]): {r: str(rec[r]) for r in roles}
        for rec in frame.to_dict("records")
    }


def _normalised(master: Master, name: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each record's normalised columns (what the model compares)."""
    if not ids:
        return {}
    master.con.register("wanted_ids", pd.DataFrame({"cid": ids}))
    try:
        frame = master.con.execute(
            f'SELECT r.* FROM "rec_{name}" r JOIN wanted_ids w ON w.cid = r.unique_id'
        ).df()
    finally:
        master.con.unregister("wanted_ids")
    frame = frame.astype(object).where(frame.notna(), None)
    return {
        str(rec["unique_id"]): {str(k): v for k, v in rec.items()}
        for rec in frame.to_dict("records")
    }


def _model(model_dir: Path, name: str) -> CompiledModel:
    compiled = json.loads((model_dir / f"compiled_{name}.json").read_text(encoding="utf-8"))
    tf = json.loads((model_dir / f"tf_{name}.json").read_text(encoding="utf-8"))
    return CompiledModel(compiled, tf)
