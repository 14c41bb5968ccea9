"""Rollback drills (`canon rollout drill ACTION`): run an action, then its full revert, against a
staging ERP, and check the ERP after every step.

The drill picks a record the action would change (or, for a creation, a new identity made for
the drill), reads it, and runs the action and then its revert through the real workflow runner
(`gateway.workflow`, with the revert's own checks, `gateway.revert`), in a scratch store of its
own: nothing of the drill reaches the production action log. After each step it reads the
record again and compares it with what the step must leave: the record as it was before the
step, with the catalog's `leaves` for that step; after each step of the revert, the record as
it was before the step it undoes. At the end the record must be back to its state before the
drill (a created record gone or deleted). The result, with every check made, is what
`gateway.rollout.record_drill` keeps with the action type's rollout.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.catalog import ActionSpec, Catalog
from gateway.erp.base import ErpConnector, ErpRecord
from gateway.erp.sources import shipped_profile
from gateway.errors import ErpError, ErpUnsupported, GatewayError, InvalidParams
from gateway.keys import create_key
from gateway.offered import not_offered
from gateway.params import validate_model
from gateway.policy import RequireApproval, outcome_as_dict
from gateway.revert import created_id, differences, expected_values, insert_revert, plan_revert
from gateway.rollout import effective_phase
from gateway.store import Action, Store, utcnow
from gateway.workflow import RunnerPolicy, StepEvent, WorkflowRunner, plan_steps
from resolver.errors import ProfileError
from resolver.profiles import Profile

#: How many records of the ERP the drill looks through for one the action would change.
SCAN_LIMIT = 200
#: Claims of one workflow the drill makes before it calls the run stuck (a step in doubt).
MAX_RUNS = 6

Clock = Callable[[], datetime]


@dataclass
class DrillCheck:
    """One comparison of the ERP's record with what it should hold."""

    stage: str
    ok: bool
    differences: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "ok": self.ok, "differences": self.differences}


@dataclass
class DrillResult:
    """A drill's outcome: passed or not, why, and every check made."""

    action_type: str
    erp: str
    record: str | None = None
    action_status: str | None = None
    revert_status: str | None = None
    checks: list[DrillCheck] = field(default_factory=list)
    problem: str | None = None
    action_id: str | None = None
    revert_id: str | None = None
    #: Why the action type does not exist on this ERP (`gateway.offered`): nothing was drilled,
    #: and the drill neither passed nor failed.
    not_offered: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None and self.not_offered is None

    @property
    def failed(self) -> bool:
        return self.problem is not None

    def fail(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action_type,
            "erp": self.erp,
            "passed": self.passed,
            "problem": self.problem,
            "not_offered": self.not_offered,
            "record": self.record,
            "action_status": self.action_status,
            "revert_status": self.revert_status,
            "checks": [c.as_dict() for c in self.checks],
        }


# -- the record and params the drill acts with -----------------------------------------------
def _cnpj() -> str:
    """A fresh valid CNPJ (check digits computed), for a supplier created by a drill."""
    base = [random.randint(0, 9) for _ in range(8)] + [0, 0, 0, 1]  # noqa: S311 (not secret)
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        total = sum(d * w for d, w in zip(base, weights, strict=True)) % 11
        base.append(0 if total < 2 else 11 - total)
    return "".join(map(str, base))


def drill_params(catalog: Catalog, spec: ActionSpec, run_id: str) -> dict[str, Any]:
    """The action's params for the drill: each param's catalog example; a creation's identity
    is new (a name and a tax id no record holds), so that the duplicate guard lets it through."""
    raw: dict[str, Any] = {n: p.example for n, p in spec.params.items() if p.example is not None}
    identity = spec.target.identity
    if spec.target.resolution == "no_match":
        if "name" in identity:
            raw[identity["name"]] = f"Canon Rollback Drill {run_id.upper()} Ltda"
        if "tax_id" in identity:
            raw[identity["tax_id"]] = _cnpj()
    return validate_model(catalog.params_model(spec.name), raw, "params")


def _profile(connector: ErpConnector) -> Profile | None:
    """The shipped profile of the connector's ERP (by its `name`); None for the local ledger,
    whose records carry their ids."""
    try:
        return shipped_profile(str(getattr(connector, "name", "")))
    except ProfileError as e:
        raise GatewayError(str(e)) from e


def _candidate_ids(connector: ErpConnector, entity_type: str) -> Iterator[str]:
    """Ids of records of the ERP, as its extract lists them (read from where the profile says
    the ERP keeps them, ids in the profile's form); GatewayError naming the entity types the
    profile knows when it does not declare this one."""
    profile = _profile(connector)
    source: dict[str, str] | None = None
    template: str | None = None
    if profile is not None:
        try:
            source, template = profile.source(entity_type), profile.id_template(entity_type)
        except ProfileError as e:
            raise GatewayError(str(e)) from e
    seen: set[str] = set()
    for page in connector.extract(entity_type, source, page_size=50):
        for row in page:
            if "canonical_id" in row:
                cid = row["canonical_id"]
            elif template is None:
                return
            else:
                upper = {k.upper(): str(v).strip() for k, v in row.items()}
                try:
                    cid = template.format(**upper)
                except KeyError:
                    return
            if cid not in seen:
                seen.add(cid)
                yield cid
            if len(seen) >= SCAN_LIMIT:
                return


def pick_record(
    connector: ErpConnector, spec: ActionSpec, params: dict[str, Any]
) -> tuple[str, ErpRecord]:
    """A live record the action's first step would change (not already in the state it
    leaves); GatewayError naming why when the ERP has none."""
    expect = expected_values(spec.steps[0], params)
    entity_type = spec.target.entity_type
    for cid in _candidate_ids(connector, entity_type):
        record = connector.read_record(entity_type, cid)
        if record is None or record.deleted:
            continue
        if differences(spec.drill_record, record):
            continue
        if not expect or differences(expect, record):
            return cid, record
    holding = f" holding {spec.drill_record}" if spec.drill_record else ""
    raise GatewayError(
        f"the ERP holds no live {entity_type}{holding} that {spec.name} would change "
        f"(looked at up to {SCAN_LIMIT}); name one with --record"
    )


# -- the drill --------------------------------------------------------------------------------
class _Observer:
    """Checks the ERP after each committed step of the action and of its revert."""

    def __init__(
        self,
        connector: ErpConnector,
        result: DrillResult,
        spec: ActionSpec,
        params: dict[str, Any],
        before: ErpRecord | None,
        store: Store,
    ) -> None:
        self.connector, self.result, self.spec, self.params = connector, result, spec, params
        self.store = store
        self.entity_type = spec.target.entity_type
        self.canonical_id = result.record
        #: The record before each original step (None: it did not exist yet).
        self.before: dict[int, ErpRecord | None] = {}
        self.current = before
        self.revert_positions: dict[int, int] = {}

    def read(self) -> ErpRecord | None:
        if self.canonical_id is None:
            return None
        return self.connector.read_record(self.entity_type, self.canonical_id)

    def __call__(self, event: StepEvent) -> None:
        if event.action_id == self.result.action_id and not event.undo:
            self._after_step(event)
        elif event.action_id == self.result.revert_id and event.status == "succeeded":
            original = self.revert_positions.get(event.position)
            if original is not None:
                self._after_undo(original)

    def _after_step(self, event: StepEvent) -> None:
        if event.status != "succeeded":
            return
        step = self.spec.steps[event.position]
        self.before[event.position] = self.current
        if self.canonical_id is None:  # a creation: its record's id is in the step's result
            with self.store.transaction() as session:
                action = session.get(Action, event.action_id)
                assert action is not None
                self.canonical_id = created_id(action)
            self.result.record = self.canonical_id
        now = self.read()
        expect = self._full(self.current, expected_values(step, self.params))
        self.check(f"after step {event.position} ({step.name})", expect, now)
        self.current = now

    def _after_undo(self, position: int) -> None:
        step = self.spec.steps[position]
        now = self.read()
        prior = self.before.get(position)
        stage = f"after undoing step {position} ({step.name})"
        if prior is None:
            gone = now is None or now.deleted
            found = [] if gone else [{"field": "(record)", "left": "gone", "now": "live"}]
            self.result.checks.append(DrillCheck(stage, gone, found))
            if not gone:
                self.result.fail(f"{stage}: the created record is still live")
            return
        self.check(stage, dict(prior.fields), now)
        self.current = now

    @staticmethod
    def _full(prior: ErpRecord | None, leaves: dict[str, Any]) -> dict[str, Any]:
        return {**(dict(prior.fields) if prior is not None else {}), **leaves}

    def check(self, stage: str, expect: dict[str, Any], now: ErpRecord | None) -> None:
        found = differences(expect, now)
        self.result.checks.append(DrillCheck(stage, not found, found))
        if found:
            said = "; ".join(f"{d['field']}: expected {d['left']!r}, found {d['now']!r}"
                             for d in found)  # fmt: skip
            self.result.fail(f"{stage}: {said}")


def _run_to_end(
    runner: WorkflowRunner, store: Store, connector: ErpConnector, action_id: str, clock: Clock
) -> str:
    """Run the workflow until it ends (retrying a step in doubt a few times); its status."""
    status = "approved"
    for _ in range(MAX_RUNS):
        runner.run(store, connector, action_id, clock)
        with store.transaction() as session:
            action = session.get(Action, action_id)
            assert action is not None
            status = action.status
        if status not in ("approved", "executing"):
            return status
        time.sleep(runner.policy.retry_after_seconds)
    return status


def run_drill(
    catalog: Catalog,
    action: str,
    connector: ErpConnector,
    *,
    erp: str,
    record_id: str | None = None,
    run_id: str | None = None,
    policy: RunnerPolicy | None = None,
    clock: Clock = utcnow,
) -> DrillResult:
    """Drill `action` against `connector`: the action, its revert, a check after each step.

    `run_id` names the drill's actions (`drill-<run_id>-action`, `drill-<run_id>-revert`, whose
    steps' idempotency keys start with those ids): what a fault injected for the test of a
    drill matches on.
    """
    spec = catalog.get(action)
    if record_id is not None and spec.target.resolution == "no_match":
        raise InvalidParams(
            f"{spec.name} creates its record: a drill of it takes no record", field="record"
        )
    run_id = run_id or uuid.uuid4().hex[:12]
    result = DrillResult(spec.name, erp)
    result.not_offered = not_offered(connector, spec)
    if result.not_offered is not None:
        return result
    scratch = Path(tempfile.mkdtemp(prefix="canon-drill-"))
    store = Store.open(f"sqlite:///{scratch / 'drill.sqlite'}")
    try:
        _drill(catalog, spec, connector, store, result, record_id, run_id, policy, clock)
    except ErpUnsupported as e:
        result.fail(f"this ERP's connector cannot run {spec.name}: {e.message}")
    except ErpError as e:
        result.fail(f"the ERP failed the drill: {type(e).__name__}: {e.message}")
    except GatewayError as e:
        result.fail(e.message)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _drill(
    catalog: Catalog,
    spec: ActionSpec,
    connector: ErpConnector,
    store: Store,
    result: DrillResult,
    record_id: str | None,
    run_id: str,
    policy: RunnerPolicy | None,
    clock: Clock,
) -> None:
    params = drill_params(catalog, spec, run_id)
    before: ErpRecord | None = None
    if spec.target.resolution == "match":
        if record_id is None:
            record_id, before = pick_record(connector, spec, params)
        else:
            before = connector.read_record(spec.target.entity_type, record_id)
            if before is None or before.deleted:
                raise GatewayError(f"the ERP holds no live {spec.target.entity_type} {record_id}")
        result.record = record_id
    observer = _Observer(connector, result, spec, params, before, store)
    runner = WorkflowRunner(
        policy or RunnerPolicy(backoff_initial_seconds=0.05, retry_after_seconds=0.2),
        observer=observer,
    )
    now = clock()
    with store.transaction() as session:
        key, _ = create_key(session, "rollback drill", "agent", [f"actions:{spec.name}"])
        original = Action(
            id=f"drill-{run_id}-action", action_type=spec.name, status="approved",
            requested_by=key.key_id, idempotency_key=f"drill-{run_id}", payload_hash="drill",
            target={"entity_type": spec.target.entity_type, "canonical_id": record_id},
            params=params, context={"reason": "rollback drill"}, risk=spec.risk.value,
            phase=effective_phase(session, spec).value,
            outcome=outcome_as_dict(RequireApproval(1, ("rollback drill",))), flags=[],
            summary=f"rollback drill of {spec.name}", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(original)
        session.flush()
        session.add_all(plan_steps(original, spec))
        result.action_id = original.id
    result.action_status = _run_to_end(runner, store, connector, original.id, clock)
    if result.action_status != "succeeded":
        with store.transaction() as session:
            ran = session.get(Action, original.id)
            error = ran.error if ran is not None else None
        result.fail(f"the action ended {result.action_status}: {error}")
        return
    if not result.passed:
        return
    record = observer.read()
    with store.transaction() as session:
        ran = session.get(Action, original.id)
        assert ran is not None
        plan = plan_revert(spec, ran, record)
        revert = insert_revert(
            session, spec=spec, original=ran, plan=plan, requested_by=ran.requested_by,
            idempotency_key=f"drill-{run_id}-revert", reason="rollback drill",
            phase=effective_phase(session, spec), now=clock(), approval_ttl=None,
            action_id=f"drill-{run_id}-revert",
        )  # fmt: skip
        revert.status = "approved"  # the drill rehearses the ERP side; approval is not drilled
        result.revert_id = revert.id
        observer.revert_positions = {i: s.original_position for i, s in enumerate(plan.steps)}
    result.revert_status = _run_to_end(runner, store, connector, revert.id, clock)
    if result.revert_status != "succeeded":
        with store.transaction() as session:
            ran = session.get(Action, revert.id)
            error = ran.error if ran is not None else None
        result.fail(f"the revert ended {result.revert_status}: {error}")
        return
    final = observer.read()
    if before is None:
        gone = final is None or final.deleted
        found = [] if gone else [{"field": "(record)", "left": "gone", "now": "live"}]
        result.checks.append(DrillCheck("the record is back to its state before", gone, found))
        if not gone:
            result.fail("after the revert the created record is still live")
    else:
        observer.check("the record is back to its state before", dict(before.fields), final)
