"""Cross-entity risk: an employee and a supplier sharing a tax id, bank account, address,
phone or e-mail — the conflict-of-interest control auditors run. One metric per such field
that both entity types hold in the profile (the Protheus profile's employees have a tax id
and an e-mail); values are compared normalised, as the resolver compares them.

Offenders are the employees; each detail names the supplier(s) they share the value with.
"""

from __future__ import annotations

from resolver.quality.build import MetricSpec, from_rows, query_rows
from resolver.quality.source import Master, label_sql
from resolver.quality.types import CROSS, MetricResult

EMPLOYEE, SUPPLIER = "employee", "supplier"
FIELDS = ("tax_id", "bank_account", "address", "phone", "email")
WORDS = {"tax_id": "tax id", "bank_account": "bank account", "email": "e-mail"}


def shared_field(master: Master, role: str) -> MetricResult:
    """Employees whose `role` value a supplier holds too."""
    emp, sup = master.types[EMPLOYEE], master.types[SUPPLIER]
    word = WORDS.get(role, role)
    column = emp.roles[role][0]
    sql = f"""
        WITH pairs AS (
            SELECT e.unique_id AS emp, s.unique_id AS sup, e."{role}" AS value,
                   {label_sql(sup, "rs")} AS sup_label
            FROM "rec_{EMPLOYEE}" e JOIN "rec_{SUPPLIER}" s ON e."{role}" = s."{role}"
            JOIN "raw_{SUPPLIER}" rs ON rs.canonical_id = s.unique_id
            WHERE e."{role}" IS NOT NULL)
        SELECT p.emp, any_value({label_sql(emp)}),
               '{column} ' || any_value(p.value) || ' is also on supplier '
               || string_agg(p.sup || ' (' || p.sup_label || ')', ', ' ORDER BY p.sup)
        FROM pairs p JOIN "raw_{EMPLOYEE}" r ON r.canonical_id = p.emp
        GROUP BY p.emp
    """
    rows = query_rows(master.con, sql)
    total = master.records(EMPLOYEE)
    metric = MetricSpec(
        f"{CROSS}.{EMPLOYEE}_{SUPPLIER}.shared_{role}", CROSS, role, "cross_entity",
        f"employees sharing no {word} with a supplier",
        f"Share of employees whose {word} no supplier record holds. An employee who is also "
        f"a supplier, or shares the supplier's {word}, is a conflict of interest to review "
        "(the classic segregation-of-duties control).",
        "critical",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def cross_entity(master: Master) -> list[MetricResult]:
    """One metric per field employees and suppliers both hold."""
    if EMPLOYEE not in master.types or SUPPLIER not in master.types:
        return []
    emp, sup = master.types[EMPLOYEE], master.types[SUPPLIER]
    return [
        shared_field(master, role) for role in FIELDS if role in emp.roles and role in sup.roles
    ]
