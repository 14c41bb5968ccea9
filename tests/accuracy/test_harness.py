"""The accuracy harness (benchmarks/accuracy): its metrics, its rules baseline, its generators'
truth and one end-to-end run on a tiny master. No accuracy thresholds: those are what the
harness measures, not what it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stdnum import vatin
from stdnum.br import cnpj, cpf
from stdnum.ch import uid

from benchmarks.accuracy import febrl, gen_people, gen_protheus, gen_sap, report, run
from benchmarks.accuracy.baseline import RulesBaseline
from benchmarks.accuracy.common import HALT, MATCH, BaselineTable, Query, read_csv, write_csv
from benchmarks.accuracy.metrics import Outcomes

GENERATORS = {
    "protheus_br": gen_protheus.generate,
    "sap_dach_eu": gen_sap.generate,
    "people_en": gen_people.generate,
}


def _q(qid: str, kind: str, expected: str, cid: str | None = None, in_master: bool = False):
    return Query(qid, kind, {"name": "x"}, expected, cid, None, in_master)


def test_metrics_on_a_constructed_example() -> None:
    out = Outcomes()
    # 4 resolvable queries: 2 right, 1 wrong id, 1 halted.
    out.add(_q("1", "name", MATCH, "A"), "match", "A")
    out.add(_q("2", "name", MATCH, "B"), "match", "B")
    out.add(_q("3", "name", MATCH, "C"), "match", "Z")
    out.add(_q("4", "id", MATCH, "D", in_master=True), "no_match", None)
    # 3 must-halt queries: 1 wrongly matched, 1 ambiguous, 1 no_match.
    out.add(_q("5", "new", HALT), "match", "E")
    out.add(_q("6", "new", HALT), "ambiguous", None)
    out.add(_q("7", "cross", HALT, in_master=True), "no_match", None)
    s = out.summary()
    assert s["matches"] == 4
    assert s["precision"] == pytest.approx(2 / 4)  # right / every match, the halt one included
    assert s["coverage"] == pytest.approx(2 / 4)  # right / resolvable queries
    assert s["halt"] == pytest.approx(2 / 3)
    assert s["id_no_match"] == 2
    assert (s["queries"], s["resolvable"], s["must_halt"]) == (7, 4, 3)
    by_kind = out.summary(["name"])
    assert by_kind["precision"] == pytest.approx(2 / 3)
    assert by_kind["coverage"] == pytest.approx(2 / 3)
    assert by_kind["halt"] is None
    assert out.summary(["new"])["precision"] == 0.0
    assert out.summary(["id"])["precision"] is None  # no match made
    kinds = out.to_json()["kinds"]
    assert kinds["name"]["right"] == 2 and kinds["name"]["wrong"] == 1
    assert kinds["new"]["halted"] == 1 and kinds["new"]["wrong"] == 1
    with pytest.raises(ValueError, match="mixes match and halt"):
        out.add(_q("8", "name", HALT), "ambiguous", None)


@pytest.fixture()
def tiny_master(tmp_path: Path) -> tuple[Path, list[BaselineTable]]:
    header = ["code", "name", "tax", "city", "deleted"]
    write_csv(
        tmp_path / "sup.csv",
        header,
        [
            {"code": "1", "name": "Müller Holzbau GmbH", "tax": "CHE-116.281.710 MWST",
             "city": "Zürich"},
            {"code": "2", "name": "Rossi Costruzioni S.r.l.", "tax": "", "city": "Milano"},
            {"code": "3", "name": "Keller Transporte AG", "tax": "", "city": "Bern"},
            {"code": "4", "name": "Keller Transporte AG", "tax": "", "city": "Basel"},
            {"code": "5", "name": "Weber Druckerei AG", "tax": "", "city": "Luzern",
             "deleted": "*"},
        ],
    )  # fmt: skip
    write_csv(
        tmp_path / "cus.csv",
        header,
        [{"code": "9", "name": "Favre Imprimerie SA", "tax": "CHE-105.805.080", "city": "Genève"}],
    )

    def table(et: str, file: str) -> BaselineTable:
        return BaselineTable(
            et, file, lambda r: f"{et}:{r['code']}", ["name"], "tax", None, "city",
            deleted=lambda r: r["deleted"] == "*",
        )  # fmt: skip

    return tmp_path, [table("supplier", "sup.csv"), table("customer", "cus.csv")]


def test_rules_baseline_decisions(tiny_master: tuple[Path, list[BaselineTable]]) -> None:
    data, tables = tiny_master
    rules = RulesBaseline(data, tables)

    def decide(et: str | None, **record: str) -> tuple[str, str | None]:
        o = rules.resolve(et, record)
        return o.decision, o.canonical_id

    # The identifier, however it is written, finds its record.
    assert decide("supplier", tax_id="CHE116281710") == ("match", "supplier:1")
    assert decide("supplier", tax_id="CHE-116.281.710 TVA", name="Mueller Holzbau") == (
        "match",
        "supplier:1",
    )
    # ... unless the name contradicts it.
    assert decide("supplier", tax_id="CHE116281710", name="Rossi Costruzioni")[0] == "ambiguous"
    # A valid identifier that is not in the master is a new record.
    assert decide("supplier", tax_id="CHE-100.155.212", name="Müller Holzbau") == (
        "no_match",
        None,
    )
    # An identifier found only under another entity type halts.
    assert decide("supplier", tax_id="CHE105805080", name="Favre Imprimerie")[0] == "ambiguous"
    assert decide(None, tax_id="CHE105805080") == ("match", "customer:9")
    # Names: umlauts folded, legal forms dropped; a homonym needs the city.
    assert decide("supplier", name="MUELLER HOLZBAU") == ("match", "supplier:1")
    assert decide("supplier", name="Keller Transporte AG")[0] == "ambiguous"
    assert decide("supplier", name="Keller Transporte", city="Basel") == ("match", "supplier:4")
    # A city that contradicts the only candidate drops it.
    assert decide("supplier", name="Rossi Costruzioni", city="Roma")[0] == "no_match"
    # Deleted rows are not in the master.
    assert decide("supplier", name="Weber Druckerei AG", city="Luzern")[0] == "no_match"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_truth_points_at_live_master_records(name: str, tmp_path: Path) -> None:
    ds = GENERATORS[name](tmp_path / "a", 200)
    live: set[str] = set()
    rows_by_file: dict[str, list[dict[str, str]]] = {}
    for t in ds.tables:
        rows = read_csv(ds.data_dir / t.file)
        rows_by_file[t.file] = rows
        live |= {t.canonical_id(r) for r in rows if not t.deleted(r)}
    kinds = {q.kind for q in ds.queries}
    assert any(q.expected == HALT for q in ds.queries)
    for q in ds.queries:
        assert q.record, q
        if q.expected == MATCH:
            assert q.canonical_id in live, q
        else:
            assert q.canonical_id is None
    # Every kind is one of match or halt, and queries are written beside the truth.
    assert len(ds.queries_path.read_text().splitlines()) == len(ds.queries)
    assert {json.loads(line)["kind"] for line in ds.expected_path.read_text().splitlines()} == kinds
    # Seeded: the same seed writes the same bytes.
    again = GENERATORS[name](tmp_path / "b", 200)
    for f in rows_by_file:
        assert (ds.data_dir / f).read_bytes() == (again.data_dir / f).read_bytes()
    assert ds.queries_path.read_bytes() == again.queries_path.read_bytes()


def test_generated_identifiers_are_valid(tmp_path: Path) -> None:
    sap = gen_sap.generate(tmp_path / "sap", 300)
    for row in read_csv(sap.data_dir / "A_BusinessPartner_Supplier.csv"):
        tax = row["BPTaxNumber"].replace(" MWST", "").replace("MWST", "")
        assert uid.is_valid(tax) if tax.startswith("CHE") else vatin.is_valid(tax), tax
    br = gen_protheus.generate(tmp_path / "br", 300)
    for row in read_csv(br.data_dir / "SA2010.csv"):
        tax = row["A2_CGC"]
        assert cnpj.is_valid(tax) if len(tax) == 14 else cpf.is_valid(tax), tax
    # Partners in both roles keep one BusinessPartner id in both extracts.
    suppliers = {
        r["BusinessPartner"] for r in read_csv(sap.data_dir / "A_BusinessPartner_Supplier.csv")
    }
    customers = {
        r["BusinessPartner"] for r in read_csv(sap.data_dir / "A_BusinessPartner_Customer.csv")
    }
    assert suppliers & customers and suppliers - customers and customers - suppliers


def test_febrl_sets_become_master_and_queries(tmp_path: Path) -> None:
    src = tmp_path / "febrl-src"
    src.mkdir()
    head = ", ".join(febrl.HEADER)
    (src / "dataset4a.csv").write_text(
        f"{head}\nrec-1-org, ann, lee, 4, high street, , bondi, 2026, nsw, 19700101, 1234567\n"
        f"rec-2-org, bo, kim, 9, low road, , manly, 2095, nsw, 19800202, 7654321\n"
    )
    (src / "dataset4b.csv").write_text(
        f"{head}\nrec-2-dup-0, bo, kym, 9, low rd, , manly, 2095, nsw, 19800202, 7654321\n"
        f"rec-1-dup-0, ann, lee, , high street, , bondi, 2026, nsw, 19700101, 1234568\n"
    )
    (src / "dataset1.csv").write_text(
        f"{head}\nrec-1-org, ann, lee, 4, high street, , bondi, 2026, nsw, 19700101, 1234567\n"
        f"rec-1-dup-0, anne, lee, 4, high st, , bondi, 2026, nsw, 19700101, 1234567\n"
    )
    four = febrl.load("febrl4", tmp_path / "f4", source=src)
    assert [r["rec_id"] for r in read_csv(four.data_dir / "febrl.csv")] == [
        "rec-1-org",
        "rec-2-org",
    ]
    assert [(q.canonical_id, q.id_in_master) for q in four.queries] == [
        ("Febrl:rec-2-org", True),
        ("Febrl:rec-1-org", False),
    ]
    assert four.queries[0].record == {
        "name": "bo kym", "birth_date": "19800202", "address": "9 low rd", "city": "manly",
        "postcode": "2095", "state": "nsw", "tax_id": "7654321",
    }  # fmt: skip
    assert "address" in four.queries[1].record and four.queries[1].record["address"] == (
        "high street"
    )
    one = febrl.load("febrl1", tmp_path / "f1", source=src)
    assert len(read_csv(one.data_dir / "febrl.csv")) == 1
    assert [(q.kind, q.canonical_id) for q in one.queries] == [("duplicate", "Febrl:rec-1-org")]


@pytest.mark.slow
def test_end_to_end_on_a_tiny_master(tmp_path: Path) -> None:
    """Generate, train Canon through `canon train`, resolve, and write JSON whose tallies add
    up and agree with the per-query outcomes file."""
    out = tmp_path / "results.json"
    code = run.main(
        ["--sets", "people_en", "--size", "200", "--workdir", str(tmp_path), "--json", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text())["sets"]["people_en"]
    assert result["error"] is None
    outcomes = [
        json.loads(line)
        for line in (tmp_path / "people_en" / "outcomes.jsonl").read_text().splitlines()
    ]
    assert len(outcomes) == result["queries"] > 0
    for system, column in (("canon", "canon"), ("baseline", "baseline")):
        kinds = result[system]["kinds"]
        assert sum(k["n"] for k in kinds.values()) == result["queries"]
        for kind, tally in kinds.items():
            mine = [o for o in outcomes if o["kind"] == kind]
            right = sum(
                o[column][0] == "match" and o[column][1] in o["canonical_ids"] for o in mine
            )
            halted = sum(o[column][0] != "match" for o in mine)
            assert (tally["n"], tally["right"], tally["halted"]) == (len(mine), right, halted)
            assert tally["right"] + tally["wrong"] + tally["halted"] == tally["n"]
    assert "person" in result["training_output"]


def test_report_puts_before_and_after_side_by_side() -> None:
    def results(decision: str) -> dict:
        canon, rules = Outcomes(), Outcomes()
        canon.add(_q("1", "name", MATCH, "A"), decision, "A" if decision == "match" else None)
        rules.add(_q("1", "name", MATCH, "A"), "match", "B")
        return {
            "perturbation_version": "1.0",
            "size": 200,
            "sets": {"s": {"queries": 1, "canon": canon.to_json(), "baseline": rules.to_json()}},
        }

    text = report.markdown(results("ambiguous"), results("match"))
    assert "| s | 1 | – | 0.000 | – | 0 | 0.000 | 0.000 | – | 0 | 1.000 | 1.000 | – | 0 |" in text
    assert "| name | match | 1 | 0.000 (0) | 0.000 (1) | 1.000 (0) |" in text


def test_febrl_batch_pairs_and_scores() -> None:
    import pandas as pd

    from benchmarks.accuracy.febrl_batch import cluster_pairs, scores, true_pairs

    truth = true_pairs(["rec-1-org", "rec-1-dup-0", "rec-2-org", "rec-2-dup-0", "rec-3-org"])
    assert truth == {("rec-1-dup-0", "rec-1-org"), ("rec-2-dup-0", "rec-2-org")}
    clusters = pd.DataFrame(
        {
            "unique_id": [
                "Febrl:rec-1-org",
                "Febrl:rec-1-dup-0",
                "Febrl:rec-2-org",
                "Febrl:rec-3-org",
            ],
            "cluster_id": ["a", "a", "b", "b"],
        }
    )
    predicted = cluster_pairs(clusters)
    assert predicted == {("rec-1-dup-0", "rec-1-org"), ("rec-2-org", "rec-3-org")}
    got = scores(predicted, truth)
    assert (got["tp"], got["precision"], got["recall"], got["f1"]) == (1, 0.5, 0.5, 0.5)
