"""Rollout phases per action type: kept in the store, changed on purpose, promoted on evidence.

Promotion out of supervision (to `autonomous` or `high_volume`) needs, over the last N decided
proposals of the action type: at least N of them, an approved-without-change rate of at least
the configured share, and no `wrong_entity` rejection. Any promotion out of `read_only` or
`supervised` also needs a passing rollback drill (`canon rollout drill`, `gateway.drill`) of the
action type's current catalog entry: a change to its steps (`ActionSpec.steps_hash`) voids the
drills run before. Demotion is always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.catalog import ActionSpec, Phase
from gateway.store import Action, Approval, RolloutDrill, RolloutState

_ORDER = [Phase.READ_ONLY, Phase.SUPERVISED, Phase.AUTONOMOUS, Phase.HIGH_VOLUME]
#: Promotions out of these phases need a passing rollback drill.
_DRILLED_BEFORE_LEAVING = (Phase.READ_ONLY, Phase.SUPERVISED)


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
    #: Whether the latest rollback drill of the current catalog entry passed, and what it said.
    drill_passed: bool = False
    drill: str = "no rollback drill yet (canon rollout drill ACTION)"
    #: In a word: `passed`, `none`, `stale` (the catalog's steps changed since) or `failed`.
    drill_state: str = "none"

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
        .where(Action.reverts.is_(None))
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
    drill_passed, drill = drill_verdict(session, spec)
    return Readiness(spec.name, phase, n, unchanged, wrong, ready, reason, drill_passed, drill,
                     drill_state(session, spec))  # fmt: skip


def latest_drill(session: Session, spec: ActionSpec) -> RolloutDrill | None:
    """The last rollback drill of this action type (whatever catalog entry it ran against)."""
    return session.scalars(
        select(RolloutDrill)
        .where(RolloutDrill.action_type == spec.name)
        .order_by(RolloutDrill.ran_at.desc(), RolloutDrill.id.desc())
        .limit(1)
    ).first()


def drill_state(session: Session, spec: ActionSpec) -> str:
    """The drill's verdict in a word: passed, none, stale or failed."""
    drill = latest_drill(session, spec)
    if drill is None:
        return "none"
    if drill.steps_hash != spec.steps_hash:
        return "stale"
    return "passed" if drill.passed else "failed"


def drill_verdict(session: Session, spec: ActionSpec) -> tuple[bool, str]:
    """Whether the action type has a passing drill of its current steps, and why not."""
    drill = latest_drill(session, spec)
    if drill is None:
        return False, f"{spec.name} has no rollback drill yet (canon rollout drill {spec.name})"
    when = drill.ran_at.isoformat(timespec="seconds")
    if drill.steps_hash != spec.steps_hash:
        return False, (
            f"the rollback drill of {when} ran against other steps of {spec.name}; the catalog "
            f"changed since: drill it again (canon rollout drill {spec.name})"
        )
    if not drill.passed:
        problem = str(drill.report.get("problem") or "see its report")
        return False, f"the last rollback drill ({when}, {drill.erp}) failed: {problem}"
    return True, f"rollback drill passed on {when} against {drill.erp}"


def record_drill(
    session: Session,
    spec: ActionSpec,
    *,
    passed: bool,
    erp: str,
    report: dict[str, object],
    actor: str,
    now: datetime,
) -> RolloutDrill:
    """Store a drill's result with the action type's rollout (against its current steps)."""
    drill = RolloutDrill(action_type=spec.name, steps_hash=spec.steps_hash, erp=erp[:300],
                         passed=passed, report=report, ran_by=actor, ran_at=now)  # fmt: skip
    session.add(drill)
    session.flush()
    audit.append(
        session,
        "rollout.drilled",
        {"action": spec.name, "passed": passed, "erp": erp[:300], "steps_hash": spec.steps_hash,
         "drill_id": drill.id, "problem": report.get("problem")},
        actor=actor,
        now=now,
    )  # fmt: skip
    return drill


def set_phase(
    session: Session,
    spec: ActionSpec,
    phase: Phase,
    rules: PromotionRules,
    *,
    actor: str,
    now: datetime,
    not_offered: str | None = None,
) -> RolloutChange:
    """Move an action type to `phase`, unless it is a promotion the evidence does not support.

    `not_offered`: why the action type does not exist on the deployment's ERP
    (`gateway.offered`), which refuses any promotion out of `read_only`/`supervised`.
    Both outcomes are audited; a refusal changes nothing else.
    """
    before = effective_phase(session, spec)
    if phase == before:
        return RolloutChange(spec.name, before, phase)
    leaves_supervision = (
        _ORDER.index(before) <= _ORDER.index(Phase.SUPERVISED) < _ORDER.index(phase)
    )
    promotes = _ORDER.index(before) < _ORDER.index(phase) and before in _DRILLED_BEFORE_LEAVING
    refused: str | None = None
    if leaves_supervision:
        evidence = readiness(session, spec, rules)
        if not evidence.ready:
            refused = evidence.reason
    if refused is None and promotes and not_offered is not None:
        refused = f"promotion refused: {not_offered}"
    if refused is None and promotes:
        drilled, why = drill_verdict(session, spec)
        if not drilled:
            refused = f"promotion needs a passing rollback drill: {why}"
    if refused is not None:
        audit.append(
            session,
            "rollout.refused",
            {"action": spec.name, "from": before.value, "to": phase.value, "reason": refused},
            actor=actor,
            now=now,
        )
        return RolloutChange(spec.name, before, before, refused=refused)
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
