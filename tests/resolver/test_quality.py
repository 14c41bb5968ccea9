"""Quality metrics on the committed sample: each finds the defects the generator planted
(truth/defects.csv, truth/entities.csv), with the counts derived from those files."""

from __future__ import annotations

import csv
import math
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml

from resolver.profiles import DEFAULT_PROFILE, CrossEntitySpec, QualitySpec, load_profile
from resolver.quality import MAX_OFFENDERS, QualityReport, compute_quality, score
from resolver.quality.build import MetricSpec, from_rows
from resolver.quality.metrics_completeness import blank_sql
from resolver.quality.metrics_consistency import missing_referents
from resolver.quality.metrics_cross import cross_entity
from resolver.quality.metrics_readiness import SAMPLE as READINESS_SAMPLE
from resolver.quality.metrics_validity import (
    email_problem,
    iban_problem,
    phone_problem,
    postcode_problem,
    tax_id_problem,
    validity,
)
from resolver.quality.source import Master
from tests.resolver.conftest import SAMPLE


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def quality_workdir(trained_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's trained workdir: quality writes dedupe runs and its own."""
    workdir = tmp_path_factory.mktemp("quality") / "workdir"
    shutil.copytree(trained_workdir, workdir)
    return workdir


@pytest.fixture(scope="module")
def report(quality_workdir: Path) -> QualityReport:
    return compute_quality(quality_workdir)


@pytest.fixture(scope="module")
def defects() -> dict[tuple[str, str], dict[str, str]]:
    """(entity type, defect) -> {canonical id: related id}."""
    out: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for row in _csv(SAMPLE / "truth" / "defects.csv"):
        out[(row["entity_type"], row["defect"])][row["canonical_id"]] = row["related_id"]
    return out


@pytest.fixture(scope="module")
def truth() -> list[dict[str, str]]:
    return _csv(SAMPLE / "truth" / "entities.csv")


def offenders(report: QualityReport, metric_id: str) -> set[str]:
    return {o.canonical_id for o in report.metric(metric_id).offenders}


@pytest.mark.parametrize("entity_type", ["supplier", "customer"])
def test_invalid_tax_ids_are_exactly_the_planted_ones(report, defects, entity_type):
    planted = defects[(entity_type, "invalid_check_digits")]
    metric = report.metric(f"{entity_type}.validity.tax_id")
    assert planted and offenders(report, metric.metric_id) == set(planted)
    assert metric.numerator == len(planted) and metric.severity == "high"
    assert all("check digits" in o.detail for o in metric.offenders)


@pytest.mark.parametrize("entity_type", ["supplier", "customer"])
def test_branches_under_another_cnpj_root_are_exactly_the_planted_ones(
    report, defects, entity_type
):
    planted = defects[(entity_type, "branch_cnpj_root_mismatch")]
    metric = report.metric(f"{entity_type}.consistency.branch_cnpj_root")
    assert planted and offenders(report, metric.metric_id) == set(planted)
    # The head office the generator names keeps the usual root: it is not flagged.
    assert not set(planted.values()) & offenders(report, metric.metric_id)


@pytest.mark.parametrize(
    ("metric_id", "defect"),
    [
        pytest.param(
            "purchase_order.consistency.blocked_supplier", "open_po_blocked_supplier", id="blocked"
        ),
        pytest.param(
            "purchase_order.consistency.missing_supplier", "po_missing_supplier", id="missing"
        ),
    ],
)
def test_purchase_order_defects_are_exactly_the_planted_ones(report, defects, metric_id, defect):
    planted = defects[("purchase_order", defect)]
    metric = report.metric(metric_id)
    assert planted and offenders(report, metric_id) == set(planted)
    for o in metric.offenders:
        supplier_code = planted[o.canonical_id].split(":")[3]
        assert supplier_code in o.detail  # names the supplier the order points at


@pytest.mark.parametrize(
    ("field", "defect"),
    [("tax_id", "conflict_of_interest_cpf"), ("email", "conflict_of_interest_email")],
)
def test_employees_sharing_a_value_with_a_supplier_are_the_planted_ones(
    report, defects, field, defect
):
    planted = defects[("employee", defect)]
    metric = report.metric(f"cross.employee_supplier.shared_{field}")
    assert metric.entity_type == "cross" and metric.severity == "critical"
    assert planted and offenders(report, metric.metric_id) == set(planted)
    for o in metric.offenders:
        assert planted[o.canonical_id] in o.detail  # names the supplier
    # The supplier side of each planted pair points back at its employee.
    assert set(defects[("supplier", defect)].values()) == set(planted)


def test_contacts_without_any_channel_include_the_planted_ones(report, defects):
    planted = set(defects[("contact", "blank_contact_data")])
    found = offenders(report, "contact.completeness.contact_channel")
    # A superset: contacts keyed without e-mail and phones by chance are flagged as well,
    # and each flagged one really has none.
    assert planted and planted <= found
    rows = {
        r["U5_CODCONT"]: r for r in _csv(SAMPLE / "data" / "SU5010.csv") if r["D_E_L_E_T_"] != "*"
    }
    for cid in found:
        row = rows[cid.split(":")[2]]
        assert not (row["U5_EMAIL"] or row["U5_FONE"] or row["U5_CELULAR"]).strip()


def _live_duplicates(truth: list[dict[str, str]], entity_type: str) -> list[tuple[str, str]]:
    """(original, legacy duplicate) pairs of live records, from the truth file."""
    live = [r for r in truth if r["entity_type"] == entity_type and r["deleted"] == "0"]
    originals = {r["entity_id"]: r["canonical_id"] for r in live if r["role"] == "original"}
    return [
        (originals[r["entity_id"]], r["canonical_id"])
        for r in live
        if r["role"] == "legacy_duplicate" and r["entity_id"] in originals
    ]


@pytest.mark.parametrize("entity_type", ["supplier", "customer"])
def test_fuzzy_clusters_find_the_planted_legacy_duplicates(report, truth, entity_type):
    planted = _live_duplicates(truth, entity_type)
    cluster_of = {
        m.canonical_id: c.cluster_id
        for c in report.clusters
        if c.entity_type == entity_type
        for m in c.members
    }
    found = [p for p in planted if p[0] in cluster_of and cluster_of[p[0]] == cluster_of.get(p[1])]
    assert planted and len(found) >= 0.8 * len(planted), (len(found), len(planted))
    # Clusters are what the metric counts: every clustered record is an offender.
    metric = report.metric(f"{entity_type}.uniqueness.fuzzy_clusters")
    assert offenders(report, metric.metric_id) == set(cluster_of)
    entity_of = {r["canonical_id"]: r["entity_id"] for r in truth}
    pure = [
        c
        for c in report.clusters
        if c.entity_type == entity_type and len({entity_of[m.canonical_id] for m in c.members}) == 1
    ]
    assert len(pure) >= 0.8 * sum(c.entity_type == entity_type for c in report.clusters)


@pytest.mark.parametrize("entity_type", ["supplier", "customer"])
def test_same_tax_id_under_two_codes_is_a_legacy_duplicate_that_kept_its_cgc(
    report, truth, entity_type
):
    table, column = {"supplier": ("SA2010", "A2"), "customer": ("SA1010", "A1")}[entity_type]
    rows = _csv(SAMPLE / "data" / f"{table}.csv")
    cgc = {
        f"{table[:3]}::{r[column + '_COD']}:{r[column + '_LOJA']}": "".join(
            ch for ch in r[column + "_CGC"] if ch.isalnum()
        )
        for r in rows
        if r["D_E_L_E_T_"] != "*"
    }
    kept = {
        pair
        for pair in _live_duplicates(truth, entity_type)
        if cgc.get(pair[1]) and cgc[pair[1]] == cgc.get(pair[0])
    }
    found = offenders(report, f"{entity_type}.uniqueness.same_tax_id")
    assert kept and {cid for pair in kept for cid in pair} <= found
    # Every offender shares its tax id with another record of its own real-world entity.
    entity_of = {r["canonical_id"]: r["entity_id"] for r in truth if r["deleted"] == "0"}
    by_tax: dict[str, set[str]] = defaultdict(set)
    for cid in found:
        by_tax[cgc[cid]].add(entity_of[cid])
    assert all(len(entities) == 1 for entities in by_tax.values())


def test_same_name_under_two_tax_ids_includes_the_generic_names(report, truth):
    found = offenders(report, "supplier.uniqueness.same_name")
    generic = {
        r["canonical_id"]
        for r in truth
        if r["entity_type"] == "supplier" and r["role"] == "common_name" and r["deleted"] == "0"
    }
    assert generic and len(found & generic) >= 0.5 * len(generic)


def test_waterfalls_add_up_to_splinks_match_weight(report):
    pairs = [p for c in report.clusters for p in c.pairs]
    assert pairs
    for pair in pairs:
        assert pair.waterfall[0].label == "prior"
        total = sum(step.match_weight for step in pair.waterfall)
        assert math.isclose(total, pair.match_weight, abs_tol=1e-4), pair
        assert set(pair.differing_fields) <= {s.field for s in pair.waterfall}


def test_clusters_show_their_members_side_by_side(report):
    for cluster in report.clusters:
        assert cluster.size == len(cluster.members) >= 2
        assert all(m.fields.get("name") for m in cluster.members)
    sizes = [c.size for c in report.clusters]
    assert sizes == sorted(sizes, reverse=True)


def test_readiness_measures_a_sample_per_party_type(report):
    for entity in report.entities:
        if entity.entity_type == "purchase_order":
            continue
        metric = report.metric(f"{entity.entity_type}.readiness.name_city")
        assert metric.denominator == min(entity.records, READINESS_SAMPLE)
        assert 0.5 <= metric.value <= 1.0
        assert all(
            any(word in o.detail for word in ("ambiguous", "no match", "another record"))
            for o in metric.offenders
        )


def test_every_metric_is_described_and_consistent(report):
    ids = [m.metric_id for m in report.metrics]
    assert len(ids) == len(set(ids))
    for m in report.metrics:
        assert m.title and m.description and m.metric_id.startswith(m.entity_type + ".")
        assert 0.0 <= m.value <= 1.0 and 0 <= m.numerator <= m.denominator
        assert len({o.canonical_id for o in m.offenders}) == m.numerator
        assert (m.severity == "info") == (m.numerator == 0)
    for entity in report.entities:
        own = [m for m in report.metrics if m.entity_type == entity.entity_type]
        assert entity.score == score(own) and 0 <= entity.score <= 100


def test_a_second_run_reuses_the_dedupe_run(quality_workdir, report):
    runs = sorted((quality_workdir / "dedupe" / "supplier" / "runs").iterdir())
    again = compute_quality(quality_workdir)
    assert sorted((quality_workdir / "dedupe" / "supplier" / "runs").iterdir()) == runs
    assert [m.value for m in again.metrics] == [m.value for m in report.metrics]


def test_another_threshold_dedupes_again(quality_workdir, report):
    runs = sorted((quality_workdir / "dedupe" / "supplier" / "runs").iterdir())
    strict = compute_quality(quality_workdir, threshold=0.999)
    assert len(sorted((quality_workdir / "dedupe" / "supplier" / "runs").iterdir())) > len(runs)
    before = report.metric("supplier.uniqueness.fuzzy_clusters")
    after = strict.metric("supplier.uniqueness.fuzzy_clusters")
    assert after.numerator <= before.numerator and "0.999" in after.description


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("   ", True, id="blanks"),
        pytest.param(".", True, id="dot"),
        pytest.param("-", True, id="dash"),
        pytest.param("N/A", True, id="n/a"),
        pytest.param("n.a.", True, id="n.a."),
        pytest.param("0000000", True, id="zeros"),
        pytest.param("NULL", True, id="null"),
        pytest.param("Não informado", False, id="accented-kept"),
        pytest.param("0800 123", False, id="digits"),
        pytest.param("Rua A, 10", False, id="address"),
        pytest.param("X Ltda", False, id="x-in-name"),
    ],
)
def test_blank_like_values_count_as_missing(value, missing):
    got = duckdb.sql(f"SELECT {blank_sql('$v')}", params={"v": value}).fetchall()
    assert got == [(missing,)]


@pytest.mark.parametrize(
    ("check", "value", "country", "ok"),
    [
        pytest.param(tax_id_problem, "11.222.333/0001-81", None, True, id="cnpj"),
        pytest.param(tax_id_problem, "11.222.333/0001-82", None, False, id="cnpj-bad"),
        pytest.param(tax_id_problem, "529.982.247-25", None, True, id="cpf"),
        pytest.param(tax_id_problem, "52998224726", None, False, id="cpf-bad"),
        pytest.param(tax_id_problem, "CHE-116.281.710", None, True, id="uid"),
        pytest.param(tax_id_problem, "CHE-116.281.711", None, False, id="uid-bad"),
        pytest.param(tax_id_problem, "DE136695976", None, True, id="vat"),
        pytest.param(tax_id_problem, "12345", None, False, id="short"),
        pytest.param(email_problem, "nfe@empresa.com.br", None, True, id="email"),
        pytest.param(email_problem, "NFE@EMPRESA.COM.BR", None, True, id="email-upper"),
        pytest.param(email_problem, "nfe@empresa", None, False, id="email-no-tld"),
        pytest.param(email_problem, "nfe empresa.com", None, False, id="email-no-at"),
        pytest.param(email_problem, "a@b@c.com", None, False, id="email-two-at"),
        pytest.param(phone_problem, "(11) 3700-0225", "BR", True, id="phone-br"),
        pytest.param(phone_problem, "+55 11 96412-0536", "BR", True, id="phone-br-mobile"),
        pytest.param(phone_problem, "+41 52 736 82 94", "CH", True, id="phone-ch"),
        pytest.param(phone_problem, "123", "BR", False, id="phone-short"),
        pytest.param(phone_problem, "3700-0225", None, True, id="phone-unknown-country"),
        pytest.param(postcode_problem, "01310-100", "BR", True, id="cep"),
        pytest.param(postcode_problem, "0131010", "BR", False, id="cep-7"),
        pytest.param(postcode_problem, "8400", "CH", True, id="ch"),
        pytest.param(postcode_problem, "84000", "CH", False, id="ch-5"),
        pytest.param(postcode_problem, "10115", "DE", True, id="de"),
        pytest.param(postcode_problem, "94105-1234", "US", True, id="zip4"),
        pytest.param(postcode_problem, "SW1A 1AA", "GB", True, id="unchecked-country"),
        pytest.param(iban_problem, "DE89 3704 0044 0532 0130 00", None, True, id="iban-de"),
        pytest.param(iban_problem, "CH93 0076 2011 6238 5295 7", None, True, id="iban-ch"),
        pytest.param(iban_problem, "DE89 3704 0044 0532 0130 01", None, False, id="iban-bad"),
    ],
)
def test_validity_checks(check, value, country, ok):
    assert (check(value, country) is None) == ok


def test_an_extract_column_named_iban_is_checked_too(tmp_path: Path) -> None:
    profile = load_profile()
    only = profile.model_copy(
        update={"entity_types": {"supplier": profile.entity_types["supplier"]}}
    )
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE raw_supplier AS SELECT * FROM (VALUES
            ('SA2::000001:01', 'Acme', '', '11222333000181', 'a@acme.com.br', '(11) 3700-0225',
             '01310-100', '105', 'SP', 'DE89 3704 0044 0532 0130 00'),
            ('SA2::000002:01', 'Beta', '', '11222333000181', '', '', '', '105', 'SP',
             'DE89 3704 0044 0532 0130 01'),
            ('SA2::000003:01', 'Gama', '', '', '', '', '', '105', 'SP', ' '))
        AS t(canonical_id, A2_NOME, A2_NREDUZ, A2_CGC, A2_EMAIL, A2_TEL, A2_CEP, A2_PAIS, A2_EST,
             A2_XIBAN)"""
    )
    master = Master(tmp_path, tmp_path, "v", only, con)
    metric = {m.metric_id: m for m in validity(master)}["supplier.validity.iban"]
    assert (metric.numerator, metric.denominator) == (1, 2)  # the blank one is not checked
    assert metric.offenders[0].canonical_id == "SA2::000002:01"
    assert metric.offenders[0].detail.startswith("A2_XIBAN 'DE89")


def test_offenders_are_bounded_and_say_so() -> None:
    spec = MetricSpec("supplier.validity.email", "supplier", "email", "validity", "t", "d", "low")
    rows = [(f"SA2::{k:06d}:01", "x", "bad") for k in range(MAX_OFFENDERS + 5)]
    metric = from_rows(spec, rows, 2 * len(rows))
    assert metric.truncated and len(metric.offenders) == MAX_OFFENDERS
    assert metric.numerator == len(rows) and metric.value == 0.5
    clean = from_rows(spec, [], 10)
    assert (clean.severity, clean.value, clean.truncated) == ("info", 1.0, False)


def test_a_cross_entity_control_the_profile_declares_between_two_other_types(
    tmp_path: Path,
) -> None:
    """Contacts sharing an e-mail or a phone with a customer: declared in the profile, no code."""
    shipped = load_profile()
    control = CrossEntitySpec(offenders="contact", against="customer", fields=["email", "phone"])
    profile = shipped.narrowed(["customer", "contact"]).model_copy(
        update={"quality": QualitySpec(cross_entity=[control])}
    )
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE raw_customer AS SELECT * FROM (VALUES
            ('SA1::000001:01', 'Acme Ltda', ''), ('SA1::000002:01', '', 'Beta'))
        AS t(canonical_id, A1_NOME, A1_NREDUZ)"""
    )
    con.execute(
        """CREATE TABLE rec_customer AS SELECT * FROM (VALUES
            ('SA1::000001:01', 'compras@acme.com.br', '551137000225'),
            ('SA1::000002:01', 'ana@beta.com.br', NULL))
        AS t(unique_id, email, phone)"""
    )
    con.execute(
        """CREATE TABLE raw_contact AS SELECT * FROM (VALUES
            ('SU5::C00001', 'Ana Lima'), ('SU5::C00002', 'Rui Melo'), ('SU5::C00003', 'Eva Reis'))
        AS t(canonical_id, U5_CONTAT)"""
    )
    con.execute(
        """CREATE TABLE rec_contact AS SELECT * FROM (VALUES
            ('SU5::C00001', 'ana@beta.com.br', NULL),
            ('SU5::C00002', 'rui@melo.com.br', '551137000225'),
            ('SU5::C00003', NULL, NULL))
        AS t(unique_id, email, phone)"""
    )
    master = Master(tmp_path, tmp_path, "v", profile, con)
    found = {m.metric_id: m for m in cross_entity(master)}
    assert set(found) == {
        "cross.contact_customer.shared_email",
        "cross.contact_customer.shared_phone",
    }
    email = found["cross.contact_customer.shared_email"]
    assert (email.entity_type, email.field, email.severity) == ("cross", "email", "critical")
    assert (email.numerator, email.denominator) == (1, 3)
    (offender,) = email.offenders
    assert (offender.canonical_id, offender.label) == ("SU5::C00001", "Ana Lima")
    assert offender.detail == "U5_EMAIL ana@beta.com.br is also on customer SA1::000002:01 (Beta)"
    assert email.title == "contacts sharing no e-mail with a customer"
    phone = found["cross.contact_customer.shared_phone"]
    assert [o.canonical_id for o in phone.offenders] == ["SU5::C00002"]
    assert phone.offenders[0].detail.startswith("U5_FONE 551137000225 is also on customer ")


def test_a_reference_the_profile_declares_between_two_other_types(tmp_path: Path) -> None:
    """Contacts naming their customer (a column the shipped profile does not read): declared,
    the consistency metrics check it with no code."""
    document = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    document["entity_types"]["contact"]["display"].append("U5_CLIENTE")
    document["quality"] = {
        "references": [
            {"records": "contact", "refer_to": "customer", "by": {"U5_CLIENTE": "A1_COD"}}
        ]
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    profile = load_profile(path).narrowed(["customer", "contact"])
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE raw_customer AS SELECT * FROM (VALUES
            ('SA1::000001:01', '000001', 'Acme Ltda', '', '2'))
        AS t(canonical_id, A1_COD, A1_NOME, A1_NREDUZ, A1_MSBLQL)"""
    )
    con.execute(
        """CREATE TABLE raw_contact AS SELECT * FROM (VALUES
            ('SU5::C00001', 'Ana Lima', '000001'), ('SU5::C00002', 'Rui Melo', '000009'))
        AS t(canonical_id, U5_CONTAT, U5_CLIENTE)"""
    )
    master = Master(tmp_path, tmp_path, "v", profile, con)
    (ref,) = profile.quality.references
    metric = missing_referents(master, ref)
    assert metric.metric_id == "contact.consistency.missing_customer"
    assert metric.title == "contacts with an existing customer"
    assert (metric.numerator, metric.denominator) == (1, 2)
    (offender,) = metric.offenders
    assert offender.canonical_id == "SU5::C00002"
    assert (
        offender.detail
        == "names customer U5_CLIENTE 000009, which the customer master does not hold"
    )
