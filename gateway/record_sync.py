"""Read-your-own-writes: the record a workflow changed, read back from the ERP and applied to the
serving index before the action reports `succeeded`.

`IndexSync.record_changed` reads the record's row through the connector (`RowReads.read_row`,
the row as the ERP's extract gives it, a deleted one with its deletion mark) and applies it with
`resolver.refresh.refresh_rows`: the same checks and atomic switch of `CURRENT` as `canon
refresh`. The process's own resolver is reloaded at once (`on_applied`); every other worker or
replica serving the same workdir sees `CURRENT` moved before its next resolve and serves the new
index for it (`resolver.service.Resolver`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gateway.erp.base import RowReads
from gateway.errors import ErpUnsupported

log = logging.getLogger("canon.record_sync")


class IndexSync:
    """Applies the records Canon's workflows change to a workdir's serving index."""

    def __init__(
        self,
        workdir: Path,
        connector: RowReads,
        on_applied: Callable[[], object] | None = None,
    ) -> None:
        self.workdir, self.connector, self.on_applied = workdir, connector, on_applied

    def record_changed(self, entity_type: str, canonical_id: str) -> str | None:
        """The index version serving the record as the ERP now holds it; None when the record
        cannot be read as a row (an entity type the connector reads no rows of) or the model
        does not serve its entity type."""
        try:
            row = self.connector.read_row(entity_type, canonical_id)
        except ErpUnsupported:
            return None
        if row is None:
            log.warning("%s %s: not in the ERP; nothing to apply", entity_type, canonical_id)
            return None
        from resolver.refresh import refresh_rows  # duckdb, pandas: on first use

        summary = refresh_rows(self.workdir, entity_type, [row])
        if summary is None:
            return None
        if self.on_applied is not None:
            self.on_applied()
        log.info("%s %s applied to the index: %s", entity_type, canonical_id, summary.index_version)
        return summary.index_version
