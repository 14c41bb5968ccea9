"""The gate's policy: a pure function from (risk class, rollout phase, monitors) to an outcome.

Outcomes are values, not exceptions. The agent supplies none of the inputs: the risk class comes
from the catalog, the phase from the store, the flags from the monitors, the hard stops from the
ERP's view of the target.

| phase \\ risk         | read    | low_risk        | high_risk   | irreversible |
|----------------------|---------|-----------------|-------------|--------------|
| read_only            | shadow  | shadow          | shadow      | shadow       |
| supervised           | execute | approval(1)     | approval(1) | approval(2)  |
| autonomous/high_vol. | execute | execute, logged | approval(1) | approval(2)  |

A monitor flag turns an unsupervised execution into approval(1); a hard stop rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.catalog import Phase, RiskClass


@dataclass(frozen=True)
class Execute:
    """Run now; `logged_for_review` marks a write that ran without a human (reviewed later)."""

    logged_for_review: bool = False
    kind: Literal["execute"] = "execute"


@dataclass(frozen=True)
class Shadow:
    """Record the action and the plan it would have run; run nothing."""

    kind: Literal["shadow"] = "shadow"


@dataclass(frozen=True)
class RequireApproval:
    """Wait for `approvals` distinct human approvals; `reasons` say why beyond the class."""

    approvals: int
    reasons: tuple[str, ...] = ()
    kind: Literal["require_approval"] = "require_approval"


@dataclass(frozen=True)
class Reject:
    """Refuse the action."""

    reason: str
    kind: Literal["reject"] = "reject"


Outcome = Execute | Shadow | RequireApproval | Reject

_APPROVALS_BY_RISK = {
    RiskClass.READ: 0,
    RiskClass.LOW_RISK: 0,
    RiskClass.HIGH_RISK: 1,
    RiskClass.IRREVERSIBLE: 2,
}


def decide(
    risk: RiskClass,
    phase: Phase,
    flags: Sequence[str] = (),
    hard_stops: Sequence[str] = (),
) -> Outcome:
    """What the gate does with one proposed action."""
    if hard_stops:
        return Reject("; ".join(hard_stops))
    if phase is Phase.READ_ONLY:
        return Shadow()
    if risk is RiskClass.READ:
        return Execute()
    needed = _APPROVALS_BY_RISK[risk]
    if phase is Phase.SUPERVISED:
        # Every write waits for a human, whatever its class.
        return RequireApproval(max(needed, 1))
    if flags:
        return RequireApproval(max(needed, 1), tuple(flags))
    if needed:
        return RequireApproval(needed)
    return Execute(logged_for_review=True)


def outcome_as_dict(outcome: Outcome) -> dict[str, object]:
    """The outcome as stored with the action and shown in its status."""
    match outcome:
        case Execute(logged_for_review=logged):
            return {"kind": outcome.kind, "logged_for_review": logged}
        case Shadow():
            return {"kind": outcome.kind}
        case RequireApproval(approvals=n, reasons=reasons):
            return {"kind": outcome.kind, "approvals": n, "reasons": list(reasons)}
        case Reject(reason=reason):
            return {"kind": outcome.kind, "reason": reason}
