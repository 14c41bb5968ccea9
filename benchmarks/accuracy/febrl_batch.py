"""FEBRL4 in batch: link set A and set B as one master with `canon dedupe`, and score the pairs.

Every record of 4B is a corrupted copy of one record of 4A (`rec-N-org` / `rec-N-dup-0`) and
neither set holds duplicates of its own, so the true pairs are exactly the 5,000 A-B pairs.
Predicted pairs are the pairs of records the dedupe puts in one cluster (connected components
at its threshold), the way a steward reads its result.

    python -m benchmarks.accuracy.febrl_batch --workdir var/febrl-batch [--threshold P]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from benchmarks.accuracy.common import write_csv
from benchmarks.accuracy.febrl import HEADER, febrl_dir, read_febrl

PROFILE = Path(__file__).resolve().parent / "profiles" / "febrl.yaml"


def true_pairs(ids: list[str]) -> set[tuple[str, str]]:
    """The A-B pairs of one entity: `rec-N-org` with `rec-N-dup-K`."""
    by_entity: dict[str, list[str]] = {}
    for rec in ids:
        by_entity.setdefault(rec.split("-")[1], []).append(rec)
    return {
        tuple(sorted(pair))  # type: ignore[misc]
        for members in by_entity.values()
        for pair in itertools.combinations(sorted(members), 2)
    }


def cluster_pairs(clusters: pd.DataFrame) -> set[tuple[str, str]]:
    """Every pair of records that share a cluster."""
    out: set[tuple[str, str]] = set()
    for _, group in clusters.groupby("cluster_id"):
        ids = sorted(str(u).removeprefix("Febrl:") for u in group["unique_id"])
        out.update(itertools.combinations(ids, 2))
    return out


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(predicted), "true": len(truth), "tp": tp,
            "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args(argv)
    source = febrl_dir()
    rows = read_febrl(source / "dataset4a.csv") + read_febrl(source / "dataset4b.csv")
    data = args.workdir / "data"
    write_csv(data / "febrl.csv", HEADER, rows)
    canon = str(Path(sys.executable).parent / "canon")
    work = args.workdir / "canon"
    subprocess.run(
        [canon, "train", "--data", str(data), "--workdir", str(work), "--profile", str(PROFILE)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    dedupe = [canon, "dedupe", "--workdir", str(work), "--entity-type", "person"]
    if args.threshold is not None:
        dedupe += ["--threshold", str(args.threshold)]
    subprocess.run(dedupe, check=True, capture_output=True, text=True)
    runs = work / "dedupe" / "person" / "runs"
    latest = sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    clusters = pd.read_parquet(latest / "clusters.parquet")
    result = scores(cluster_pairs(clusters), true_pairs([r["rec_id"] for r in rows]))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
