"""The sandbox ERP's data: reads, and writes that run once per idempotency key.

A write runs in one SQLite transaction (`BEGIN IMMEDIATE`: writers queue) that also records it
in the journal with the response it returned, so that the same key answers the same response
again (and another payload under a used key is refused), and a client that lost the response
can look the key up.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.erp.backend.tables import (
    DELETED,
    RECDEL,
    RECNO,
    STAMP,
    assign_ids,
    create_schema,
)


class SandboxRefusal(Exception):  # noqa: N818 — an answer of the sandbox, not our error tree
    """The sandbox ERP refuses a request; nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Written:
    """What a write answered: HTTP status, wire body, the change it made, whether replayed."""

    status: int
    body: Any
    detail: dict[str, Any]
    replayed: bool = False


def _where(where: dict[str, str]) -> tuple[str, list[str]]:
    if not where:
        return "1 = 1", []
    return " AND ".join(f'"{k}" = ?' for k in where), list(where.values())


class Tx:
    """The ERP's domain operations inside one write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def find(self, table: str, where: dict[str, str], live: bool = True) -> dict[str, Any] | None:
        """The last row matching `where` (live rows only, unless `live` is off)."""
        clause, args = _where(where)
        if live:
            clause += f" AND \"{DELETED}\" <> '*'"
        row = self.conn.execute(
            f'SELECT * FROM "{table}" WHERE {clause} ORDER BY "{RECNO}" DESC LIMIT 1', args
        ).fetchone()
        return None if row is None else dict(row)

    def insert(self, table: str, fields: dict[str, str]) -> int:
        recno = self.conn.execute(f'SELECT COALESCE(MAX("{RECNO}"), 0) + 1 FROM "{table}"')
        number = int(recno.fetchone()[0])
        names = [*fields, RECNO]
        self.conn.execute(
            f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
            f"VALUES ({', '.join('?' for _ in names)})",
            [*fields.values(), number],
        )
        return number

    def update(self, table: str, recno: int, fields: dict[str, str]) -> dict[str, str]:
        """Change fields of one row; the previous values of those fields."""
        row = self.conn.execute(f'SELECT * FROM "{table}" WHERE "{RECNO}" = ?', (recno,))
        before = dict(row.fetchone())
        sets = ", ".join(f'"{k}" = ?' for k in fields)
        self.conn.execute(
            f'UPDATE "{table}" SET {sets} WHERE "{RECNO}" = ?', [*fields.values(), recno]
        )
        return {k: str(before.get(k, "")) for k in fields}

    def soft_delete(self, table: str, recno: int) -> None:
        self.conn.execute(
            f'UPDATE "{table}" SET "{DELETED}" = \'*\', "{RECDEL}" = "{RECNO}" WHERE "{RECNO}" = ?',
            (recno,),
        )

    def ids_of(self, kind: str, native: str) -> tuple[str, str]:
        """The (SAP, Oracle) ids of a record, seen from inside this transaction."""
        return assign_ids(self.conn, kind, native)

    # -- records of the domain ----------------------------------------------------------------
    def party(self, native: str, live: bool = True) -> dict[str, Any]:
        """An SA2/SA1 row by canonical id; 404 when absent (or deleted, for `live`)."""
        prefix, filial, code, loja = _split_party(native)
        p = prefix[1:]
        key = {f"{p}_FILIAL": filial, f"{p}_COD": code, f"{p}_LOJA": loja}
        row = self.find(f"{prefix}010", key, live)
        if row is None:
            raise SandboxRefusal(404, f"{native}: no such record")
        return row

    def create_party(self, prefix: str, fields: dict[str, str]) -> str:
        """Insert an SA2/SA1 row under the next code; its canonical id."""
        p = prefix[1:]
        table = f"{prefix}010"
        last = self.conn.execute(
            f'SELECT MAX(CAST("{p}_COD" AS INTEGER)) FROM "{table}"'
        ).fetchone()[0]
        values = {f"{p}_FILIAL": "", f"{p}_LOJA": "01", f"{p}_MSBLQL": "2", **fields}
        values[f"{p}_COD"] = f"{int(last or 0) + 1:06d}"
        self.insert(table, values)
        native = f"{prefix}:{values[f'{p}_FILIAL']}:{values[f'{p}_COD']}:{values[f'{p}_LOJA']}"
        assign_ids(self.conn, "supplier" if prefix == "SA2" else "customer", native)
        return native

    def attach_document(self, native: str, path: str, description: str) -> str:
        """A document in the knowledge base, linked to the record; its object code."""
        prefix, filial, code, loja = _split_party(native)
        self.party(native)
        last = self.conn.execute('SELECT MAX(CAST(ACB_CODOBJ AS INTEGER)) FROM "ACB010"')
        codobj = f"{int(last.fetchone()[0] or 0) + 1:010d}"
        self.insert(
            "ACB010", {"ACB_CODOBJ": codobj, "ACB_OBJETO": path, "ACB_DESCRI": description[:60]}
        )
        self.insert(
            "AC9010",
            {
                "AC9_FILENT": filial,
                "AC9_ENTIDA": prefix,
                "AC9_CODENT": f"{code}{loja}",
                "AC9_CODOBJ": codobj,
            },
        )
        return codobj

    def detach_document(self, codobj: str) -> None:
        link = self.find("AC9010", {"AC9_CODOBJ": codobj})
        document = self.find("ACB010", {"ACB_CODOBJ": codobj})
        if link is None or document is None:
            raise SandboxRefusal(404, f"document {codobj}: no such attachment")
        self.soft_delete("AC9010", int(link[RECNO]))
        self.soft_delete("ACB010", int(document[RECNO]))

    def start_routing(self, native: str, kind: str, today: str) -> int:
        """Open an approval routing document for the record; its row number (the request id)."""
        _prefix, filial, code, loja = _split_party(native)
        self.party(native)
        return self.insert(
            "SCR010",
            {
                "CR_FILIAL": filial,
                "CR_NUM": f"{code}{loja}",
                "CR_TIPO": kind,
                "CR_NIVEL": "01",
                "CR_STATUS": "02",
                "CR_EMISSAO": today,
            },
        )

    def cancel_routing(self, recno: int) -> None:
        row = self.find("SCR010", {RECNO: str(recno)})
        if row is None:
            raise SandboxRefusal(404, f"approval request {recno}: no such request")
        self.update("SCR010", recno, {"CR_STATUS": "05"})
        self.soft_delete("SCR010", recno)

    def accounting_entry(self, native: str, live: bool = True) -> dict[str, Any]:
        """A CT2 line by canonical id (`CT2:{FILIAL}:{DATA}:{LOTE}:{SBLOTE}:{DOC}:{LINHA}`)."""
        parts = native.split(":")
        if len(parts) != 7 or parts[0] != "CT2":
            raise SandboxRefusal(404, f"{native}: not an accounting entry id")
        names = ("CT2_FILIAL", "CT2_DATA", "CT2_LOTE", "CT2_SBLOTE", "CT2_DOC", "CT2_LINHA")
        row = self.find("CT2010", dict(zip(names, parts[1:], strict=True)), live)
        if row is None:
            raise SandboxRefusal(404, f"{native}: no such accounting entry")
        return row

    def service_request(self, number: str) -> dict[str, Any]:
        """An Oracle service request by its SrNumber."""
        row = self.find("SERVICE_REQUEST", {"SRNUMBER": number})
        if row is None:
            raise SandboxRefusal(404, f"service request {number} does not exist")
        return row

    def po_items(self, native: str) -> list[dict[str, Any]]:
        _, filial, number = native.split(":")
        rows = self.conn.execute(
            f"SELECT * FROM SC7010 WHERE C7_FILIAL = ? AND C7_NUM = ? AND \"{DELETED}\" <> '*' "
            "ORDER BY C7_ITEM",
            (filial, number),
        ).fetchall()
        if not rows:
            raise SandboxRefusal(404, f"{native}: no such purchase order")
        return [dict(r) for r in rows]

    def update_po(self, native: str, fields: dict[str, str]) -> dict[str, str]:
        """Change header fields on every item of a purchase order (MATA120 operation 4)."""
        before: dict[str, str] = {}
        for item in self.po_items(native):
            before = self.update("SC7010", int(item[RECNO]), fields)
        return before

    # -- pending change orders (Oracle's draftPurchaseOrders) ---------------------------------
    def draft(self, native: str) -> dict[tuple[str, str], str] | None:
        """The pending change order of a purchase order: (item, field) -> value; None if none
        is open (an open one holds `("", "ChangeOrderDescription")`)."""
        rows = self.conn.execute(
            "SELECT ITEM, FIELD, VALUE FROM DRAFTS WHERE NATIVE = ?", (native,)
        ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows} or None

    def set_draft(self, native: str, item: str, field: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO DRAFTS (NATIVE, ITEM, FIELD, VALUE) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (NATIVE, ITEM, FIELD) DO UPDATE SET VALUE = excluded.VALUE",
            (native, item, field, value),
        )

    def drop_draft(self, native: str) -> None:
        self.conn.execute("DELETE FROM DRAFTS WHERE NATIVE = ?", (native,))


def _split_party(native: str) -> tuple[str, str, str, str]:
    parts = native.split(":")
    if len(parts) != 4 or parts[0] not in ("SA2", "SA1"):
        raise SandboxRefusal(404, f"{native}: not a supplier or customer id")
    return parts[0], parts[1], parts[2], parts[3]


class SandboxDatabase:
    """The sandbox's SQLite file: Protheus tables, id cross-reference and write journal."""

    def __init__(self, path: Path, data_dir: Path | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            self.loaded = create_schema(conn, data_dir)
            conn.execute("COMMIT")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            yield conn
        finally:
            conn.close()

    # -- reads ---------------------------------------------------------------------------------
    def rows(
        self,
        table: str,
        where: dict[str, str] | None = None,
        *,
        live_only: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Rows in row-number order (soft-deleted ones only when `live_only` is off)."""
        clause, args = _where(where or {})
        if live_only:
            clause += f" AND \"{DELETED}\" <> '*'"
        with self.connect() as conn:
            found = conn.execute(
                f'SELECT * FROM "{table}" WHERE {clause} ORDER BY "{RECNO}" LIMIT ? OFFSET ?',
                [*args, limit, offset],
            ).fetchall()
        return [dict(r) for r in found]

    def rows_by_digits(
        self, table: str, column: str, value: str, *, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Live rows whose `column`, stripped of punctuation, equals the digits of `value`."""
        wanted = "".join(c for c in value if c.isdigit())
        stripped = f'"{column}"'
        for mark in (".", "/", "-", " "):
            stripped = f"REPLACE({stripped}, '{mark}', '')"
        with self.connect() as conn:
            found = conn.execute(
                f'SELECT * FROM "{table}" WHERE {stripped} = ? AND "{DELETED}" <> \'*\' '
                f'ORDER BY "{RECNO}" LIMIT ? OFFSET ?',
                [wanted, limit, offset],
            ).fetchall()
        return [dict(r) for r in found]

    def changes(self, table: str, since: int, limit: int = 100) -> list[dict[str, Any]]:
        """Rows of a stamped table changed after stamp `since` (soft-deleted ones included),
        each once, as it is now, with its last stamp (`S_T_A_M_P_`), in stamp order."""
        with self.connect() as conn:
            found = conn.execute(
                f'SELECT t.*, c.STAMP AS "{STAMP}" FROM (SELECT RECNO, MAX(STAMP) AS STAMP '
                "FROM CHANGES WHERE TBL = ? AND STAMP > ? GROUP BY RECNO) c "
                f'JOIN "{table}" t ON t."{RECNO}" = c.RECNO ORDER BY c.STAMP LIMIT ?',
                [table, since, limit],
            ).fetchall()
        return [dict(r) for r in found]

    def read(self, fn: Callable[[Tx], Any]) -> Any:
        """Run a read through the domain operations (a refusal propagates)."""
        with self.connect() as conn:
            return fn(Tx(conn))

    def purchase_orders(
        self, where: dict[str, str] | None = None, *, offset: int = 0, limit: int = 100
    ) -> list[str]:
        """Canonical ids of live purchase orders (SC7 headers), in order of their first item."""
        clause, args = _where(where or {})
        with self.connect() as conn:
            found = conn.execute(
                f'SELECT C7_FILIAL, C7_NUM, MIN("{RECNO}") AS FIRST FROM SC7010 WHERE {clause} '
                f"AND \"{DELETED}\" <> '*' GROUP BY C7_FILIAL, C7_NUM ORDER BY FIRST "
                "LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [f"SC7:{r[0]}:{r[1]}" for r in found]

    def native_of(self, kind: str, face: str, face_id: str) -> str | None:
        """The Protheus id of a record known to the SAP or Oracle face by `face_id`."""
        column = {"sap": "SAP", "oracle": "ORACLE"}[face]
        with self.connect() as conn:
            row = conn.execute(
                f"SELECT NATIVE FROM XREF WHERE KIND = ? AND {column} = ?", (kind, face_id)
            ).fetchone()
        return None if row is None else str(row[0])

    def ids_of(self, kind: str, native: str) -> tuple[str, str]:
        """The (SAP, Oracle) ids of a record."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT SAP, ORACLE FROM XREF WHERE KIND = ? AND NATIVE = ?", (kind, native)
            ).fetchone()
        if row is None:
            raise SandboxRefusal(404, f"{native}: no such record")
        return str(row[0]), str(row[1])

    def journal_entry(self, key: str) -> dict[str, Any] | None:
        """The committed write of this idempotency key, with its response, or None."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM JOURNAL WHERE IDEMPOTENCY_KEY = ?", (key,))
            found = row.fetchone()
        return None if found is None else _entry(found)

    def journal(self) -> list[dict[str, Any]]:
        """Every committed write with an idempotency key, in order."""
        with self.connect() as conn:
            return [_entry(r) for r in conn.execute("SELECT * FROM JOURNAL ORDER BY SEQ")]

    # -- writes --------------------------------------------------------------------------------
    def write(
        self,
        *,
        key: str | None,
        face: str,
        operation: str,
        request_hash: str,
        apply: Callable[[Tx], tuple[int, Any, dict[str, Any]]],
        unkeyed: str | None = None,
        deadline: float | None = None,
    ) -> Written:
        """Run `apply` once per key, in one transaction with its journal entry.

        Without a key (a stock ERP ignores them), every call writes; `unkeyed` still journals
        it, as `<unkeyed>#<seq>`, so that tests can count the writes made under one key.
        `deadline` (`time.monotonic()`): past it, the transaction is rolled back instead of
        committed and a 504 refusal raised (the ERP's request timeout).
        """
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                written = self._write_locked(
                    conn, key, face, operation, request_hash, apply, unkeyed
                )
                if deadline is not None and time.monotonic() > deadline:
                    raise SandboxRefusal(504, "request timed out in the ERP; nothing was written")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return written

    @staticmethod
    def _write_locked(
        conn: sqlite3.Connection,
        key: str | None,
        face: str,
        operation: str,
        request_hash: str,
        apply: Callable[[Tx], tuple[int, Any, dict[str, Any]]],
        unkeyed: str | None = None,
    ) -> Written:
        if key is not None:
            row = conn.execute("SELECT * FROM JOURNAL WHERE IDEMPOTENCY_KEY = ?", (key,))
            found = row.fetchone()
            if found is not None:
                entry = _entry(found)
                if entry["request_hash"] != request_hash:
                    raise SandboxRefusal(
                        422, f"Idempotency-Key {key} was already used for another request"
                    )
                return Written(entry["status"], entry["response"], entry["detail"], True)
        status, body, detail = apply(Tx(conn))
        if key is not None or unkeyed is not None:
            seq = conn.execute("SELECT COALESCE(MAX(SEQ), 0) + 1 FROM JOURNAL").fetchone()[0]
            conn.execute(
                "INSERT INTO JOURNAL VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key if key is not None else f"{unkeyed}#{seq}",
                    seq,
                    face,
                    operation,
                    request_hash,
                    status,
                    json.dumps(body),
                    json.dumps(detail),
                    datetime.now(UTC).isoformat(),
                ),
            )
        return Written(status, body, detail)


def _entry(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "idempotency_key": row["IDEMPOTENCY_KEY"],
        "seq": row["SEQ"],
        "face": row["FACE"],
        "operation": row["OPERATION"],
        "request_hash": row["REQUEST_HASH"],
        "status": row["STATUS"],
        "response": json.loads(row["RESPONSE"]),
        "detail": json.loads(row["DETAIL"]),
        "at": row["AT"],
    }


PO_HEADER = (
    "C7_FILIAL",
    "C7_NUM",
    "C7_FORNECE",
    "C7_LOJA",
    "C7_EMISSAO",
    "C7_DATPRF",
    "C7_CONAPRO",
    "C7_ENCER",
    "C7_MOEDA",
)


def po_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A purchase order's header: the fields its items share, and its total."""
    first = items[0]
    header = {k: first[k] for k in PO_HEADER}
    total = sum(float(i["C7_TOTAL"] or 0) for i in items)
    return {**header, "C7_TOTAL": round(total, 2)}
