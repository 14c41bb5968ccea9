"""Mixed load against `canon serve` on 127.0.0.1: 90 % resolve, 10 % low-risk actions.

    python benchmarks/load_mixed.py [--seconds 60] [--clients 16] [--workdir TRAINED]

Bounded in time (--seconds) and count (--max-requests per client); loopback only. Each client
has its own agent key; the actions (purchase_order.update_delivery_date, promoted to autonomous
for the run) carry unique idempotency keys, and one in ten is sent twice. After the run it
checks: no 5xx, no lost or duplicated action (every 201 is one stored action and one ERP write;
every replay answered the same action), and the audit chain verifies. Exit code 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "protheus"
CANON = Path(sys.executable).parent / "canon"
PO_QUERY = {"entity_type": "purchase_order", "record": {"branch": "01", "number": "000001"}}
PO_ID = "SC7:01:000001"
ACTION = "purchase_order.update_delivery_date"
REASON = {"reason": "supplier confirmed a new date", "evidence": ["mail 1"]}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    created: dict[str, str] = field(default_factory=dict)  # idempotency key -> action id
    replays: list[tuple[str, str]] = field(default_factory=list)  # (first id, replayed id)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, started: float, status: int) -> None:
        with self.lock:
            self.latencies[endpoint].append(time.perf_counter() - started)
            self.statuses[endpoint][status] += 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare(workdir: Path, tmp: Path, clients: int) -> tuple[str, Path, list[str], str]:
    """Store with keys and the promoted action, ledger with the order; return what the run uses."""
    from gateway import LocalLedgerConnector, Phase, Store, create_key, load_catalog
    from gateway.rollout import PromotionRules, set_phase
    from gateway.store import utcnow

    store_url = f"sqlite:///{tmp / 'canon.sqlite'}"
    ledger = tmp / "ledger.sqlite"
    LocalLedgerConnector(ledger).put_record(
        "purchase_order", PO_ID, {"supplier_name": "SOUZA", "amount": 100.0, "currency": "BRL",
                                  "delivery_date": "2026-05-01"}
    )  # fmt: skip
    store = Store.open(store_url)
    spec = load_catalog(ROOT / "config" / "actions.yaml").get(ACTION)
    with store.transaction() as session:
        set_phase(session, spec, Phase.AUTONOMOUS, PromotionRules(0, 0.0), actor="bench",
                  now=utcnow())  # fmt: skip
        keys = [create_key(session, f"load-{i}", "agent", ["resolve", f"actions:{ACTION}"])[1]
                for i in range(clients)]  # fmt: skip
        steward = create_key(session, "load-steward", "steward", [])[1]
    store.close()
    return store_url, ledger, keys, steward


def _client(url: str, key: str, queries: list[dict[str, Any]], deadline: float, limit: int,
            seed: int, tally: Tally) -> None:  # fmt: skip
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        token = http.post("/v1/resolve", json=PO_QUERY).json()["resolution_token"]
        for n in range(limit):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                if rng.random() < 0.9:
                    query = rng.choice(queries)
                    response = http.post("/v1/resolve", json=query)
                    tally.record("POST /v1/resolve", started, response.status_code)
                    continue
                idem = f"{seed}-{n}"
                day = 1 + n % 28
                body = {"action": ACTION, "target": {"resolution_token": token},
                        "params": {"delivery_date": f"2026-06-{day:02d}"}, "context": REASON,
                        "idempotency_key": idem}  # fmt: skip
                response = http.post("/v1/actions", json=body)
                tally.record("POST /v1/actions", started, response.status_code)
                if response.status_code != 201:
                    continue
                with tally.lock:
                    tally.created[idem] = response.json()["id"]
                if rng.random() < 0.1:  # an agent retrying after a timeout
                    started = time.perf_counter()
                    again = http.post("/v1/actions", json=body)
                    tally.record("POST /v1/actions (replay)", started, again.status_code)
                    if again.status_code == 200:
                        with tally.lock:
                            tally.replays.append((response.json()["id"], again.json()["id"]))
            except httpx.HTTPError as e:
                with tally.lock:
                    tally.errors[type(e).__name__] += 1


def _report(tally: Tally, seconds: float, clients: int) -> None:
    total = sum(len(v) for v in tally.latencies.values())
    print(f"\nmixed load: {clients} clients, {seconds:.1f} s, {total} requests, "
          f"{total / seconds:.1f} req/s")  # fmt: skip
    print(f"{'endpoint':28} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'2xx':>7} {'4xx':>6} {'5xx':>5}")  # fmt: skip
    for endpoint in sorted(tally.latencies):
        lat = sorted(tally.latencies[endpoint])
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        codes = tally.statuses[endpoint]
        by_class = [sum(c for s, c in codes.items() if s // 100 == k) for k in (2, 4, 5)]
        print(f"{endpoint:28} {len(lat):>9} {len(lat) / seconds:>8.1f} {p50:>8.1f} {p99:>8.1f} "
              f"{by_class[0]:>7} {by_class[1]:>6} {by_class[2]:>5}")  # fmt: skip
    if tally.errors:
        print(f"transport errors: {dict(tally.errors)}")


def _checks(tally: Tally, url: str, steward: str, store_url: str, ledger: Path) -> list[str]:
    from sqlalchemy import func, select

    from gateway import LocalLedgerConnector, Store
    from gateway.store import Action

    problems: list[str] = []
    fivexx = sum(c for codes in tally.statuses.values() for s, c in codes.items() if s >= 500)
    if fivexx:
        problems.append(f"{fivexx} responses were 5xx")
    store = Store.open(store_url)
    with store.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(Action)) or 0
        statuses = Counter(session.scalars(select(Action.status)))
    store.close()
    if stored != len(tally.created) or len(set(tally.created.values())) != len(tally.created):
        problems.append(f"{len(tally.created)} actions created (201) but {stored} stored")
    if any(first != again for first, again in tally.replays):
        problems.append("a replayed idempotency key answered another action")
    writes = [op for op in LocalLedgerConnector(ledger).journal() if op.operation == ACTION]
    if len(writes) != statuses.get("succeeded", 0):
        problems.append(f"{len(writes)} ERP writes for {statuses.get('succeeded', 0)} successes")
    verdict = httpx.get(f"{url}/v1/audit/verify", timeout=600,
                        headers={"Authorization": f"Bearer {steward}"}).json()  # fmt: skip
    if not verdict["ok"]:
        problems.append(f"audit chain broken: {verdict}")
    print(f"actions: {dict(statuses)}; ERP writes: {len(writes)}; replays: {len(tally.replays)} "
          f"(all the same action); audit chain: {verdict['entries']} entries, "
          f"{'intact' if verdict['ok'] else 'BROKEN'}")  # fmt: skip
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000, help="per client")
    parser.add_argument(
        "--workdir", type=Path, help="a trained workdir (default: train the sample)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canon-load-") as tmp_name:
        tmp = Path(tmp_name)
        workdir = args.workdir
        if workdir is None:
            from resolver import train_workdir

            workdir = tmp / "work"
            print("training the committed sample ...", file=sys.stderr)
            train_workdir(SAMPLE / "data", workdir)
        store_url, ledger, keys, steward = _prepare(workdir, tmp, args.clients)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANON_")}
        unlimited = json.dumps({"agent": {"per_second": 1e6, "burst": 1_000_000},
                                "steward": {"per_second": 1e6, "burst": 1_000_000}})  # fmt: skip
        env.update({"CANON_DATABASE_URL": store_url, "CANON_LEDGER_PATH": str(ledger),
                    "CANON_TOKEN_SECRET": "load-test-secret-" + "l" * 32,
                    "CANON_RATE_LIMIT_ROLES": unlimited, "CANON_BURST_MAX_ACTIONS": "1000000",
                    "CANON_APPROVAL_SWEEP_SECONDS": "0", "CANON_LOG_LEVEL": "WARNING"})  # fmt: skip
        with (tmp / "serve.log").open("w") as log:
            server = subprocess.Popen(
                [str(CANON), "serve", "--workdir", str(workdir), "--host", "127.0.0.1",
                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        print((tmp / "serve.log").read_text(), file=sys.stderr)
                        return 1
                    time.sleep(0.2)
            queries = [json.loads(line) for line in (SAMPLE / "queries.jsonl").open()]
            queries = [{k: q[k] for k in ("entity_type", "record")} for q in queries]
            tally = Tally()
            started = time.monotonic()
            stop = started + args.seconds
            threads = [threading.Thread(target=_client, args=(url, key, queries, stop,
                       args.max_requests, i, tally)) for i, key in enumerate(keys)]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            _report(tally, time.monotonic() - started, args.clients)
            problems = _checks(tally, url, steward, store_url, ledger)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for problem in problems:
        print(f"FAIL: {problem}")
    print("load: OK" if not problems else "load: FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
