"""Canon's resolver: ERP extracts → splink models → a serving index that resolves agent queries."""

from resolver.calibrated import CalibrationTable, EntityCalibration, Mapping, load_active
from resolver.errors import ExtractError, ModelError, ProfileError, QueryError, ResolverError
from resolver.evaluation import Evaluation, Expected, evaluate, parse_expected, parse_queries
from resolver.profiles import DEFAULT_PROFILE, Profile, load_profile
from resolver.service import Resolver, load_resolver
from resolver.types import Candidate, Decision, FieldExplanation, Resolution, ResolveQuery
from resolver.workdir import TrainingSummary, current_model_dir, train_workdir

__all__ = [
    "DEFAULT_PROFILE",
    "CalibrationTable",
    "Candidate",
    "Decision",
    "EntityCalibration",
    "Evaluation",
    "Expected",
    "ExtractError",
    "FieldExplanation",
    "Mapping",
    "ModelError",
    "Profile",
    "ProfileError",
    "QueryError",
    "Resolution",
    "ResolveQuery",
    "Resolver",
    "ResolverError",
    "SampleSummary",
    "TrainingSummary",
    "current_model_dir",
    "evaluate",
    "generate_sample",
    "load_active",
    "load_profile",
    "load_resolver",
    "parse_expected",
    "parse_queries",
    "train_workdir",
]


def __getattr__(name: str) -> object:
    # The sample generator pulls in Faker; load it only for the commands that generate.
    if name in ("generate_sample", "SampleSummary"):
        from resolver import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module 'resolver' has no attribute {name!r}")
