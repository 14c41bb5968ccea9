"""The policy as a decision table: every (phase, risk) pair, monitor flags and hard stops."""

from __future__ import annotations

import pytest

from gateway.catalog import Phase, RiskClass
from gateway.policy import (
    Execute,
    Outcome,
    Reject,
    RequireApproval,
    Shadow,
    decide,
    outcome_as_dict,
)

R, P = RiskClass, Phase


@pytest.mark.parametrize(
    ("phase", "risk", "expected"),
    [
        pytest.param(P.READ_ONLY, R.READ, Shadow(), id="read_only/read->shadow"),
        pytest.param(P.READ_ONLY, R.LOW_RISK, Shadow(), id="read_only/low->shadow"),
        pytest.param(P.READ_ONLY, R.HIGH_RISK, Shadow(), id="read_only/high->shadow"),
        pytest.param(P.READ_ONLY, R.IRREVERSIBLE, Shadow(), id="read_only/irreversible->shadow"),
        pytest.param(P.SUPERVISED, R.READ, Execute(), id="supervised/read->execute"),
        pytest.param(P.SUPERVISED, R.LOW_RISK, RequireApproval(1), id="supervised/low->1"),
        pytest.param(P.SUPERVISED, R.HIGH_RISK, RequireApproval(1), id="supervised/high->1"),
        pytest.param(P.SUPERVISED, R.IRREVERSIBLE, RequireApproval(2), id="supervised/irrev->2"),
        pytest.param(P.AUTONOMOUS, R.READ, Execute(), id="autonomous/read->execute"),
        pytest.param(P.AUTONOMOUS, R.LOW_RISK, Execute(logged_for_review=True),
                     id="autonomous/low->execute-logged"),
        pytest.param(P.AUTONOMOUS, R.HIGH_RISK, RequireApproval(1), id="autonomous/high->1"),
        pytest.param(P.AUTONOMOUS, R.IRREVERSIBLE, RequireApproval(2), id="autonomous/irrev->2"),
        pytest.param(P.HIGH_VOLUME, R.READ, Execute(), id="high_volume/read->execute"),
        pytest.param(P.HIGH_VOLUME, R.LOW_RISK, Execute(logged_for_review=True),
                     id="high_volume/low->execute-logged"),
        pytest.param(P.HIGH_VOLUME, R.HIGH_RISK, RequireApproval(1), id="high_volume/high->1"),
        pytest.param(P.HIGH_VOLUME, R.IRREVERSIBLE, RequireApproval(2), id="high_volume/irrev->2"),
    ],
)  # fmt: skip
def test_phase_and_class(phase: Phase, risk: RiskClass, expected: Outcome) -> None:
    assert decide(risk, phase) == expected


@pytest.mark.parametrize(
    ("phase", "risk", "flags", "expected"),
    [
        pytest.param(P.AUTONOMOUS, R.LOW_RISK, ["amount z=9.1"],
                     RequireApproval(1, ("amount z=9.1",)), id="flag-turns-execution-into-review"),
        pytest.param(P.HIGH_VOLUME, R.LOW_RISK, ["burst", "amount"],
                     RequireApproval(1, ("burst", "amount")), id="all-flags-kept"),
        pytest.param(P.AUTONOMOUS, R.IRREVERSIBLE, ["burst"], RequireApproval(2, ("burst",)),
                     id="flag-never-lowers-dual-approval"),
        pytest.param(P.AUTONOMOUS, R.READ, ["burst"], Execute(), id="reads-ignore-flags"),
        pytest.param(P.READ_ONLY, R.LOW_RISK, ["burst"], Shadow(), id="shadow-ignores-flags"),
        pytest.param(P.SUPERVISED, R.LOW_RISK, ["burst"], RequireApproval(1),
                     id="supervised-already-reviewed"),
    ],
)  # fmt: skip
def test_monitor_flags(phase: Phase, risk: RiskClass, flags: list[str], expected: Outcome) -> None:
    assert decide(risk, phase, flags) == expected


@pytest.mark.parametrize("phase", list(Phase), ids=str)
@pytest.mark.parametrize("risk", list(RiskClass), ids=str)
def test_hard_stop_rejects_in_every_cell(phase: Phase, risk: RiskClass) -> None:
    assert decide(risk, phase, ["burst"], ["target is deleted in the ERP"]) == Reject(
        "target is deleted in the ERP"
    )


@pytest.mark.parametrize(
    ("outcome", "stored"),
    [
        pytest.param(Execute(True), {"kind": "execute", "logged_for_review": True}, id="execute"),
        pytest.param(Shadow(), {"kind": "shadow"}, id="shadow"),
        pytest.param(RequireApproval(2, ("x",)),
                     {"kind": "require_approval", "approvals": 2, "reasons": ["x"]}, id="approval"),
        pytest.param(Reject("gone"), {"kind": "reject", "reason": "gone"}, id="reject"),
    ],
)  # fmt: skip
def test_outcome_stored_form(outcome: Outcome, stored: dict[str, object]) -> None:
    assert outcome_as_dict(outcome) == stored
