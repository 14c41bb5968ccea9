"""Regenerate the example outputs printed in README.md (`make readme-outputs`).

Each generated block in the README follows a marker line `<!-- readme-output: NAME -->`; this
script runs what the README says was run — the 2,000-supplier sample (`canon sample --suppliers
2000 --seed 7`), `canon train` on it, the README's own queries, `canon evaluate` — and replaces
each marked block with what the commands print now. It takes minutes (training on 2,000
suppliers); `--work DIR` keeps the sample and the workdir there and reuses them on the next run.
`--check` writes nothing and exits 1 when a block is out of date.

`tests/test_readme.py` checks the cheap part on every test run: every `canon …` and `make …`
command in the README exists and parses, the marked blocks name only outputs this script makes,
and the commands it can run in seconds print output of the documented shape.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CANON = str(Path(sys.executable).parent / "canon")
MARKER = re.compile(r"^<!-- readme-output: ([a-z-]+) -->$")

#: The README's user-path query (a match) and the halt it shows on purpose.
MATCH_QUERY = {
    "entity_type": "supplier",
    "record": {"name": "IND. COM. SOUZA LTDA", "city": "Sao Paulo"},
}
HALT_QUERY = {"entity_type": "supplier", "record": {"name": "Albuquerque Serviços Contábeis LTDA"}}


def canon(*args: str | Path) -> str:
    """Run `canon ARGS` in an 80-column terminal's width; its stdout (fails loudly)."""
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(
        [CANON, *map(str, args)], capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"canon {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc.stdout


def prepare(work: Path) -> tuple[Path, Path]:
    """The sample and the trained workdir the README's outputs come from (made once)."""
    sample, workdir = work / "s", work / "w"
    if not (sample / "expected.jsonl").exists():
        canon("sample", "--out", sample, "--suppliers", "2000", "--seed", "7")
    if not (workdir / "CURRENT").exists():
        (work / "train.txt").write_text(
            canon("train", "--data", sample / "data", "--workdir", workdir), encoding="utf-8"
        )
    return sample, workdir


def train_excerpt(sample: Path, workdir: Path) -> str:
    """The training table and the supplier's weights (the other types' lines left out)."""
    text = (workdir.parent / "train.txt").read_text(encoding="utf-8")
    lines = text.rstrip().splitlines()
    weights = lines.index("match weights per level (bits):")
    supplier = next(line for line in lines[weights:] if line.strip().startswith("supplier"))
    return "\n".join([*lines[: weights + 1], supplier, "  …"])


def evaluate_summary(sample: Path, workdir: Path) -> str:
    """The summary table of `canon evaluate` (the per-kind table above it left out)."""
    text = canon(
        "evaluate", "--workdir", workdir,
        "--queries", sample / "queries.jsonl", "--truth", sample / "expected.jsonl",
    )  # fmt: skip
    lines = text.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "summary")
    return "\n".join(lines[start:])


def _resolve(workdir: Path, query: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        canon("resolve", "--workdir", workdir, "--json", json.dumps(query, ensure_ascii=False))
    )
    return body


def resolve_match(sample: Path, workdir: Path) -> str:
    body = _resolve(workdir, MATCH_QUERY)
    kept = {k: body[k] for k in ("decision", "canonical_id", "reason")}
    return json.dumps(kept, ensure_ascii=False)


def resolve_halt(sample: Path, workdir: Path) -> str:
    body = _resolve(workdir, HALT_QUERY)
    kept = {k: body[k] for k in ("decision", "canonical_id", "reason", "distinguishing_fields")}
    lines = [json.dumps(kept, ensure_ascii=False)[:-1] + ', "candidates": [']
    for c in body["candidates"][:4]:
        name = c["display"].get("A2_NOME", "")
        lines.append(f"  {c['canonical_id']}  {c['probability']:.3f}  {name}")
    lines.append("  …]}")
    return "\n".join(lines)


#: Every output the README may mark, by name.
OUTPUTS: dict[str, Callable[[Path, Path], str]] = {
    "train": train_excerpt,
    "evaluate": evaluate_summary,
    "resolve-match": resolve_match,
    "resolve-halt": resolve_halt,
}


def marked_blocks(text: str) -> list[tuple[str, int, int]]:
    """(name, first line, end line) of each marked block's body, in README line numbers."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = MARKER.match(line.strip())
        if m is None:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise SystemExit(f"README.md:{i + 1}: a marker must sit right above a ``` block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        found.append((m.group(1), i + 2, end))
    return found


def regenerate(text: str, sample: Path, workdir: Path) -> str:
    lines = text.splitlines()
    for name, start, end in reversed(marked_blocks(text)):
        if name not in OUTPUTS:
            raise SystemExit(f"README.md: no output named {name!r} (known: {', '.join(OUTPUTS)})")
        lines[start:end] = [line.rstrip() for line in OUTPUTS[name](sample, workdir).splitlines()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="keep (and reuse) the sample and workdir here")
    parser.add_argument("--check", action="store_true", help="only say whether it is up to date")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        sample, workdir = prepare(work)
        text = README.read_text(encoding="utf-8")
        new = regenerate(text, sample, workdir)
    if new == text:
        sys.stdout.write("README.md: the example outputs are up to date\n")
        return 0
    if args.check:
        sys.stdout.write("README.md: example outputs are out of date; run `make readme-outputs`\n")
        return 1
    README.write_text(new, encoding="utf-8")
    sys.stdout.write("README.md: example outputs regenerated\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
