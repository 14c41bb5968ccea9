"""`LocalLedgerConnector`: an ERP of our own in one SQLite file, recording every operation.

It holds records (seeded with `put_record`) and an operation journal keyed by idempotency key;
`*.create_record` operations create a record, `*.delete_record` soft-deletes one, and every other
operation is journalled with the record's state before it. It is what `canon serve` writes to
until a real ERP or the sandbox ERP is configured, and what the tests execute against.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.erp.base import ErpOperation, ErpRecord, ErpResult
from gateway.erp.registry import register
from gateway.errors import ErpError, ErpOperationFailed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity_type TEXT NOT NULL,
    canonical_id TEXT NOT NULL,
    group_key TEXT,
    fields TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity_type, canonical_id)
);
CREATE TABLE IF NOT EXISTS operations (
    idempotency_key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    canonical_id TEXT,
    params TEXT NOT NULL,
    result TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class LedgerSettings(Protocol):
    """What the local ledger is built from: its SQLite file."""

    @property
    def ledger_file(self) -> Path: ...


@register("ledger", remote=False)
class LocalLedgerConnector:
    """A small ERP in a SQLite file; `refuse` maps operation names to the reason it refuses them."""

    def __init__(self, path: Path, refuse: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.refuse = dict(refuse or {})
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: LedgerSettings) -> LocalLedgerConnector:
        """The ledger in the deployment's file (`gateway.erp.registry`)."""
        return cls(settings.ledger_file)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as e:
            raise ErpError(f"cannot open the ledger {self.path}: {e}") from e
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn
        except sqlite3.Error as e:
            raise ErpError(f"ledger {self.path}: {e}") from e
        finally:
            conn.close()

    def put_record(
        self,
        entity_type: str,
        canonical_id: str,
        fields: Mapping[str, Any],
        group_key: str | None = None,
    ) -> None:
        """Create or replace a record (how tests and demos seed the ledger)."""
        with self._connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, 0)",
                (entity_type, canonical_id, group_key, json.dumps(dict(fields))),
            )

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT fields, deleted FROM records WHERE entity_type = ? AND canonical_id = ?",
                (entity_type, canonical_id),
            ).fetchone()
        if row is None:
            return None
        return ErpRecord(
            entity_type=entity_type,
            canonical_id=canonical_id,
            fields=json.loads(row[0]),
            deleted=bool(row[1]),
        )

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        """Values of `field` on the live records sharing this record's group (e.g. supplier)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT r.fields FROM records r JOIN records t"
                " ON r.entity_type = t.entity_type AND r.group_key = t.group_key"
                " WHERE t.entity_type = ? AND t.canonical_id = ? AND r.canonical_id <> ?"
                " AND r.deleted = 0",
                (entity_type, canonical_id, canonical_id),
            ).fetchall()
        values = [json.loads(row[0]).get(field) for row in rows]
        return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]

    def find_by_tax_id(self, entity_type: str, tax_id: str) -> list[ErpRecord]:
        """Live records whose `tax_id` field has these digits (whatever its punctuation)."""
        wanted = re.sub(r"\D", "", tax_id)
        if not wanted:
            return []
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT canonical_id, fields FROM records WHERE entity_type = ? AND deleted = 0"
                " ORDER BY canonical_id",
                (entity_type,),
            ).fetchall()
        found = []
        for canonical_id, text in rows:
            fields = json.loads(text)
            if re.sub(r"\D", "", str(fields.get("tax_id") or "")) == wanted:
                found.append(
                    ErpRecord(entity_type=entity_type, canonical_id=canonical_id, fields=fields)
                )
        return found

    def extract(
        self, entity_type: str, source: Mapping[str, str] | None = None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        """Live records of an entity type (canonical id and fields), page by page: the ledger
        files every record under its entity type, so it needs no source."""
        offset = 0
        while True:
            with self._connection() as conn:
                rows = conn.execute(
                    "SELECT canonical_id, fields FROM records WHERE entity_type = ? AND deleted = 0"
                    " ORDER BY canonical_id LIMIT ? OFFSET ?",
                    (entity_type, page_size, offset),
                ).fetchall()
            if not rows:
                return
            yield [
                {"canonical_id": r[0], **{k: str(v) for k, v in json.loads(r[1]).items()}}
                for r in rows
            ]
            offset += page_size

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT result FROM operations WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return None if row is None else ErpResult.model_validate_json(row[0])

    def run(self, operation: ErpOperation) -> ErpResult:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._run_locked(conn, operation)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return result

    def _run_locked(self, conn: sqlite3.Connection, op: ErpOperation) -> ErpResult:
        row = conn.execute(
            "SELECT result FROM operations WHERE idempotency_key = ?", (op.idempotency_key,)
        ).fetchone()
        if row is not None:
            return ErpResult.model_validate_json(row[0])
        if op.operation in self.refuse:
            raise ErpOperationFailed(
                f"{op.operation}: refused by the ledger: {self.refuse[op.operation]}"
            )
        canonical_id, data = op.canonical_id, {}
        if op.operation.endswith(".create_record"):
            canonical_id = self._create(conn, op)
        elif op.canonical_id is not None:
            data["before"] = self._fields(conn, op.entity_type, op.canonical_id)
            if op.operation.endswith(".delete_record"):
                conn.execute(
                    "UPDATE records SET deleted = 1 WHERE entity_type = ? AND canonical_id = ?",
                    (op.entity_type, op.canonical_id),
                )
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM operations").fetchone()[0]
        result = ErpResult(
            idempotency_key=op.idempotency_key,
            operation=op.operation,
            canonical_id=canonical_id,
            data={**data, "journal_seq": seq},
        )
        conn.execute(
            "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (op.idempotency_key, seq, op.operation, op.entity_type, canonical_id,
             json.dumps(op.params), result.model_dump_json(), datetime.now(UTC).isoformat()),
        )  # fmt: skip
        return result

    def _create(self, conn: sqlite3.Connection, op: ErpOperation) -> str:
        count = conn.execute(
            "SELECT COUNT(*) FROM records WHERE entity_type = ?", (op.entity_type,)
        ).fetchone()[0]
        canonical_id = f"LEDGER:{op.entity_type}:{count + 1:06d}"
        conn.execute(
            "INSERT INTO records VALUES (?, ?, NULL, ?, 0)",
            (op.entity_type, canonical_id, json.dumps(op.params)),
        )
        return canonical_id

    @staticmethod
    def _fields(conn: sqlite3.Connection, entity_type: str, canonical_id: str) -> dict[str, Any]:
        row = conn.execute(
            "SELECT fields FROM records WHERE entity_type = ? AND canonical_id = ?",
            (entity_type, canonical_id),
        ).fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    def journal(self) -> list[ErpOperation]:
        """Every operation run, in order."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT operation, entity_type, canonical_id, params, idempotency_key"
                " FROM operations ORDER BY seq"
            ).fetchall()
        return [
            ErpOperation(operation=r[0], entity_type=r[1], canonical_id=r[2],
                         params=json.loads(r[3]), idempotency_key=r[4])
            for r in rows
        ]  # fmt: skip
