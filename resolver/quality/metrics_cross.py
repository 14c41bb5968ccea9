"""Cross-entity risk: records of one entity type holding a value that records of another hold
too — e.g. an employee and a supplier sharing a tax id or an e-mail, the conflict-of-interest
control auditors run. The profile declares each such control (`quality.cross_entity`: the
offending entity type, the one it is checked against, and the fields, each a role both hold);
one metric per field, values compared normalised, as the resolver compares them.

Offenders are records of the first type; each detail names the record(s) of the other they
share the value with.
"""

from __future__ import annotations

from resolver.profiles import CrossEntitySpec
from resolver.quality.build import MetricSpec, from_rows, query_rows
from resolver.quality.source import Master, label_sql
from resolver.quality.types import CROSS, MetricResult

WORDS = {"tax_id": "tax id", "bank_account": "bank account", "email": "e-mail"}


def _words(entity_type: str) -> str:
    return entity_type.replace("_", " ")


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def shared_field(master: Master, control: CrossEntitySpec, role: str) -> MetricResult:
    """Records of `control.offenders` whose `role` value a record of `control.against` holds."""
    one, other = control.offenders, control.against
    spec, against = master.types[one], master.types[other]
    word, ones, another = WORDS.get(role, role), f"{_words(one)}s", _words(other)
    column = spec.roles[role][0]
    sql = f"""
        WITH pairs AS (
            SELECT e.unique_id AS emp, s.unique_id AS sup, e."{role}" AS value,
                   {label_sql(against, "rs")} AS sup_label
            FROM "rec_{one}" e JOIN "rec_{other}" s ON e."{role}" = s."{role}"
            JOIN "raw_{other}" rs ON rs.canonical_id = s.unique_id
            WHERE e."{role}" IS NOT NULL)
        SELECT p.emp, any_value({label_sql(spec)}),
               '{column} ' || any_value(p.value) || ' is also on {another} '
               || string_agg(p.sup || ' (' || p.sup_label || ')', ', ' ORDER BY p.sup)
        FROM pairs p JOIN "raw_{one}" r ON r.canonical_id = p.emp
        GROUP BY p.emp
    """
    rows = query_rows(master.con, sql)
    total = master.records(one)
    metric = MetricSpec(
        f"{CROSS}.{one}_{other}.shared_{role}", CROSS, role, "cross_entity",
        f"{ones} sharing no {word} with {_article(another)}",
        f"Share of {ones} whose {word} no {another} record holds. "
        f"{_article(_words(one)).capitalize()} "
        f"who is also {_article(another)}, or shares the {another}'s {word}, is a conflict of "
        "interest to review (the classic segregation-of-duties control).",
        "critical",
    )  # fmt: skip
    return from_rows(metric, rows, total)


def cross_entity(master: Master) -> list[MetricResult]:
    """One metric per field of each control the profile declares."""
    return [
        shared_field(master, control, role)
        for control in master.profile.quality.cross_entity
        for role in control.fields
    ]
