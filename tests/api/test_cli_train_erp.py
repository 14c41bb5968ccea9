"""`canon train --source erp`: the resolver trained straight from a live sandbox ERP over HTTP,
in each wire format, and what a bad URL or refused credentials leave behind (nothing)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.api.test_cli_resolver import CANON, assert_readable_failure
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox


def canon(*args: str | Path, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CANON_ERP_USERNAME": USER, "CANON_ERP_PASSWORD": password}
    return subprocess.run(
        [CANON, *map(str, args)], capture_output=True, text=True, timeout=600, env=env, check=False
    )


def resolve(workdir: Path, record: dict[str, str]) -> dict[str, object]:
    query = json.dumps({"entity_type": "supplier", "record": record})
    proc = canon("resolve", "--workdir", workdir, "--json", query)
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.mark.parametrize("kind", ["protheus", "sap", "oracle"])
def test_trained_from_the_erp_the_model_resolves_a_known_supplier(
    sandbox: Sandbox, kind: str, tmp_path: Path
) -> None:
    workdir, extracts = tmp_path / "w", tmp_path / "extracts"
    proc = canon(
        "train", "--source", "erp", "--erp-kind", kind, "--erp-url", sandbox.url,
        "--workdir", workdir, "--data", extracts, "--page-size", "150",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    suppliers = len(expected.live("SA2010"))
    assert f"supplier {suppliers:,}" in proc.stderr  # read page by page, every live row
    assert "supplier" in proc.stdout and (workdir / "CURRENT").exists()
    first = expected.first_supplier()
    answer = resolve(workdir, {"name": first.name, "tax_id": first.tax_id})
    assert answer["decision"] == "match", answer
    assert answer["canonical_id"] == expected.ids(kind, "supplier", first.native)
    # --data keeps what was read: the extracts and the profile they were trained with
    trained_with = (extracts / "profile.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(trained_with)["entity_types"]["supplier"]["table"]
    with (extracts / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == suppliers
    if kind == "protheus":  # employees and contacts have no REST extract: named, not trained
        assert "employee not trained" in proc.stderr and "employee:" not in trained_with


@pytest.mark.parametrize(
    ("url", "password", "fragment"),
    [
        pytest.param(None, PASSWORD, "Connection refused", id="unreachable"),
        pytest.param("not-a-url", PASSWORD, "protocol", id="bad-url"),
        pytest.param("", "wrong", "401", id="refused-credentials"),
    ],
)
def test_an_erp_that_cannot_be_read_leaves_the_current_model(
    sandbox: Sandbox, tmp_path: Path, url: str | None, password: str, fragment: str
) -> None:
    workdir = tmp_path / "w"
    (workdir / "models" / "m-1").mkdir(parents=True)
    (workdir / "CURRENT").write_text("m-1\n", encoding="utf-8")
    erp_url = _dead_url() if url is None else url or sandbox.url
    proc = canon(
        "train", "--source", "erp", "--erp-kind", "protheus", "--erp-url", erp_url,
        "--workdir", workdir, password=password,
    )  # fmt: skip
    assert_readable_failure(proc, fragment)
    assert (workdir / "CURRENT").read_text(encoding="utf-8") == "m-1\n"
    assert [p.name for p in (workdir / "models").iterdir()] == ["m-1"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--source", "erp"], "--erp-kind", id="no-erp-kind"),
        pytest.param(["--source", "ftp"], "files or erp", id="unknown-source"),
        pytest.param([], "--data", id="files-without-data"),
        pytest.param(["--data", ".", "--erp-url", "http://x"], "--source erp", id="erp-url-alone"),
    ],
)
def test_inconsistent_options_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    proc = canon("train", "--workdir", tmp_path / "w", *args)
    assert_readable_failure(proc, fragment)
    assert not (tmp_path / "w").exists()
