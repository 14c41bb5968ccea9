"""Consistency between records and tables: branches registered under another CNPJ root than
their siblings', blocked suppliers still on open purchase orders, and purchase orders that
name a supplier the master does not hold.

Protheus keeps a company's branches (lojas) under one code (A2_COD) with one CNPJ root (its
first 8 digits). Purchase order items (SC7) name their supplier by C7_FORNECE + C7_LOJA; an
order is open while any of its live items is not closed (C7_ENCER <> 'E'). A supplier is
blocked when A2_MSBLQL = '1'. The supplier table is shared between branches (blank
A2_FILIAL) or kept per branch; both are matched.
"""

from __future__ import annotations

from resolver.profiles import EntityTypeSpec
from resolver.quality.build import MetricSpec, count, from_rows, query_rows
from resolver.quality.metrics_uniqueness import code_sql
from resolver.quality.source import Master, label_sql
from resolver.quality.types import MetricResult

SUPPLIER, ORDER = "supplier", "purchase_order"
ORDER_SUPPLIER = ("C7_FORNECE", "C7_LOJA", "C7_ENCER", "C7_FILIAL")


def branch_roots(master: Master, name: str) -> MetricResult:
    """Branches whose CNPJ root differs from the one most of their code's branches hold (the
    head office's, loja 01 or the lowest, on a tie)."""
    spec = master.types[name]
    branch = spec.native_key[-1]
    column = spec.roles["tax_id"][0]
    sql = f"""
        WITH t AS (
            SELECT x.unique_id, x.tax_root, {code_sql(spec)} AS code, x."raw_{branch}" AS loja
            FROM "rec_{name}" x WHERE x.tax_root IS NOT NULL),
        codes AS (SELECT code FROM t GROUP BY code HAVING count(DISTINCT tax_root) > 1),
        votes AS (
            SELECT t.code, t.tax_root, count(*) AS n, min(t.loja) AS first_loja
            FROM t JOIN codes USING (code) GROUP BY t.code, t.tax_root),
        ranked AS (SELECT code, tax_root AS root, row_number() OVER (
                       PARTITION BY code ORDER BY n DESC, first_loja) AS rank FROM votes),
        usual AS (SELECT code, root FROM ranked WHERE rank = 1)
        SELECT t.unique_id, {label_sql(spec)},
               '{column} root ' || t.tax_root || ' differs from root ' || u.root
               || ' of the other branches of code ' || t.code
        FROM t JOIN usual u USING (code) JOIN "raw_{name}" r ON r.canonical_id = t.unique_id
        WHERE t.tax_root <> u.root
    """
    rows = query_rows(master.con, sql)
    total = count(
        master.con,
        f"""SELECT count(*) FROM "rec_{name}" x WHERE x.tax_root IS NOT NULL AND {code_sql(spec)}
            IN (SELECT {code_sql(spec)} FROM "rec_{name}" x GROUP BY 1 HAVING count(*) > 1)""",
    )
    metric = MetricSpec(
        f"{name}.consistency.branch_cnpj_root", name, "tax_id", "consistency",
        f"{name} branches under their company's CNPJ root",
        f"Share of {name} branches (records sharing a code with other lojas, with a CNPJ) "
        "whose CNPJ root (first 8 digits) is the one their code's other branches hold; a "
        "different root is a merger, a typo at registration, or another company filed "
        "under the code.",
        "medium",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def _orders(master: Master) -> str:
    """SQL of one row per purchase order: its supplier key, branch and whether it is open."""
    return f"""
        SELECT canonical_id, any_value("C7_FILIAL") AS filial, any_value("C7_FORNECE") AS cod,
               any_value("C7_LOJA") AS loja, bool_or(trim("C7_ENCER") <> 'E') AS open
        FROM "raw_{ORDER}" GROUP BY canonical_id
    """


def _supplier_join(spec: EntityTypeSpec) -> str:
    cod, loja = spec.native_key[1], spec.native_key[2]
    filial = spec.native_key[0]
    return (
        f's."{cod}" = o.cod AND s."{loja}" = o.loja '
        f'AND (s."{filial}" = \'\' OR s."{filial}" = o.filial)'
    )


def blocked_on_open_orders(master: Master) -> MetricResult:
    """Open purchase orders whose supplier is blocked."""
    spec = master.types[SUPPLIER]
    flag = spec.blocked_flag or "A2_MSBLQL"
    sql = f"""
        WITH o AS ({_orders(master)})
        SELECT o.canonical_id, 'order ' || o.canonical_id,
               'open, for blocked supplier ' || s.canonical_id || ' ('
               || {label_sql(spec, "s")} || ', {flag} = 1)'
        FROM o JOIN "raw_{SUPPLIER}" s ON {_supplier_join(spec)}
        WHERE o.open AND trim(s."{flag}") = '1'
    """
    rows = query_rows(master.con, sql)
    opened = count(master.con, f"SELECT count(*) FROM ({_orders(master)}) WHERE open")
    metric = MetricSpec(
        f"{ORDER}.consistency.blocked_supplier", ORDER, None, "consistency",
        "open purchase orders for active suppliers",
        f"Share of open purchase orders (an item with C7_ENCER not 'E') whose supplier is not "
        f"blocked ({flag} = '1'): goods still expected from a supplier nobody may buy from.",
        "high",
    )  # fmt: skip
    return from_rows(metric, rows, opened)


def orders_without_supplier(master: Master) -> MetricResult:
    """Purchase orders naming a supplier (code + loja) that no live supplier record has."""
    spec = master.types[SUPPLIER]
    sql = f"""
        WITH o AS ({_orders(master)})
        SELECT o.canonical_id, 'order ' || o.canonical_id,
               'names supplier C7_FORNECE ' || o.cod || ' C7_LOJA ' || o.loja
               || ', which the supplier master does not hold'
        FROM o WHERE NOT EXISTS (SELECT 1 FROM "raw_{SUPPLIER}" s WHERE {_supplier_join(spec)})
    """
    rows = query_rows(master.con, sql)
    total = count(master.con, f"SELECT count(*) FROM ({_orders(master)})")
    metric = MetricSpec(
        f"{ORDER}.consistency.missing_supplier", ORDER, None, "consistency",
        "purchase orders with an existing supplier",
        "Share of purchase orders whose supplier (C7_FORNECE + C7_LOJA) is a live record of "
        "the supplier master; the others point at a deleted or never-keyed supplier.",
        "high",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def consistency(master: Master) -> list[MetricResult]:
    """Branch roots for every entity type with branches; order checks when both exist."""
    out = []
    for name in master.parties():
        spec = master.types[name]
        if "tax_id" in spec.roles and len(spec.native_key) > 2:
            if spec.native_key[-1].endswith("LOJA"):
                out.append(branch_roots(master, name))
    if SUPPLIER in master.types and ORDER in master.types and _has_order_columns(master):
        out += [blocked_on_open_orders(master), orders_without_supplier(master)]
    return out


def _has_order_columns(master: Master) -> bool:
    columns = {str(r[0]) for r in master.con.execute(f'DESCRIBE "raw_{ORDER}"').fetchall()}
    return set(ORDER_SUPPLIER) <= columns and len(master.types[SUPPLIER].native_key) == 3
