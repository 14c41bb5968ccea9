"""A decision rule checked on the labels by the resolver itself, and the rule that halts a type.

`check_rules` runs every labelled query through a resolver holding a given calibration table
(the one in force, or the one a new version would apply) and counts, per entity type, how many
it decided `match` and how many of those the labels call wrong: the wrong-match rate stewards
get, with its 95 % Clopper–Pearson upper bound against the target. Nothing is re-implemented:
the margin gate, the tax-id check and corroboration all act as they do in production.

When neither the rule in force nor any threshold can be proven, a version halts the type: no
query of it is decided `match` until more labels prove a threshold (`halt_entry`).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping as MappingType

from calibration.dataset import Verdicts, derive_label
from calibration.labels import Label
from calibration.metrics import wrong_rate_upper
from calibration.record import RuleCheck, Verdict
from resolver import CalibrationTable, Decision, EntityCalibration, Mapping, Resolver

#: A halted type's P never reaches this, so its threshold of 1 is never met.
HALT_CEILING = 0.999
#: Match weights (bits) over which a halted type keeps splink's probability, capped.
_HALT_SPAN = range(-60, 61)


def halt_entry(margin: float) -> EntityCalibration:
    """An entry that never decides `match`: splink's probability capped below a threshold of 1.

    Below the cap it is splink's probability, so everything else the resolver reads of P (which
    halt a query gets) is what it was under the profile's default.
    """
    splink = Mapping(kind="identity")
    ys = [min(HALT_CEILING, splink.probability(float(x), 0.0)) for x in _HALT_SPAN]
    xs = [float(x) for x in _HALT_SPAN]
    return EntityCalibration(
        threshold=1.0, margin=margin, mapping=Mapping(kind="isotonic", x=xs, y=ys)
    )


def is_halt(entry: EntityCalibration | None) -> bool:
    """Whether an entry can never decide `match` (its P is capped below its threshold)."""
    if entry is None or entry.mapping.kind != "isotonic" or not entry.mapping.y:
        return False
    return max(entry.mapping.y) < entry.threshold


def with_table(resolver: Resolver, table: CalibrationTable) -> Resolver:
    """The same loaded model, deciding with another calibration table."""
    other = copy.copy(resolver)
    other.calibration = table
    return other


def verdict(auto: int, wrong: int, upper: float, target: float, halts: bool) -> Verdict:
    if halts:
        return "halts"
    if upper <= target:
        return "meets"
    if auto and wrong / auto > target:
        return "exceeds"
    return "unproven"


def check_rules(
    resolver: Resolver,
    queries: MappingType[str, Label],
    verdicts: Verdicts,
    targets: MappingType[str, float],
    rule_name: str,
) -> dict[str, RuleCheck]:
    """Run every labelled query through `resolver`; per entity type of the top candidate, how
    many were decided `match` and how many of those are wrong.

    A query whose top candidate's label is unknown (neither given nor derivable) is left out, as
    in the training set; `targets` names the entity types to report.
    """
    pairs, none_right, some_right = verdicts
    seen: Counter[str] = Counter()
    auto: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for key, label in queries.items():
        resolution = resolver.resolve(label.query)
        if not resolution.candidates:
            continue
        top = resolution.candidates[0]
        correct, _ = derive_label(key, top.canonical_id, pairs, none_right, some_right)
        if correct is None:
            continue
        seen[top.entity_type] += 1
        if resolution.decision is Decision.MATCH:
            auto[top.entity_type] += 1
            wrong[top.entity_type] += not correct
    table = resolver.calibration
    out = {}
    for name, target in targets.items():
        entry = table.entity_types.get(name)
        spec = resolver.entity_types[name].spec.decision
        margin = spec.margin if entry is None or entry.margin is None else entry.margin
        n, bad = auto[name], wrong[name]
        upper = wrong_rate_upper(bad, n)
        out[name] = RuleCheck(
            rule="profile default" if entry is None else rule_name,
            threshold=spec.threshold if entry is None else entry.threshold,
            margin=margin,
            queries=seen[name],
            auto=n,
            wrong=bad,
            rate=bad / n if n else 0.0,
            upper=upper,
            target=target,
            verdict=verdict(n, bad, upper, target, is_halt(entry)),
        )
    return out
