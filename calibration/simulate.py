"""Simulated reviewer labels from a generated sample's ground truth (`canon sample`).

What a reviewer would say of a candidate: for a query that must match, every acceptable id is
correct (any other id is derived wrong at fit time: one query means one real-world record); for
a query that must halt, every plausible id is wrong, and so is any other candidate — written as
one row with an empty canonical_id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from calibration.errors import LabelError
from calibration.labels import Label, write_labels
from resolver import Profile, ResolverError, load_profile, parse_expected, parse_queries

#: Simulated labels were never given by anyone: they carry the epoch, which also keeps a
#: seeded sample's files identical from one run to the next.
SIMULATED_AT = datetime(1970, 1, 1, tzinfo=UTC)

LABELS_FILE = "labels.csv"


def _entity_type_of(profile: Profile) -> dict[str, str]:
    """Canonical-id prefix (`SA2:`) → entity type, from the profile's id templates."""
    return {spec.canonical_id.split("{", 1)[0]: name for name, spec in profile.entity_types.items()}


def entity_type_of_id(canonical_id: str, prefixes: dict[str, str]) -> str | None:
    """The entity type whose canonical-id template the id follows, if any."""
    for prefix, name in sorted(prefixes.items(), key=lambda kv: -len(kv[0])):
        if prefix and canonical_id.startswith(prefix):
            return name
    return None


def simulated_labels(
    queries_path: Path, expected_path: Path, profile: Profile | None = None
) -> list[Label]:
    """The labels a reviewer who knows the sample's truth would give to its queries."""
    try:
        queries = parse_queries(queries_path)
        expected = parse_expected(expected_path)
    except ResolverError as e:
        raise LabelError(str(e)) from e
    prefixes = _entity_type_of(profile or load_profile())
    labels: list[Label] = []
    for query in queries:
        truth = expected.get(str(query.id))
        if truth is None:
            continue
        verdict = "correct" if truth.expected == "match" else "wrong"
        for cid in truth.canonical_ids:
            entity_type = entity_type_of_id(cid, prefixes)
            if entity_type is None:
                raise LabelError(f"{expected_path}: id {truth.id}: {cid!r} follows no id template")
            labels.append(
                Label(
                    entity_type=entity_type,
                    query=query,
                    canonical_id=cid,
                    label=verdict,
                    source="simulated_reviewer",
                    labelled_at=SIMULATED_AT,
                )
            )
        if truth.expected != "match":
            labels.append(
                Label(
                    entity_type=query.entity_type,
                    query=query,
                    canonical_id=None,
                    label="wrong",
                    source="simulated_reviewer",
                    labelled_at=SIMULATED_AT,
                )
            )
    return labels


def write_simulated_labels(sample_dir: Path) -> Path:
    """Write `<sample_dir>/labels.csv` from its `queries.jsonl` and `expected.jsonl`."""
    labels = simulated_labels(sample_dir / "queries.jsonl", sample_dir / "expected.jsonl")
    return write_labels(sample_dir / LABELS_FILE, labels)
