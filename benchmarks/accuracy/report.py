"""Markdown tables from the harness's JSON results, optionally before and after a change.

.venv/bin/python -m benchmarks.accuracy.report var/bench-accuracy/results.json
.venv/bin/python -m benchmarks.accuracy.report before.json --after after.json > table.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _cells(system: dict[str, Any] | None, kind: str | None = None) -> list[str]:
    if system is None:
        return ["–"] * 4
    s = system["summary"] if kind is None else system["kinds"].get(kind)
    if s is None:
        return ["–"] * 4
    return [_f(s["precision"]), _f(s["coverage"]), _f(s["halt"]), str(s["id_no_match"])]


def markdown(before: dict[str, Any], after: dict[str, Any] | None = None) -> str:
    """Per-set summary and per-kind tables: Canon and rules, and Canon after if given."""
    runs = [("Canon", before, "canon"), ("rules", before, "baseline")]
    if after is not None:
        runs.append(("Canon after", after, "canon"))
    head = ["precision", "coverage", "halt", "id→no_match"]
    lines = [
        f"Perturbation model {before['perturbation_version']}, size {before['size']}, "
        f"seed offset {before.get('seed', 0)}.",
        "",
    ]
    cols = ["set", "queries"] + [f"{label} {h}" for label, _, _ in runs for h in head]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, res in before["sets"].items():
        row = [name, str(res["queries"])]
        for _, data, system in runs:
            row += _cells(data["sets"].get(name, {}).get(system))
        lines.append("| " + " | ".join(row) + " |")
    for name, res in before["sets"].items():
        kinds = (res.get("baseline") or {}).get("kinds", {})
        lines += ["", f"**{name}** (coverage of match kinds, halt rate of halt kinds; wrong "
                  "matches in brackets)", ""]  # fmt: skip
        cols = ["kind", "expect", "n"] + [label for label, _, _ in runs]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for kind in sorted(kinds, key=lambda k: (kinds[k]["expected"], k)):
            k = kinds[kind]
            metric = "coverage" if k["expected"] == "match" else "halt"
            row = [kind, k["expected"], str(k["n"])]
            for _, data, system in runs:
                got = ((data["sets"].get(name) or {}).get(system) or {}).get("kinds", {}).get(kind)
                row.append("–" if got is None else f"{_f(got[metric])} ({got['wrong']})")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables from harness JSON results")
    parser.add_argument("results", type=Path)
    parser.add_argument("--after", type=Path, default=None, help="results after a change")
    args = parser.parse_args(argv)
    before = json.loads(args.results.read_text(encoding="utf-8"))
    after = json.loads(args.after.read_text(encoding="utf-8")) if args.after else None
    print(markdown(before, after), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
