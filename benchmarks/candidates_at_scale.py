"""The name-candidate pass alone at any master size, without training: budget against brute force.

    python benchmarks/candidates_at_scale.py SAMPLE [--entity-type supplier] [--budget N]
                                             [--queries 2000]

Reads one entity type's extract from a generated sample (`phases.py generate`), normalises it
and builds its serving index as training would (no model: strong keys and name postings), then
runs every query of that entity type in the sample through `ServingIndex.candidates` twice,
without a budget (brute force: every usable posting scanned whole) and with each of --budgets
(default: the default budget), alternately first. Prints, of the queries whose right record
brute force puts among its candidates, the share the budgeted pass puts there too, and the
latency of the pass both ways. Blocking only: whether a decision changes needs a trained
model (`recall.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phases import percentiles  # noqa: E402 - the sibling script, found through sys.path


def main() -> None:
    from resolver.extracts import load_entity_type
    from resolver.index import SCAN_BUDGET, ServingIndex
    from resolver.profiles import load_profile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sample")
    parser.add_argument("--entity-type", default="supplier")
    parser.add_argument("--budgets", default=str(SCAN_BUDGET), help="comma-separated")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    sample = Path(args.sample)
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    spec = load_profile(None).entity_types[args.entity_type]
    started = time.perf_counter()
    frame = load_entity_type(sample / "data", spec)
    index = ServingIndex.build(frame, sorted(spec.available_columns()), None, spec.blocking_rules)
    built = time.perf_counter() - started
    print(f"{args.entity_type}: {index.size:,} records indexed in {built:.0f} s")
    position = {cid: i for i, cid in enumerate(index.ids)}
    lines = (sample / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    truth = {
        str(r["id"]): r
        for r in (json.loads(x) for x in (sample / "expected.jsonl").read_text().splitlines() if x)
    }
    queries = [json.loads(x) for x in lines if x]
    queries = [q for q in queries if q.get("entity_type") == args.entity_type][: args.queries]
    for budget in [int(x) for x in args.budgets.split(",")]:
        _compare(index, spec, queries, truth, position, budget)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _compare(
    index: Any,
    spec: Any,
    queries: list[dict[str, Any]],
    truth: dict[str, dict[str, Any]],
    position: dict[str, int],
    budget: int,
) -> None:
    from resolver.normalise import normalise_record

    brute_ms: list[float] = []
    capped_ms: list[float] = []
    with_right = brute_found = capped_found = differ = 0
    for n, raw in enumerate(queries):
        query = normalise_record({k: v for k, v in raw["record"].items() if k in spec.roles})
        found = {}
        for b in (None, budget) if n % 2 == 0 else (budget, None):
            t0 = time.perf_counter_ns()
            found[b] = index.candidates(query, b)
            ms = (time.perf_counter_ns() - t0) / 1e6
            (brute_ms if b is None else capped_ms).append(ms)
        brute, capped = found[None].tolist(), found[budget].tolist()
        differ += brute != capped
        expected = truth.get(str(raw["id"]), {})
        rows = {position.get(str(c)) for c in expected.get("canonical_ids") or []} - {None}
        if expected.get("expected") != "match" or not rows:
            continue
        with_right += 1
        if rows & set(brute):
            brute_found += 1
            capped_found += bool(rows & set(capped))
    b, c = percentiles(brute_ms), percentiles(capped_ms)
    print(
        f"budget {budget:,}: {len(queries):,} queries, {with_right:,} with a right record; "
        f"candidates differ for {differ:,}; right record among the candidates: brute force "
        f"{brute_found:,}, budgeted {capped_found:,} of them "
        f"({capped_found / max(brute_found, 1):.2%}); latency ms, brute → budget: "
        f"p50 {b['p50']:.3f} → {c['p50']:.3f}, p95 {b['p95']:.3f} → {c['p95']:.3f}, "
        f"p99 {b['p99']:.3f} → {c['p99']:.3f}, mean {b['mean']:.3f} → {c['mean']:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
