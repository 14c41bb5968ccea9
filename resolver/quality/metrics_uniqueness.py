"""Uniqueness by key values (the fuzzy clusters are in `duplicates`): one tax id under
several codes, and one name under several tax ids. Both compare normalised values, as the
resolver does: '12.345.678/0001-95' and '12345678000195' are one tax id.
"""

from __future__ import annotations

from resolver.profiles import EntityTypeSpec
from resolver.quality.build import MetricSpec, count, from_rows, query_rows
from resolver.quality.source import Master, label_sql
from resolver.quality.types import MetricResult

#: Other records named in an offender's detail.
SHOWN = 3


def code_sql(spec: EntityTypeSpec, alias: str = "x") -> str:
    """SQL of a record's code: its native key without the branch (Protheus A2_LOJA), so that
    the branches of one company share a code; the whole key when there is no branch field."""
    key = spec.native_key
    fields = key[:-1] if len(key) > 2 and key[-1].endswith("LOJA") else key
    parts = ", ".join(f"nullif({alias}.\"raw_{f}\", '')" for f in fields)
    return f"concat_ws(':', {parts})"


def _others(value: str) -> str:
    """SQL listing the other records of an offender's group (a few, then how many more)."""
    listed = (
        f"list_filter(list(x.unique_id) OVER (PARTITION BY {value}), lambda i: i <> x.unique_id)"
    )
    return (
        f"array_to_string(list_sort({listed})[1:{SHOWN}], ', ') || "
        f"CASE WHEN len({listed}) > {SHOWN} THEN ' and ' || (len({listed}) - {SHOWN}) || "
        "' more' ELSE '' END"
    )


def same_tax_id(master: Master, name: str) -> MetricResult:
    """Records whose tax id another record under another code holds too."""
    spec = master.types[name]
    column = spec.roles["tax_id"][0]
    sql = f"""
        WITH t AS (
            SELECT x.unique_id, x.tax_id, {code_sql(spec)} AS code FROM "rec_{name}" x
            WHERE x.tax_id IS NOT NULL),
        shared AS (SELECT tax_id FROM t GROUP BY tax_id HAVING count(DISTINCT code) > 1),
        x AS (SELECT t.* FROM t JOIN shared USING (tax_id))
        SELECT x.unique_id, {label_sql(spec)},
               '{column} ' || x.tax_id || ' also on ' || {_others("x.tax_id")}
        FROM x JOIN "raw_{name}" r ON r.canonical_id = x.unique_id
    """
    rows = query_rows(master.con, sql)
    total = _with(master, name, "tax_id")
    metric = MetricSpec(
        f"{name}.uniqueness.same_tax_id", name, "tax_id", "uniqueness",
        f"{name} tax ids under one code",
        f"Share of {name} records with a tax id that no record under another code holds "
        "(branches of one code share a CNPJ root, not a tax id); a shared one is usually "
        "the same party keyed twice.",
        "high",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def same_name(master: Master, name: str) -> MetricResult:
    """Records whose name other records with another tax id (CNPJ root) carry too."""
    spec = master.types[name]
    key = "coalesce(x.tax_root, x.tax_id)" if "tax_root" in _columns(master, name) else "x.tax_id"
    sql = f"""
        WITH t AS (
            SELECT x.unique_id, x.name, {key} AS tax FROM "rec_{name}" x
            WHERE x.name IS NOT NULL AND x.tax_id IS NOT NULL),
        shared AS (SELECT name FROM t GROUP BY name HAVING count(DISTINCT tax) > 1),
        x AS (SELECT t.* FROM t JOIN shared USING (name))
        SELECT x.unique_id, {label_sql(spec)},
               'name also used with other tax ids by ' || {_others("x.name")}
        FROM x JOIN "raw_{name}" r ON r.canonical_id = x.unique_id
    """
    rows = query_rows(master.con, sql)
    total = _with(master, name, "name")
    metric = MetricSpec(
        f"{name}.uniqueness.same_name", name, "name", "uniqueness",
        f"{name} names with one tax id",
        f"Share of {name} records whose normalised name no record with another tax id "
        "(another CNPJ root) shares: either a duplicate keyed with a wrong tax id, or "
        "look-alike parties an agent can only tell apart by tax id or city.",
        "low",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def uniqueness(master: Master) -> list[MetricResult]:
    """Both key-value uniqueness metrics for every party entity type that has the roles."""
    out = []
    for name in master.parties():
        roles = master.types[name].roles
        if "tax_id" in roles:
            out.append(same_tax_id(master, name))
            if "name" in roles:
                out.append(same_name(master, name))
    return out


def _with(master: Master, name: str, column: str) -> int:
    return count(master.con, f'SELECT count(*) FROM "rec_{name}" WHERE "{column}" IS NOT NULL')


def _columns(master: Master, name: str) -> set[str]:
    return {str(r[0]) for r in master.con.execute(f'DESCRIBE "rec_{name}"').fetchall()}
