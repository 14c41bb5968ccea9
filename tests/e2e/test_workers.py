"""`canon serve --workers 2`: two processes answer one port over one memory-mapped index, and a
record one worker's workflow applies to the index (read-your-own-writes) is seen by every
resolve that follows, whichever worker answers it.

The server is a real `canon serve` subprocess against the sandbox ERP (Protheus REST), trained
from that ERP as `make demo` does. Which worker answered a request is read from the operating
system: the worker process holding the server end of the request's TCP connection.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from gateway import Store, create_key
from gateway.checkpoints import CheckpointSink
from gateway.erp import ProtheusConnector, fetch_extracts
from gateway.keyring import AUDIT_CHAIN, AUDIT_ENTRIES, SecretFile
from resolver import train_workdir
from resolver.profiles import DEFAULT_PROFILE
from tests.e2e.test_read_your_writes import PARAMS, QUERY, REASON
from tests.gateway.erp.sandbox import PASSWORD, USER, running_sandbox

pytestmark = pytest.mark.slow

CANON = str(Path(sys.executable).parent / "canon")
WORKERS = 2
#: Resolves per round; rounds go on until every worker has answered (or MAX_REQUESTS).
ROUND = 24
MAX_REQUESTS = 400


@dataclass
class Served:
    """A `canon serve --workers 2` subprocess and the keys to call it with."""

    process: subprocess.Popen[str]
    port: int
    erp: ProtheusConnector
    agent: dict[str, str]
    approver: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> set[int]:
        """The worker processes: the children that hold the listening socket."""
        found = set()
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                listening = child.net_connections("tcp")
            except psutil.NoSuchProcess:
                continue
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in listening):
                found.add(child.pid)
        return found

    def post(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any, int]:
        """POST over a new connection: status, JSON answer, and the pid of the worker that
        holds the connection's server end."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(
                "POST", path, json.dumps(body), {**headers, "Content-Type": "application/json"}
            )
            answer = conn.getresponse()
            payload = json.loads(answer.read())
            assert conn.sock is not None
            pid = self._server_of(conn.sock.getsockname()[1])
            return answer.status, payload, pid
        finally:
            conn.close()

    def _server_of(self, client_port: int) -> int:
        for pid in self.workers():
            for c in psutil.Process(pid).net_connections("tcp"):
                if c.raddr and c.raddr.port == client_port and c.laddr.port == self.port:
                    return pid
        raise AssertionError(f"no worker holds the connection from port {client_port}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _maps_the_index(pid: int) -> bool:
    """Whether a process maps the supplier index's postings file (pages of the page cache)."""
    mapped = {m.path for m in psutil.Process(pid).memory_maps()}
    return any(p.endswith("/index_supplier/postings.rows.npy") for p in mapped)


def _key(store: Store, name: str, role: str) -> dict[str, str]:
    scopes = ["resolve", "actions:*"] if role == "agent" else []
    with store.transaction() as session:
        _, secret = create_key(session, name, role, scopes)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def served(tmp_path: Path, store_url: str) -> Iterator[Served]:
    with running_sandbox(tmp_path / "sandbox") as sandbox:
        erp: ProtheusConnector = sandbox.connector("protheus", timeout=20)
        workdir = tmp_path / "work"
        fetched = fetch_extracts(erp, DEFAULT_PROFILE, tmp_path / "extracts")
        train_workdir(fetched.folder, workdir, fetched.profile, entity_types=["supplier"])
        # keys are audited: keyed like the server's entries, with the workdir's audit key
        ring = SecretFile(workdir / "audit.key", create=True).current()
        sink = CheckpointSink(
            tmp_path / "test-checkpoints.jsonl", ring.key(AUDIT_CHAIN), ring.key(AUDIT_ENTRIES)
        )
        store = Store.open(store_url, checkpoints=sink)
        try:
            agent, approver = _key(store, "agent", "agent"), _key(store, "ana", "approver")
        finally:
            store.close()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CANON_")},
            "CANON_DATABASE_URL": store_url,
            "CANON_TOKEN_SECRET": "workers-secret-" + "w" * 32,
            "CANON_ERP_USERNAME": USER,
            "CANON_ERP_PASSWORD": PASSWORD,
            "CANON_ERP_TIMEOUT_SECONDS": "20",
            "CANON_WORKFLOW_SWEEP_SECONDS": "0",
            "CANON_APPROVAL_SWEEP_SECONDS": "0",
            "CANON_LOG_LEVEL": "WARNING",
            "CANON_RATE_LIMIT_ROLES": json.dumps(
                {r: {"per_second": 1e5, "burst": 100_000} for r in ("agent", "approver")}
            ),
        }
        port = _free_port()
        command = [
            *(CANON, "serve", "--workdir", str(workdir), "--port", str(port)),
            *("--erp-kind", "protheus", "--erp-url", sandbox.url, "--workers", str(WORKERS)),
        ]
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        server = Served(process, port, erp, agent, approver)
        try:
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "canon serve --workers 2 did not start"
                try:
                    ready = httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
                except httpx.TransportError:
                    ready = False
                workers = server.workers() if ready else set()
                if len(workers) == WORKERS and all(map(_maps_the_index, workers)):
                    break  # both workers hold the port and have loaded the index
                time.sleep(0.3)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            log.close()


def _resolve_everywhere(server: Served, check: Any) -> dict[int, int]:
    """Resolve QUERY concurrently over new connections until every worker has answered;
    `check` asserts on each answer. How many answers each worker gave."""
    workers = server.workers()
    answered: dict[int, int] = {}
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while set(answered) != workers:
            assert sent < MAX_REQUESTS, f"only workers {answered} answered of {workers}"
            for status, body, pid in pool.map(
                lambda _: server.post("/v1/resolve", server.agent, QUERY), range(ROUND)
            ):
                assert status == 200, body
                check(body)
                answered[pid] = answered.get(pid, 0) + 1
            sent += ROUND
    return answered


def test_two_workers_answer_and_each_sees_a_record_the_other_applied(served: Served) -> None:
    workers = served.workers()
    assert len(workers) == WORKERS
    assert all(map(_maps_the_index, workers))  # mapped from its files, not copied in

    def unknown(body: dict[str, Any]) -> None:
        assert body["decision"] == "no_match", body

    before = _resolve_everywhere(served, unknown)
    assert set(before) == workers

    # create the supplier through the gate: one worker runs the workflow, reads the record back
    # from the ERP and applies it to the index before the action succeeds
    status, first, _ = served.post("/v1/resolve", served.agent, QUERY)
    assert status == 200 and first["resolution_token"], first
    body = {"action": "supplier.create", "target": {"resolution_token": first["resolution_token"]},
            "params": PARAMS, "context": REASON, "idempotency_key": "workers-1"}  # fmt: skip
    status, proposed, _ = served.post("/v1/actions", served.agent, body)
    assert (status, proposed["status"]) == (201, "pending_approval"), proposed
    url = f"/v1/approvals/{proposed['approval']['id']}/decision"
    status, decided, writer = served.post(url, served.approver, {"decision": "approve"})
    assert status == 200, decided
    action = httpx.get(f"{served.url}/v1/actions/{proposed['id']}", headers=served.approver)
    assert action.json()["status"] == "succeeded", action.text
    (held,) = served.erp.find_by_tax_id("supplier", PARAMS["tax_id"])

    def knows_it(answer: dict[str, Any]) -> None:
        assert answer["decision"] in ("match", "ambiguous"), answer
        assert answer["candidates"][0]["canonical_id"] == held.canonical_id, answer

    # at once, with no wait: every worker, the writer and the other, serves the new record
    after = _resolve_everywhere(served, knows_it)
    assert set(after) == workers and writer in workers
