"""`canon refresh`: a delta of new, changed and soft-deleted rows reaches the serving index
and the term-frequency tables without retraining, atomically; a bad delta changes nothing."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway import create_key
from resolver import ExtractError, ResolveQuery, load_resolver, refresh_workdir
from resolver.normalise import normalise_record
from resolver.parity import splink_match_weights
from resolver.refresh import refresh_rows
from resolver.training import new_linker
from resolver.workdir import current_model_dir

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"
CANON = str(Path(sys.executable).parent / "canon")
NEW_NAME = "Zephyr Quasar Ferragens Ltda"
NEW_TAX = "11.222.333/0001-81"
CHANGED_NAME = "Xylofone Brasileiro Instrumentos Ltda"


@pytest.fixture
def workdir(trained_workdir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's trained workdir (a refresh moves its CURRENT)."""
    target = tmp_path / "work"
    shutil.copytree(trained_workdir, target, ignore=shutil.ignore_patterns("dedupe"))
    return target


def _suppliers() -> list[dict[str, str]]:
    with (SAMPLE / "data" / "SA2010.csv").open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("D_E_L_E_T_", "") != "*"]


def _write(folder: Path, table: str, rows: list[dict[str, str]], header: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cid(row: dict[str, str]) -> str:
    return f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}"


def _delta(folder: Path) -> dict[str, dict[str, str]]:
    """One changed, one soft-deleted and one new supplier; returns them by role."""
    rows = _suppliers()
    changed = {**rows[0], "A2_NOME": CHANGED_NAME, "A2_NREDUZ": ""}
    deleted = {**rows[1], "D_E_L_E_T_": "*"}
    new = {**rows[2], "A2_COD": "999999", "A2_NOME": NEW_NAME, "A2_CGC": NEW_TAX, "D_E_L_E_T_": ""}
    _write(folder, "SA2010", [changed, deleted, new], list(rows[0]))
    return {"changed": changed, "deleted": deleted, "new": new}


def _query(name: str, tax: str | None = None) -> ResolveQuery:
    record = {"name": name} | ({"tax_id": tax} if tax else {})
    return ResolveQuery(entity_type="supplier", record=record)


def test_refresh_applies_new_changed_and_deleted_rows(workdir: Path, tmp_path: Path) -> None:
    before = current_model_dir(workdir)
    rows = _delta(tmp_path / "delta")
    summary = refresh_workdir(workdir, tmp_path / "delta")
    (delta,) = summary.deltas
    assert (delta.added, delta.changed, delta.deleted, delta.absent_deletes) == (1, 1, 1, 0)
    assert summary.index_version.endswith(".r1")
    resolver = load_resolver(workdir)
    assert resolver.model_version == summary.model_version == load_resolver_version(before)
    ids = resolver.entity_types["supplier"].index.ids
    assert _cid(rows["new"]) in ids and _cid(rows["changed"]) in ids
    assert _cid(rows["deleted"]) not in ids
    assert len(ids) == delta.records
    found = resolver.resolve(_query(NEW_NAME, NEW_TAX))
    assert found.decision.value == "match" and found.canonical_id == _cid(rows["new"])
    top = resolver.resolve(_query(CHANGED_NAME, rows["changed"]["A2_CGC"])).candidates[0]
    assert top.canonical_id == _cid(rows["changed"])
    # The trained model itself is untouched: same splink model, same compiled weights.
    after = current_model_dir(workdir)
    for name in ("splink_supplier.json", "compiled_supplier.json", "profile.yaml"):
        assert (after / name).read_bytes() == (before / name).read_bytes()


def load_resolver_version(model_dir: Path) -> str:
    return str(pd.read_json(model_dir / "manifest.json", typ="series")["model_version"])


def test_refreshed_term_frequencies_and_weights_equal_splinks(
    workdir: Path, tmp_path: Path
) -> None:
    rows = _delta(tmp_path / "delta")
    refresh_workdir(workdir, tmp_path / "delta")
    model_dir = current_model_dir(workdir)
    records = pd.read_parquet(model_dir / "records_supplier.parquet")
    resolver = load_resolver(workdir)
    et = resolver.entity_types["supplier"]
    assert et.model is not None
    linker, _ = new_linker(resolver.profile, et.spec, records, None)
    for col, table in et.model.tf_tables.items():
        # splink's table counts each record itself (count / n); served: the others' share.
        theirs = linker.table_management.compute_tf_table(col).as_pandas_dataframe()
        n = records[col].notna().sum()
        others = {
            str(v): (tf * n - 1) / (n - 1)
            for v, tf in zip(theirs[col], theirs[f"tf_{col}"], strict=True)
        }
        assert others == pytest.approx(table)
    # Serving weights still equal splink's own prediction against the refreshed master.
    queries = []
    for k, row in enumerate([rows["new"], rows["changed"], *_suppliers()[5:25]]):
        raw = {"name": row["A2_NOME"], "tax_id": row["A2_CGC"], "city": row["A2_MUN"]}
        queries.append({**normalise_record(raw), "unique_id": f"q{k}"})
    master = pd.concat([records.tail(5), records.head(60)])
    reference = splink_match_weights(model_dir, "supplier", pd.DataFrame(queries), master)
    position = {uid: i for i, uid in enumerate(et.index.ids)}
    by_id = {q["unique_id"]: q for q in queries}
    for pair in reference.itertuples():
        query = {k: v for k, v in by_id[pair.unique_id_l].items() if k != "unique_id"}
        score = et.model.score(query, et.index.record(position[pair.unique_id_r]))
        assert score.match_weight == pytest.approx(pair.match_weight, abs=1e-6)


def _rows_with(**changes: str) -> list[dict[str, str]]:
    row = _suppliers()[3]
    return [{**row, **changes}]


BAD_DELTAS = [
    pytest.param("unknown-column", "unknown column A2_SHOESIZE", id="unknown-column"),
    pytest.param("empty-key", "key field A2_COD is empty", id="empty-key"),
    pytest.param("wide-key", "the master's are 6 characters wide", id="wrong-width"),
    pytest.param("colon-key", "holds ':'", id="separator-in-key"),
    pytest.param("twice", "give each key once per delta", id="duplicate-key"),
    pytest.param("no-loja", "missing key column A2_LOJA", id="missing-key-column"),
    pytest.param("latin1", "not UTF-8", id="not-utf8"),
]


def _bad_delta(folder: Path, kind: str) -> None:
    rows = _suppliers()
    header = list(rows[0])
    if kind == "unknown-column":
        _write(folder, "SA2010", [{**rows[3], "A2_SHOESIZE": "42"}], [*header, "A2_SHOESIZE"])
    elif kind == "empty-key":
        _write(folder, "SA2010", _rows_with(A2_COD=""), header)
    elif kind == "wide-key":
        _write(folder, "SA2010", _rows_with(A2_COD="12"), header)
    elif kind == "colon-key":
        _write(folder, "SA2010", _rows_with(A2_LOJA="0:"), header)
    elif kind == "twice":
        _write(folder, "SA2010", [rows[3], {**rows[3], "A2_NOME": "Other"}], header)
    elif kind == "no-loja":
        _write(folder, "SA2010", [rows[3]], [h for h in header if h != "A2_LOJA"])
    elif kind == "latin1":
        folder.mkdir(parents=True)
        (folder / "SA2010.csv").write_bytes(
            (",".join(header) + "\n" + ",".join(["Indústria"] * len(header)) + "\n").encode(
                "latin-1"
            )
        )


@pytest.mark.parametrize(("kind", "message"), BAD_DELTAS)
def test_bad_delta_is_rejected_whole(
    workdir: Path, tmp_path: Path, kind: str, message: str
) -> None:
    _bad_delta(tmp_path / "delta", kind)
    # A valid customer delta beside the bad supplier one: nothing of either is applied.
    with (SAMPLE / "data" / "SA1010.csv").open(encoding="utf-8", newline="") as fh:
        customers = list(csv.DictReader(fh))
    _write(tmp_path / "delta", "SA1010", [{**customers[0], "A1_NOME": "Novo"}], list(customers[0]))
    current = (workdir / "CURRENT").read_text()
    models = sorted(p.name for p in (workdir / "models").iterdir())
    with pytest.raises(ExtractError, match="delta rejected, nothing applied") as caught:
        refresh_workdir(workdir, tmp_path / "delta")
    assert message in str(caught.value)
    assert (workdir / "CURRENT").read_text() == current
    assert sorted(p.name for p in (workdir / "models").iterdir()) == models


def test_resolves_during_a_refresh_see_the_old_or_the_new_index(
    workdir: Path, tmp_path: Path
) -> None:
    rows = _delta(tmp_path / "delta")
    resolver = load_resolver(workdir, watch=True)
    queries = [
        _query(NEW_NAME, NEW_TAX),
        _query(CHANGED_NAME, rows["changed"]["A2_CGC"]),
        _query(rows["deleted"]["A2_NOME"], rows["deleted"]["A2_CGC"]),
    ]

    def answers() -> list[str]:
        return [resolver.resolve(q).model_dump_json() for q in queries]

    old = answers()
    seen: list[list[str]] = []
    stop = threading.Event()

    def keep_resolving() -> None:
        while not stop.is_set():
            seen.append(answers())

    workers = [threading.Thread(target=keep_resolving) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        _until(lambda: len(seen) >= len(workers))  # resolving while the refresh runs
        summary = refresh_workdir(workdir, tmp_path / "delta")
        resolver.reload()  # the resolving threads may have switched already
        assert resolver.index_version == summary.index_version
        # one more answer than threads: some thread then began one after the switch
        after = len(seen)
        _until(lambda: len(seen) > after + len(workers))
    finally:
        stop.set()
        for w in workers:
            w.join()
    new = answers()
    assert new != old
    for results in seen:
        for k, result in enumerate(results):
            assert result in (old[k], new[k])
    assert any(r == new for r in seen)


def _until(holds: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for `holds()` to be true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not holds():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.005)


def test_a_running_api_picks_up_a_refresh_without_restart(workdir: Path, tmp_path: Path) -> None:
    settings = Settings(
        workdir=workdir,
        database_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        token_secret=SecretStr("refresh-test-secret-" + "z" * 32),
    )
    app = create_app(settings)
    try:
        with app.state.gateway.store.transaction() as session:
            _, key = create_key(session, "agent", "agent", ["resolve"])
        client = TestClient(app)
        headers = {"Authorization": f"Bearer {key}"}
        body = {"entity_type": "supplier", "record": {"name": NEW_NAME, "tax_id": NEW_TAX}}
        first = client.post("/v1/resolve", json=body, headers=headers)
        assert first.status_code == 200 and first.json()["decision"] != "match"
        rows = _delta(tmp_path / "delta")
        refresh_workdir(workdir, tmp_path / "delta")
        deadline = time.monotonic() + 60
        decision = None
        while time.monotonic() < deadline:
            answer = client.post("/v1/resolve", json=body, headers=headers).json()
            decision = answer["decision"]
            if decision == "match":
                assert answer["canonical_id"] == _cid(rows["new"])
                break
            time.sleep(0.25)
        assert decision == "match"
    finally:
        app.state.gateway.store.close()


def test_cli_refresh_reports_and_rejects(workdir: Path, tmp_path: Path) -> None:
    _delta(tmp_path / "good")
    proc = subprocess.run(
        [CANON, "refresh", "--workdir", str(workdir), "--data", str(tmp_path / "good")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "supplier" in proc.stdout and ".r1" in proc.stdout
    _bad_delta(tmp_path / "bad", "empty-key")
    proc = subprocess.run(
        [CANON, "refresh", "--workdir", str(workdir), "--data", str(tmp_path / "bad")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "key field A2_COD is empty" in lines[0]
    assert "Traceback" not in proc.stderr


def test_refresh_rows_applies_erp_rows_with_their_watermark(workdir: Path) -> None:
    """Rows read from the ERP: columns the extract never had are left out, the later of two rows
    with one key wins, and the watermark is written with them; types not served change nothing."""
    rows = _suppliers()
    first = {**rows[0], "A2_NOME": "an older name", "S_T_A_M_P_": "7"}
    later = {**rows[0], "A2_NOME": CHANGED_NAME, "S_T_A_M_P_": "9"}
    gone = {**rows[1], "D_E_L_E_T_": "*", "S_T_A_M_P_": "8"}
    summary = refresh_rows(workdir, "supplier", [first, gone, later], watermark="9")
    assert summary is not None
    (delta,) = summary.deltas
    assert (delta.added, delta.changed, delta.deleted) == (0, 1, 1)
    manifest = json.loads((current_model_dir(workdir) / "manifest.json").read_text("utf-8"))
    assert manifest["watermarks"] == {"supplier": "9"} and manifest["rows_applied"] == 2
    resolver = load_resolver(workdir)
    top = resolver.resolve(_query(CHANGED_NAME, rows[0]["A2_CGC"])).candidates[0]
    assert top.canonical_id == _cid(rows[0]) and top.display["A2_NOME"] == CHANGED_NAME
    assert _cid(rows[1]) not in resolver.entity_types["supplier"].index.ids
    # a later refresh keeps the watermarks it does not move, and counts on
    refresh_rows(workdir, "supplier", [{**rows[2], "A2_NOME": NEW_NAME}])
    manifest = json.loads((current_model_dir(workdir) / "manifest.json").read_text("utf-8"))
    assert manifest["watermarks"] == {"supplier": "9"} and manifest["rows_applied"] == 3
    version = current_model_dir(workdir).name
    assert refresh_rows(workdir, "no_such_type", [rows[3]], watermark="10") is None
    assert current_model_dir(workdir).name == version


def test_every_watching_resolver_sees_a_refresh_on_its_next_resolve(workdir: Path) -> None:
    """Two resolvers on one workdir stand for two workers of `canon serve --workers 2`: rows one
    applies (read-your-own-writes) are seen by the other's very next resolve, with no reload
    call and no watch interval; the index it serves is read-only memory-mapped files."""
    rows = _suppliers()
    writer, other = load_resolver(workdir, watch=True), load_resolver(workdir, watch=True)
    query = _query(NEW_NAME, NEW_TAX)
    new = {**rows[2], "A2_COD": "999998", "A2_NOME": NEW_NAME, "A2_CGC": NEW_TAX}
    assert _cid(new) not in [c.canonical_id for c in other.resolve(query).candidates]
    summary = refresh_rows(workdir, "supplier", [new])
    assert summary is not None
    assert writer.reload()
    seen = other.resolve(query)
    assert other.index_version == summary.index_version
    assert seen.candidates[0].canonical_id == _cid(new)
    assert other.resolve(query).candidates[0].canonical_id == _cid(new)
    index = other.entity_types["supplier"].index
    rows_array = index.postings.rows
    assert isinstance(rows_array.base, np.memmap) and not rows_array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        rows_array[0] = 1
