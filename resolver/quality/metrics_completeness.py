"""Completeness: the share of records with each role filled, per entity type.

A value counts as missing when it is blank or only a placeholder clerks type to get past a
mandatory field: punctuation alone (`.`, `-`, `/`), `N/A`, `NULL`, `S/N`, `XXX`, `NAO INFORMADO`,
or zeros alone (`0000000`).
"""

from __future__ import annotations

from resolver.quality.build import MetricSpec, from_rows, graded, query_rows
from resolver.quality.source import Master, label_sql, role_column_sql, role_sql
from resolver.quality.types import MetricResult

PLACEHOLDERS = (
    "NA", "NAN", "NONE", "NULL", "NIL", "XXX", "XX", "X", "SN", "SEMNOME", "NAOINFORMADO",
    "NAOTEM", "NENHUM", "TBD", "UNKNOWN", "DESCONHECIDO",
)  # fmt: skip
#: Roles whose absence stops the resolver identifying a record: graded one step worse.
KEY_ROLES = ("name", "tax_id")
#: Roles through which a party can be reached.
CHANNELS = ("email", "phone")


def blank_sql(value: str) -> str:
    """SQL that is true when `value` is blank or a placeholder (see the module docstring)."""
    compact = f"upper(regexp_replace(coalesce({value}, ''), '[\\s./\\-_*#?]', '', 'g'))"
    listed = ", ".join(f"'{p}'" for p in PLACEHOLDERS)
    return f"({compact} = '' OR {compact} IN ({listed}) OR regexp_full_match({compact}, '0+'))"


def completeness(master: Master) -> list[MetricResult]:
    """One metric per role of every entity type."""
    out = []
    for name, spec in master.types.items():
        total = master.records(name)
        for role in spec.roles:
            value = role_sql(spec, role)
            column = role_column_sql(spec, role)
            sql = f"""
                SELECT canonical_id, any_value(label), any_value(detail) FROM (
                    SELECT r.canonical_id, {label_sql(spec)} AS label,
                           CASE WHEN trim({value}) = '' THEN {column} || ' is blank'
                                ELSE {column} || ' holds the placeholder ''' || trim({value})
                                     || '''' END AS detail,
                           {blank_sql(value)} AS missing
                    FROM "raw_{name}" r)
                GROUP BY canonical_id HAVING bool_and(missing)
            """
            rows = query_rows(master.con, sql)
            cols = ", ".join(spec.roles[role])
            metric = MetricSpec(
                metric_id=f"{name}.completeness.{role}",
                entity_type=name,
                field=role,
                category="completeness",
                title=f"{name} {role.replace('_', ' ')} filled",
                description=(
                    f"Share of {name} records with a {role.replace('_', ' ')} ({cols}); blanks "
                    "and placeholders such as '.', '-', 'N/A' or '0000000' count as missing."
                ),
                severity="low",
            )
            share = len(rows) / total if total else 0.0
            out.append(
                from_rows(metric, rows, total, severity=graded(share, raise_one=role in KEY_ROLES))
            )
    return out + reachability(master)


def reachability(master: Master) -> list[MetricResult]:
    """Records with no way to reach them: every e-mail and phone column missing."""
    out = []
    for name, spec in master.types.items():
        channels = [c for role in CHANNELS for c in spec.roles.get(role, [])]
        if not channels:
            continue
        missing = " AND ".join(blank_sql(f'r."{c}"') for c in channels)
        listed = ", ".join(channels)
        rows = query_rows(
            master.con,
            f"""SELECT canonical_id, any_value(label), 'no e-mail and no phone ({listed})'
                FROM (SELECT r.canonical_id, {label_sql(spec)} AS label, {missing} AS missing
                      FROM "raw_{name}" r)
                GROUP BY canonical_id HAVING bool_and(missing)""",
        )
        total = master.records(name)
        metric = MetricSpec(
            f"{name}.completeness.contact_channel", name, None, "completeness",
            f"{name} records with an e-mail or a phone",
            f"Share of {name} records with at least one e-mail address or phone number "
            f"({', '.join(channels)}); the others cannot be reached to confirm anything.",
            "medium",
        )  # fmt: skip
        out.append(from_rows(metric, rows, total))
    return out
