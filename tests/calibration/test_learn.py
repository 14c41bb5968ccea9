"""`canon learn`: m refit from labelled pairs, the replay, and promotion by activate/rollback.

The headline test: agents of this deployment write names more loosely than the perturbation
model the trained m assumes (several words cut short, the legal form dropped, a typo). A
simulated reviewer picks the right record for 200 such queries; the refit from those picks must
resolve more of 200 *other* queries of that kind (held out: other records, another seed)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from calibration import Label, VersionError, read_labels
from calibration.learn import activate_model, labelled_pairs, refit_workdir, rollback_model
from resolver import (
    Decision,
    ResolveQuery,
    Resolver,
    current_model_dir,
    load_profile,
    load_resolver,
)
from resolver.parity import splink_match_weights
from resolver.simulate import Noise, perturb
from tests.calibration.conftest import SAMPLE
from tests.resolver.test_parity import _perturbed_queries

CANON = str(Path(sys.executable).parent / "canon")
#: How this deployment's agents write a supplier's name: words cut short, the legal form
#: dropped, a typo — all at once (the trained m assumes each rarely, independently).
LOOSE = Noise(typo=1.0, abbreviate=1.0, drop_last=1.0)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def loose_queries(workdir: Path, n: int, seed: int) -> list[tuple[ResolveQuery, str]]:
    """n queries of the loose kind (name, city, postcode as the ERP writes them) and the
    record each means."""
    records = pd.read_parquet(current_model_dir(workdir) / "records_supplier.parquet")
    records = records[records["name"].notna() & records["city"].notna()]
    rng = random.Random(seed)
    out = []
    for i, row in enumerate(
        records.sample(n=n, random_state=seed, replace=True).to_dict("records")
    ):
        record = {"name": perturb(str(row["raw_A2_NOME"]).lower(), LOOSE, [], rng),
                  "city": row["raw_A2_MUN"]}  # fmt: skip
        if row["raw_A2_CEP"]:
            record["postcode"] = row["raw_A2_CEP"]
        query = ResolveQuery(id=f"loose-{seed}-{i}", entity_type="supplier", record=record)
        out.append((query, str(row["unique_id"])))
    return out


def picks(queries: list[tuple[ResolveQuery, str]]) -> list[Label]:
    """A simulated reviewer's picks: the right record of each query."""
    return [
        Label(entity_type="supplier", query=q, canonical_id=cid, label="correct",
              source="steward", labelled_at=WHEN)
        for q, cid in queries
    ]  # fmt: skip


def outcomes(resolver: Resolver, queries: list[tuple[ResolveQuery, str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for query, cid in queries:
        res = resolver.resolve(query)
        if res.decision is not Decision.MATCH:
            counts["halted"] += 1
        else:
            counts["right" if res.canonical_id == cid else "wrong"] += 1
    return counts


def sample_outcomes(resolver: Resolver) -> Counter[str]:
    """Right, wrong and halted over the committed sample's own queries."""
    expected = {
        str(e["id"]): e
        for e in map(json.loads, (SAMPLE / "expected.jsonl").read_text("utf-8").splitlines())
    }
    counts: Counter[str] = Counter()
    for line in (SAMPLE / "queries.jsonl").read_text("utf-8").splitlines():
        query = ResolveQuery.model_validate_json(line)
        e = expected[str(query.id)]
        res = resolver.resolve(query)
        if res.decision is not Decision.MATCH:
            counts["halted"] += 1
        elif e["expected"] == "match" and res.canonical_id in e["canonical_ids"]:
            counts["right"] += 1
        else:
            counts["wrong"] += 1
    return counts


def test_a_refit_from_200_picks_raises_coverage_on_held_out_queries(workdir: Path) -> None:
    training = loose_queries(workdir, 200, seed=11)
    held_out = loose_queries(workdir, 200, seed=22)
    assert not {q.record["name"] for q, _ in training} & {q.record["name"] for q, _ in held_out}
    before = load_resolver(workdir)
    held_before, sample_before = outcomes(before, held_out), sample_outcomes(before)

    refit = refit_workdir(workdir, picks(training))
    assert current_model_dir(workdir).name == refit.parent  # written, not served
    activate_model(workdir, refit.version)
    after = load_resolver(workdir)
    held_after, sample_after = outcomes(after, held_out), sample_outcomes(after)

    levels = {c.level: c for c in refit.types["supplier"].levels}
    lines = [
        f"held-out loose queries: before {dict(held_before)}, after {dict(held_after)}",
        f"sample queries:         before {dict(sample_before)}, after {dict(sample_after)}",
        f"replay of the picks:    {refit.replay}",
        *(f"  {c.level:<36} {c.before:+6.2f} -> {c.after:+6.2f}  ({c.labels} labels)"
          for c in levels.values()),
    ]  # fmt: skip
    sys.stdout.write("\nrefit from 200 picks\n" + "\n".join(lines) + "\n")
    assert held_after["right"] > held_before["right"]
    assert held_after["wrong"] <= held_before["wrong"]
    # The sample's own queries (other kinds) lose nothing: no new halt, no new wrong match.
    assert sample_after["right"] >= sample_before["right"]
    assert sample_after["wrong"] <= sample_before["wrong"]
    assert levels["similar name"].after > levels["similar name"].before
    assert refit.replay.queries == 200
    assert refit.replay.answerable_halts == refit.replay.halted_before  # every pick is right
    assert refit.replay.resolved == refit.replay.halted_before - refit.replay.halted_after
    assert after.model_version == refit.version


def test_pinned_comparisons_and_u_stay(workdir: Path) -> None:
    parent = current_model_dir(workdir)
    refit = refit_workdir(workdir, picks(loose_queries(workdir, 30, seed=3)))
    old = json.loads((parent / "compiled_supplier.json").read_text("utf-8"))
    new = json.loads((refit.path / "compiled_supplier.json").read_text("utf-8"))
    for a, b in zip(old["comparisons"], new["comparisons"], strict=True):
        for la, lb in zip(a["levels"], b["levels"], strict=True):
            assert la["u"] == lb["u"]
            if a["name"] != "name":
                assert la == lb  # pinned (fixed_m) in the profile: untouched
    assert sorted(refit.types["supplier"].pinned) == sorted(
        ["tax_id", "city", "state", "postcode", "address", "phone", "email"]
    )
    splink = json.loads((refit.path / "splink_supplier.json").read_text("utf-8"))
    name_levels = [lv for lv in splink["comparisons"][0]["comparison_levels"]
                   if not lv.get("is_null_level")]  # fmt: skip
    compiled = [lv for lv in new["comparisons"][0]["levels"] if not lv["null"]]
    assert [lv["m_probability"] for lv in name_levels] == [lv["m"] for lv in compiled]


def test_text_labels_are_read_as_the_resolver_reads_them(workdir: Path) -> None:
    query = ResolveQuery(text="fornecedor Auto Peças Guerra, CNPJ 16.036.630/0001-56, em Recife")
    label = Label(entity_type="supplier", query=query, canonical_id="SA2::000001:01",
                  label="correct", source="steward", labelled_at=WHEN)  # fmt: skip
    model_dir = current_model_dir(workdir)
    ((q, record),) = labelled_pairs([label], model_dir, load_profile(model_dir / "profile.yaml"))[
        "supplier"
    ]
    # `ue` folds to `u` on both sides (Müller = Mueller), so Guerra reads `gurra`.
    assert (q["tax_id"], q["city"], q["name"]) == ("16036630000156", "recife", "auto pecas gurra")
    assert record["unique_id"] == "SA2::000001:01"


def test_wrong_labels_alone_teach_nothing(workdir: Path) -> None:
    query = ResolveQuery(entity_type="supplier", record={"name": "Auto Peças Guerra"})
    label = Label(entity_type="supplier", query=query, canonical_id="SA2::000001:01",
                  label="wrong", source="steward", labelled_at=WHEN)  # fmt: skip
    with pytest.raises(Exception, match="nothing to learn from"):
        refit_workdir(workdir, [label])


def test_activate_and_roll_back(workdir: Path) -> None:
    parent = current_model_dir(workdir).name
    with pytest.raises(VersionError, match="nothing to roll back to"):
        rollback_model(workdir)
    with pytest.raises(VersionError, match="unknown model version '../x'"):
        activate_model(workdir, "../x")
    refit = refit_workdir(workdir, picks(loose_queries(workdir, 20, seed=5)))
    assert activate_model(workdir, refit.version) == parent
    assert current_model_dir(workdir).name == refit.version
    assert rollback_model(workdir) == (refit.version, parent)
    assert current_model_dir(workdir).name == parent
    activate_model(workdir, refit.version)
    (workdir / "CURRENT").write_text(parent + "\n", encoding="utf-8")  # as a training would
    with pytest.raises(VersionError, match="was not activated by `canon learn --activate`"):
        rollback_model(workdir)
    assert current_model_dir(workdir).name == parent


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CANON, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_learn_reports_weights_and_replay(workdir: Path, sample_labels: Path) -> None:
    proc = run("learn", "-w", workdir, "--labels", sample_labels)
    assert proc.returncode == 0, proc.stderr
    assert "supplier: m refit from" in proc.stdout
    assert "labelled queries replayed" in proc.stdout
    assert "halts a human resolved to a record" in proc.stderr
    version = proc.stderr.split("--activate ")[1].split()[0]
    served = current_model_dir(workdir).name
    assert version.startswith(served + ".l")
    activated = run("learn", "-w", workdir, "--activate", version)
    assert activated.returncode == 0, activated.stderr
    assert current_model_dir(workdir).name == version
    back = run("learn", "-w", workdir, "--rollback")
    assert back.returncode == 0 and current_model_dir(workdir).name == served
    assert len(read_labels(sample_labels)) > 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "give one of --labels FILE, --activate VERSION, --rollback"),
        (("--labels", "missing.csv"), "missing.csv: file not found"),
        (("--activate", "nope"), "unknown model version 'nope'"),
    ],
)
def test_cli_learn_bad_input_is_one_line(workdir: Path, args: tuple[str, ...], fragment: str):
    proc = run("learn", "-w", workdir, *args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_refit_serves_what_splink_computes(workdir: Path) -> None:
    """The refit rewrites the compiled model and the splink model alike: splink's own
    predict_between gives the serving path's match weights for the refit (to 1e-6)."""
    refit = refit_workdir(workdir, picks(loose_queries(workdir, 60, seed=7)))
    activate_model(workdir, refit.version)
    resolver = load_resolver(workdir)
    et = resolver.entity_types["supplier"]
    assert et.model is not None
    queries = _perturbed_queries(resolver, "supplier", 20)
    master = pd.read_parquet(refit.path / "records_supplier.parquet").head(100)
    reference = splink_match_weights(refit.path, "supplier", pd.DataFrame(queries), master)
    position = {uid: i for i, uid in enumerate(et.index.ids)}
    by_id = {q["unique_id"]: q for q in queries}
    worst = 0.0
    for row in reference.itertuples():
        query = {k: v for k, v in by_id[row.unique_id_l].items() if k != "unique_id"}
        score = et.model.score(query, et.index.record(position[row.unique_id_r]))  # type: ignore[arg-type]
        worst = max(worst, abs(score.match_weight - row.match_weight))
    assert len(reference) == 20 * 100
    assert worst <= 1e-6
