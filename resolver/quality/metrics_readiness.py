"""Resolver readiness: the share of records that a query giving only their name and city,
as written in the master, resolves to themselves (decision `match`) at the active
calibration's threshold — the auto-resolution rate an agent can expect, and where the
resolver halts most. Records are sampled (up to `SAMPLE` per entity type, a fixed sample:
the lowest md5 of the canonical id) so that a run over a large master stays quick.
"""

from __future__ import annotations

from collections.abc import Callable

from resolver.errors import QueryError
from resolver.quality.build import MetricSpec, from_rows, graded
from resolver.quality.source import Master, label_sql, role_sql
from resolver.quality.types import MetricResult
from resolver.service import load_resolver
from resolver.types import Decision, ResolveQuery

SAMPLE = 1_000
Tick = Callable[[str], None]


def readiness(master: Master, say: Tick, sample: int = SAMPLE) -> list[MetricResult]:
    """One metric per party entity type with a name and a city role."""
    resolver = load_resolver(master.workdir)
    out = []
    for name in master.parties():
        spec = master.types[name]
        if "name" not in spec.roles or "city" not in spec.roles:
            continue
        say(f"resolving a sample of {name}")
        total = master.records(name)
        drawn = master.con.execute(
            f"""SELECT r.canonical_id, {label_sql(spec)}, {role_sql(spec, "name")},
                       {role_sql(spec, "city")}
                FROM "raw_{name}" r ORDER BY md5(r.canonical_id) LIMIT ?""",
            [sample],
        ).fetchall()
        rows = []
        for cid, label, written_name, city in drawn:
            try:
                query = ResolveQuery(entity_type=name, record={"name": written_name, "city": city})
                result = resolver.resolve(query)
            except (ValueError, QueryError):
                rows.append((str(cid), str(label), "name and city are blank: nothing to ask"))
                continue
            if result.decision == Decision.MATCH and result.canonical_id == cid:
                continue
            if result.decision == Decision.MATCH:
                detail = f"matched another record, {result.canonical_id}"
            elif result.decision == Decision.AMBIGUOUS:
                others = ", ".join(c.canonical_id for c in result.candidates[:3])
                detail = f"ambiguous between {others}: {result.reason}"
            else:
                detail = f"no match: {result.reason}"
            rows.append((str(cid), str(label), f"name {written_name!r} + city {city!r}: {detail}"))
        share = len(rows) / len(drawn) if drawn else 0.0
        metric = MetricSpec(
            f"{name}.readiness.name_city", name, None, "readiness",
            f"{name} records an agent can resolve by name and city",
            f"Share of {name} records that a query with only their written name and city "
            f"resolves uniquely to themselves (decision match) at the active threshold; "
            f"measured on {len(drawn):,} of {total:,} records (a fixed sample of at most "
            f"{sample:,}). The rest halt as ambiguous or no match, or match another record.",
            "medium",
        )  # fmt: skip
        out.append(from_rows(metric, rows, len(drawn), severity=graded(share)))
    return out
