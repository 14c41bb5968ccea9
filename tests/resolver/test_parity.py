"""The compiled serving path gives splink's own match weight for the same pairs (to 1e-6)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from resolver import Resolver
from resolver.normalise import normalise_record
from resolver.parity import splink_match_weights


def _perturbed_queries(resolver: Resolver, entity_type: str, n: int) -> list[dict[str, object]]:
    """Queries made from master records with typos, missing fields and swapped values, so
    that every kind of comparison level is reached, not only exact matches."""
    rng = random.Random(11)
    et = resolver.entity_types[entity_type]
    roles = list(et.spec.roles)
    out = []
    for k, i in enumerate(rng.sample(range(et.index.size), n)):
        raw = {}
        for role in roles:
            source = et.spec.roles[role][0]
            value = et.index.raw(i, [source]).get(source, "")
            j = rng.randrange(et.index.size)
            if rng.random() < 0.25:
                value = et.index.raw(j, [source]).get(source, "")  # another record's value
            elif rng.random() < 0.3 and len(value) > 3:
                p = rng.randrange(len(value) - 1)
                value = value[:p] + value[p + 1] + value[p] + value[p + 2 :]  # transposition
            if rng.random() < 0.15:
                value = ""
            raw[role] = value
        query = normalise_record(raw)
        query["unique_id"] = f"q{k}"
        out.append(query)
    return out


@pytest.mark.parametrize("entity_type", ["supplier", "customer", "employee", "contact"])
def test_serving_weights_equal_splink_predict_between(resolver: Resolver, entity_type: str) -> None:
    et = resolver.entity_types[entity_type]
    assert et.model is not None
    queries = _perturbed_queries(resolver, entity_type, 25)
    master = pd.read_parquet(resolver.model_dir / f"records_{entity_type}.parquet").head(150)
    reference = splink_match_weights(resolver.model_dir, entity_type, pd.DataFrame(queries), master)
    assert len(reference) == len(queries) * len(master)
    position = {uid: i for i, uid in enumerate(et.index.ids)}
    by_id = {q["unique_id"]: q for q in queries}
    levels_seen: set[str] = set()
    worst = 0.0
    for row in reference.itertuples():
        query = {k: v for k, v in by_id[row.unique_id_l].items() if k != "unique_id"}
        score = et.model.score(query, et.index.record(position[row.unique_id_r]))  # type: ignore[arg-type]
        worst = max(worst, abs(score.match_weight - row.match_weight))
        levels_seen.update(f"{p.comparison}:{p.level}" for p in score.explanation)
    assert worst <= 1e-6
    # The pairs must exercise more than exact/else levels for the check to mean something.
    assert len(levels_seen) >= 3 * len(et.model.comparisons)
