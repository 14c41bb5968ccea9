"""Canon's resolver: ERP extracts → splink models → a serving index that resolves agent queries."""

from __future__ import annotations

from resolver.calibrated import CalibrationTable, EntityCalibration, Mapping, load_active
from resolver.dedupe import DedupeSummary, dedupe_workdir
from resolver.engines import ENGINES, EngineOptions, check_engine
from resolver.errors import (
    ExtractError,
    ModelError,
    ProfileError,
    QualityError,
    QueryError,
    ResolverError,
)
from resolver.evaluation import Evaluation, Expected, evaluate, parse_expected, parse_queries
from resolver.normalise import normalise_record
from resolver.profiles import DEFAULT_PROFILE, Profile, load_profile
from resolver.quality import (
    ClusterMember,
    ClusterPair,
    DuplicateCluster,
    EntityQuality,
    MetricResult,
    Offender,
    QualityReport,
    RunSummary,
    Severity,
    WaterfallStep,
    compute_quality,
    list_runs,
    load_run,
    save_run,
)
from resolver.refresh import RefreshSummary, TypeDelta, refresh_workdir
from resolver.service import Resolver, load_resolver
from resolver.types import Candidate, Decision, FieldExplanation, Resolution, ResolveQuery
from resolver.workdir import TrainingSummary, current_model_dir, train_workdir

__all__ = [
    "DEFAULT_PROFILE",
    "ENGINES",
    "CalibrationTable",
    "Candidate",
    "ClusterMember",
    "ClusterPair",
    "Decision",
    "DedupeSummary",
    "DuplicateCluster",
    "EngineOptions",
    "EntityCalibration",
    "EntityQuality",
    "Evaluation",
    "Expected",
    "ExtractError",
    "FieldExplanation",
    "Mapping",
    "MetricResult",
    "ModelError",
    "Offender",
    "Profile",
    "ProfileError",
    "QualityError",
    "QualityReport",
    "QueryError",
    "RefreshSummary",
    "Resolution",
    "ResolveQuery",
    "Resolver",
    "ResolverError",
    "RunSummary",
    "Severity",
    "TrainingSummary",
    "TypeDelta",
    "WaterfallStep",
    "check_engine",
    "compute_quality",
    "current_model_dir",
    "dedupe_workdir",
    "evaluate",
    "list_runs",
    "load_active",
    "load_profile",
    "load_resolver",
    "load_run",
    "normalise_record",
    "parse_expected",
    "parse_queries",
    "refresh_workdir",
    "save_run",
    "train_workdir",
]
