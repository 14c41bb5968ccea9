"""Continuous sync: the ERP's changes pulled by watermark into the serving index.

`ErpSync.sync_once` asks the connector's change feed (`ChangeFeed.changes`: Protheus by
`S_T_A_M_P_`, deletions by `D_E_L_E_T_`) for each entity type of the active model, from the
watermark the model's manifest holds, and applies the rows in batches with
`resolver.refresh.refresh_rows`. Each batch's watermark is written in the same manifest as its
rows and both take effect with one switch of `CURRENT`: a process killed mid-sync leaves the
previous model and watermark in force, and the next sync reads those changes again (applying a
row twice changes nothing). An ERP that does not answer is asked again a few times with backoff;
what still fails is kept as the last error (`status()`, shown by `/readyz` and `/metrics`).

`canon sync --workdir W` runs it once (for cron); `canon serve --sync` runs it every few seconds
in a background thread and reloads the served resolver after each applied batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.erp.base import ChangeFeed
from gateway.errors import ErpError, ErpUnavailable, ErpUnsupported
from resolver.current import current_model_dir
from resolver.errors import ResolverError

log = logging.getLogger("canon.sync")


@dataclass
class SyncStatus:
    """What the last syncs did, for `/readyz`, `/metrics` and `canon sync`."""

    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    rows_applied: int = 0  # by this process since it started
    applied: dict[str, int] = field(default_factory=dict)  # by the last sync, per entity type


def manifest_of(workdir: Path) -> dict[str, Any]:
    """The active model's manifest (empty when there is none)."""
    try:
        path = current_model_dir(workdir) / "manifest.json"
    except ResolverError:
        return {}
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


class ErpSync:
    """Pulls an ERP's changes into a workdir's serving index."""

    def __init__(
        self,
        workdir: Path,
        connector: ChangeFeed,
        *,
        on_applied: Callable[[], object] | None = None,
        page_size: int = 500,
        batch_rows: int = 5000,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.workdir, self.connector, self.on_applied = workdir, connector, on_applied
        self.page_size, self.batch_rows = page_size, batch_rows
        self.attempts, self.backoff_seconds = attempts, backoff_seconds
        self.status = SyncStatus()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one sync ---------------------------------------------------------------------------
    def sync_once(self) -> dict[str, int]:
        """Apply every change since the watermarks; rows applied per entity type. Raises the
        ERP's error (after retries) or the refresh's; batches applied before it stay applied."""
        with self._lock:
            self.status.last_attempt_at = datetime.now(UTC)
            try:
                applied = self._sync_all()
            except Exception as e:
                self.status.last_error = f"{type(e).__name__}: {e}"
                raise
            self.status.last_success_at = datetime.now(UTC)
            self.status.last_error = None
            self.status.applied = applied
            return applied

    def _sync_all(self) -> dict[str, int]:
        manifest = manifest_of(self.workdir)
        if not manifest:
            current_model_dir(self.workdir)  # raises the readable "no trained model here"
        applied: dict[str, int] = {}
        for entity_type in manifest.get("entity_types", []):
            for attempt in range(1, self.attempts + 1):
                try:
                    count = self._sync_type(entity_type)
                    break
                except ErpUnsupported:
                    count = None  # this ERP has no change feed of that type
                    break
                except ErpUnavailable:
                    if attempt == self.attempts:
                        raise
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            if count is not None:
                applied[entity_type] = count
        return applied

    def _sync_type(self, entity_type: str) -> int:
        since = manifest_of(self.workdir).get("watermarks", {}).get(entity_type)
        batch: list[dict[str, str]] = []
        total, mark = 0, since
        for page in self.connector.changes(entity_type, since, self.page_size):
            batch.extend(page.rows)
            mark = page.watermark
            if len(batch) >= self.batch_rows:
                total += self._apply(entity_type, batch, mark)
                batch = []
        if batch:
            total += self._apply(entity_type, batch, mark)
        return total

    def _apply(self, entity_type: str, rows: list[dict[str, str]], mark: str | None) -> int:
        if not rows:
            return 0
        from resolver.refresh import refresh_rows  # duckdb, pandas: on first use

        summary = refresh_rows(self.workdir, entity_type, rows, watermark=mark)
        if summary is None:
            return 0
        self.status.rows_applied += len(rows)
        log.info(
            "sync: %d %s row(s) applied up to %s: %s",
            len(rows),
            entity_type,
            mark,
            summary.index_version,
        )
        if self.on_applied is not None:
            self.on_applied()
        return len(rows)

    # -- in the background (`canon serve --sync`) -------------------------------------------
    def start(self, interval: float) -> None:
        """Sync every `interval` seconds in a daemon thread until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.sync_once()
                except (ErpError, ResolverError, OSError) as e:
                    log.warning("sync failed (will retry): %s", e)
                except Exception:  # keep syncing: the next round may well succeed
                    log.exception("sync failed (will retry)")
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="canon-erp-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- freshness -------------------------------------------------------------------------
    def freshness(self) -> dict[str, Any]:
        """The sync's side of freshness: last attempt and success, lag, last error."""
        status, now = self.status, datetime.now(UTC)
        lag = (now - status.last_success_at).total_seconds() if status.last_success_at else None
        return {
            "last_sync_at": status.last_success_at.isoformat() if status.last_success_at else None,
            "sync_lag_seconds": None if lag is None else round(lag, 3),
            "last_sync_error": status.last_error,
            "rows_synced": status.rows_applied,
        }


def index_freshness(workdir: Path) -> dict[str, Any]:
    """The serving index's side of freshness, from the active model's manifest: its version,
    age (seconds since it was trained or last refreshed), rows applied since training, and the
    watermark per entity type."""
    manifest = manifest_of(workdir)
    if not manifest:
        return {}
    stamp = manifest.get("refreshed_at") or manifest.get("trained_at")
    age = None
    if stamp:
        age = round((datetime.now(UTC) - datetime.fromisoformat(str(stamp))).total_seconds(), 3)
    return {
        "index_version": manifest.get("index_version", manifest.get("model_version")),
        "trained_at": manifest.get("trained_at"),
        "index_updated_at": stamp,
        "index_age_seconds": age,
        "rows_applied_since_training": int(manifest.get("rows_applied", 0)),
        "watermarks": dict(manifest.get("watermarks", {})),
    }
