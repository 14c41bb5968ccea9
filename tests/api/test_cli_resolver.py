"""`canon train | resolve | evaluate` as a user runs them: exit codes, one-line errors, files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from resolver import load_profile

CANON = str(Path(sys.executable).parent / "canon")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CANON, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def assert_readable_failure(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("cli-workdir")
    proc = run("train", "--data", SAMPLE / "data", "--workdir", w)
    assert proc.returncode == 0, proc.stderr
    assert "supplier" in proc.stdout and "candidate pairs" not in proc.stdout  # only if asked
    return w


def test_train_counts_the_candidate_pairs_when_asked(tmp_path: Path) -> None:
    """`--count-pairs`: each type's exact candidate-pair count, the blocking rules' pairs."""
    proc = run("train", "--data", SAMPLE / "data", "--workdir", tmp_path / "w",
               "--entity-types", "supplier,purchase_order", "--count-pairs")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {
        cells[0]: cells[1:]
        for line in proc.stdout.splitlines()
        if (cells := [c.strip() for c in line.strip("│").split("│")])[0]
        in ("supplier", "purchase_order")
    }
    header = next(line for line in proc.stdout.splitlines() if "candidate pairs" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")][:3] == [
        "entity type", "rows", "candidate pairs",
    ]  # fmt: skip
    # exactly the distinct pairs that agree on every column of at least one blocking rule
    spec = load_profile().entity_types["supplier"]
    agree = " OR ".join(
        "(" + " AND ".join(f'l."{c}" = r."{c}"' for c in rule) + ")" for rule in spec.blocking_rules
    )
    records = next((tmp_path / "w" / "models").glob("*/records_supplier.parquet"))
    with duckdb.connect() as con:
        (brute,) = con.execute(
            f"SELECT count(*) FROM read_parquet(?) l JOIN read_parquet(?) r "
            f"ON l.unique_id < r.unique_id AND ({agree})",
            [str(records), str(records)],
        ).fetchall()
    assert brute[0] > 0
    assert int(rows["supplier"][1].replace(",", "")) == brute[0]
    assert rows["purchase_order"][1] == "—"  # matched by key: no blocking, nothing counted


def test_resolve_one_query_as_json(workdir: Path) -> None:
    query = {"id": "one", "entity_type": None, "record": {"name": "Zyxwvu Quantum Holdings"}}
    proc = run("resolve", "--workdir", workdir, "--json", json.dumps(query))
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["id"] == "one"
    assert body["decision"] == "no_match"
    assert body["resolution_token"].startswith("ct1.")


def test_resolve_one_sentence_as_text(workdir: Path) -> None:
    text = "fornecedor Auto Peças Guerra em Recife, CNPJ 16.036.630/0001-56"
    proc = run("resolve", "--workdir", workdir, "--text", text, "--entity-type", "supplier")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert (body["decision"], body["canonical_id"]) == ("match", "SA2::000001:01")
    assert body["query_identity"]["tax_id_kind"] == "cnpj"
    blank = run("resolve", "--workdir", workdir, "--text", "  ")
    assert_readable_failure(blank, "--text: record: Value error, record is empty")
    alone = run("resolve", "--workdir", workdir, "--entity-type", "supplier", "--json", "{}")
    assert_readable_failure(alone, "--entity-type goes with --text")


def test_resolve_file_writes_one_line_per_query(workdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    proc = run(
        "resolve", "--workdir", workdir, "--input", SAMPLE / "queries.jsonl", "--output", out
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    n_queries = len((SAMPLE / "queries.jsonl").read_text(encoding="utf-8").splitlines())
    assert len(lines) == n_queries
    first = json.loads(lines[0])
    assert {"id", "decision", "entity_type", "candidates", "resolution_token"} <= set(first)
    for line in lines:
        row = json.loads(line)
        assert (row["canonical_id"] is not None) == (row["decision"] == "match")


def test_evaluate_prints_summary_with_baseline(workdir: Path) -> None:
    proc = run(
        "evaluate",
        "--workdir",
        workdir,
        "--queries",
        SAMPLE / "queries.jsonl",
        "--truth",
        SAMPLE / "expected.jsonl",
    )
    assert proc.returncode == 0, proc.stderr
    assert "match precision" in proc.stdout and "baseline" in proc.stdout


def test_bad_query_line_leaves_no_output(workdir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": 1, "entity_type": "supplier", "record": {"name": "A"}}\n'
        '{"id": 2, "entity_type": "supplier", "record": {}}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    proc = run("resolve", "--workdir", workdir, "--input", queries, "--output", out)
    assert_readable_failure(proc, "q.jsonl", "query 2", "record")
    assert not out.exists()


def test_unknown_entity_type(workdir: Path) -> None:
    query = {"entity_type": "vendor", "record": {"name": "x"}}
    proc = run("resolve", "--workdir", workdir, "--json", json.dumps(query))
    assert_readable_failure(proc, "entity_type", "vendor")


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        pytest.param(
            lambda p: p.write_bytes("A2_COD;Indústria\n".encode("latin-1")),
            ["SA2010.csv", "UTF-8"],
            id="non-utf8",
        ),
        pytest.param(
            lambda p: p.write_text(
                p.read_text(encoding="utf-8").replace("A2_LOJA", "A2_LOJX", 1), encoding="utf-8"
            ),
            ["SA2010.csv", "A2_LOJA"],
            id="missing-key",
        ),
    ],
)
def test_bad_extract_fails_readably_and_writes_nothing(
    tmp_path: Path,
    mutate,
    fragments: list[str],  # type: ignore[no-untyped-def]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE / "data", data)
    mutate(data / "SA2010.csv")
    workdir = tmp_path / "w"
    proc = run("train", "--data", data, "--workdir", workdir)
    assert_readable_failure(proc, *fragments)
    assert not (workdir / "CURRENT").exists()
    assert not any((workdir / "models").glob("*")) if (workdir / "models").exists() else True


def test_resolve_without_model(tmp_path: Path) -> None:
    proc = run("resolve", "--workdir", tmp_path, "--json", '{"record": {"name": "x"}}')
    assert_readable_failure(proc, "no trained model", "canon train")


def test_train_only_the_types_with_an_extract_or_chosen(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SAMPLE / "data" / "SA2010.csv", data / "SA2010.csv")
    proc = run("train", "--data", data, "--workdir", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr
    assert "skipped employee: no extract SRA010.csv" in " ".join(proc.stderr.split())
    assert "supplier" in proc.stdout
    proc = run("train", "--data", data, "--workdir", tmp_path / "w", "--entity-types", "vendor")
    assert_readable_failure(proc, "--entity-types", "unknown entity type 'vendor'")
    proc = run("train", "--data", data, "--workdir", tmp_path / "w", "--entity-types", "employee")
    assert_readable_failure(proc, "no extract to train on", "SRA010.csv")
