"""Profiles: the shipped one is valid and exact; a broken one reports every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

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
