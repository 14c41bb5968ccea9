"""Profiles: the shipped one is valid and exact; a broken one reports every problem at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from resolver import ProfileError, load_profile
from resolver.profiles import canonical_id


def test_shipped_protheus_profile_has_the_canonical_ids() -> None:
    profile = load_profile()
    ids = {name: et.canonical_id for name, et in profile.entity_types.items()}
    assert ids == {
        "supplier": "SA2:{A2_FILIAL}:{A2_COD}:{A2_LOJA}",
        "customer": "SA1:{A1_FILIAL}:{A1_COD}:{A1_LOJA}",
        "employee": "SRA:{RA_FILIAL}:{RA_MAT}",
        "contact": "SU5:{U5_FILIAL}:{U5_CODCONT}",
        "purchase_order": "SC7:{C7_FILIAL}:{C7_NUM}",
    }
    supplier = profile.entity_types["supplier"]
    row = {"A2_FILIAL": "", "A2_COD": "000123", "A2_LOJA": "02"}
    assert canonical_id(supplier, row) == "SA2::000123:02"


BROKEN = """
erp: broken
comparisons:
  name:
    column: name
    levels: [{kind: jaro_winkler}]
entity_types:
  supplier:
    table: SA2010
    native_key: [A2_COD]
    canonical_id: "SA2:{A2_FILIAL}:{A2_COD}"
    roles: {name: [A2_NOME], shoe_size: [A2_X]}
    comparisons: [name, nickname]
    blocking_rules: [[tax_id]]
"""


def test_broken_profile_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message
    assert "comparisons.name.levels.0" in message and "threshold" in message


def test_semantic_problems_are_collected(tmp_path: Path) -> None:
    path = tmp_path / "semantic.yaml"
    path.write_text(BROKEN.replace("levels: [{kind: jaro_winkler}]", "levels: [{kind: exact}]"))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    for expected in (
        "entity_types.supplier.roles.shoe_size: unknown role",
        "canonical_id: {A2_FILIAL} is not a native_key field",
        "'nickname' is not defined",
        "blocking_rules[0]: 'tax_id' is not a column of supplier",
    ):
        assert expected in message


def test_missing_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("erp: [unclosed", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(bad)


PROFILES = Path(__file__).resolve().parents[2] / "config" / "profiles"


def _with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped Protheus profile, changed."""
    document = yaml.safe_load((PROFILES / "protheus.yaml").read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_profiles_say_where_each_erp_keeps_what_the_gateway_reads() -> None:
    protheus = load_profile(PROFILES / "protheus.yaml")
    assert protheus.source("supplier") == {"resource": "suppliers"}
    assert protheus.source("employee") is None  # no REST resource: read from an export only
    assert protheus.source("transaction") == {"resource": "accountingentries"}
    assert protheus.id_template("transaction").startswith("CT2:{CT2_FILIAL}:")
    assert "transaction" not in protheus.entity_types  # acted on, never resolved
    (control,) = protheus.quality.cross_entity
    assert (control.offenders, control.against, control.fields) == (
        "employee",
        "supplier",
        ["tax_id", "email"],
    )
    sap = load_profile(PROFILES / "sap.yaml")
    assert sap.source("customer") == {
        "service": "API_BUSINESS_PARTNER",
        "entity_set": "A_BusinessPartner",
        "filter": "Customer ne ''",
    }
    oracle = load_profile(PROFILES / "oracle.yaml")
    assert oracle.source("ticket") == {"resource": "serviceRequests", "api": "crm"}
    assert oracle.id_template("ticket") == "ServiceRequest:{SRNUMBER}"


def test_an_entity_type_the_profile_does_not_declare_is_an_error_naming_those_it_does() -> None:
    profile = load_profile(PROFILES / "oracle.yaml")
    with pytest.raises(ProfileError) as info:
        profile.source("employee")
    assert str(info.value) == (
        "the oracle profile declares no entity type 'employee' "
        "(known: supplier, customer, purchase_order, ticket)"
    )
    with pytest.raises(ProfileError, match="no entity type 'widget'"):
        profile.id_template("widget")


def test_a_cross_entity_control_between_two_other_types_is_declared_in_the_profile(
    tmp_path: Path,
) -> None:
    def declare(document: dict[str, Any]) -> None:
        control = {"offenders": "contact", "against": "customer", "fields": ["email", "phone"]}
        document["quality"]["cross_entity"].append(control)

    profile = load_profile(_with(tmp_path, declare))
    pairs = [(c.offenders, c.against, c.fields) for c in profile.quality.cross_entity]
    assert pairs[1] == ("contact", "customer", ["email", "phone"])


@pytest.mark.parametrize(
    ("control", "problem"),
    [
        pytest.param(
            {"offenders": "employe", "against": "supplier", "fields": ["tax_id"]},
            "quality.cross_entity[1].offenders: 'employe' is not an entity type (known: "
            "supplier, customer, employee, contact, purchase_order)",
            id="unknown-type",
        ),
        pytest.param(
            {"offenders": "employee", "against": "supplier", "fields": ["birth_date"]},
            "quality.cross_entity[1].fields: 'birth_date' is not a role of against 'supplier'",
            id="field-one-side-lacks",
        ),
    ],
)
def test_a_cross_entity_control_must_name_declared_types_and_shared_roles(
    tmp_path: Path, control: dict[str, Any], problem: str
) -> None:
    path = _with(tmp_path, lambda d: d["quality"]["cross_entity"].append(control))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert problem in str(info.value)


def test_a_gateway_only_type_may_not_shadow_a_resolved_one(tmp_path: Path) -> None:
    def shadow(document: dict[str, Any]) -> None:
        document["gateway_only"]["supplier"] = {"source": {"resource": "x"}, "canonical_id": "X"}

    with pytest.raises(ProfileError, match="gateway_only.supplier: already an entity type"):
        load_profile(_with(tmp_path, shadow))


def test_narrowing_keeps_the_controls_between_the_types_kept_and_loads_again(
    tmp_path: Path,
) -> None:
    profile = load_profile(PROFILES / "protheus.yaml")
    narrowed = profile.narrowed(["supplier", "purchase_order"])
    assert list(narrowed.entity_types) == ["supplier", "purchase_order"]
    assert narrowed.quality.cross_entity == []
    assert narrowed.quality.references == profile.quality.references
    people = profile.narrowed(iter(["employee", "supplier"])).quality
    assert (people.cross_entity, people.references) == (profile.quality.cross_entity, [])
    path = tmp_path / "narrowed.yaml"
    path.write_text(yaml.safe_dump(narrowed.model_dump(mode="json"), sort_keys=False))
    assert load_profile(path) == narrowed


def test_the_shipped_reference_of_orders_to_suppliers_is_declared() -> None:
    (ref,) = load_profile(PROFILES / "protheus.yaml").quality.references
    assert (ref.records, ref.refer_to) == ("purchase_order", "supplier")
    assert ref.by == {"C7_FORNECE": "A2_COD", "C7_LOJA": "A2_LOJA"}
    assert (ref.branch, ref.closed) == ({"C7_FILIAL": "A2_FILIAL"}, {"C7_ENCER": "E"})
    for other in ("sap", "oracle"):  # their orders name suppliers by surrogate keys: none yet
        assert load_profile(PROFILES / f"{other}.yaml").quality.references == []


def test_a_reference_must_name_columns_each_side_reads(tmp_path: Path) -> None:
    def declare(document: dict[str, Any]) -> None:
        document["quality"]["references"].append(
            {"records": "contact", "refer_to": "customr", "by": {"U5_X": "A1_COD"}}
        )
        document["quality"]["references"].append(
            {"records": "contact", "refer_to": "customer", "by": {"u5_x": "A1_NOPE"}}
        )

    with pytest.raises(ProfileError) as info:
        load_profile(_with(tmp_path, declare))
    message = str(info.value)
    assert "quality.references[1].refer_to: 'customr' is not an entity type (known: " in message
    assert "quality.references[2].by: U5_X is not a column of contact" in message
    assert "quality.references[2].by: A1_NOPE is not a column of customer" in message
