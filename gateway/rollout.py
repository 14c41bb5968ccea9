"""Rollout phases per action type: kept in the store, changed on purpose, promoted on evidence.

Promotion out of supervision (to `autonomous` or `high_volume`) needs, over the last N decided
proposals of the action type: at least N of them, an approved-without-change rate of at least
the configured share, and no `wrong_entity` rejection. Demotion is always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.catalog import ActionSpec, Phase
from gateway.store import Action, Approval, RolloutState

_ORDER = [Phase.READ_ONLY, Phase.SUPERVISED, Phase.AUTONOMOUS, Phase.HIGH_VOLUME]


@dataclass(frozen=True)
class PromotionRules:
    """How much evidence a promotion out of supervision needs."""

    min_proposals: int = 50
    min_approval_rate: float = 0.95


@dataclass(frozen=True)
class Readiness:
    """The evidence for promoting one action type, and the verdict."""

    action_type: str
    phase: Phase
    proposals: int
    approved_unchanged: int
    wrong_entity: int
    ready: bool
    reason: str

    @property
    def approval_rate(self) -> float | None:
        """Share of decided proposals approved without change; None before any decision."""
        return self.approved_unchanged / self.proposals if self.proposals else None


@dataclass(frozen=True)
class RolloutChange:
    """The outcome of a phase change request."""

    action_type: str
    before: Phase
    after: Phase
    refused: str | None = None


def effective_phase(session: Session, spec: ActionSpec) -> Phase:
    """The phase in the store, or the catalog's when never changed."""
    state = session.get(RolloutState, spec.name)
    return Phase(state.phase) if state is not None else spec.phase


def readiness(session: Session, spec: ActionSpec, rules: PromotionRules) -> Readiness:
    """Approval evidence over the last `rules.min_proposals` decided proposals of `spec`."""
    window = session.scalars(
        select(Approval)
        .join(Action, Approval.action_id == Action.id)
        .where(Action.action_type == spec.name, Approval.status.in_(["approved", "rejected"]))
        .order_by(Approval.decided_at.desc(), Approval.id)
        .limit(rules.min_proposals)
    ).all()
    unchanged = sum(
        1
        for a in window
        if a.status == "approved" and all(d.payload_hash == a.payload_hash for d in a.decisions)
    )
    wrong = sum(1 for a in window for d in a.decisions if d.reason == "wrong_entity")
    n, rate = len(window), unchanged / len(window) if window else 0.0
    if n < rules.min_proposals:
        reason = f"only {n} decided proposals; promotion needs {rules.min_proposals}"
    elif wrong:
        reason = f"{wrong} wrong-entity rejection(s) among the last {n} proposals"
    elif rate < rules.min_approval_rate:
        reason = (
            f"{rate:.1%} approved without change over the last {n} proposals; "
            f"promotion needs {rules.min_approval_rate:.0%}"
        )
    else:
        reason = f"{rate:.1%} approved without change over the last {n} proposals"
    ready = n >= rules.min_proposals and not wrong and rate >= rules.min_approval_rate
    phase = effective_phase(session, spec)
    return Readiness(spec.name, phase, n, unchanged, wrong, ready, reason)


def set_phase(
    session: Session,
    spec: ActionSpec,
    phase: Phase,
    rules: PromotionRules,
    *,
    actor: str,
    now: datetime,
) -> RolloutChange:
    """Move an action type to `phase`, unless it is a promotion the evidence does not support.

    Both outcomes are audited; a refusal changes nothing else.
    """
    before = effective_phase(session, spec)
    if phase == before:
        return RolloutChange(spec.name, before, phase)
    leaves_supervision = (
        _ORDER.index(before) <= _ORDER.index(Phase.SUPERVISED) < _ORDER.index(phase)
    )
    if leaves_supervision:
        evidence = readiness(session, spec, rules)
        if not evidence.ready:
            audit.append(
                session,
                "rollout.refused",
                {"action": spec.name, "from": before.value, "to": phase.value,
                 "reason": evidence.reason},
                actor=actor,
                now=now,
            )  # fmt: skip
            return RolloutChange(spec.name, before, before, refused=evidence.reason)
    state = session.get(RolloutState, spec.name)
    if state is None:
        session.add(RolloutState(action_type=spec.name, phase=phase.value, changed_at=now,
                                 changed_by=actor))  # fmt: skip
    else:
        state.phase, state.changed_at, state.changed_by = phase.value, now, actor
    session.flush()
    audit.append(
        session,
        "rollout.changed",
        {"action": spec.name, "from": before.value, "to": phase.value},
        actor=actor,
        now=now,
    )
    return RolloutChange(spec.name, before, phase)
