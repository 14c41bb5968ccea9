"""Consistency between records and tables: branches registered under another CNPJ root than
their siblings', and, for each reference the profile declares (`quality.references`), records
naming one the master does not hold and open records naming a blocked one.

Protheus keeps a company's branches (lojas) under one code (A2_COD) with one CNPJ root (its
first 8 digits). The Protheus profile declares that purchase order items (SC7) name their
supplier by C7_FORNECE + C7_LOJA, an order being open while any of its live items is not closed
(C7_ENCER <> 'E'); a supplier is blocked when A2_MSBLQL = '1'. The supplier table is shared
between branches (blank A2_FILIAL) or kept per branch: a reference's `branch` columns match both.
"""

from __future__ import annotations

from resolver.profiles import ReferenceSpec
from resolver.quality.build import MetricSpec, count, from_rows, query_rows
from resolver.quality.metrics_uniqueness import code_sql
from resolver.quality.source import Master, label_sql
from resolver.quality.types import MetricResult


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


def _words(entity_type: str) -> str:
    return entity_type.replace("_", " ")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _referring(ref: ReferenceSpec) -> str:
    """SQL of one row per referring record: the columns naming its referent (`k0`, `k1`…, the
    `by` columns then the `branch` ones) and whether it is open (any row not closed)."""
    picks = ", ".join(f'any_value("{c}") AS k{i}' for i, c in enumerate([*ref.by, *ref.branch]))
    opened = "true"
    for column, value in ref.closed.items():
        opened = f'bool_or(trim("{column}") <> {_quoted(value)})'
    return f"""
        SELECT canonical_id, {picks}, {opened} AS open
        FROM "raw_{ref.records}" GROUP BY canonical_id
    """


def _join(ref: ReferenceSpec) -> str:
    """SQL matching a referring row `o` with the record `s` it names."""
    exact = [f's."{theirs}" = o.k{i}' for i, theirs in enumerate(ref.by.values())]
    shared = [
        f"""(s."{theirs}" = '' OR s."{theirs}" = o.k{len(ref.by) + i})"""
        for i, theirs in enumerate(ref.branch.values())
    ]
    return " AND ".join(exact + shared)


def blocked_referents(master: Master, ref: ReferenceSpec, flag: str) -> MetricResult:
    """Open records (a purchase order) whose referent (its supplier) is blocked."""
    spec, word = master.types[ref.refer_to], _words(ref.refer_to)
    froms, label = f"{_words(ref.records)}s", _words(ref.records).split()[-1]
    sql = f"""
        WITH o AS ({_referring(ref)})
        SELECT o.canonical_id, '{label} ' || o.canonical_id,
               'open, for blocked {word} ' || s.canonical_id || ' ('
               || {label_sql(spec, "s")} || ', {flag} = {ref.blocked_value})'
        FROM o JOIN "raw_{ref.refer_to}" s ON {_join(ref)}
        WHERE o.open AND trim(s."{flag}") = {_quoted(ref.blocked_value)}
    """
    rows = query_rows(master.con, sql)
    opened = count(master.con, f"SELECT count(*) FROM ({_referring(ref)}) WHERE open")
    ((column, value),) = ref.closed.items()
    metric = MetricSpec(
        f"{ref.records}.consistency.blocked_{ref.refer_to}", ref.records, None, "consistency",
        f"open {froms} for active {word}s",
        f"Share of open {froms} (an item with {column} not '{value}') whose {word} is not "
        f"blocked ({flag} = '{ref.blocked_value}'): goods still expected from a {word} nobody "
        "may buy from.",
        "high",
    )  # fmt: skip
    return from_rows(metric, rows, opened)


def missing_referents(master: Master, ref: ReferenceSpec) -> MetricResult:
    """Records (purchase orders) naming a record (a supplier) that no live record is."""
    word, froms = _words(ref.refer_to), f"{_words(ref.records)}s"
    label = _words(ref.records).split()[-1]
    named = " || ' ' || ".join(f"'{c} ' || o.k{i}" for i, c in enumerate(ref.by))
    sql = f"""
        WITH o AS ({_referring(ref)})
        SELECT o.canonical_id, '{label} ' || o.canonical_id,
               'names {word} ' || {named} || ', which the {word} master does not hold'
        FROM o WHERE NOT EXISTS (SELECT 1 FROM "raw_{ref.refer_to}" s WHERE {_join(ref)})
    """
    rows = query_rows(master.con, sql)
    total = count(master.con, f"SELECT count(*) FROM ({_referring(ref)})")
    metric = MetricSpec(
        f"{ref.records}.consistency.missing_{ref.refer_to}", ref.records, None, "consistency",
        f"{froms} with an existing {word}",
        f"Share of {froms} whose {word} ({' + '.join(ref.by)}) is a live record of the {word} "
        f"master; the others point at a deleted or never-keyed {word}.",
        "high",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def consistency(master: Master) -> list[MetricResult]:
    """Branch roots for every entity type with branches; for each reference the profile
    declares, missing referents, and blocked ones of open records."""
    out = []
    for name in master.parties():
        spec = master.types[name]
        if "tax_id" in spec.roles and len(spec.native_key) > 2:
            if spec.native_key[-1].endswith("LOJA"):
                out.append(branch_roots(master, name))
    for ref in master.profile.quality.references:
        flag = master.types[ref.refer_to].blocked_flag
        if ref.closed and flag:
            out.append(blocked_referents(master, ref, flag))
        out.append(missing_referents(master, ref))
    return out
