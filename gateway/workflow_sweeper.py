"""The background half of the runner: picks up workflows nobody is driving.

At start-up, and then every `interval` seconds, it asks the store which workflows are due
(approved and never started, interrupted by a crash, or waiting for an in-doubt step's retry)
and runs each on one of a few worker threads, never the same action twice at once. Every API
process starts one (`api/app.py`), but only the holder of the store's `workflow-sweeper` lease
sweeps (`gateway.leases`): one sweep per store, however many workers and replicas serve it; the
others take over once the holder stops renewing. Each workflow's own lease still keeps two
processes from running one workflow together (an approval runs its workflow in the process that
recorded it).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from gateway.erp.base import ErpConnector
from gateway.leases import Lease
from gateway.store import Store, utcnow
from gateway.workflow import WorkflowRunner

log = logging.getLogger("canon.workflow")

LEASE_NAME = "workflow-sweeper"


class WorkflowSweeper:
    """Runs due workflows on `workers` daemon threads, checking every `interval` seconds."""

    def __init__(
        self,
        runner: WorkflowRunner,
        store: Store,
        connector: ErpConnector,
        *,
        interval: float = 5.0,
        workers: int = 4,
        clock: Callable[[], datetime] = utcnow,
        lease: Lease | None = None,
    ) -> None:
        self.runner, self.store, self.connector, self.clock = runner, store, connector, clock
        self.interval, self.workers = interval, workers
        #: Held by one sweeper per store; renewed every pass, so it outlives three missed ones.
        self.lease = lease or Lease(store, LEASE_NAME, ttl_seconds=3 * interval + 5, clock=clock)
        self._stop = threading.Event()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: Set once the first pass (a sweep, or a look at the lease) is over.
        self.first_pass = threading.Event()

    def start(self) -> None:
        """Start the sweep (its first pass runs at once) and the workers."""
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"canon-workflow-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        sweep = threading.Thread(target=self._loop, name="canon-workflow-sweep", daemon=True)
        sweep.start()
        self._threads.append(sweep)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop picking up work; give running workflows `timeout` seconds to reach a step end;
        give the lease up so that another process sweeps at once."""
        self._stop.set()
        for _ in range(self.workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=timeout / max(len(self._threads), 1))
        if self._threads:
            try:
                self.lease.release()
            except Exception:  # the lease expires by itself; stopping must not fail on it
                log.exception("could not release the workflow sweeper's lease")

    def pass_once(self) -> int | None:
        """One pass: renew (or take) the store's sweeper lease and sweep; None if another
        process holds the lease."""
        if not self.lease.acquire():
            return None
        return self.sweep_once()

    def sweep_once(self) -> int:
        """Queue every due workflow not already queued or running here; how many were queued."""
        queued = 0
        for action_id in self.runner.due(self.store, self.clock):
            with self._lock:
                if action_id in self._inflight:
                    continue
                self._inflight.add(action_id)
            self._queue.put(action_id)
            queued += 1
        return queued

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pass_once()
            except Exception:  # the sweep must outlive a store hiccup; the next pass retries
                log.exception("workflow sweep failed")
            self.first_pass.set()
            self._stop.wait(self.interval)

    def _work(self) -> None:
        while True:
            action_id = self._queue.get()
            if action_id is None:
                return
            try:
                self.runner.run(self.store, self.connector, action_id, self.clock)
            except Exception:  # the run keeps its lease until it expires; a later pass resumes
                log.exception("workflow %s stopped on an unexpected error", action_id)
            finally:
                with self._lock:
                    self._inflight.discard(action_id)
