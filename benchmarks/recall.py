"""`make bench-recall`: the name-candidate scan budget against brute force on a generated master.

    python benchmarks/recall.py [--size 100000] [--queries 2000] [--budgets 20000,2000]
                                [--root var/bench] [--record]

Generates and trains the master (suppliers, and the generator's other types in proportion)
under --root unless it is there, then resolves every query twice, without the budget (brute
force: every usable name posting scanned whole) and with it, alternately first, in one process
(`benchmarks/phases.py recall`, `resolver/recall.py`). Prints, per budget, the recall of the
right record (of those brute force returns, the share the budgeted pass returns too), the
decisions that change and the latency both ways. By default the budgets are the default one
and, below 1 M suppliers, its share of the master at 1 M (the work it leaves at 1 M). Measures;
asserts nothing (`tests/resolver/test_candidate_recall.py` asserts on the committed sample).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_resolve import (  # noqa: E402 - the sibling script, found through sys.path
    RESULTS,
    machine,
    recall_budgets,
    report,
    run_phase,
    summary,
    summary_rows,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--budgets", default="", help="comma-separated; default: see above")
    parser.add_argument("--root", default="var/bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="append the tables to RESULTS.md")
    args = parser.parse_args()
    base = Path(args.root).resolve() / f"s{args.size}"
    sample, workdir, out = base / "sample", base / "workdir", base / "results"
    out.mkdir(parents=True, exist_ok=True)
    header = f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — recall — {machine()}\n"
    print(header)
    if not (sample / "queries.jsonl").exists():
        run_phase("generate", out, sample=sample, suppliers=args.size, seed=args.seed)
    if not (workdir / "CURRENT").exists():
        run_phase("train", out, sample=sample, workdir=workdir)
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else None
    res = {
        "recall": run_phase(
            "recall",
            out,
            workdir=workdir,
            queries=sample / "queries.jsonl",
            n=args.queries,
            budgets=budgets or recall_budgets(args.size),
        )
    }
    section = report(args.size, res)
    rows = [r for r in summary_rows(args.size, res) if r[2] != "not measured"]
    closing = summary(rows)
    print("\n" + section + "\n" + closing)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n" + header + "\n" + section + "\n" + closing)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
