"""Named leases on the whole store: the one process, among every worker and replica on the
store, that may run a periodic job (the workflow sweeper) until the lease expires.

A holder renews its lease on each pass; if it stops another takes the lease once it has expired,
at once after a clean `release()`, or at once if the holder was a process of this host that no
longer exists (a restarted `canon serve` need not wait out its killed predecessor's lease). The
row is locked while it is read and changed, and a concurrent first insert fails on the primary
key, so two processes never both hold one lease.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.store import Store, StoreLease, utcnow
from gateway.workflow_state import lease_void, process_owner


class Lease:
    """One process's claim on the lease `name` of `store`, valid `ttl_seconds` per renewal."""

    def __init__(
        self,
        store: Store,
        name: str,
        ttl_seconds: float,
        *,
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
    ) -> None:
        self.store, self.name, self.clock = store, name, clock
        self.ttl = timedelta(seconds=ttl_seconds)
        #: host/pid/incarnation, and this object (two sweepers in one process are two holders).
        self.holder = holder or f"{process_owner()}/{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        """Take the lease, or renew it if held; False while another holder's is unexpired."""
        try:
            with self.store.transaction() as session:
                now = self.clock()
                query = select(StoreLease).where(StoreLease.name == self.name).with_for_update()
                row = session.scalars(query).one_or_none()
                if row is None:
                    session.add(StoreLease(name=self.name, holder=self.holder,
                                           expires_at=now + self.ttl, acquired_at=now))  # fmt: skip
                    session.flush()
                    return True
                if row.holder != self.holder and not self._void(row.holder, row.expires_at, now):
                    return False
                if row.holder != self.holder:
                    row.holder, row.acquired_at = self.holder, now
                row.expires_at = now + self.ttl
                return True
        except IntegrityError:  # another process inserted the lease first: it holds it
            return False

    @staticmethod
    def _void(holder: str, expires_at: datetime, now: datetime) -> bool:
        """Expired, or held by a dead process of this host. Another holder in this very process
        (another app instance) keeps its lease until it expires or is released."""
        if expires_at <= now:
            return True
        pid = holder.partition("/")[2].partition("/")[0]
        return pid != str(os.getpid()) and lease_void(holder, expires_at, now, process_owner())

    def release(self) -> None:
        """Give the lease up now (if held), so that another process need not wait for expiry."""
        with self.store.transaction() as session:
            row = session.get(StoreLease, self.name, with_for_update=True)
            if row is not None and row.holder == self.holder:
                session.delete(row)

    def current_holder(self) -> str | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        with self.store.transaction() as session:
            row = session.get(StoreLease, self.name)
            if row is None or row.expires_at <= self.clock():
                return None
            return row.holder
