"""`make bench`: resolve at scale, measured on this machine, beside splink's own per-record path.

    python benchmarks/bench_resolve.py [--sizes 100000,1000000] [--queries 2000] [--root var/bench]
                                       [--threads 1,4,16] [--no-http] [--record]

For each master size (suppliers; customers, employees and contacts in the generator's
proportions) it generates a seeded sample (kept under --root and reused), trains, loads the
serving index, resolves --queries queries of the generator's mix in process and over HTTP, and
runs splink 5's `predict_between` and `compare_records` on the same supplier queries. Every
phase runs in its own process (`benchmarks/phases.py`), so each peak RSS is that phase's own.
With --record the tables are appended to benchmarks/RESULTS.md with the machine's description.
Benchmarks measure; they assert nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PHASES = HERE / "phases.py"
RESULTS = HERE / "RESULTS.md"


def machine() -> str:
    """nproc, CPU model, RAM and load: the context every figure needs."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "RAM unknown"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram}, Python {platform.python_version()}, "
        f"load average at start {load}"
    )


def run_phase(phase: str, out_dir: Path, **options: Any) -> dict[str, Any]:
    """Run one phase in a fresh process and return its JSON result."""
    out = out_dir / f"{phase}.json"
    cmd = [sys.executable, str(PHASES), phase, "--out", str(out)]
    for key, value in options.items():
        cmd += [f"--{key}", ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    started = time.perf_counter()
    print(f"  {phase} …", end="", flush=True)
    subprocess.run(cmd, check=True)
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    print(f" {time.perf_counter() - started:.1f} s", flush=True)
    return result


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [f"**{title}**", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines) + "\n"


def ms(value: float | None) -> str:
    return "—" if value is None else (f"{value:.3f}" if value < 10 else f"{value:.1f}")


def report(size: int, res: dict[str, Any]) -> str:
    """Every table of one master size."""
    parts = [f"### {size:,} suppliers\n"]
    gen = res.get("generate")
    if gen:
        rows = ", ".join(f"{k} {v:,}" for k, v in gen["rows"].items())
        parts.append(f"Sample: {rows}; {gen['queries']:,} queries ({gen['seconds']:.0f} s).\n")
    tr = res.get("train")
    if tr:
        stage_names: list[str] = []
        for et in tr["entity_types"]:
            stage_names += [s for s in et["stages"] if s not in stage_names]
        rows_t = [
            [et["entity_type"], f"{et['rows']:,}", f"{et['candidate_pairs']:,}"]
            + [f"{et['stages'].get(s, 0.0):.1f}" for s in stage_names]
            + [f"{et['seconds']:.1f}"]
            for et in tr["entity_types"]
        ]
        total = [f"{k} {v:.1f} s" for k, v in tr.get("stages", {}).items()]
        parts.append(
            table(
                f"training: {tr['seconds']:.1f} s in all, peak RSS {tr['peak_rss_mb']:,.0f} MB",
                ["entity type", "rows", "pairs", *stage_names, "seconds"],
                rows_t,
            )
        )
        if total:
            parts.append("Run stages: " + ", ".join(total) + ".\n")
    sv = res.get("serve")
    if sv:
        lat = sv["latency_ms"]
        parts.append(
            table(
                "serving index (in process)",
                ["load s", "RSS MB (process)", "index MB", "p50 ms", "p95 ms", "p99 ms", "mean"],
                [
                    [
                        f"{sv['load_seconds']:.2f}",
                        f"{sv['rss_loaded_mb']:,.0f}",
                        f"{sv['index_mb']:,.0f}",
                        ms(lat["p50"]),
                        ms(lat["p95"]),
                        ms(lat["p99"]),
                        ms(lat["mean"]),
                    ]
                ],
            )
        )
        by_type = sv.get("latency_by_entity_type_ms", {})
        parts.append(
            table(
                "in-process latency by query entity type (ms)",
                ["entity type", "n", "p50", "p95", "p99"],
                [
                    [k, f"{v['n']:.0f}", ms(v["p50"]), ms(v["p95"]), ms(v["p99"])]
                    for k, v in sorted(by_type.items())
                ],
            )
        )
        parts.append(
            table(
                "in-process throughput (threads share one Resolver; the GIL serialises them)",
                ["threads", "queries/s", "p50 ms", "p99 ms"],
                [
                    [str(t["threads"]), f"{t['qps']:,.0f}", ms(t["p50"]), ms(t["p99"])]
                    for t in sv["throughput"]
                ],
            )
        )
    ht = res.get("http")
    if ht:
        parts.append(
            table(
                f"HTTP POST /v1/resolve (canon serve, 1 worker; ready after "
                f"{ht['ready_seconds']:.1f} s)",
                ["clients", "requests/s", "p50 ms", "p95 ms", "p99 ms"],
                [
                    [str(c["clients"]), f"{c['qps']:,.0f}"]
                    + [ms(c[q]) for q in ("p50", "p95", "p99")]
                    for c in ht["by_clients"]
                ],
            )
        )
    sp = res.get("splink")
    if sp:
        o, p, c = sp["ours_ms"], sp["predict_between_ms"], sp["compare_records_ms"]
        parts.append(
            table(
                f"side by side: {sp['queries']} supplier queries against the same "
                f"{sp['master_rows']:,}-record master",
                ["path", "p50 ms", "p95 ms", "p99 ms", "mean ms"],
                [
                    ["Canon resolve()", ms(o["p50"]), ms(o["p95"]), ms(o["p99"]), ms(o["mean"])],
                    [
                        "splink predict_between",
                        ms(p["p50"]),
                        ms(p["p95"]),
                        ms(p["p99"]),
                        ms(p["mean"]),
                    ],  # fmt: skip
                    [
                        "splink compare_records (1 pair)",
                        ms(c.get("p50")),
                        ms(c.get("p95")),
                        ms(c.get("p99")),
                        ms(c.get("mean")),
                    ],  # fmt: skip
                ],
            )
        )
        parts.append(
            f"Ratio splink/Canon: {sp['ratio_p50']:,.0f}× at p50, {sp['ratio_mean']:,.0f}× on the "
            f"mean. Same top candidate on {sp['same_top_candidate']}/"
            f"{sp['both_have_candidates']} queries both found candidates for "
            f"({sp['only_ours_found']} found only by Canon's blocking, "
            f"{sp['only_splink_found']} only by splink's; where the tops differ, splink's best "
            f"was missing from Canon's candidates {sp['splink_best_not_in_our_candidates']}"
            f" times and Canon's best was outside splink's blocking "
            f"{sp['ours_best_not_blocked_by_splink']} times). Match weights equal to 1e-6 on "
            f"{sp['pairs_equal_1e-6']}/{sp['pairs_compared']} pairs splink scored "
            f"(worst difference {sp['worst_weight_diff']:.1e}).\n"
        )
    dd = res.get("dedupe")
    if dd:
        summary = ", ".join(f"{k} {v}" for k, v in dd["summary"].items())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in dd.get("steps", {}).items())
        parts.append(
            f"Dedupe (supplier, `canon dedupe`): {dd['seconds']:.1f} s, peak RSS "
            f"{dd['peak_rss_mb']:,.0f} MB" + (f" ({steps})" if steps else "") + f"; {summary}.\n"
        )
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--splink-queries", type=int, default=100)
    parser.add_argument("--root", default="var/bench")
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-dedupe", action="store_true")
    parser.add_argument("--retrain", action="store_true", help="train even if a model exists")
    parser.add_argument("--record", action="store_true", help="append the tables to RESULTS.md")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    threads = [int(t) for t in args.threads.split(",")]
    header = f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}\n"
    print(header)
    sections = []
    for size in [int(s) for s in args.sizes.split(",")]:
        base = root / f"s{size}"
        sample, workdir, out = base / "sample", base / "workdir", base / "results"
        out.mkdir(parents=True, exist_ok=True)
        print(f"{size:,} suppliers ({base})")
        res: dict[str, Any] = {}
        if not (sample / "queries.jsonl").exists():
            res["generate"] = run_phase(
                "generate", out, sample=sample, suppliers=size, seed=args.seed
            )
        if args.retrain or not (workdir / "CURRENT").exists():
            res["train"] = run_phase("train", out, sample=sample, workdir=workdir)
        elif (out / "train.json").exists():
            res["train"] = json.loads((out / "train.json").read_text(encoding="utf-8"))
        queries = sample / "queries.jsonl"
        res["serve"] = run_phase(
            "serve", out, workdir=workdir, queries=queries, n=args.queries, threads=threads
        )
        res["splink"] = run_phase(
            "splink", out, workdir=workdir, queries=queries, n=args.splink_queries
        )
        if not args.no_http:
            res["http"] = run_phase(
                "http", out, workdir=workdir, queries=queries, n=args.queries, threads=threads
            )
        if not args.no_dedupe:
            try:
                res["dedupe"] = run_phase("dedupe", out, workdir=workdir)
            except subprocess.CalledProcessError as e:
                print(f"  dedupe failed: {e}")
        section = report(size, res)
        print("\n" + section)
        sections.append(section)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n" + header + "\n" + "\n".join(sections))
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
