"""Benchmark phases, each run in its own process so that its peak RSS and start-up are its own.

    python benchmarks/phases.py PHASE --out result.json [options]

Phases: `generate`, `train`, `serve` (index load, RSS, in-process latency and throughput),
`splink` (splink 5's per-record paths on the same queries, and agreement with ours), `http`
(latency and throughput of `POST /v1/resolve` through `canon serve`), `dedupe`, `recall` (the
name-candidate scan budget against brute force, `resolver/recall.py`). Each writes one JSON
object; `bench_resolve.py` runs them and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / mean / max of latencies in milliseconds."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": float(len(ordered)),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": statistics.fmean(ordered),
        "max": ordered[-1],
    }


def load_queries(path: Path, n: int | None = None, seed: int = 1) -> list[dict[str, Any]]:
    """n queries of the generator's mix, shuffled (repeated if it has fewer); all if n is None."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(seed)
    rng.shuffle(rows)
    if n is None:
        return rows
    out = list(rows)
    while len(out) < n:
        out.extend(rows)
    return out[:n]


# -- generate ----------------------------------------------------------------------------------
def phase_generate(args: argparse.Namespace) -> dict[str, Any]:
    from sandbox.synthetic import generate_sample

    started = time.perf_counter()
    summary = generate_sample(Path(args.sample), suppliers=args.suppliers, seed=args.seed)
    return {
        "seconds": time.perf_counter() - started,
        "rows": dict(summary.rows),
        "queries": summary.queries,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- train -------------------------------------------------------------------------------------
def phase_train(args: argparse.Namespace) -> dict[str, Any]:
    from resolver import train_workdir

    stamps: list[tuple[float, str]] = []
    started = time.perf_counter()
    options: dict[str, Any] = {} if args.engine == "duckdb" else {"engine": args.engine}
    summary = train_workdir(
        Path(args.sample) / "data",
        Path(args.workdir),
        **options,
        progress=lambda msg: stamps.append((time.perf_counter() - started, msg)),
    )
    return {
        "seconds": summary.seconds,
        "model_version": summary.model_version,
        "stages": getattr(summary, "stages", {}),
        "entity_types": [
            {
                "entity_type": r.entity_type,
                "rows": r.rows,
                "candidate_pairs": r.candidate_pairs,
                "seconds": r.seconds,
                "stages": getattr(r, "stages", {}),
            }
            for r in summary.reports
        ],
        "progress": stamps,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- serve (in process) ------------------------------------------------------------------------
def _timed(resolve: Callable[[Any], Any], queries: list[Any]) -> list[float]:
    out = []
    for query in queries:
        t0 = time.perf_counter_ns()
        resolve(query)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def _throughput(resolve: Callable[[Any], Any], queries: list[Any], threads: int) -> dict[str, Any]:
    """Every query resolved once, spread over `threads` threads; queries/s and latency."""
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(k: int) -> None:
        latencies[k] = _timed(resolve, queries[k::threads])

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    flat = [x for part in latencies for x in part]
    return {"threads": threads, "qps": len(queries) / wall, **percentiles(flat)}


def phase_serve(args: argparse.Namespace) -> dict[str, Any]:
    rss_start = rss_mb()
    from resolver import ResolveQuery, load_resolver

    rss_imported = rss_mb()
    started = time.perf_counter()
    resolver = load_resolver(Path(args.workdir))
    load_seconds = time.perf_counter() - started
    rss_loaded = rss_mb()
    queries = [ResolveQuery.model_validate(q) for q in load_queries(Path(args.queries), args.n)]
    _timed(resolver.resolve, queries[: min(200, len(queries))])  # warm-up
    latency = percentiles(_timed(resolver.resolve, queries))
    by_type: dict[str, list[float]] = {}
    for query in queries[:1000]:
        t0 = time.perf_counter_ns()
        resolver.resolve(query)
        by_type.setdefault(str(query.entity_type), []).append((time.perf_counter_ns() - t0) / 1e6)
    throughput = [_throughput(resolver.resolve, queries, t) for t in args.threads]
    return {
        "load_seconds": load_seconds,
        "rss_start_mb": rss_start,
        "rss_imported_mb": rss_imported,
        "rss_loaded_mb": rss_loaded,
        "index_mb": rss_loaded - rss_imported,
        "latency_ms": latency,
        "latency_by_entity_type_ms": {k: percentiles(v) for k, v in by_type.items()},
        "throughput": throughput,
        "peak_rss_mb": peak_rss_mb(),
        "records": {n: et.index.size for n, et in resolver.entity_types.items()},
    }


# -- splink side by side -----------------------------------------------------------------------
def phase_splink(args: argparse.Namespace) -> dict[str, Any]:
    """splink 5's per-record scoring of the same supplier queries against the same master."""
    import duckdb
    import pandas as pd
    from splink import DuckDBAPI, Linker
    from splink.internals.realtime import compare_records

    from resolver import ResolveQuery, load_resolver
    from resolver.normalise import normalise_record
    from resolver.workdir import current_model_dir

    entity_type = "supplier"
    workdir = Path(args.workdir)
    model_dir = current_model_dir(workdir)
    resolver = load_resolver(workdir)
    et = resolver.entity_types[entity_type]
    assert et.model is not None
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    columns: list[str] = manifest["model_columns"][entity_type]
    model = json.loads((model_dir / f"splink_{entity_type}.json").read_text(encoding="utf-8"))
    master = pd.read_parquet(model_dir / f"records_{entity_type}.parquet", columns=columns)

    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    right = db_api.register(master, table_name="master")
    linker = Linker(right, model, log_level=logging.ERROR)
    tf_tables = et.model.tf_tables
    for col, table in tf_tables.items():
        frame = pd.DataFrame({col: list(table), f"tf_{col}": list(table.values())})
        linker.table_management.register_term_frequency_lookup(
            db_api.register(frame, table_name=f"tf_lookup_{col}"), col
        )

    raw = [q for q in load_queries(Path(args.queries)) if q.get("entity_type") == entity_type]
    raw = raw[: args.n]
    ours_ms, splink_ms, pair_ms = [], [], []
    same_top = both_have = ours_only = splink_only = pairs_compared = pairs_equal = 0
    splink_best_missed = ours_better = 0
    worst = 0.0
    position = {uid: i for i, uid in enumerate(et.index.ids)}
    for k, q in enumerate(raw):
        query = ResolveQuery.model_validate(q)
        t0 = time.perf_counter_ns()
        resolver.resolve(query)
        ours_ms.append((time.perf_counter_ns() - t0) / 1e6)
        roles = resolver._roles(dict(query.record), et.spec, entity_type, strict=True)
        normalised = normalise_record(roles)
        ours = {
            et.index.ids[i]: et.model.score(normalised, et.index.record(i), explain=False)
            for i in et.index.candidates(normalised)
        }
        left_frame = pd.DataFrame([{**normalised, "unique_id": f"q{k}"}]).reindex(columns=columns)
        t0 = time.perf_counter_ns()
        left = db_api.register(left_frame.astype(object), table_name=f"query_{k}")
        predictions = linker.inference.predict_between(left, right, warning_mode="never")
        theirs_df = predictions.as_pandas_dataframe()
        splink_ms.append((time.perf_counter_ns() - t0) / 1e6)
        predictions.drop_table_from_database_and_remove_from_cache()
        theirs = dict(zip(theirs_df["unique_id_r"], theirs_df["match_weight"], strict=True))
        for uid, weight in theirs.items():
            score = ours.get(uid)
            if score is None:  # not among our candidates: score it anyway for the parity check
                score = et.model.score(normalised, et.index.record(position[uid]), explain=False)
            pairs_compared += 1
            diff = abs(score.match_weight - float(weight))
            worst = max(worst, diff)
            pairs_equal += diff <= 1e-6
        if ours and theirs:
            both_have += 1
            top_ours = max(ours, key=lambda u: ours[u].match_weight)
            top_theirs = max(theirs, key=lambda u: theirs[u])
            if top_ours == top_theirs or (
                abs(ours[top_ours].match_weight - float(theirs[top_theirs])) <= 1e-6
            ):
                same_top += 1
            elif top_theirs not in ours:
                splink_best_missed += 1
            else:
                ours_better += 1
        elif ours:
            ours_only += 1
        elif theirs:
            splink_only += 1
        if k < args.pairs:
            record = master.iloc[position[next(iter(ours))]] if ours else master.iloc[0]
            r1: dict[str, Any] = {**normalised, "unique_id": "q"}
            r2: dict[str, Any] = {c: (None if pd.isna(v) else v) for c, v in record.items()}
            for side in (r1, r2):
                for col, table in tf_tables.items():
                    side[f"tf_{col}"] = table.get(str(side.get(col)), None)
            every = columns + [f"tf_{c}" for c in tf_tables]
            f1, f2 = (pd.DataFrame([r]).reindex(columns=every).astype(object) for r in (r1, r2))
            t0 = time.perf_counter_ns()
            compare_records(f1, f2, model, db_api, sql_cache_key="bench").as_pandas_dataframe()
            pair_ms.append((time.perf_counter_ns() - t0) / 1e6)
    ours_p = percentiles(ours_ms)
    theirs_p = percentiles(splink_ms)
    return {
        "queries": len(raw),
        "master_rows": len(master),
        "ours_ms": ours_p,
        "predict_between_ms": theirs_p,
        "compare_records_ms": percentiles(pair_ms[1:]),  # the first call builds the SQL cache
        "ratio_p50": theirs_p["p50"] / ours_p["p50"],
        "ratio_mean": theirs_p["mean"] / ours_p["mean"],
        "same_top_candidate": same_top,
        "both_have_candidates": both_have,
        "only_ours_found": ours_only,
        "only_splink_found": splink_only,
        "splink_best_not_in_our_candidates": splink_best_missed,
        "ours_best_not_blocked_by_splink": ours_better,
        "pairs_compared": pairs_compared,
        "pairs_equal_1e-6": pairs_equal,
        "worst_weight_diff": worst,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- HTTP --------------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phase_http(args: argparse.Namespace) -> dict[str, Any]:
    """Latency and throughput of POST /v1/resolve through `canon serve --workers N`, from a
    light asyncio client (`http_client.py`) with one kept-alive connection per client."""
    import http_client
    import httpx

    canon = str(Path(sys.executable).parent / "canon")
    env = {
        **os.environ,
        "CANON_WORKDIR": args.workdir,
        "CANON_RATE_LIMIT_ROLES": json.dumps(
            {r: {"per_second": 1e6, "burst": 10**6} for r in ("agent", "admin")}
        ),
        "CANON_LOG_LEVEL": "WARNING",
    }
    key = subprocess.run(
        [canon, "keys", "create", "--workdir", args.workdir, "--name", f"bench-{time.time_ns()}"]
        + ["--role", "agent", "--scopes", "resolve"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [canon, "serve", "--workdir", args.workdir, "--port", str(port)]
        + ["--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise RuntimeError("canon serve exited before it was ready")
            time.sleep(0.1)
        ready_seconds = time.perf_counter() - started
        queries = load_queries(Path(args.queries), args.n)
        headers = {"Authorization": f"Bearer {key}"}
        http_client.run(base, "/v1/resolve", headers, queries[:200], 4)  # warm-up
        results = []
        for clients in args.threads:
            flat, wall = http_client.run(base, "/v1/resolve", headers, queries, clients)
            results.append({"clients": clients, "qps": len(flat) / wall, **percentiles(flat)})
        return {"ready_seconds": ready_seconds, "workers": args.workers, "by_clients": results}
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- recall of the budgeted candidate pass -----------------------------------------------------
def phase_recall(args: argparse.Namespace) -> dict[str, Any]:
    """Each query resolved with and without the name-candidate scan budget (`resolver.recall`):
    recall of the right record, decisions that change, and latency both ways. --budgets lists
    the budgets (0: the default, `resolver.index.SCAN_BUDGET`)."""
    from resolver import load_resolver
    from resolver.index import SCAN_BUDGET
    from resolver.recall import compare

    workdir = Path(args.workdir)
    queries_path = Path(args.queries)
    queries = load_queries(queries_path, args.n)
    lines = (queries_path.parent / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {str(r["id"]): r for r in (json.loads(line) for line in lines if line.strip())}
    resolver = load_resolver(workdir)
    warm = queries[: min(200, len(queries))]
    compare(resolver, warm, expected, SCAN_BUDGET)  # warm-up
    runs = []
    for budget in args.budgets or [0]:
        report = compare(resolver, queries, expected, budget or SCAN_BUDGET)
        untyped = [k for k, q in enumerate(queries) if q.get("entity_type") is None]
        runs.append(
            {
                "budget": report.budget,
                "queries": report.queries,
                "with_right_record": report.with_right_record,
                "brute_found": report.brute_found,
                "capped_found": report.capped_found,
                "brute_first": report.brute_first,
                "capped_first": report.capped_first,
                "recall": report.recall,
                "recall_first": report.recall_first,
                "answers_changed": report.answers_changed,
                "changes": [vars(c) for c in report.changes],
                "brute_ms": percentiles(report.brute_ms),
                "capped_ms": percentiles(report.capped_ms),
                "brute_untyped_ms": percentiles([report.brute_ms[k] for k in untyped]),
                "capped_untyped_ms": percentiles([report.capped_ms[k] for k in untyped]),
            }
        )
    return {
        "default_budget": SCAN_BUDGET,
        "records": {n: et.index.size for n, et in resolver.entity_types.items()},
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- dedupe ------------------------------------------------------------------------------------
def phase_dedupe(args: argparse.Namespace) -> dict[str, Any]:
    from resolver import dedupe_workdir

    started = time.perf_counter()
    stamps: list[tuple[float, str]] = []
    summary = dedupe_workdir(
        Path(args.workdir),
        "supplier",
        progress=lambda step, _d, _t: stamps.append((time.perf_counter() - started, step)),
    )
    return {
        "seconds": time.perf_counter() - started,
        "steps": {
            step: round(stamps[k + 1][0] - at, 1) for k, (at, step) in enumerate(stamps[:-1])
        },
        "summary": {k: v for k, v in vars(summary).items() if isinstance(v, int | float | str)},
        "peak_rss_mb": peak_rss_mb(),
    }


PHASES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "generate": phase_generate,
    "train": phase_train,
    "serve": phase_serve,
    "splink": phase_splink,
    "http": phase_http,
    "dedupe": phase_dedupe,
    "recall": phase_recall,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--sample", default="")
    parser.add_argument("--workdir", default="")
    parser.add_argument("--queries", default="")
    parser.add_argument("--suppliers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    parser.add_argument("--budgets", type=lambda s: [int(x) for x in s.split(",")], default=[0])
    args = parser.parse_args()
    result = PHASES[args.phase](args)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
