"""Canon's resolver: ERP extracts → splink models → a serving index that resolves agent queries.

The names below are imported on first use (PEP 562): serving a trained model, or reading a
query's types, does not import splink, pandas and the training code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Each public name and the module that defines it.
_WHERE = {
    "CalibrationTable": "resolver.calibrated",
    "Candidate": "resolver.types",
    "ClusterMember": "resolver.quality",
    "ClusterPair": "resolver.quality",
    "DEFAULT_PROFILE": "resolver.profiles",
    "Decision": "resolver.types",
    "DedupeSummary": "resolver.dedupe",
    "DuplicateCluster": "resolver.quality",
    "ENGINES": "resolver.engines",
    "EngineOptions": "resolver.engines",
    "EntityCalibration": "resolver.calibrated",
    "EntityQuality": "resolver.quality",
    "Evaluation": "resolver.evaluation",
    "Expected": "resolver.evaluation",
    "ExtractError": "resolver.errors",
    "FieldExplanation": "resolver.types",
    "Mapping": "resolver.calibrated",
    "MetricResult": "resolver.quality",
    "ModelError": "resolver.errors",
    "Offender": "resolver.quality",
    "Profile": "resolver.profiles",
    "ProfileError": "resolver.errors",
    "QualityError": "resolver.errors",
    "QualityReport": "resolver.quality",
    "QueryError": "resolver.errors",
    "RefreshSummary": "resolver.refresh",
    "Resolution": "resolver.types",
    "ResolveQuery": "resolver.types",
    "Resolver": "resolver.service",
    "ResolverError": "resolver.errors",
    "RunSummary": "resolver.quality",
    "Severity": "resolver.quality",
    "TrainingSummary": "resolver.workdir",
    "TypeDelta": "resolver.refresh",
    "WaterfallStep": "resolver.quality",
    "check_engine": "resolver.engines",
    "compute_quality": "resolver.quality",
    "current_model_dir": "resolver.workdir",
    "dedupe_workdir": "resolver.dedupe",
    "evaluate": "resolver.evaluation",
    "list_runs": "resolver.quality",
    "load_active": "resolver.calibrated",
    "load_profile": "resolver.profiles",
    "load_resolver": "resolver.service",
    "load_run": "resolver.quality",
    "normalise_record": "resolver.normalise",
    "parse_expected": "resolver.evaluation",
    "parse_queries": "resolver.evaluation",
    "refresh_workdir": "resolver.refresh",
    "save_run": "resolver.quality",
    "train_workdir": "resolver.workdir",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'resolver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
