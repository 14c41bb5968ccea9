"""Training data of a calibration: each labelled query re-resolved, its top candidate labelled.

The resolver turns the top candidate's match weight and margin into P(correct) and decides
`match` only when that P reaches the threshold *and* the margin gate passes *and* no other rule
halts it (a tax id contradicting the candidate, too little corroborating evidence, …). Those
halt whatever P says, so P decides only on the *decidable* rows; that is the population
calibration fits and measures (the others are kept, flagged, for counts and for the
auto-resolution rate's denominator). The other rules are observed, not re-implemented: a probe
calibration with P = 1 and no margin gate leaves them as the resolver's only reasons to halt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from calibration.errors import LabelError
from calibration.labels import Label
from resolver import (
    CalibrationTable,
    Decision,
    EntityCalibration,
    Mapping,
    Resolution,
    Resolver,
    ResolverError,
    current_model_dir,
    load_profile,
)

#: The margin the resolver uses when a query's top candidate stands alone.
LONE_MARGIN = 99.0
#: A probe calibration: P = 1 for every candidate and no margin gate, so that the resolver halts
#: only for its other rules (tax-id conflict, corroboration) — which is how we observe them.
_PROBE = EntityCalibration(
    threshold=1e-12, margin=0.0, mapping=Mapping(kind="logistic", intercept=500.0)
)


@dataclass(frozen=True)
class Observation:
    """One labelled query's top candidate, with the features the resolver will compute."""

    entity_type: str
    query_id: str
    canonical_id: str
    match_weight: float
    margin: float
    raw_probability: float
    correct: bool
    decidable: bool
    derived: bool = False
    #: Which halting rule kept the probability from deciding (None: decidable).
    held_by: str | None = None
    #: Held by a rule other than the margin gate (whatever the gate, P never decides it).
    held: bool = False

    def decidable_at(self, gate: float) -> bool:
        """Whether P decides this query under a margin gate of `gate` bits."""
        return not self.held and self.margin >= gate


@dataclass
class TrainingSet:
    """Observations of every labelled query whose top candidate's label is known."""

    model_version: str
    margins: dict[str, float]
    default_thresholds: dict[str, float]
    observations: list[Observation] = field(default_factory=list)
    labels: int = 0
    queries: int = 0
    unknown: int = 0
    no_candidates: int = 0

    def of_type(self, entity_type: str) -> list[Observation]:
        return [o for o in self.observations if o.entity_type == entity_type]

    def entity_types(self) -> list[str]:
        return sorted({o.entity_type for o in self.observations})


def probe_resolver(workdir: Path) -> Resolver:
    """The workdir's active model with the probe calibration (see `_PROBE`)."""
    model_dir = current_model_dir(workdir)
    profile = load_profile(model_dir / "profile.yaml")
    probe = CalibrationTable(
        version="probe", entity_types=dict.fromkeys(profile.entity_types, _PROBE)
    )
    return Resolver(model_dir, probe)


def check_labels(labels: list[Label], resolver: Resolver, source: str) -> None:
    """Every entity type and canonical id a label names must exist in the active model."""
    known = {name: set(et.index.ids) for name, et in resolver.entity_types.items()}
    problems: list[str] = []
    for n, label in enumerate(labels, start=1):
        if label.entity_type is not None and label.entity_type not in known:
            names = ", ".join(sorted(known))
            problems.append(f"row {n}: unknown entity type {label.entity_type!r} (known: {names})")
        elif label.canonical_id is not None and label.entity_type is not None:
            if label.canonical_id not in known[label.entity_type]:
                problems.append(
                    f"row {n}: {label.canonical_id!r} is not a {label.entity_type} of model"
                    f" {resolver.model_version}"
                )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise LabelError(f"{source}: {problems[0]}{more}")


#: (query, id) → correct?; queries with no right candidate; queries with a right one.
Verdicts = tuple[dict[tuple[str, str], bool], set[str], set[str]]


def labelled_queries(labels: list[Label]) -> dict[str, Label]:
    """One label per distinct query (the first), by query key: what to re-resolve."""
    queries: dict[str, Label] = {}
    for label in labels:
        queries.setdefault(label.query_key, label)
    return queries


def verdicts_of(labels: list[Label]) -> Verdicts:
    """(query, id) → correct? (latest wins); queries with no right candidate; with a right one."""
    latest: dict[tuple[str, str | None], Label] = {}
    for label in sorted(labels, key=lambda x: x.labelled_at):
        latest[(label.query_key, label.canonical_id)] = label
    pairs: dict[tuple[str, str], bool] = {}
    none_right: set[str] = set()
    some_right: set[str] = set()
    for (key, cid), label in latest.items():
        if cid is None:
            none_right.add(key)
            continue
        pairs[(key, cid)] = label.label == "correct"
        if label.label == "correct":
            some_right.add(key)
    return pairs, none_right, some_right


#: Halting rules the probe can meet, by a phrase of the resolver's reason.
_RULES = (("tax id", "tax-id conflict"), ("agrees", "corroboration"))


def halting_rule(reason: str) -> str:
    """Which rule other than P and the margin gate halted a probe resolution, from its reason."""
    for phrase, rule in _RULES:
        if phrase in reason:
            return rule
    return "another halting rule"


def derive_label(
    key: str,
    top_id: str,
    pairs: dict[tuple[str, str], bool],
    none_right: set[str],
    some_right: set[str],
) -> tuple[bool | None, bool]:
    """The top candidate's label and whether it was derived rather than given.

    Given for (query, id) → that label. Otherwise: the query has no right candidate → wrong;
    another id is right → wrong (one query means one record); else unknown (None).
    """
    if (key, top_id) in pairs:
        return pairs[(key, top_id)], False
    if key in none_right or key in some_right:
        return False, True
    return None, False


def top_features(resolution: Resolution) -> tuple[float, float, float]:
    """The top candidate's match weight, margin to the runner-up (capped) and raw probability."""
    cands = resolution.candidates
    gap = cands[0].match_weight - cands[1].match_weight if len(cands) > 1 else LONE_MARGIN
    return cands[0].match_weight, min(gap, LONE_MARGIN), cands[0].probability


def build_training_set(
    workdir: Path,
    labels: list[Label],
    source: str,
    margins: dict[str, float] | None = None,
    resolver: Resolver | None = None,
) -> TrainingSet:
    """Re-resolve every labelled query with the active model and label its top candidate.

    `resolver`: the workdir's probe resolver, when the caller already loaded it. A workdir
    without a usable model raises the resolver's own ModelError.
    """
    resolver = resolver or probe_resolver(workdir)
    check_labels(labels, resolver, source)
    gates = {
        name: (margins or {}).get(name, et.spec.decision.margin)
        for name, et in resolver.entity_types.items()
    }
    defaults = {n: et.spec.decision.threshold for n, et in resolver.entity_types.items()}
    out = TrainingSet(resolver.model_version, gates, defaults, labels=len(labels))
    pairs, none_right, some_right = verdicts_of(labels)
    for key, label in labelled_queries(labels).items():
        out.queries += 1
        try:
            resolution = resolver.resolve(label.query)
        except ResolverError as e:
            raise LabelError(f"{source}: query {label.query.id}: {e}") from e
        if not resolution.candidates:
            out.no_candidates += 1
            continue
        top = resolution.candidates[0]
        correct, derived = derive_label(key, top.canonical_id, pairs, none_right, some_right)
        if correct is None:
            out.unknown += 1
            continue
        weight, margin, raw = top_features(resolution)
        held = resolution.decision is not Decision.MATCH  # by a rule other than P and margin
        held_by = (
            halting_rule(resolution.reason)
            if held
            else ("margin gate" if margin < gates[top.entity_type] else None)
        )
        out.observations.append(
            Observation(
                entity_type=top.entity_type,
                query_id=str(label.query.id),
                canonical_id=top.canonical_id,
                match_weight=weight,
                margin=margin,
                raw_probability=raw,
                correct=correct,
                decidable=held_by is None,
                derived=derived,
                held_by=held_by,
                held=held,
            )
        )
    return out
