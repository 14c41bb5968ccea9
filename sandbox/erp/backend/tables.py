"""The sandbox ERP's tables: Protheus-shaped, in one SQLite file, loaded from the sample CSVs.

Every table keeps Protheus's soft deletes (`D_E_L_E_T_ = '*'`, `R_E_C_N_O_` the row number,
`R_E_C_D_E_L_` the deleted row's key). Beside them: `XREF`, the ids the SAP and Oracle faces
show for each record (a BusinessPartner number, a SupplierId…), and `JOURNAL`, every committed
write by its idempotency key with the response it returned; `DRAFTS`, pending change orders
(Oracle's `draftPurchaseOrders`): the values they will set on submit.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

DELETED, RECNO, RECDEL = "D_E_L_E_T_", "R_E_C_N_O_", "R_E_C_D_E_L_"

#: Columns each known table always has (a CSV may add more; missing ones start blank).
COLUMNS: dict[str, tuple[str, ...]] = {
    "SA2010": (
        "A2_FILIAL",
        "A2_COD",
        "A2_LOJA",
        "A2_NOME",
        "A2_NREDUZ",
        "A2_END",
        "A2_MUN",
        "A2_EST",
        "A2_CEP",
        "A2_TIPO",
        "A2_CGC",
        "A2_TEL",
        "A2_EMAIL",
        "A2_PAIS",
        "A2_MSBLQL",
        # The standard bank account fields: bank (COMPE code), branch ("agência"), account.
        "A2_BANCO",
        "A2_AGENCIA",
        "A2_NUMCON",
        # The sandbox's own custom fields (a Protheus installation declares its own, if any):
        # the IBAN and the account holder's name, which the SAP and Oracle faces show.
        "A2_XIBAN",
        "A2_XTITULA",
    ),
    "SA1010": (
        "A1_FILIAL",
        "A1_COD",
        "A1_LOJA",
        "A1_NOME",
        "A1_NREDUZ",
        "A1_PESSOA",
        "A1_END",
        "A1_MUN",
        "A1_EST",
        "A1_CEP",
        "A1_CGC",
        "A1_TEL",
        "A1_EMAIL",
        "A1_MSBLQL",
    ),
    "SC7010": (
        "C7_FILIAL",
        "C7_NUM",
        "C7_ITEM",
        "C7_PRODUTO",
        "C7_QUANT",
        "C7_PRECO",
        "C7_TOTAL",
        "C7_FORNECE",
        "C7_LOJA",
        "C7_EMISSAO",
        "C7_DATPRF",
        "C7_CONAPRO",
        "C7_ENCER",
        "C7_MOEDA",
    ),
    # Knowledge base: documents (ACB) and their links to records of other tables (AC9).
    "ACB010": ("ACB_FILIAL", "ACB_CODOBJ", "ACB_OBJETO", "ACB_DESCRI"),
    "AC9010": ("AC9_FILIAL", "AC9_FILENT", "AC9_ENTIDA", "AC9_CODENT", "AC9_CODOBJ"),
    # Approval routing documents ("alçadas").
    "SCR010": ("CR_FILIAL", "CR_NUM", "CR_TIPO", "CR_NIVEL", "CR_STATUS", "CR_EMISSAO"),
    # Accounting entries (SIGACTB "Lançamentos Contábeis", routine CTBA102), one row per line.
    "CT2010": (
        "CT2_FILIAL",
        "CT2_DATA",
        "CT2_LOTE",
        "CT2_SBLOTE",
        "CT2_DOC",
        "CT2_LINHA",
        "CT2_MOEDLC",
        "CT2_DC",
        "CT2_DEBITO",
        "CT2_CREDIT",
        "CT2_VALOR",
        "CT2_HIST",
        "CT2_CCD",
        "CT2_CCC",
    ),
    # Not a Protheus table: the service requests of Oracle Fusion Service (`serviceRequests`),
    # which only the Oracle face shows (Protheus and SAP publish no ticket API: docs/ERP.md).
    "SERVICE_REQUEST": ("SRID", "SRNUMBER", "TITLE", "STATUSCD", "SEVERITYCD"),
}

_META = """
CREATE TABLE IF NOT EXISTS XREF (
    KIND TEXT NOT NULL, NATIVE TEXT NOT NULL, SAP TEXT NOT NULL, ORACLE TEXT NOT NULL,
    PRIMARY KEY (KIND, NATIVE)
);
CREATE UNIQUE INDEX IF NOT EXISTS XREF_SAP ON XREF (KIND, SAP);
CREATE UNIQUE INDEX IF NOT EXISTS XREF_ORACLE ON XREF (KIND, ORACLE);
CREATE TABLE IF NOT EXISTS DRAFTS (
    NATIVE TEXT NOT NULL, ITEM TEXT NOT NULL, FIELD TEXT NOT NULL, VALUE TEXT NOT NULL,
    PRIMARY KEY (NATIVE, ITEM, FIELD)
);
CREATE TABLE IF NOT EXISTS JOURNAL (
    IDEMPOTENCY_KEY TEXT PRIMARY KEY, SEQ INTEGER NOT NULL UNIQUE, FACE TEXT NOT NULL,
    OPERATION TEXT NOT NULL, REQUEST_HASH TEXT NOT NULL, STATUS INTEGER NOT NULL,
    RESPONSE TEXT NOT NULL, DETAIL TEXT NOT NULL, AT TEXT NOT NULL
);
"""

#: First SAP / Oracle id of each kind; the n-th record of a kind gets base + n.
ID_BASES: dict[str, tuple[int, int]] = {
    "supplier": (1_700_000_000, 300_000_000_000_000),
    "customer": (1_000_000_000, 300_000_100_000_000),
    "purchase_order": (4_500_000_000, 300_000_200_000_000),
}


def _create(conn: sqlite3.Connection, table: str, columns: list[str]) -> None:
    cols = ", ".join(f"\"{c}\" TEXT NOT NULL DEFAULT ''" for c in columns)
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}" ({cols}, "{DELETED}" TEXT NOT NULL DEFAULT \'\', '
        f'"{RECNO}" INTEGER NOT NULL UNIQUE, "{RECDEL}" INTEGER NOT NULL DEFAULT 0)'
    )


def create_schema(conn: sqlite3.Connection, data_dir: Path | None) -> dict[str, int]:
    """Create the tables, load the CSVs of `data_dir` into empty ones; rows loaded per table."""
    for statement in _META.split(";"):
        if statement.strip():
            conn.execute(statement)
    files = {p.stem.upper(): p for p in sorted(data_dir.glob("*.csv"))} if data_dir else {}
    loaded: dict[str, int] = {}
    for table in sorted(set(COLUMNS) | set(files)):
        header: list[str] = []
        rows: list[dict[str, str]] = []
        if table in files:
            with files[table].open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                header = [h.strip().upper() for h in reader.fieldnames or []]
                rows = [{k.strip().upper(): (v or "") for k, v in r.items() if k} for r in reader]
        known = list(COLUMNS.get(table, ()))
        columns = known + [
            c for c in header if c not in known and c not in (DELETED, RECNO, RECDEL)
        ]
        _create(conn, table, columns)
        if rows and conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == 0:
            loaded[table] = _load(conn, table, columns, rows)
    _index(conn)
    _track_changes(conn)
    _seed(conn)
    for kind, table, native in (("supplier", "SA2010", "SA2"), ("customer", "SA1010", "SA1")):
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY "{RECNO}"').fetchall():
            assign_ids(conn, kind, party_native(native, dict(row)))
    for filial, num, _first in conn.execute(
        f'SELECT C7_FILIAL, C7_NUM, MIN("{RECNO}") AS FIRST FROM SC7010 '
        "GROUP BY C7_FILIAL, C7_NUM ORDER BY FIRST"
    ).fetchall():
        assign_ids(conn, "purchase_order", f"SC7:{filial}:{num}")
    return loaded


def _load(
    conn: sqlite3.Connection, table: str, columns: list[str], rows: list[dict[str, str]]
) -> int:
    names = [*columns, DELETED, RECNO]
    marks = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    values = []
    for i, row in enumerate(rows, start=1):
        recno = int(row[RECNO]) if row.get(RECNO, "").strip().isdigit() else i
        values.append([*(row.get(c, "") for c in columns), row.get(DELETED, "").strip(), recno])
    conn.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', values)
    if table == "SC7010":
        # Samples carry no delivery date: expect delivery 30 days after issue.
        conn.execute(
            "UPDATE SC7010 SET C7_DATPRF = strftime('%Y%m%d', date(substr(C7_EMISSAO, 1, 4) || "
            "'-' || substr(C7_EMISSAO, 5, 2) || '-' || substr(C7_EMISSAO, 7, 2), '+30 days')) "
            "WHERE C7_DATPRF = '' AND length(C7_EMISSAO) = 8"
        )
    return len(values)


#: Titles of the seeded service requests.
TICKET_TITLES = (
    "Invoice total does not match the purchase order",
    "Supplier asks for a payment status",
    "Duplicate invoice received",
    "Delivery arrived damaged",
    "Bank details change request from supplier",
    "Credit note missing for returned goods",
)
#: StatusCd of the seeded service requests, in turn (Oracle's ORA_SVC_SR_STATUS_CD codes).
TICKET_STATUSES = ("ORA_SVC_RESOLVED", "ORA_SVC_INPROGRESS", "ORA_SVC_NEW", "ORA_SVC_CLOSED")
SEEDED = 24


def _seed(conn: sqlite3.Connection) -> None:
    """Rows the sample CSVs do not carry, made once into empty tables: an accounting entry for
    each of the first purchase orders (the purchase posted to an expense account against
    suppliers, on one double-entry line, `CT2_DC = 3`), and Oracle service requests."""
    if conn.execute('SELECT COUNT(*) FROM "CT2010"').fetchone()[0] == 0:
        orders = conn.execute(
            f"SELECT C7_FILIAL, C7_NUM, MIN(C7_EMISSAO), ROUND(SUM(CAST(C7_TOTAL AS REAL)), 2), "
            f"MIN(C7_MOEDA) FROM SC7010 WHERE \"{DELETED}\" <> '*' GROUP BY C7_FILIAL, C7_NUM "
            f'ORDER BY MIN("{RECNO}") LIMIT {SEEDED}'
        ).fetchall()
        for n, (filial, number, issued, total, currency) in enumerate(orders, start=1):
            row = {
                "CT2_FILIAL": filial, "CT2_DATA": issued, "CT2_LOTE": "008810",
                "CT2_SBLOTE": "001", "CT2_DOC": number, "CT2_LINHA": "001",
                "CT2_MOEDLC": f"{int(currency or 1):02d}", "CT2_DC": "3",
                "CT2_DEBITO": "4110.001" if n % 3 else "4120.003", "CT2_CREDIT": "2110.001",
                "CT2_VALOR": f"{total:.2f}", "CT2_HIST": f"COMPRA CONF PEDIDO {number}",
                "CT2_CCD": "CC100", "CT2_CCC": "",
            }  # fmt: skip
            names = [*row, RECNO]
            conn.execute(
                f'INSERT INTO "CT2010" ({", ".join(chr(34) + c + chr(34) for c in names)}) '
                f"VALUES ({', '.join('?' for _ in names)})",
                [*row.values(), n],
            )
    if conn.execute('SELECT COUNT(*) FROM "SERVICE_REQUEST"').fetchone()[0] == 0:
        for n in range(1, SEEDED + 1):
            conn.execute(
                f'INSERT INTO "SERVICE_REQUEST" (SRID, SRNUMBER, TITLE, STATUSCD, SEVERITYCD, '
                f'"{RECNO}") VALUES (?, ?, ?, ?, ?, ?)',
                (
                    str(300_000_400_000_000 + n),
                    f"SR{n:010d}",
                    TICKET_TITLES[n % len(TICKET_TITLES)],
                    TICKET_STATUSES[n % len(TICKET_STATUSES)],
                    f"ORA_SVC_SEV{1 + n % 4}",
                    n,
                ),
            )


def _index(conn: sqlite3.Connection) -> None:
    for table, cols in (
        ("SA2010", "A2_COD, A2_LOJA"),
        ("SA1010", "A1_COD, A1_LOJA"),
        ("SC7010", "C7_FILIAL, C7_NUM"),
        ("AC9010", "AC9_CODENT"),
        ("ACB010", "ACB_CODOBJ"),
        ("SCR010", "CR_NUM"),
        ("CT2010", "CT2_FILIAL, CT2_DATA, CT2_LOTE, CT2_SBLOTE, CT2_DOC, CT2_LINHA"),
        ("SERVICE_REQUEST", "SRNUMBER"),
    ):
        conn.execute(f'CREATE INDEX IF NOT EXISTS "{table}_KEY" ON "{table}" ({cols})')


#: Tables whose changes the sandbox stamps (`S_T_A_M_P_`), for the change feeds.
STAMPED = ("SA2010", "SA1010")
STAMP = "S_T_A_M_P_"


def _track_changes(conn: sqlite3.Connection) -> None:
    """Stamp every insert and update (a soft delete too) of the stamped tables in `CHANGES`, as
    Protheus keeps `S_T_A_M_P_` once enabled: rows loaded before carry no stamp. A stamp is a
    sequence number, so that two changes in one millisecond still have an order."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS CHANGES (STAMP INTEGER PRIMARY KEY AUTOINCREMENT, "
        "TBL TEXT NOT NULL, RECNO INTEGER NOT NULL, AT TEXT NOT NULL)"
    )
    conn.execute('CREATE INDEX IF NOT EXISTS "CHANGES_TBL" ON CHANGES (TBL, RECNO)')
    for table in STAMPED:
        for event in ("INSERT", "UPDATE"):
            conn.execute(
                f'CREATE TRIGGER IF NOT EXISTS "{table}_{event}_STAMP" AFTER {event} ON "{table}" '
                f"BEGIN INSERT INTO CHANGES (TBL, RECNO, AT) VALUES ('{table}', "
                f"NEW.\"{RECNO}\", strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END"
            )


def party_native(prefix: str, row: dict[str, str]) -> str:
    """The Protheus canonical id of an SA2 or SA1 row (`SA2:{FILIAL}:{COD}:{LOJA}`)."""
    p = prefix[1:]  # SA2 -> A2
    return f"{prefix}:{row[f'{p}_FILIAL']}:{row[f'{p}_COD']}:{row[f'{p}_LOJA']}"


def assign_ids(conn: sqlite3.Connection, kind: str, native: str) -> tuple[str, str]:
    """The (SAP, Oracle) ids of a record, assigned on first sight."""
    row = conn.execute(
        "SELECT SAP, ORACLE FROM XREF WHERE KIND = ? AND NATIVE = ?", (kind, native)
    ).fetchone()
    if row is not None:
        return str(row[0]), str(row[1])
    n = conn.execute("SELECT COUNT(*) FROM XREF WHERE KIND = ?", (kind,)).fetchone()[0] + 1
    sap_base, oracle_base = ID_BASES[kind]
    ids = (str(sap_base + n), str(oracle_base + n))
    conn.execute("INSERT INTO XREF VALUES (?, ?, ?, ?)", (kind, native, *ids))
    return ids
