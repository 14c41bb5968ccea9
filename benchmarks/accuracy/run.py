"""Run the accuracy harness: per set, train Canon on the master through `canon train`, resolve
the queries, run the rules baseline on the same queries, and print precision / coverage / halt
per set and per query kind side by side.

    .venv/bin/python -m benchmarks.accuracy.run                    # every set, default sizes
    .venv/bin/python -m benchmarks.accuracy.run --sets sap_dach_eu,febrl4 --size 5000 \
        --json var/bench-accuracy/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.accuracy import febrl, gen_people, gen_protheus, gen_sap
from benchmarks.accuracy.baseline import RulesBaseline
from benchmarks.accuracy.common import MATCH, PERTURBATION_VERSION, DataSet, Query, write_jsonl
from benchmarks.accuracy.metrics import Outcomes

REPO = Path(__file__).resolve().parents[2]
#: Generated sets and their default seeds; `--seed N` adds N to each (held-out masters).
GENERATED: dict[str, tuple[Callable[[Path, int, int], DataSet], int]] = {
    "protheus_br": (gen_protheus.generate, 101),
    "sap_dach_eu": (gen_sap.generate, 202),
    "people_en": (gen_people.generate, 303),
}
FEBRL = ["febrl1", "febrl2", "febrl3", "febrl4"]
SETS = [*GENERATED, *FEBRL]

# Wide enough for the side-by-side tables when the output is a file or a pipe (make).
console = Console(width=None if sys.stdout.isatty() else 140)


@dataclass
class SetResult:
    name: str
    queries: int = 0
    canon: Outcomes = field(default_factory=Outcomes)
    baseline: Outcomes = field(default_factory=Outcomes)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    training_output: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "error": self.error,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "canon": self.canon.to_json() if self.canon.kinds else None,
            "baseline": self.baseline.to_json() if self.baseline.kinds else None,
            "training_output": self.training_output,
        }


def build(name: str, out: Path, size: int, seed: int = 0) -> DataSet:
    if out.exists():
        shutil.rmtree(out)
    if name in GENERATED:
        generate, default_seed = GENERATED[name]
        return generate(out, size, default_seed + seed)
    return febrl.load(name, out)


def train_canon(canon: Path, ds: DataSet, workdir: Path) -> str:
    """`canon train` on the set's extracts; returns its output, raises with its last line."""
    cmd = [str(canon), "train", "--data", str(ds.data_dir), "--workdir", str(workdir)]
    if ds.profile is not None:
        cmd += ["--profile", str(ds.profile)]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"canon train failed (exit {done.returncode}): {last}")
    return done.stdout + done.stderr


def resolve_canon(workdir: Path, queries: list[Query]) -> list[tuple[str, str | None, str]]:
    """(decision, canonical id, reason) per query, through Canon's public Python API."""
    from resolver import ResolveQuery, ResolverError, load_resolver

    resolver = load_resolver(workdir)
    out: list[tuple[str, str | None, str]] = []
    for q in queries:
        try:
            r = resolver.resolve(ResolveQuery.model_validate(q.query_json()))
        except ResolverError as e:  # a query Canon refuses counts as a halt, and is shown
            out.append(("error", None, str(e)))
            continue
        out.append((r.decision.value, r.canonical_id, r.reason))
    return out


def run_set(
    name: str, root: Path, size: int, canon: Path, max_queries: int | None, seed: int = 0
) -> SetResult:
    result = SetResult(name)
    clock = time.perf_counter()
    ds = build(name, root / name, size, seed)
    queries = ds.queries
    if max_queries is not None and len(queries) > max_queries:
        queries = random.Random(7).sample(queries, max_queries)
    result.queries = len(queries)
    result.seconds["generate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    baseline = RulesBaseline(ds.data_dir, ds.tables)
    base = [baseline.resolve(q.entity_type, q.record) for q in queries]
    for q, b in zip(queries, base, strict=True):
        result.baseline.add(q, b.decision, b.canonical_id)
    result.seconds["baseline"] = time.perf_counter() - clock

    canon_out: list[tuple[str, str | None, str]] = []
    try:
        clock = time.perf_counter()
        result.training_output = train_canon(canon, ds, root / name / "canon")
        result.seconds["train"] = time.perf_counter() - clock
        clock = time.perf_counter()
        canon_out = resolve_canon(root / name / "canon", queries)
        result.seconds["resolve"] = time.perf_counter() - clock
        for q, (decision, cid, _) in zip(queries, canon_out, strict=True):
            result.canon.add(q, decision, cid)
    except RuntimeError as e:
        result.error = str(e)
    write_jsonl(
        root / name / "outcomes.jsonl",
        (
            {
                **q.expected_json(),
                "record": q.record,
                "entity_type": q.entity_type,
                "canon": list(canon_out[i]) if canon_out else None,
                "baseline": [b.decision, b.canonical_id, b.reason],
            }
            for i, (q, b) in enumerate(zip(queries, base, strict=True))
        ),
    )
    return result


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def print_results(results: list[SetResult]) -> None:
    summary = Table(title=f"accuracy per set (perturbation model {PERTURBATION_VERSION})")
    for col in (
        "set",
        "queries",
        "Canon prec",
        "Canon cov",
        "Canon halt",
        "Canon id→no_match",
        "rules prec",
        "rules cov",
        "rules halt",
        "rules id→no_match",
        "train s",
    ):
        summary.add_column(col, justify="left" if col == "set" else "right")
    for r in results:
        c = r.canon.summary() if r.canon.kinds else {}
        b = r.baseline.summary()
        summary.add_row(
            r.name,
            str(r.queries),
            _pct(c.get("precision")),
            _pct(c.get("coverage")),
            _pct(c.get("halt")),
            str(c.get("id_no_match", "–")),
            _pct(b["precision"]),
            _pct(b["coverage"]),
            _pct(b["halt"]),
            str(b["id_no_match"]),
            f"{r.seconds.get('train', 0):.0f}",
        )
    for r in results:
        table = Table(
            title=f"{r.name}: by query kind (cov = coverage of match kinds, halt rate "
            "of halt kinds; wrong = wrong matches)"
        )
        for col in (
            "kind",
            "expect",
            "n",
            "Canon cov|halt",
            "Canon wrong",
            "rules cov|halt",
            "rules wrong",
        ):
            table.add_column(col, justify="left" if col in ("kind", "expect") else "right")
        for kind in sorted(r.baseline.kinds, key=lambda k: (r.baseline.expected[k], k)):
            expect = r.baseline.expected[kind]
            metric = "coverage" if expect == MATCH else "halt"
            b = r.baseline.summary([kind])
            c = r.canon.summary([kind]) if kind in r.canon.kinds else {}
            table.add_row(
                kind,
                expect,
                str(b["queries"]),
                _pct(c.get(metric)),
                str(r.canon.kinds[kind].wrong) if kind in r.canon.kinds else "–",
                _pct(b[metric]),
                str(r.baseline.kinds[kind].wrong),
            )
        console.print(table)
        if r.error:
            console.print(f"[red]{r.name}: {r.error}[/red]")
    console.print(summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    parser.add_argument(
        "--size",
        type=int,
        default=2000,
        help="records per generated master (FEBRL sets have their own sizes)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="added to each generator's seed: 0 is the published set, others are held-out masters",
    )
    parser.add_argument(
        "--max-queries",
        type=int,
        default=None,
        help="resolve at most this many queries per set (a seeded sample)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO / "var" / "bench-accuracy",
        help="where sets, models and per-query outcomes are written",
    )
    parser.add_argument(
        "--canon",
        type=Path,
        default=Path(sys.executable).parent / "canon",
        help="the canon command to train with",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        parser.error(f"--sets: unknown {', '.join(unknown)} (known: {', '.join(SETS)})")
    if args.size < 200:
        parser.error("--size: at least 200 records")
    results = []
    for name in names:
        console.print(f"[bold]{name}[/bold] …")
        try:
            results.append(
                run_set(name, args.workdir, args.size, args.canon, args.max_queries, args.seed)
            )
        except febrl.FebrlMissing as e:
            console.print(f"[yellow]{name} skipped: {e}[/yellow]")
    print_results(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "perturbation_version": PERTURBATION_VERSION,
                    "size": args.size,
                    "seed": args.seed,
                    "sets": {r.name: r.to_json() for r in results},
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
