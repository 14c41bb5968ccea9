"""The shipped catalog, and the catalog loader's all-problems-at-once validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.catalog import Phase, RiskClass, load_catalog, parse_catalog
from gateway.errors import CatalogError, InvalidParams, UnknownAction
from gateway.params import validate_model
from gateway.summary import render

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "actions.yaml"

EXPECTED_RISK = {
    "purchase_order.approve": RiskClass.HIGH_RISK,
    "purchase_order.close": RiskClass.HIGH_RISK,
    "purchase_order.update_delivery_date": RiskClass.LOW_RISK,
    "supplier.create": RiskClass.HIGH_RISK,
    "supplier.block": RiskClass.HIGH_RISK,
    "supplier.update_bank_account": RiskClass.IRREVERSIBLE,
    "transaction.reclassify": RiskClass.LOW_RISK,
    "ticket.close": RiskClass.LOW_RISK,
}


def _minimal_action(**overrides: Any) -> dict[str, Any]:
    action: dict[str, Any] = {
        "description": "Close a ticket.",
        "target": {"entity_type": "ticket"},
        "risk": "low_risk",
        "phase": "supervised",
        "steps": [{"name": "close", "operation": "ticket.close"}],
        "approval_template": "Close {target.canonical_id}",
    }
    action.update(overrides)
    return action


def test_shipped_catalog_lists_the_issue_actions_all_supervised() -> None:
    catalog = load_catalog(SHIPPED)
    assert {name: spec.risk for name, spec in catalog.actions.items()} == EXPECTED_RISK
    assert {spec.phase for spec in catalog.actions.values()} == {Phase.SUPERVISED}
    assert all(spec.name == name for name, spec in catalog.actions.items())


def test_supplier_create_has_three_compensated_steps_and_needs_no_match_token() -> None:
    spec = load_catalog(SHIPPED).get("supplier.create")
    assert [s.name for s in spec.steps] == [
        "create_record",
        "attach_document",
        "route_for_approval",
    ]
    assert all(s.compensation for s in spec.steps)
    assert spec.target.resolution == "no_match"
    assert spec.target.identity == {"name": "name", "tax_id": "tax_id"}


def test_close_template_reads_like_the_issue_example() -> None:
    spec = load_catalog(SHIPPED).get("purchase_order.close")
    text = render(
        spec.approval_template,
        {
            "target": {"canonical_id": "SC7:01:002891"},
            "record": {"supplier_name": "ABC Manufacturing", "currency": "CHF", "amount": 45000},
            "context": {"reason": "delivery confirmed by warehouse system on 2026-04-12"},
        },
    )
    assert text == (
        "Approve closing SC7:01:002891 (supplier: ABC Manufacturing, amount: CHF 45,000, "
        "reason: delivery confirmed by warehouse system on 2026-04-12)"
    )


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        pytest.param("purchase_order.update_delivery_date", {"delivery_date": "31/05/2026"},
                     "params.delivery_date", id="date-wrong-format"),
        pytest.param("purchase_order.update_delivery_date", {"delivery_date": "2026-02-30"},
                     "params.delivery_date", id="date-not-in-calendar"),
        pytest.param("purchase_order.update_delivery_date", {}, "params.delivery_date",
                     id="date-missing"),
        pytest.param("purchase_order.update_delivery_date",
                     {"delivery_date": "2026-05-31", "price": 1}, "params.price", id="extra-field"),
        pytest.param("supplier.update_bank_account",
                     {"iban": "CH93 0076 2011 6238 5295 8", "account_holder": "ABC AG"},
                     "params.iban", id="iban-bad-checksum"),
        pytest.param("supplier.update_bank_account", {"iban": "CH9300762011623852957"},
                     "params.account_holder", id="holder-missing"),
        pytest.param("supplier.block", {"reason": "   "}, "params.reason", id="blank-reason"),
        pytest.param("supplier.block", {"reason": 42}, "params.reason", id="reason-not-text"),
    ],
)  # fmt: skip
def test_params_refused_with_the_field_named(action: str, params: Any, field: str) -> None:
    model = load_catalog(SHIPPED).params_model(action)
    with pytest.raises(InvalidParams) as refused:
        validate_model(model, params, "params")
    assert refused.value.field == field


def test_valid_params_come_back_canonical() -> None:
    catalog = load_catalog(SHIPPED)
    bank = catalog.params_model("supplier.update_bank_account")
    got = validate_model(
        bank, {"iban": "ch93 0076 2011 6238 5295 7", "account_holder": " ABC AG "}, "params"
    )
    assert got == {"iban": "CH9300762011623852957", "account_holder": "ABC AG"}


def test_unknown_action_names_the_field() -> None:
    with pytest.raises(UnknownAction) as refused:
        load_catalog(SHIPPED).get("purchase_order.delete")
    assert refused.value.field == "action"


def test_every_problem_reported_at_once_with_path() -> None:
    data = {
        "version": 1,
        "actions": {
            "Bad Name": _minimal_action(),
            "supplier.create": _minimal_action(
                target={"entity_type": "supplier", "resolution": "no_match",
                        "identity": {"tax_id": "cnpj"}},
                steps=[{"name": "a", "operation": "x"}, {"name": "a", "operation": "y"}],
                approval_template="Create {params.nome} for {agent.name} {record.amount:euro}",
            ),
            "ticket.close": _minimal_action(params={"kind": {"type": "enum", "description": "k"}}),
        },
    }  # fmt: skip
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data, "actions.yaml")
    problems = "\n".join(refused.value.problems)
    for expected in [
        "actions.yaml: actions.Bad Name: action names are",
        "actions.supplier.create.target.identity: a no_match target needs at least `name`",
        "actions.supplier.create.target.identity.tax_id: no param 'cnpj'",
        "actions.supplier.create.steps: step names must be unique",
        "actions.supplier.create.steps[0]: a multi-step action needs a compensation",
        "{params.nome}: the action has no param 'nome'",
        "{agent.name}: use one of",
        "{record.amount:euro}: unknown format",
        "actions.ticket.close.params.kind: `values` goes with type enum",
    ]:
        assert expected in problems
    assert all(p.startswith("actions.yaml: ") for p in refused.value.problems)


def test_schema_problems_collected_across_actions() -> None:
    data = {
        "version": 1,
        "actions": {
            "a.b": _minimal_action(risk="dangerous"),
            "c.d": _minimal_action(phase="yolo", colour="red"),
        },
    }
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data, "f.yaml")
    paths = [p.split(": ")[1] for p in refused.value.problems]
    assert paths == ["actions.a.b.risk", "actions.c.d.phase", "actions.c.d.colour"]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "actions.yaml"
    path.write_text("version: 1\nactions:\n  a.b: {description: [unclosed\n")
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    assert refused.value.problems[0].startswith(f"{path}: line ")


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "nope.yaml")


def test_shipped_yaml_is_plain_yaml() -> None:
    # safe_load must be enough: no tags or anchors that need a custom loader.
    assert yaml.safe_load(SHIPPED.read_text())["version"] == 1


def test_revert_settings_are_checked_and_default_to_the_action_risk() -> None:
    data = {
        "version": 1,
        "actions": {
            "ticket.close": _minimal_action(
                steps=[{"name": "close", "operation": "ticket.close", "compensation": "t.reopen",
                        "leaves": {"status": "closed", "note": "{params.note}"}}],
                revert_risk="read",
            ),
        },
    }  # fmt: skip
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data, "a.yaml")
    assert refused.value.problems == [
        "a.yaml: actions.ticket.close.steps[0].leaves.note: no param 'note'",
        "a.yaml: actions.ticket.close.revert_risk: a revert writes; it cannot be of class read",
    ]
    shipped = load_catalog(SHIPPED)
    assert shipped.get("supplier.block").reverting_risk is RiskClass.HIGH_RISK
    assert shipped.get("supplier.update_bank_account").reverting_risk is RiskClass.IRREVERSIBLE
    assert all(step.leaves for spec in shipped.actions.values() for step in spec.steps[:1])


def test_the_steps_hash_changes_with_the_steps_only() -> None:
    spec = load_catalog(SHIPPED).get("supplier.block")
    assert spec.steps_hash == load_catalog(SHIPPED).get("supplier.block").steps_hash
    reworded = spec.model_copy(update={"description": "Block it."})
    assert reworded.steps_hash == spec.steps_hash
    step = spec.steps[0].model_copy(update={"leaves": {"blocked": False}})
    assert spec.model_copy(update={"steps": (step,)}).steps_hash != spec.steps_hash
