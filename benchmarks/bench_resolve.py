"""`make bench`: resolve at scale, measured on this machine, beside splink's own per-record path.

    python benchmarks/bench_resolve.py [--sizes 10000] [--queries 1000] [--root var/bench]
                                       [--threads 1,4,16] [--no-http] [--no-splink]
                                       [--no-recall] [--no-dedupe] [--record]

For each master size (suppliers; customers, employees and contacts in the generator's
proportions) it generates a seeded sample (kept under --root and reused), trains, loads the
serving index, resolves --queries queries of the generator's mix in process and over HTTP, runs
splink 5's `predict_between` and `compare_records` on the same supplier queries, compares the
name-candidate scan budget with brute force, and dedupes. Every phase runs in its own process
(`benchmarks/phases.py`), so each peak RSS is that phase's own. It ends with one table: every
target of issue 17, the measured value (or "not measured"), whether it is met, and the load
average while it was measured. The targets are for 1 M suppliers (`--sizes 100000,1000000`);
the default size keeps a run to minutes. With --record the tables are appended to
benchmarks/RESULTS.md with the machine's description. Benchmarks measure; they assert nothing.
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


def _count(value: object) -> str:
    """A count, or "not counted" (training counts candidate pairs only when asked)."""
    return f"{value:,}" if isinstance(value, int) else "not counted"


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
    load_before = os.getloadavg()[0]
    print(f"  {phase} …", end="", flush=True)
    subprocess.run(cmd, check=True)
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["load_1min"] = [load_before, os.getloadavg()[0]]
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


def recall_budgets(size: int) -> list[int]:
    """The default scan budget, and below 1 M its share of the master (what it is at 1 M)."""
    from resolver.index import SCAN_BUDGET

    share = max(1, round(SCAN_BUDGET * size / AT_SCALE))
    return [SCAN_BUDGET] + ([share] if share < SCAN_BUDGET else [])


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
            [et["entity_type"], f"{et['rows']:,}", _count(et.get("candidate_pairs"))]
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
    rc = res.get("recall")
    if rc:
        rows_r = []
        for run in rc["runs"]:
            b, c = run["brute_ms"], run["capped_ms"]
            bu, cu = run["brute_untyped_ms"], run["capped_untyped_ms"]
            rows_r.append(
                [
                    f"{run['budget']:,}",
                    f"{run['capped_found']:,}/{run['brute_found']:,}",
                    f"{run['recall']:.2%}",
                    f"{run['capped_first']:,}/{run['brute_first']:,}",
                    f"{run['answers_changed']:,}",
                    str(len(run["changes"])),
                    f"{ms(b.get('p50'))} → {ms(c.get('p50'))}",
                    f"{ms(b.get('p99'))} → {ms(c.get('p99'))}",
                    f"{ms(bu.get('p99'))} → {ms(cu.get('p99'))}",
                ]
            )
        parts.append(
            table(
                "name candidates under a scan budget against brute force "
                f"({rc['runs'][0]['queries']:,} queries, each resolved both ways; "
                "latency brute → budget, ms)",
                [
                    "budget",
                    "right record returned",
                    "recall",
                    "right record first",
                    "answers differ",
                    "decisions differ",
                    "p50",
                    "p99",
                    "untyped p99",
                ],
                rows_r,
            )
        )
        for run in rc["runs"]:
            for ch in run["changes"]:
                parts.append(
                    f"- budget {run['budget']:,}: {ch['id']} ({ch['kind']}) "
                    f"{ch['before']} → {ch['after']}"
                )
        parts.append("")
    dd = res.get("dedupe")
    if dd:
        summary = ", ".join(f"{k} {v}" for k, v in dd["summary"].items())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in dd.get("steps", {}).items())
        parts.append(
            f"Dedupe (supplier, `canon dedupe`): {dd['seconds']:.1f} s, peak RSS "
            f"{dd['peak_rss_mb']:,.0f} MB" + (f" ({steps})" if steps else "") + f"; {summary}.\n"
        )
    return "\n".join(parts)


#: The issue's targets (issue 17, "Done when"): at 1 M suppliers on 2 vCPUs, load < 1.5.
AT_SCALE = 1_000_000
QUIET_LOAD = 1.5


def _load(res: dict[str, Any], *phases: str) -> str:
    """The 1-minute load average at the start and end of the phases a figure comes from."""
    loads = [x for p in phases if p in res for x in res[p].get("load_1min", [])]
    return "—" if not loads else f"{min(loads):.1f}–{max(loads):.1f}"


def _verdict(value: float | None, goal: float, most: bool) -> str:
    if value is None:
        return "not measured"
    return "yes" if (value <= goal if most else value >= goal) else "no"


def summary_rows(size: int, res: dict[str, Any]) -> list[list[str]]:
    """One row per target: the target, master size, measured value, met or not, load."""
    master = f"{size:,}"
    rows: list[list[str]] = []

    def row(target: str, measured: str, met: str, *phases: str) -> None:
        rows.append([target, master, measured, met, _load(res, *phases)])

    sv = res.get("serve") or {}
    p99 = sv.get("latency_ms", {}).get("p99")
    row("in-process p99 ≤ 5 ms, generator's mix", _ms(p99), _verdict(p99, 5, True), "serve")
    untyped = sv.get("latency_by_entity_type_ms", {}).get("None", {}).get("p99")
    row("in-process p99 ≤ 5 ms, untyped queries", _ms(untyped), _verdict(untyped, 5, True), "serve")
    by_clients = {c["clients"]: c for c in (res.get("http") or {}).get("by_clients", [])}
    h4 = by_clients.get(4, {}).get("p99")
    row("HTTP p99 ≤ 20 ms at 4 clients", _ms(h4), _verdict(h4, 20, True), "http")
    q16 = by_clients.get(16, {}).get("qps")
    measured = "not measured" if q16 is None else f"{q16:,.0f}/s (1 worker)"
    row("HTTP ≥ 500 resolves/s at 16 clients", measured, _verdict(q16, 500, False), "http")
    rss = sv.get("rss_loaded_mb")
    measured = "not measured" if rss is None else f"{rss:,.0f} MB (1 process)"
    row("total RSS ≤ 2 GB, index shared", measured, _verdict(rss, 2048, True), "serve")
    ratio = (res.get("splink") or {}).get("ratio_p50")
    measured = "not measured" if ratio is None else f"{ratio:,.0f}×"
    row("≥ 50× splink predict_between at p50", measured, _verdict(ratio, 50, False), "splink")
    tr = res.get("train") or {}
    secs = tr.get("seconds")
    measured = "not measured" if secs is None else f"{secs:,.1f} s"
    if secs is not None and "load_1min" not in tr:
        measured += " (earlier run's train.json)"
    row("train + index ≤ 120 s", measured, _verdict(secs, 120, True), "train")
    dd = (res.get("dedupe") or {}).get("seconds")
    measured = "not measured" if dd is None else f"{dd:,.1f} s"
    row("dedupe ≤ 120 s", measured, _verdict(dd, 120, True), "dedupe")
    row("dedupe recall within 0.1 % of today's rules", "not measured", "not measured")
    for run in (res.get("recall") or {}).get("runs", []):
        changed = len(run["changes"])
        measured = (
            f"{run['recall']:.2%} ({run['capped_found']:,}/{run['brute_found']:,}); "
            f"{changed} of {run['queries']:,} decisions changed; p99 "
            f"{_ms(run['brute_ms'].get('p99'))} → {_ms(run['capped_ms'].get('p99'))}"
        )
        goal = f"candidate recall ≥ 99.9 % of brute force, budget {run['budget']:,}"
        row(goal, measured, _verdict(run["recall"], 0.999, False), "recall")
    row("recall tests green in CI", "not measured (CI)", "not measured")
    loads = [x for r in res.values() if isinstance(r, dict) for x in r.get("load_1min", [])]
    top = max(loads) if loads else None
    row(
        f"quiet machine: load < {QUIET_LOAD}",
        "—" if top is None else f"max {top:.1f}",
        _verdict(top, QUIET_LOAD - 1e-9, True),
    )
    return rows


def summary(rows: list[list[str]]) -> str:
    return table(
        f"Issue 17 targets (set for {AT_SCALE:,} suppliers on 2 vCPUs at load < {QUIET_LOAD}; "
        "a smaller master's figure shows the way, it does not meet the target)",
        ["target", "master", "measured", "met", "load 1-min"],
        rows,
    )


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{ms(value)} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--splink-queries", type=int, default=100)
    parser.add_argument("--root", default="var/bench")
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-dedupe", action="store_true")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-recall", action="store_true")
    parser.add_argument("--retrain", action="store_true", help="train even if a model exists")
    parser.add_argument("--record", action="store_true", help="append the tables to RESULTS.md")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    threads = [int(t) for t in args.threads.split(",")]
    header = f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}\n"
    print(header)
    sections = []
    targets: list[list[str]] = []
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
        if not args.no_splink:
            res["splink"] = run_phase(
                "splink", out, workdir=workdir, queries=queries, n=args.splink_queries
            )
        if not args.no_recall:
            res["recall"] = run_phase(
                "recall",
                out,
                workdir=workdir,
                queries=queries,
                n=args.queries,
                budgets=recall_budgets(size),
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
        targets += summary_rows(size, res)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    closing = summary(targets) + f"\nLoad average at the end: {load}.\n"
    print("\n" + closing)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n" + header + "\n" + "\n".join(sections) + "\n" + closing)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
