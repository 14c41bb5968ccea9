"""What a calibration version records: the table the resolver reads, and everything behind it
(inputs' hash, label counts, per-type metrics, curves and the score histogram for drift)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from resolver import CalibrationTable

DEFAULT_VERSION = "default"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bin(_Record):
    """A reliability-curve bin: predicted probability range, count, mean prediction, outcome."""

    low: float
    high: float
    n: int
    mean_predicted: float
    observed: float


class CurvePoint(_Record):
    """Auto-resolving at P ≥ threshold: how many, how many wrong, the bound, precision, rate."""

    threshold: float
    auto: int
    wrong: int
    upper: float
    precision: float
    coverage: float


class Histogram(_Record):
    """Counts of top-candidate match weights between edges (the ends are open)."""

    edges: list[float]
    counts: list[int]


Verdict = Literal["meets", "unproven", "exceeds", "halts"]


class RuleCheck(_Record):
    """A decision rule run by the resolver itself over one entity type's labelled queries.

    `verdict`: `meets` when the 95 % upper bound on the wrong-match rate among auto-resolved
    queries is within the target; `exceeds` when even the observed rate is above it; `unproven`
    when the observed rate is within it but the bound is not (too few auto-resolved labels);
    `halts` when the rule auto-resolves nothing by construction (see `calibration.rules`).
    """

    rule: str = Field(description="which rule: 'profile default', a version id, or this version")
    threshold: float
    margin: float
    queries: int = Field(description="labelled queries of this type with a known top label")
    auto: int = Field(description="of them, decided `match`")
    wrong: int = Field(description="of those, wrong")
    rate: float = Field(description="wrong / auto (0 when nothing is auto-resolved)")
    upper: float = Field(description="one-sided 95 % Clopper–Pearson upper bound on the rate")
    target: float
    verdict: Verdict

    @property
    def coverage(self) -> float:
        """Auto-resolution rate: the share of the type's labelled queries decided `match`."""
        return self.auto / self.queries if self.queries else 0.0

    @property
    def meets(self) -> bool:
        return self.verdict in ("meets", "halts")


class TypeReport(_Record):
    """One entity type's calibration: outcome, the numbers behind it, and why."""

    entity_type: str
    status: Literal["calibrated", "stricter", "halted", "default_kept"]
    reason: str
    method: str | None = None
    folds: int = 0
    rows: int = Field(description="labelled queries whose top candidate is of this type")
    decidable: int = Field(description="rows the margin gate and the tax-id check let P decide")
    correct: int
    wrong: int
    derived: int = Field(description="labels derived from the query's other labels")
    target_error: float
    margin: float
    threshold: float | None = Field(description="the proven threshold, if any")
    auto: int = 0
    wrong_at_threshold: int = 0
    upper_bound: float | None = None
    coverage: float = 0.0
    coverage_low: float | None = Field(
        default=None, description="95 % interval of the held-out auto-resolution rate: low end"
    )
    coverage_high: float | None = None
    labels_needed: int | None = None
    default_threshold: float
    default_auto: int = Field(description="auto-resolved by the default rule (raw P ≥ default)")
    default_wrong: int
    ece_before: float
    ece_after: float
    brier_before: float
    brier_after: float
    reliability_before: list[Bin] = Field(default_factory=list)
    reliability_after: list[Bin] = Field(default_factory=list)
    curve: list[CurvePoint] = Field(default_factory=list)
    histogram: Histogram | None = None
    outside: dict[str, int] = Field(
        default_factory=dict,
        description="labelled queries a halting rule held before the probability could decide"
        " (margin gate, tax-id conflict, corroboration): outside what the threshold proves",
    )
    in_force: RuleCheck | None = Field(
        default=None, description="the rule active when fitted, run on the labels"
    )
    applied: RuleCheck | None = Field(
        default=None, description="the rule this version applies, run on the same labels"
    )


class LabelCounts(_Record):
    """How many labels went in, and what became of their queries."""

    labels: int
    by_label: dict[str, int]
    by_source: dict[str, int]
    queries: int
    used: int
    unknown: int = Field(description="top candidate neither labelled nor derivable: skipped")
    no_candidates: int


class CalibrationVersion(_Record):
    """A versioned calibration: `<workdir>/calibration/versions/<version>.json`."""

    version: str
    created_at: datetime
    model_version: str
    parent: str = Field(description="the calibration that was active when this one was fitted")
    labels_file: str
    labels_sha256: str
    counts: LabelCounts
    types: dict[str, TypeReport]
    table: CalibrationTable
