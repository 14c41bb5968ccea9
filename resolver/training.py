"""Training one splink model per entity type (DuckDB, or Spark) and compiling it for serving."""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from splink import Linker, block_on

from resolver.comparisons import DUCKDB, Dialect, level_columns, splink_comparison
from resolver.engines import EngineOptions, database_api, register
from resolver.errors import ModelError
from resolver.profiles import EntityTypeSpec, Profile
from resolver.simulate import m_from_pairs, simulated_pairs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    """What training one entity type did, for the summary table."""

    entity_type: str
    rows: int
    #: The pairs the prediction blocking rules generate over the master (exact), when asked
    #: (`count_pairs`: one more pass over the master, a fifth of training at 1 M); None: not
    #: counted.
    candidate_pairs: int | None
    seconds: float
    parameters: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Seconds per stage (prior, u, em, pairs, then tf, compile, index from the workdir).
    stages: dict[str, float] = field(default_factory=dict)


def model_columns(profile: Profile, spec: EntityTypeSpec) -> list[str]:
    """The normalised columns a model reads: unique_id and every comparison's columns."""
    cols = ["unique_id"]
    for comp in spec.comparisons:
        for col in level_columns(profile.comparisons[comp]):
            if col not in cols:
                cols.append(col)
    for rule in spec.blocking_rules + spec.em_blocking_rules + spec.deterministic_rules:
        for col in rule:
            if col not in cols:
                cols.append(col)
    return cols


def settings_for(
    profile: Profile, spec: EntityTypeSpec, dialect: Dialect = DUCKDB
) -> dict[str, Any]:
    """The splink settings dict of an entity type, in an engine's SQL dialect."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [
            splink_comparison(c, profile.comparisons[c], dialect) for c in spec.comparisons
        ],
        "blocking_rules_to_generate_predictions": [
            block_on(*rule).get_blocking_rule(dialect).as_dict() for rule in spec.blocking_rules
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
    }


def model_in_dialect(
    model: dict[str, Any], profile: Profile, spec: EntityTypeSpec, dialect: Dialect
) -> dict[str, Any]:
    """A saved splink model rewritten for another engine: the same prior, m and u, with the
    levels' SQL in that engine's dialect (a model trained on Spark serves and parity-checks on
    DuckDB, and a DuckDB model dedupes on Spark)."""
    out = settings_for(profile, spec, dialect)
    out["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    out["sql_dialect"] = dialect
    for target, source in zip(out["comparisons"], model["comparisons"], strict=True):
        levels = zip(target["comparison_levels"], source["comparison_levels"], strict=True)
        for level, trained in levels:
            for key in ("m_probability", "u_probability", "tf_minimum_u_value"):
                if key in trained:
                    level[key] = trained[key]
    return out


def new_linker(
    profile: Profile,
    spec: EntityTypeSpec,
    frame: pd.DataFrame,
    settings: dict[str, Any] | None,
    engine: EngineOptions | None = None,
) -> tuple[Linker, Any]:
    """A splink linker over a frame's model columns, on a fresh database of the engine."""
    engine = engine or EngineOptions()
    db_api = database_api(engine)
    table = frame[model_columns(profile, spec)]
    sdf = register(db_api, table, "master")
    settings = settings or settings_for(profile, spec, engine.dialect)
    linker = Linker(sdf, settings, log_level=logging.ERROR)
    return linker, db_api


def train_linker(
    name: str,
    profile: Profile,
    spec: EntityTypeSpec,
    frame: pd.DataFrame,
    seed: int = 42,
    engine: EngineOptions | None = None,
    count_pairs: bool = False,
) -> tuple[Linker, TrainingReport]:
    """Estimate the prior (deterministic rules), u (random sampling) and m (EM per rule);
    with `count_pairs`, count the pairs the prediction blocking rules generate, exactly."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    clock = _Clock(stages)
    linker, _ = new_linker(profile, spec, frame, None, engine)
    clock.lap("setup")
    warnings: list[str] = []
    n = len(frame)
    if spec.deterministic_rules:
        try:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*r) for r in spec.deterministic_rules], recall=spec.deterministic_recall
            )
        except Exception as e:  # splink raises bare Exceptions on degenerate data
            warnings.append(f"prior left at its default: {e}")
    # A master without duplicates gives a prior of 0 (log-odds −∞). Floor it at 1/n: the odds
    # that a query names one given record when it names one of the n, which is what the
    # serving path asks; a dedupe over such a master has nothing to find either way.
    floor = 1.0 / max(n, 2)
    prior = linker._settings_obj._probability_two_random_records_match
    linker._settings_obj._probability_two_random_records_match = min(max(prior, floor), 0.5)
    clock.lap("prior")
    all_pairs = n * (n - 1) / 2
    max_pairs = min(2e6, max(1e5, all_pairs))
    u_options: dict[str, Any] = {}
    if all_pairs <= max_pairs:
        # The sample is the whole master: count every pair in one pass. u is then exact, the
        # same on every engine (splink's chunks and early stop hash ids differently per
        # engine), and Spark runs one job per comparison instead of up to eleven.
        u_options = {"min_count_per_level": None, "num_chunks": 1}
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed, **u_options)
    clock.lap("u")
    if spec.m_from == "simulated":
        warnings.extend(m_from_simulated_queries(linker, profile, spec, frame, seed))
    else:
        warnings.extend(m_from_em(linker, profile, spec, n))
    u_unseen = unseen_u(min(max_pairs, all_pairs))
    smooth_parameters(linker, u_unseen)
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            if level._has_tf_adjustments:
                level._tf_minimum_u_value = u_unseen  # see term_frequencies
    clock.lap("em")
    pairs = count_candidate_pairs(linker) if count_pairs else None
    if count_pairs:
        clock.lap("pairs")
    warnings.extend(implausible_weights(linker, profile, spec))
    report = TrainingReport(
        entity_type=name,
        rows=n,
        candidate_pairs=pairs,
        seconds=time.perf_counter() - started,
        parameters=level_weights(linker),
        warnings=warnings,
        stages=stages,
    )
    return linker, report


def m_from_simulated_queries(
    linker: Linker, profile: Profile, spec: EntityTypeSpec, frame: pd.DataFrame, seed: int
) -> list[str]:
    """Set m of every comparison without fixed_m to its level shares over simulated agent
    queries of the master's own records (`resolver.simulate`)."""
    warnings: list[str] = []
    pairs = simulated_pairs(frame, spec.roles, "person_name" in spec.comparisons, seed)
    for comparison, comp_name in zip(
        linker._settings_obj.comparisons, spec.comparisons, strict=True
    ):
        comp_spec = profile.comparisons[comp_name]
        if comp_spec.fixed_m is not None:
            continue
        m = m_from_pairs(comp_spec, pairs)
        if m is None:
            warnings.append(f"{comp_name}: no record has it; m left at splink's default")
            continue
        levels = [lv for lv in comparison.comparison_levels if not lv.is_null_level]
        for level, value in zip(levels, m, strict=True):
            level.m_probability = value if value > 0 else None  # smoothed below
    return warnings


def m_from_em(linker: Linker, profile: Profile, spec: EntityTypeSpec, n: int) -> list[str]:
    """Estimate m by EM over the master, one session per EM blocking rule."""
    warnings: list[str] = []
    em_options: dict[str, Any] = {"estimate_without_term_frequencies": True}
    if n >= EM_SAMPLING_FROM:
        em_options["max_pairs"] = EM_MAX_PAIRS
    for rule in spec.em_blocking_rules:
        if not em_can_learn(profile, spec, rule):
            continue
        # A failed EM session can leave splink's settings without the comparisons it set
        # aside, so each one starts from a copy that is put back if it fails.
        saved = copy.deepcopy(linker._settings_obj)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), **em_options
            )
        except Exception as e:  # no pairs in the block, or EM diverged: keep the others
            linker._settings_obj = saved
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            warnings.append(f"EM blocked on {'+'.join(rule)} skipped: {first_line}")
    return warnings


#: An exact identifier (tax id, or what the profile's decision names) below this many bits is
#: too weak to identify a record: training says so rather than serve it silently.
MIN_IDENTIFIER_BITS = 8.0


def implausible_weights(linker: Linker, profile: Profile, spec: EntityTypeSpec) -> list[str]:
    """Weights no domain knowledge allows: an exact identifier under MIN_IDENTIFIER_BITS, or
    an agreeing level (any level but else) of a learned comparison weighing against a match."""
    out: list[str] = []
    identifiers = set(spec.decision.identifiers)
    for comparison, comp_name in zip(
        linker._settings_obj.comparisons, spec.comparisons, strict=True
    ):
        levels = [lv for lv in comparison.comparison_levels if not lv.is_null_level]
        first = levels[0]._match_weight if levels else None
        if comp_name in identifiers and first is not None and first < MIN_IDENTIFIER_BITS:
            out.append(
                f"implausible weight: {comp_name} '{levels[0].label_for_charts}' is only"
                f" {first:+.1f} bits (an exact identifier should be ≥ +{MIN_IDENTIFIER_BITS:.0f})"
            )
        if profile.comparisons[comp_name].fixed_m is not None:
            continue  # pinned from domain knowledge (a branch's root weighs against on purpose)
        for level in levels[:-1]:
            weight = level._match_weight
            if weight is not None and weight < 0:
                out.append(
                    f"implausible weight: {comp_name} '{level.label_for_charts}' agrees but"
                    f" weighs {weight:+.1f} bits"
                )
    return out


#: From this many records on, each EM session samples about EM_MAX_PAIRS of its blocked pairs
#: (splink's hash-based sampling): m needs thousands of matches, not millions.
EM_SAMPLING_FROM = 200_000
EM_MAX_PAIRS = 2e6


def em_can_learn(profile: Profile, spec: EntityTypeSpec, rule: list[str]) -> bool:
    """Whether an EM session blocked on `rule` estimates anything: splink sets aside every
    comparison that reads a blocking column, and pinned comparisons (fixed_m) learn nothing,
    so a session left with only pinned ones would compute its pairs for no change."""
    blocked = set(rule)
    for comp in spec.comparisons:
        comp_spec = profile.comparisons[comp]
        if comp_spec.fixed_m is None and not blocked & set(level_columns(comp_spec)):
            return True
    return False


class _Clock:
    """Records the seconds each stage of a run took into a dict, stage after stage."""

    def __init__(self, stages: dict[str, float]):
        self.stages = stages
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._last
        self._last = now


#: Share of each comparison's m mass spread evenly over its levels (see `smooth_parameters`).
M_SMOOTHING = 0.02


def unseen_u(pairs: float) -> float:
    """u of a level that none of `pairs` random pairs reached: the rule of three, the 95 %
    upper bound of a rate never observed in that many trials (a unique identifier weighs more
    in a larger master, as the odds against any one record grow)."""
    return min(0.5, 3.0 / max(pairs, 1.0))


def smooth_parameters(linker: Linker, u_unseen: float) -> None:
    """Keep every level's weight finite and modest.

    EM on a master with few true duplicates leaves levels it never saw among matches with
    m ≈ 0, i.e. a weight of −100 bits or worse: one typo in a city would then veto a record
    for ever. Mixing 2 % of uniform mass into m bounds any level at a handful of bits, which is
    what real-world mess deserves. The smoothed values are written back into the splink model,
    so splink's own predictions and the compiled serving path stay the same model.
    """
    for comparison in linker._settings_obj.comparisons:
        levels = [lv for lv in comparison.comparison_levels if not lv.is_null_level]
        k = len(levels)
        if getattr(comparison.comparison_levels[-1], "_fix_m_probability", False):
            for level in levels:
                if not level._u_is_trained:
                    level.u_probability = u_unseen
            continue
        for level in levels:
            m = level.m_probability
            m = 0.0 if m is None else float(m)
            level.m_probability = (1.0 - M_SMOOTHING) * m + M_SMOOTHING / k
            # A level no random pair reached keeps no u of its own: splink would fall back on
            # its generic default (~1e-3, +10 bits for a unique identifier, whatever the
            # master's size); unseen among every pair sampled means rarer than that.
            if not level._u_is_trained or float(level.u_probability or 0.0) <= 0.0:
                level.u_probability = u_unseen


def count_candidate_pairs(linker: Linker) -> int:
    """How many pairs the prediction blocking rules generate over the master (exact count)."""
    records = linker.blocking_analysis.count_comparisons_from_blocking_rules(
        record_sample_proportion=1.0
    )
    return int(records[-1]["cumulative_comparison_count"]) if records else 0


def level_weights(linker: Linker) -> dict[str, list[tuple[str, float]]]:
    """Match weight of each non-null level, per comparison, as trained."""
    out: dict[str, list[tuple[str, float]]] = {}
    for comparison in linker._settings_obj.comparisons:
        rows = []
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            mw = level._match_weight
            rows.append((level.label_for_charts, float(mw) if mw is not None else math.nan))
        out[comparison.output_column_name] = rows
    return out


def compile_model(linker: Linker, profile: Profile, spec: EntityTypeSpec) -> dict[str, Any]:
    """The trained parameters the serving path needs, as plain JSON: prior, and per level its
    match weight and term-frequency adjustment, in splink's evaluation order."""
    settings = linker._settings_obj
    comparisons = []
    for comparison, comp_name in zip(settings.comparisons, spec.comparisons, strict=True):
        comp_spec = profile.comparisons[comp_name]
        levels: list[dict[str, Any]] = []
        user_levels = iter(comp_spec.levels)
        for level in comparison.comparison_levels:
            mw = level._match_weight
            entry: dict[str, Any] = {
                "label": level.label_for_charts,
                "null": bool(level.is_null_level),
                "else": bool(level._is_else_level),
                "match_weight": float(mw) if mw is not None else 0.0,
                "m": None if level.is_null_level else level.m_probability,
                "u": None if level.is_null_level else level.u_probability,
                "level": None,
                "tf": None,
            }
            if not level.is_null_level and not level._is_else_level:
                entry["level"] = next(user_levels).model_dump()
                if level._has_tf_adjustments and level._tf_adjustment_weight != 0:
                    entry["tf"] = {
                        "column": level._tf_adjustment_input_column_name,
                        "u_exact": level._u_probability_corresponding_to_exact_match(
                            comparison.comparison_levels
                        ),
                        "weight": float(level._tf_adjustment_weight),
                        "min_u": float(level._tf_minimum_u_value),
                    }
            levels.append(entry)
        comparisons.append({"name": comp_name, "column": comp_spec.column, "levels": levels})
    prior = settings._probability_two_random_records_match
    if not 0.0 < prior < 1.0:
        raise ModelError(f"trained prior {prior} is not a probability")
    return {
        "prior": prior,
        "prior_match_weight": math.log2(prior / (1.0 - prior)),
        "comparisons": comparisons,
    }


def term_frequencies(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, float]]:
    """Per value, the share of the *other* records holding it: (count − 1) / (n − 1), n the
    records with a value.

    A query that names another record reproduces this value exactly as often as other records
    hold it; splink's own table (count / n) counts the record itself, so that a name no other
    record has looks as common as one record in n, and its exact agreement weighed less than a
    near-identical one. A value nobody else holds gets 0 here, and the level's
    `tf_minimum_u_value` (the rule of three over the pairs sampled, set at training) bounds its
    u from below, in splink and in the serving path alike.
    """
    out: dict[str, dict[str, float]] = {}
    for col in columns:
        values = frame[col].dropna()
        counts = values.value_counts(sort=False)
        others = float(max(len(values) - 1, 1))
        out[col] = {str(k): float(v - 1) / others for k, v in counts.items()}
    return out


def use_term_frequencies(linker: Linker, db_api: Any, tf: dict[str, dict[str, float]]) -> None:
    """Make splink read the served term-frequency tables (`term_frequencies`) instead of
    computing its own, so that its weights are the serving path's, pair for pair."""
    for col, table in tf.items():
        frame = pd.DataFrame({col: list(table), f"tf_{col}": [float(v) for v in table.values()]})
        name = f"tf_lookup_{col}"
        if type(db_api).__name__ == "SparkAPI":
            from pyspark.sql.types import DoubleType, StringType, StructField, StructType

            schema = StructType(
                [StructField(col, StringType(), True), StructField(f"tf_{col}", DoubleType())]
            )
            spark_frame = db_api.spark.createDataFrame(frame.values.tolist(), schema=schema)
            sdf = db_api.register(spark_frame, table_name=f"{name}_{id(linker):x}")
        else:
            sdf = db_api.register(frame, table_name=name)
        linker.table_management.register_term_frequency_lookup(sdf, col)


def tf_columns(compiled: dict[str, Any]) -> list[str]:
    """Columns whose term frequencies the compiled model uses."""
    cols: list[str] = []
    for comp in compiled["comparisons"]:
        for level in comp["levels"]:
            if level["tf"] and level["tf"]["column"] not in cols:
                cols.append(level["tf"]["column"])
    return cols
