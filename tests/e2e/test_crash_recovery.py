"""Crash recovery: `canon serve` killed with SIGKILL while `supplier.create` workflows run.

Each lane runs `canon serve` in its own process (the app as `canon serve` builds it, forked from a
server that imported it once: `tests/e2e/crash_serve.py`) against its own sandbox ERP (Protheus
format) and its own store, in rounds; the last lane's ERP is a stock one (`--stock`: no look-up by
key, `Idempotency-Key` ignored, requests abandoned after its request timeout), where the runner
settles doubt from the ERP's own tables, re-sending a write they do not show only after its settle
window (so that a call still held when the restarted runner reads lands once). A round submits
workflows over HTTP, each with a randomly drawn plan: where the process is killed (inside an ERP
call, before or after the ERP committed, by holding the call in the sandbox; or at a step
boundary), whether a step is refused (so that it compensates), and some transient noise (timeout
after commit, 503, reset). The workflow is stopped from outside the product: right after a call's
intent is committed by the sandbox holding that call (dropped once the process is dead, as if it
had never been sent), and right after a call's outcome is committed by the observer that
`tests/e2e/crash_serve.py` (`canon serve` with a test-only observer) gives the runner; nothing in
the product waits for a test. When every workflow of the round sits at its kill point, the process
is killed; a held call is then let through or aborted; sometimes the restarted process is killed
again during recovery. After a clean restart every workflow must end as its plan says (`succeeded`,
or `compensated` / `failed` when a step was refused), the ERP must be fully done or fully undone
(never half), each write must be in the ERP once, and the audit log must tell the same story.

A summary per lane (runs, kills, kill points, outcomes) goes to `test-artifacts/crash/`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from stdnum.br import cnpj

from gateway import Store, TokenSigner, create_key
from gateway.approvals import record_decision
from gateway.audit import verify
from gateway.checkpoints import CheckpointSink
from gateway.keyring import AUDIT_CHAIN, AUDIT_ENTRIES, SecretFile
from gateway.store import Action, AuditEntry, utcnow
from resolver.normalise import normalise_record
from resolver.types import Decision
from tests.db import postgres_schema_url
from tests.e2e import crash_serve
from tests.gateway.conftest import resolution
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox
from tests.tokens import key_id

pytestmark = pytest.mark.slow

SECRET = "crash-secret-" + "c" * 32
LANES = int(os.environ.get("CANON_CRASH_LANES", "3"))
ROUNDS = int(os.environ.get("CANON_CRASH_ROUNDS", "4"))  # per lane
PER_ROUND = int(os.environ.get("CANON_CRASH_PER_ROUND", "9"))
#: Lanes whose sandbox is a stock ERP (`--stock`: no look-up by key, keys ignored).
STOCK_LANES = int(os.environ.get("CANON_CRASH_STOCK_LANES", "1"))
#: The stock ERP's request timeout, and Canon's settle window for it (beyond the timeout: the
#: 1 s client timeout and the time from the committed send to the request reaching the ERP).
#: Long enough that calls let through after a restart (well under a second from the fork
#: server) often still land, inside the window; short enough that a round waits seconds, not
#: tens of seconds, for a stock ERP's doubt to settle.
STOCK_REQUEST_TIMEOUT = 6.0
STOCK_SETTLE = STOCK_REQUEST_TIMEOUT + 4.0
STEPS = ["create_record", "attach_document", "route_for_approval"]
TERMINAL = {"succeeded", "compensated", "failed", "needs_attention"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "crash"
FORWARD_POINTS = [f"step.call:{n}" for n in range(3)] + [f"step.succeeded:{n}" for n in range(3)]
BACKWARD_POINTS = [
    "step.failed:1",
    "step.failed:2",
    "step.compensate:0",
    "step.compensate:1",
    "step.compensated:0",
    "step.compensated:1",
]


def _held(point: str | None) -> str | None:
    """For a point right after a call's intent (`step.call:<n>`, `step.compensate:<n>`): the
    suffix of the call's key, which the sandbox holds (None for other points)."""
    kind, _, step = (point or "").partition(":")
    return {"step.call": step, "step.compensate": f"{step}:undo"}.get(kind)


def _observed(point: str | None) -> str | None:
    """For a point right after a call's outcome: the point, which the observer of
    `tests/e2e/crash_serve.py` stops the workflow at (None for other points)."""
    return point if point is not None and _held(point) is None else None


@dataclass
class Plan:
    """What happens to one workflow."""

    index: int
    refuse: int | None  # the step the ERP refuses for good (None: it succeeds)
    kill: str  # erp:<key suffix>:<stage>, boundary:<point>, or timer
    release: str = "proceed"  # what a held call does once the process is dead
    noise: tuple[int, str] | None = None  # (step, transient fault)
    action_id: str = ""
    outcome: str = ""

    @property
    def expected(self) -> str:
        return (
            "succeeded"
            if self.refuse is None
            else ("failed" if self.refuse == 0 else "compensated")
        )


@dataclass
class Tally:
    """What a lane did, for the summary."""

    runs: int = 0
    kills: int = 0
    interrupted: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    starts: int = 0
    #: Stock ERP: writes absent when first read, then found after the settle window (landed
    #: late), and writes sent again after it (the ERP had abandoned them).
    settled_found: int = 0
    settled_resent: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CanonServe:
    """One `canon serve` process (`tests/e2e/crash_serve.py`: the app as `canon serve` builds
    it, forked from a server that imported it once; stopped after an outcome when `pause_at`
    names one), with the pause markers it writes to its log."""

    def __init__(
        self,
        workdir: Path,
        store_url: str,
        erp_url: str,
        pause_at: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.pause_at = pause_at
        self.env = {
            **os.environ,
            "CANON_DATABASE_URL": store_url,
            "CANON_TOKEN_SECRET": SECRET,
            "CANON_ERP_USERNAME": USER,
            "CANON_ERP_PASSWORD": PASSWORD,
            "CANON_ERP_TIMEOUT_SECONDS": "1",
            "CANON_WORKFLOW_LEASE_SECONDS": "30",
            "CANON_WORKFLOW_SWEEP_SECONDS": "0.1",
            "CANON_WORKFLOW_START_GRACE_SECONDS": "0",
            "CANON_WORKFLOW_WORKERS": "16",
            "CANON_WORKFLOW_RETRY_AFTER_SECONDS": "0.3",
            "CANON_APPROVAL_SWEEP_SECONDS": "0",
            "CANON_LOG_LEVEL": "WARNING",
            "CANON_RATE_LIMIT_ROLES": json.dumps({"agent": {"per_second": 1e5, "burst": 100000}}),
            **(extra or {}),
        }
        self.argv = ["--workdir", str(workdir), "--erp-kind", "protheus", "--erp-url", erp_url]
        if pause_at:
            self.argv += ["--pause-at", pause_at]
        self.log = workdir.parent / f"canon-serve-{uuid.uuid4().hex[:8]}.log"
        # A free port can be taken by another process (a client's ephemeral port, a parallel
        # test) before canon binds it; then canon exits at once, and another port is tried.
        for _ in range(5):
            if self._start(_free_port()):
                return
            if not any("address already in use" in line for line in self.tail):
                break
        raise AssertionError(f"canon serve did not start: {self.tail[-5:]}")

    def _start(self, port: int) -> bool:
        self.port = port
        self.process = crash_serve.start([*self.argv, "--port", str(port)], self.env, self.log)
        self.paused: set[str] = set()
        self.tail: list[str] = []
        self.reading = threading.Event()
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        self.url = f"http://127.0.0.1:{self.port}"
        # a loaded 2-core machine has taken over 90 s to start
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.process.is_alive():
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        reader.join(5)  # the last lines say why it did not start
        return False

    def _read(self) -> None:
        """Follow the log (appended to by each process on it) while this process lives."""
        with self.log.open("a+", encoding="utf-8") as log:
            log.seek(0, os.SEEK_END)
            while True:
                line = log.readline()
                if not line:
                    if not self.process.is_alive():
                        return
                    time.sleep(0.02)
                    continue
                if " paused at " in line and line.startswith("canon: workflow "):
                    self.paused.add(line.split()[2])
                self.tail = [*self.tail[-20:], line]

    def kill(self) -> None:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)
        assert self.process.exitcode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(30)


def _label(kill: str) -> str:
    """`erp:1:undo:after` -> `inside the ERP call undoing step 1, after it committed`."""
    if kill.startswith("boundary:"):
        how = " (its call held in the ERP, then dropped)" if _held(kill[9:]) else ""
        return f"step boundary, after {kill[9:]} committed{how}"
    _, step, *rest = kill.split(":")
    stage = "after it committed" if rest[-1] == "after" else "before it wrote"
    call = f"undoing step {step}" if "undo" in rest else f"of step {step}"
    return f"inside the ERP call {call}, {stage}"


def _tax_id(lane: int, n: int) -> str:
    base = f"{lane + 10:02d}{n:06d}0001"
    return base + cnpj.calc_check_digits(base)


class Lane:
    """One canon process at a time, its sandbox ERP and its store, running rounds of plans."""

    def __init__(
        self,
        number: int,
        folder: Path,
        store_url: str,
        sandbox: Sandbox,
        seed: int,
        stock: bool = False,
    ):
        self.number, self.folder, self.store_url, self.sandbox = number, folder, store_url, sandbox
        self.stock = stock
        self.rng = random.Random(seed)
        # The test writes audit entries too (keys, approvals): keyed like `canon serve`'s, with
        # the audit key of the workdir it serves (made here, read there), or the chain would
        # read as downgraded where the two writers meet.
        work = folder / "work"
        work.mkdir(parents=True, exist_ok=True)
        ring = SecretFile(work / "audit.key", create=True).current()
        sink = CheckpointSink(
            folder / "test-checkpoints.jsonl", ring.key(AUDIT_CHAIN), ring.key(AUDIT_ENTRIES)
        )
        self.store = Store.open(store_url, checkpoints=sink)
        self.signer = TokenSigner(SECRET, 3600)
        with self.store.transaction() as session:
            _, self.agent_key = create_key(
                session, f"agent-{number}", "agent", ["resolve", "actions:*"]
            )
            self.approver, _ = create_key(session, f"approver-{number}", "approver", [])
        self.tally = Tally()
        self.plans: list[Plan] = []
        self.canon: CanonServe | None = None
        self.counter = 0

    # -- one round -------------------------------------------------------------------------------
    def round(self) -> None:
        point = (
            self.rng.choice(FORWARD_POINTS + BACKWARD_POINTS) if self.rng.random() < 0.4 else None
        )
        plans = [self._draw(point) for _ in range(PER_ROUND)]
        canon = self._serve(pause_at=_observed(point))
        started = time.monotonic()
        with httpx.Client(base_url=canon.url, timeout=30) as http:
            for plan in plans:
                plan.action_id = self._submit(http, plan)
                self._arm(plan)
        for plan in plans:
            self._approve(plan.action_id)
        self.tally.seconds["submitting and approving"] += time.monotonic() - started
        timer = point is None and self.rng.random() < 0.25
        if timer:  # a kill at a random moment instead of planned points
            time.sleep(self.rng.uniform(0.05, 1.2))
        else:
            started = time.monotonic()
            self._wait_for_kill_points(canon, plans)
            self.tally.seconds["reaching the kill points"] += time.monotonic() - started
        in_flight = self._open(plans)
        canon.kill()
        self._count_kill(plans, in_flight, "at a random moment" if timer else None)
        late = [p for p in plans if p.kill.startswith("erp:") and self.rng.random() < 0.3]
        self._release([p for p in plans if p not in late])
        if self.rng.random() < 0.35:
            started = time.monotonic()
            self._second_kill(plans, late)
            self.tally.seconds["killing again during recovery"] += time.monotonic() - started
        self.canon = self._serve(pause_at=None)
        self._release(late)
        started = time.monotonic()
        self._wait_terminal(plans)
        self.tally.seconds["recovering to the end"] += time.monotonic() - started
        self.sandbox.admin.clear_faults()
        started = time.monotonic()
        for plan in plans:
            self._check(plan)
        self.tally.seconds["checking"] += time.monotonic() - started
        self.plans += plans

    def _draw(self, point: str | None) -> Plan:
        self.counter += 1
        refuse = self.rng.choice([None, None, 0, 1, 2])
        if point in BACKWARD_POINTS:
            step = int(point.split(":")[1])
            refuse = step if point.startswith("step.failed") else self.rng.randint(step + 1, 2)
        elif point is not None:
            refuse = self.rng.choice([None, None, 2]) if point.endswith("2") else None
        release = self.rng.choice(["proceed", "abort"])
        if point is not None:
            kill = f"boundary:{point}"
            if _held(point):  # the call is held, then dropped: as if the kill came before it
                release = "abort"
        else:
            calls = [f"{n}" for n in range(3 if refuse is None else refuse + 1)]
            calls += [f"{n}:undo" for n in range(refuse or 0)]
            call, stage = self.rng.choice(calls), self.rng.choice(["before", "after"])
            if refuse is not None and call == str(refuse):  # the refused call must not write
                stage, release = "before", "abort"
            kill = f"erp:{call}:{stage}"
        noise = None
        if self.rng.random() < 0.3:
            kinds = ["timeout_after_commit", "error", "reset"]
            noise = (self.rng.randrange(3), self.rng.choice(kinds))
        return Plan(self.counter, refuse, kill, release, noise)

    def _serve(self, pause_at: str | None) -> CanonServe:
        if (
            self.canon is not None
            and self.canon.pause_at == pause_at
            and self.canon.process.is_alive()
        ):
            return self.canon
        if self.canon is not None:
            self.canon.stop()
        started = time.monotonic()
        extra = {"CANON_ERP_SETTLE_SECONDS": str(STOCK_SETTLE)} if self.stock else {}
        self.canon = CanonServe(
            self.folder / "work", self.store_url, self.sandbox.url, pause_at, extra
        )
        self.tally.starts += 1
        self.tally.seconds["starting canon serve"] += time.monotonic() - started
        return self.canon

    def _submit(self, http: httpx.Client, plan: Plan) -> str:
        name = f"Crash Lane {self.number} Run {plan.index} Industria Ltda"
        tax_id = _tax_id(self.number, plan.index)
        identity = dict(normalise_record({"name": name, "tax_id": tax_id}))
        token = self.signer.issue(
            resolution(decision=Decision.NO_MATCH, entity_type="supplier", identity=identity),
            holder=key_id(self.agent_key),
        )
        body = {
            "action": "supplier.create",
            "target": {"resolution_token": token},
            "params": {"name": name, "tax_id": tax_id, "document": f"dms://{plan.index}.pdf"},
            "context": {"reason": "crash test"},
            "idempotency_key": f"crash-{plan.index}",
        }
        answer = http.post(
            "/v1/actions", json=body, headers={"Authorization": f"Bearer {self.agent_key}"}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def _arm(self, plan: Plan) -> None:
        """Faults for this plan's keys: the hold first (rules fire in the order they were added)."""
        admin, key = self.sandbox.admin, plan.action_id
        if plan.kill.startswith("erp:"):
            suffix, stage = plan.kill[4:].rsplit(":", 1)
            admin.fault("block", key=f"{key}:{suffix}", stage=stage, seconds=60)
        held = _held(plan.kill.removeprefix("boundary:"))
        if plan.kill.startswith("boundary:") and held:
            admin.fault("block", key=f"{key}:{held}", stage="before", seconds=60)
        if plan.refuse is not None:
            admin.fault("error", key=f"{key}:{plan.refuse}", status=422, times=None)
        if plan.noise is not None and plan.noise[0] != plan.refuse:
            step, fault = plan.noise
            extra: dict[str, Any] = {"seconds": 1.5} if fault == "timeout_after_commit" else {}
            if fault == "reset":
                extra["stage"] = self.rng.choice(["before", "after"])
            admin.fault(fault, key=f"{key}:{step}", **extra)

    def _approve(self, action_id: str) -> None:
        with self.store.transaction() as session:
            action = session.execute(
                select(Action).where(Action.id == action_id).with_for_update()
            ).scalar_one()
            record_decision(session, action, self.approver, True, "", "", utcnow())

    def _wait_for_kill_points(self, canon: CanonServe, plans: list[Plan]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stopped = {h["key"].split(":")[0] for h in self.sandbox.admin.holds()} | canon.paused
            if all(p.action_id in stopped for p in self._open(plans)):
                return
            time.sleep(0.05)

    def _count_kill(self, plans: list[Plan], in_flight: list[Plan], how: str | None) -> None:
        self.tally.kills += 1
        self.tally.interrupted += len(in_flight)
        for plan in in_flight:
            self.tally.kill_points[how or _label(plan.kill)] += 1

    def _release(self, plans: list[Plan]) -> None:
        for hold_id, decision in self._held_calls(plans):
            self.sandbox.admin.release(hold_id, decision)

    def _held_calls(self, plans: list[Plan]) -> list[tuple[int, str]]:
        """The sandbox's held calls of these plans, each with what its release does: the plan's
        `release`, but a refused call never writes."""
        held = []
        for hold in self.sandbox.admin.holds():
            plan = next((p for p in plans if hold["key"].startswith(p.action_id)), None)
            if plan is not None:
                refused = hold["key"] == f"{plan.action_id}:{plan.refuse}"
                held.append((int(hold["id"]), "abort" if refused else plan.release))
        return held

    def _second_kill(self, plans: list[Plan], late: list[Plan]) -> None:
        """Restart with a point to stop at, and kill again whatever stops there during recovery."""
        point = self.rng.choice(FORWARD_POINTS + BACKWARD_POINTS)
        late_calls = self._held_calls(late)
        suffix = _held(point)
        if suffix is not None:
            for plan in self._open(plans):
                self.sandbox.admin.fault(
                    "block", key=f"{plan.action_id}:{suffix}", stage="before", seconds=60
                )
        canon = self._serve(pause_at=_observed(point))
        for hold_id, decision in late_calls:
            self.sandbox.admin.release(hold_id, decision)
        late.clear()

        def stopped_ids() -> set[str]:  # (a late call just let through is not stopped here)
            released = {hold_id for hold_id, _ in late_calls}
            holds = [h for h in self.sandbox.admin.holds() if h["id"] not in released]
            held = {h["key"].split(":")[0] for h in holds if h["key"].endswith(f":{suffix}")}
            return held | canon.paused

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(p.action_id in stopped_ids() for p in self._open(plans)):
                break
            time.sleep(0.05)
        stopped = [p for p in plans if p.action_id in stopped_ids()]
        if stopped:
            canon.kill()
            self.tally.kills += 1
            how = " (its call held in the ERP)" if suffix else ""
            self.tally.kill_points[f"during recovery, after {point} committed{how}"] += len(stopped)
        self.canon = canon if not stopped else None

    def _wait_terminal(self, plans: list[Plan]) -> None:
        """Wait for every workflow to end, letting through calls held after the last kill (a
        kill at a random moment leaves some workflows short of their hold)."""
        # A stock lane may wait out a few settle windows in a row (kill, noise, compensation).
        deadline = time.monotonic() + 90 + (4 * STOCK_SETTLE if self.stock else 0)
        while time.monotonic() < deadline:
            if not self._open(plans):
                return
            self._release(plans)
            time.sleep(0.1)
        with self.store.transaction() as session:
            details = [
                (
                    p,
                    [
                        (s.name, s.status, s.error)
                        for s in session.get_one(Action, p.action_id).steps
                    ],
                    [
                        e.kind
                        for e in session.scalars(
                            select(AuditEntry)
                            .where(AuditEntry.action_id == p.action_id)
                            .order_by(AuditEntry.seq)
                        )
                    ][-8:],
                )
                for p in self._open(plans)
            ]
        raise AssertionError(
            f"lane {self.number} not finished: {details}; holds "
            f"{self.sandbox.admin.holds()}; faults {self.sandbox.admin.faults()}"
        )

    def _status(self, action_id: str) -> str:
        return self._statuses([action_id])[action_id]

    def _statuses(self, action_ids: list[str]) -> dict[str, str]:
        with self.store.transaction() as session:
            rows = session.execute(
                select(Action.id, Action.status).where(Action.id.in_(action_ids))
            )
            return {row[0]: str(row[1]) for row in rows}

    def _open(self, plans: list[Plan]) -> list[Plan]:
        statuses = self._statuses([p.action_id for p in plans])
        return [p for p in plans if statuses[p.action_id] not in TERMINAL]

    # -- the checks ------------------------------------------------------------------------------
    def _check(self, plan: Plan) -> None:
        with self.store.transaction() as session:
            action = session.get_one(Action, plan.action_id)
            status, steps = action.status, [(s.name, s.status) for s in action.steps]
            errors = [s.error for s in action.steps if s.error]
            story = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action_id == plan.action_id)
                    .order_by(AuditEntry.seq)
                )
            )
        plan.outcome = status
        self.tally.runs += 1
        self.tally.outcomes[status] += 1
        where = f"lane {self.number} run {plan.index} ({plan}): {steps} {errors}"
        assert status == plan.expected, where
        # A stock ERP journals its writes as `<key>#<seq>` without matching them: one entry a
        # key, in either mode, is what "ran in the ERP once" means.
        journal = [k.partition("#")[0] for k in self.sandbox.admin.keys()]
        mine = [k for k in journal if k.startswith(f"{plan.action_id}:")]
        assert len(mine) == len(set(mine)), f"{where}: written twice: {mine}"
        keys = set(journal)
        done = {n for n in range(3) if f"{plan.action_id}:{n}" in keys}
        undone = {n for n in range(3) if f"{plan.action_id}:{n}:undo" in keys}
        written = 3 if plan.refuse is None else plan.refuse
        assert done == set(range(written)), where  # every step that ran, ran in the ERP once
        assert undone == (set() if plan.refuse is None else done), where  # all or nothing
        rows = self.sandbox.admin.rows("SA2010", A2_CGC=_tax_id(self.number, plan.index))
        live = [r for r in rows if r["D_E_L_E_T_"] != "*"]
        assert len(rows) == (1 if written else 0), where  # never a duplicate record
        assert len(live) == (1 if status == "succeeded" else 0), where
        if rows:
            code = rows[0]["A2_COD"] + rows[0]["A2_LOJA"]
            links = self.sandbox.admin.live("AC9010", AC9_CODENT=code)
            routings = self.sandbox.admin.live("SCR010", CR_NUM=code)
            assert (len(links), len(routings)) == ((1, 1) if status == "succeeded" else (0, 0))
        kinds = [e.kind for e in story]
        self._count_settling(story)
        assert kinds.count("workflow.started") == 1 and kinds[-1] == f"action.{status}", where
        assert sum(k.startswith("action.") and k != "action.requested" for k in kinds) == 1
        told = [json.loads(e.data).get("step") for e in story if e.kind == "step.succeeded"]
        assert told == [STEPS[n] for n in sorted(done)], where  # the audit tells the ERP's story
        undone_told = [
            json.loads(e.data).get("step") for e in story if e.kind == "step.compensated"
        ]
        assert undone_told == [STEPS[n] for n in sorted(undone, reverse=True)], where

    def _count_settling(self, story: list[AuditEntry]) -> None:
        settling: set[str] = set()
        for entry in story:
            data = json.loads(entry.data)
            if entry.kind == "step.in_doubt" and "records yet" in str(data.get("error")):
                settling.add(str(data.get("step")))
            elif entry.kind == "step.resend" and data.get("step") in settling:
                self.tally.settled_resent += 1
                settling.discard(str(data.get("step")))
            elif data.get("reconciled") and data.get("step") in settling:
                self.tally.settled_found += 1
                settling.discard(str(data.get("step")))


@contextmanager
def _lane_stores(store_url: str, lanes: int) -> Iterator[list[str]]:
    """One store per lane: the fixture's, and fresh SQLite files or PostgreSQL schemas."""
    with ExitStack() as stack:
        urls = [store_url]
        for n in range(1, lanes):
            if store_url.startswith("sqlite"):
                urls.append(store_url.replace("canon.sqlite", f"lane-{n}.sqlite"))
            else:
                urls.append(stack.enter_context(postgres_schema_url()))
        yield urls


def test_kills_at_every_step_boundary_and_inside_erp_calls_leave_nothing_half_done(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    seed = int(os.environ.get("CANON_CRASH_SEED", str(random.randrange(10**6))))
    with _lane_stores(store_url, LANES) as urls, ExitStack() as stack:
        lanes = []
        for n, url in enumerate(urls):
            stock = n >= len(urls) - STOCK_LANES  # the last lanes run against a stock ERP
            folder = tmp_path / f"lane-{n}" / "sandbox"
            timeout = STOCK_REQUEST_TIMEOUT if stock else None
            sandbox = stack.enter_context(
                running_sandbox(folder, stock=stock, request_timeout=timeout)
            )
            lanes.append(Lane(n, tmp_path / f"lane-{n}", url, sandbox, seed + n, stock))

        def drive(lane: Lane) -> Tally:
            try:
                for _ in range(ROUNDS):
                    lane.round()
            finally:
                if lane.canon is not None:
                    lane.canon.stop()
            with lane.store.transaction() as session:
                verdict = verify(session)
            assert verdict.ok, verdict.problem
            lane.store.close()
            return lane.tally

        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            tallies = list(pool.map(drive, lanes))
    total = Tally()
    for tally in tallies:
        total.runs, total.kills = total.runs + tally.runs, total.kills + tally.kills
        total.interrupted += tally.interrupted
        total.kill_points.update(tally.kill_points)
        total.outcomes.update(tally.outcomes)
        for stage, seconds in tally.seconds.items():
            total.seconds[stage] += seconds
        total.starts += tally.starts
        total.settled_found += tally.settled_found
        total.settled_resent += tally.settled_resent
    summary = json.dumps(
        {
            "backend": backend,
            "seed": seed,
            "lanes": LANES,
            "stock_lanes": min(STOCK_LANES, LANES),
            "rounds_per_lane": ROUNDS,
            "runs": total.runs,
            "kills": total.kills,
            "interrupted_in_flight": total.interrupted,
            "kill_points": dict(total.kill_points.most_common()),
            "outcomes": dict(total.outcomes.most_common()),
            "canon_serve_starts": total.starts,
            "stock_absent_then_found_after_settling": total.settled_found,
            "stock_resent_after_settling": total.settled_resent,
            # summed over lanes, which run in parallel: more than the wall-clock duration
            "lane_seconds": {k: round(v, 1) for k, v in sorted(total.seconds.items())},
            "duration_seconds": round(time.monotonic() - began, 1),
        },
        indent=2,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{backend}.json").write_text(summary + "\n")
    with capsys.disabled():  # the closing note quotes these counts: show them without -s
        sys.stdout.write(f"\ncrash test summary ({ARTIFACTS / backend}.json):\n{summary}\n")
    assert total.runs == LANES * ROUNDS * PER_ROUND
    assert total.kills >= LANES * ROUNDS and total.interrupted >= total.runs // 2
