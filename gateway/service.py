"""`Gateway`: the gate's operations, each one call for the API or the CLI to make.

It holds what the operations need (store, catalog, token signer, ERP connector, rules, clock),
checks who may do what, commits state before the side effect it authorises, and audits every
request, decision and refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import audit
from gateway.actions import (
    ActionRequest,
    IdentityNormaliser,
    Proposal,
    find_existing,
    insert_action,
    payload_hash,
    recent_count,
    spent_by,
    summary_of,
    token_used,
    validate_request,
)
from gateway.approvals import expire as expire_request
from gateway.approvals import record_decision
from gateway.approvals_views import ApprovalRequestView, request_view
from gateway.catalog import Catalog, Phase
from gateway.channels.links import LinkClaims
from gateway.channels.links import consume as consume_link
from gateway.erp.base import ErpConnector, ErpRecord
from gateway.errors import (
    ActionNotFound,
    ActionNotOffered,
    AlreadyReverted,
    ApprovalError,
    ErpError,
    Forbidden,
    GatewayError,
    IdempotencyConflict,
    PromotionRefused,
)
from gateway.keys import Principal, Role, authenticate
from gateway.monitoring import amount_flag, burst_flag
from gateway.offered import describe, not_offered
from gateway.policy import Execute, decide
from gateway.resolution_records import resolution_record
from gateway.revert import (
    RevertCard,
    RevertPlan,
    check_revertible,
    find_revert,
    insert_revert,
    plan_revert,
)
from gateway.revert import created_id as revert_created_id
from gateway.rollout import PromotionRules, Readiness, RolloutChange, effective_phase, readiness
from gateway.rollout import set_phase as store_phase
from gateway.store import Action, Approval, Store, utcnow
from gateway.tokens import TokenSigner
from gateway.views import ActionView, action_view
from gateway.workflow import WorkflowRunner
from resolver.types import Resolution, ResolveQuery

UNSUPERVISED = (Phase.AUTONOMOUS, Phase.HIGH_VOLUME)
REVIEWERS = (Role.APPROVER, Role.STEWARD, Role.ADMIN)


class EntityResolver(Protocol):
    """Anything that resolves a query (the trained `resolver.Resolver`)."""

    def resolve(self, query: ResolveQuery) -> Resolution: ...


class ResolveResponse(Resolution):
    """A resolution, and for `match` or `no_match` the token an action must carry."""

    resolution_token: str | None = None
    resolution_id: str | None = Field(
        default=None,
        description="This answer's id: a halt (`ambiguous`, `no_match`) can be put to a person "
        "with POST /v1/resolution-requests",
    )


@dataclass(frozen=True)
class GateRules:
    """Limits of the gate that deployments tune."""

    promotion: PromotionRules = field(default_factory=PromotionRules)
    burst_window_seconds: int = 60
    burst_max_actions: int = 30
    amount_z_threshold: float = 3.5
    approval_ttl_seconds: int | None = 7 * 24 * 3600
    #: Dual approval: an approver whose account the other approver made or changed this recently
    #: is not independent of them.
    account_window_seconds: int = 30 * 24 * 3600

    @property
    def account_window(self) -> timedelta:
        return timedelta(seconds=self.account_window_seconds)


def _require(principal: Principal, roles: tuple[Role, ...], what: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"{principal.role.spoken} key may not {what}")


class Gateway:
    """The one way an agent's intent reaches the ERP."""

    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        signer: TokenSigner,
        connector: ErpConnector,
        normalise_identity: IdentityNormaliser,
        rules: GateRules | None = None,
        clock: Callable[[], datetime] = utcnow,
        runner: WorkflowRunner | None = None,
    ) -> None:
        self.store, self.catalog, self.signer = store, catalog, signer
        self.connector, self.normalise_identity = connector, normalise_identity
        self.rules, self.clock = rules or GateRules(), clock
        self.runner = runner or WorkflowRunner()

    # -- resolve ---------------------------------------------------------------------------
    def resolve(
        self, principal: Principal, resolver: EntityResolver, query: ResolveQuery
    ) -> ResolveResponse:
        """Resolve a query and sign the outcome; audited."""
        if not principal.may_resolve():
            raise Forbidden("this key lacks the `resolve` scope")
        resolution = resolver.resolve(query)
        resolution_id = uuid.uuid4().hex
        token = self.signer.issue(resolution, holder=principal.key_id, token_id=resolution_id)
        with self.store.transaction() as session:
            session.add(
                resolution_record(resolution_id, query, resolution, principal, self.clock())
            )
            audit.append(
                session,
                "resolve",
                {"decision": resolution.decision.value, "entity_type": resolution.entity_type,
                 "canonical_id": resolution.canonical_id, "token_issued": token is not None,
                 "model_version": resolution.model_version,
                 "calibration_version": resolution.calibration_version},
                actor=principal.actor,
                now=self.clock(),
            )  # fmt: skip
        return ResolveResponse(
            **resolution.model_dump(), resolution_token=token, resolution_id=resolution_id
        )

    # -- actions ---------------------------------------------------------------------------
    def submit(self, principal: Principal, request: ActionRequest) -> ActionView:
        """Validate, classify and store a proposed action; run it if the policy says so."""
        try:
            view, run = self._submit(principal, request)
        except GatewayError as e:
            detail = {"action": request.action, "idempotency_key": request.idempotency_key}
            self.record_refusal(principal, "action.refused", e, detail)
            raise
        if run:
            self.runner.run(self.store, self.connector, view.id, self.clock)
            return self.status(principal, view.id)
        return view

    def _submit(self, principal: Principal, request: ActionRequest) -> tuple[ActionView, bool]:
        spec = self.catalog.get(request.action)
        if not principal.may_propose(spec.name):
            raise Forbidden(f"this key may not propose {spec.name}", field="action")
        digest = payload_hash(request)
        with self.store.transaction() as session:
            existing = find_existing(session, principal.key_id, request.idempotency_key)
            if existing is not None:
                return self._replay(existing, digest), False
        unavailable = not_offered(self.connector, spec)
        if unavailable is not None:
            raise ActionNotOffered(unavailable, field="action")
        proposal = validate_request(
            self.catalog, self.signer, self.normalise_identity, request, principal.key_id
        )
        record = self._record(proposal)
        try:
            return self._store_new(principal, proposal, record)
        except IntegrityError:
            # A concurrent submission won the insert: with the same idempotency key, answer with
            # its action; with the same single-use token under another idempotency key, refuse
            # the token.
            with self.store.transaction() as session:
                winner = find_existing(session, principal.key_id, request.idempotency_key)
                if winner is not None:
                    return self._replay(winner, digest), False
                spender = spent_by(session, proposal.claims.token_id)
            if spender is not None and proposal.spec.target.single_use:
                raise token_used(spender) from None
            raise

    def _store_new(
        self, principal: Principal, proposal: Proposal, record: ErpRecord | None
    ) -> tuple[ActionView, bool]:
        spec, ttl = proposal.spec, self.rules.approval_ttl_seconds
        with self.store.transaction() as session:
            now = self.clock()
            phase = effective_phase(session, spec)
            flags: list[str] = []
            if phase in UNSUPERVISED:
                since = now - timedelta(seconds=self.rules.burst_window_seconds)
                recent = recent_count(session, principal.key_id, since)
                flags = self._flags(proposal, record, recent)
            stops = ["the target is deleted in the ERP"] if record and record.deleted else []
            outcome = decide(spec.risk, phase, flags, stops)
            action = insert_action(
                session,
                requested_by=principal.key_id,
                proposal=proposal,
                phase=phase,
                outcome=outcome,
                flags=flags,
                summary=summary_of(proposal, record, flags, outcome),
                now=now,
                approval_ttl=timedelta(seconds=ttl) if ttl else None,
            )
            data = {
                "action": spec.name,
                "idempotency_key": action.idempotency_key,
                "phase": phase.value,
                "status": action.status,
                **{k: getattr(action, k) for k in ("target", "params", "context", "flags")},
                **{k: getattr(action, k) for k in ("outcome", "summary")},
            }
            audit.append(
                session,
                "action.requested",
                data,
                action_id=action.id,
                actor=principal.actor,
                now=now,
            )
            return action_view(action), isinstance(outcome, Execute)

    @staticmethod
    def _replay(existing: Action, digest: str) -> ActionView:
        if existing.payload_hash != digest:
            raise IdempotencyConflict(
                "this idempotency key was already used with another payload",
                field="idempotency_key",
            )
        return action_view(existing, replayed=True)

    def _record(self, proposal: Proposal) -> ErpRecord | None:
        canonical_id = proposal.claims.canonical_id
        if canonical_id is None:
            return None
        return self.connector.read_record(proposal.spec.target.entity_type, canonical_id)

    def _flags(self, proposal: Proposal, record: ErpRecord | None, recent: int) -> list[str]:
        rules = self.rules
        flags = [burst_flag(recent + 1, rules.burst_max_actions + 1, rules.burst_window_seconds)]
        source = proposal.spec.monitoring.amount
        canonical_id = proposal.claims.canonical_id
        if source and canonical_id:
            namespace, _, name = source.partition(".")
            values: dict[str, Any] = proposal.params if namespace == "params" else {}
            if namespace == "record" and record is not None:
                values = record.fields
            amount = values.get(name)
            if isinstance(amount, int | float | str) and _is_number(amount):
                history = self.connector.value_history(
                    proposal.spec.target.entity_type, canonical_id, name
                )
                flags.append(amount_flag(float(amount), history, rules.amount_z_threshold))
        return [f for f in flags if f]

    # -- revert ---------------------------------------------------------------------------
    def _revertible(self, principal: Principal, session: Session, action_id: str) -> Action:
        original = session.execute(
            select(Action).where(Action.id == action_id).with_for_update()
        ).scalar_one_or_none()
        if original is None or (
            principal.role not in REVIEWERS and original.requested_by != principal.key_id
        ):
            raise ActionNotFound(f"no action {action_id}", field="id")
        if principal.role not in REVIEWERS and not principal.may_propose(original.action_type):
            raise Forbidden(f"this key may not propose {original.action_type}", field="id")
        return original

    def revert_plan(self, principal: Principal, action_id: str) -> RevertPlan:
        """What reverting the action would do (raises, naming why, when it cannot be)."""
        with self.store.transaction() as session:
            original = self._revertible(principal, session, action_id)
            check_revertible(session, original)
            entity_type = str(original.target["entity_type"])
            canonical_id = original.target.get("canonical_id") or revert_created_id(original)
        record = None
        if canonical_id:
            try:  # only for the plan's words: the revert checks the record again at each step
                record = self.connector.read_record(entity_type, str(canonical_id))
            except ErpError:
                record = None
        with self.store.transaction() as session:
            original = self._revertible(principal, session, action_id)
            return plan_revert(self.catalog.get(original.action_type), original, record)

    def revert_card(self, principal: Principal, action_id: str) -> RevertCard:
        """For an action's page: the revert plan of a succeeded action (or why there is none),
        the revert already asked for, or the action a revert undoes."""
        with self.store.transaction() as session:
            action = self._revertible(principal, session, action_id)
            if action.reverts is not None:
                original = session.get(Action, action.reverts)
                approval = original.approval if original is not None else None
                approval_id = approval.id if approval else None
                return RevertCard(reverts=action.reverts, reverts_approval_id=approval_id)
            existing = find_revert(session, action_id)
            if existing is not None:
                approval = existing.approval
                return RevertCard(revert_id=existing.id, revert_status=existing.status,
                                  revert_approval_id=approval.id if approval else None)  # fmt: skip
        try:
            return RevertCard(plan=self.revert_plan(principal, action_id))
        except GatewayError as e:
            return RevertCard(why_not=e.message)

    def revert(
        self,
        principal: Principal,
        action_id: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> ActionView:
        """Propose the revert of a succeeded action, as a new action waiting for approval."""
        key = idempotency_key or f"revert:{action_id}"
        try:
            replay = self._revert_replay(principal, action_id, key)
            if replay is not None:
                return replay
            try:
                return self._insert_revert(principal, action_id, key, reason)
            except (IntegrityError, AlreadyReverted):
                # A concurrent request with the same key got there first: answer with its revert
                # (the unique key, or the check under the original's lock, stopped this one).
                replay = self._revert_replay(principal, action_id, key)
                if replay is None:
                    raise
                return replay
        except GatewayError as e:
            self.record_refusal(principal, "revert.refused", e, {"action_id": action_id})
            raise

    def _revert_replay(self, principal: Principal, action_id: str, key: str) -> ActionView | None:
        with self.store.transaction() as session:
            existing = find_existing(session, principal.key_id, key)
            if existing is None:
                return None
            if existing.reverts != action_id:
                raise IdempotencyConflict(
                    "this idempotency key was already used with another payload",
                    field="idempotency_key",
                )
            return action_view(existing, replayed=True)

    def _insert_revert(
        self, principal: Principal, action_id: str, key: str, reason: str
    ) -> ActionView:
        plan = self.revert_plan(principal, action_id)
        with self.store.transaction() as session:
            original = self._revertible(principal, session, action_id)
            check_revertible(session, original)  # again, under the row lock
            spec = self.catalog.get(original.action_type)
            now, ttl = self.clock(), self.rules.approval_ttl_seconds
            revert = insert_revert(
                session, spec=spec, original=original, plan=plan,
                requested_by=principal.key_id, idempotency_key=key, reason=reason,
                phase=effective_phase(session, spec), now=now,
                approval_ttl=timedelta(seconds=ttl) if ttl else None,
            )  # fmt: skip
            data = {
                "action": spec.name,
                "reverts": original.id,
                "idempotency_key": key,
                "status": revert.status,
                "risk": revert.risk,
                **{k: getattr(revert, k) for k in ("target", "context", "outcome", "summary")},
                "plan": plan.as_dict()["steps"],
            }
            audit.append(session, "action.revert_requested", data, action_id=revert.id,
                         actor=principal.actor, now=now)  # fmt: skip
            return action_view(revert)

    def status(self, principal: Principal, action_id: str) -> ActionView:
        """An action's state, for its requester and for reviewers."""
        with self.store.transaction() as session:
            action = session.get(Action, action_id)
            if action is None or (
                principal.role not in REVIEWERS and action.requested_by != principal.key_id
            ):
                raise ActionNotFound(f"no action {action_id}", field="id")
            return action_view(action)

    # -- approvals ------------------------------------------------------------------------
    def decide(
        self,
        principal: Principal,
        approval_id: str,
        approve: bool,
        reason: str = "",
        comment: str = "",
        *,
        seen_hash: str | None = None,
        channel: str = "api",
        link: LinkClaims | None = None,
        run_now: bool = True,
    ) -> ApprovalRequestView:
        """Record an approver's decision on a request, from any channel (committed, audited,
        with the email link it came by consumed); run the action once it is fully approved.

        `seen_hash`: the payload the approver reviewed (refused if the action changed since).
        With `run_now=False` the caller runs it later with `run_approved` (Slack must be
        answered within 3 s, whatever the ERP's speed). A request refused for being past its
        expiry is settled as `expired`.
        """
        now = self.clock()
        try:
            with self.store.transaction() as session:
                approval = session.get(Approval, approval_id)
                if approval is None:
                    raise ActionNotFound(f"no approval request {approval_id}", field="id")
                action = session.execute(
                    select(Action).where(Action.id == approval.action_id).with_for_update()
                ).scalar_one()
                if link is not None:
                    consume_link(session, link, principal.actor, now)
                record_decision(session, action, principal, approve, reason, comment, now,
                                seen_hash=seen_hash, channel=channel,
                                account_window=self.rules.account_window)  # fmt: skip
                action_id, run = action.id, action.status == "approved"
        except GatewayError as e:
            detail = {"approval_id": approval_id, "channel": channel}
            self.record_refusal(principal, "approval.refused", e, detail)
            if isinstance(e, ApprovalError):
                self.expire(approval_id)  # settle it if it was refused for being past expiry
            raise
        if run and run_now:
            self.runner.run(self.store, self.connector, action_id, self.clock)
        with self.store.transaction() as session:
            approval = session.get_one(Approval, approval_id)
            return request_view(approval, approval.action)

    def run_approved(self, approval_id: str) -> None:
        """Run the action of an approved request (a no-op once it has been claimed)."""
        with self.store.transaction() as session:
            approval = session.get(Approval, approval_id)
            action_id = approval.action_id if approval is not None else None
        if action_id is not None:
            self.runner.run(self.store, self.connector, action_id, self.clock)

    def expire(self, approval_id: str) -> bool:
        """Settle a request past its expiry as `expired`; False when it is not due."""
        with self.store.transaction() as session:
            approval = session.get(Approval, approval_id)
            if approval is None:
                return False
            action = session.execute(
                select(Action).where(Action.id == approval.action_id).with_for_update()
            ).scalar_one()
            return expire_request(session, action, self.clock())

    # -- audit and rollout -----------------------------------------------------------------
    def audit_entries(
        self, principal: Principal, action_id: str | None, after_seq: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Audit entries in chain order, for reviewers."""
        _require(principal, REVIEWERS, "read the audit log")
        with self.store.transaction() as session:
            found = audit.entries(session, action_id=action_id, after_seq=after_seq, limit=limit)
            return [audit.as_dict(e) for e in found]

    def verify_audit(self, principal: Principal) -> audit.AuditVerification:
        """Walk the audit chain and report the first bad entry."""
        _require(principal, REVIEWERS, "verify the audit log")
        with self.store.transaction() as session:
            return audit.verify_all(session, self.store.checkpoints)

    def set_phase(self, principal: Principal, action: str, phase: Phase) -> RolloutChange:
        """Change an action type's phase (admins); a refused promotion is audited, then raised."""
        _require(principal, (Role.ADMIN,), "change rollout phases")
        spec = self.catalog.get(action)
        with self.store.transaction() as session:
            change = store_phase(
                session, spec, phase, self.rules.promotion, actor=principal.actor,
                now=self.clock(), not_offered=not_offered(self.connector, spec),
            )  # fmt: skip
        if change.refused:
            refusal = PromotionRefused(f"{action} stays {change.before.value}: {change.refused}")
            refusal.audited = True  # as `rollout.refused`, in the transaction above
            raise refusal
        return change

    def describe_catalog(self) -> list[dict[str, Any]]:
        """The catalog as agents see it, marked for this deployment's ERP (`offered.describe`)."""
        return describe(self.connector, self.catalog)

    def readiness(self, principal: Principal, action: str | None = None) -> list[Readiness]:
        """Promotion evidence per action type (or for one)."""
        _require(principal, (Role.ADMIN, Role.STEWARD), "read rollout readiness")
        specs = [self.catalog.get(action)] if action else list(self.catalog.actions.values())
        with self.store.transaction() as session:
            return [readiness(session, spec, self.rules.promotion) for spec in specs]

    def record_refusal(
        self, principal: Principal | None, kind: str, error: Exception, detail: dict[str, Any]
    ) -> None:
        """Audit a refused request (only of authenticated callers: anonymous noise is not kept)."""
        if principal is None or getattr(error, "audited", False):
            return
        data = {**detail, "error": type(error).__name__, "message": str(error),
                "field": getattr(error, "field", None)}  # fmt: skip
        with self.store.transaction() as session:
            audit.append(session, kind, data, actor=principal.actor, now=self.clock())
        if isinstance(error, GatewayError):
            error.audited = True

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of an API key, or NotAuthenticated."""
        with self.store.transaction() as session:
            return authenticate(session, presented)


def _is_number(value: int | float | str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
