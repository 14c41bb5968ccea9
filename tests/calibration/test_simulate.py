"""Simulated reviewer labels from the sample's truth."""

from __future__ import annotations

import json
from pathlib import Path

from calibration import read_labels, write_simulated_labels
from tests.calibration.conftest import SAMPLE


def test_every_query_is_labelled_as_its_truth_says(sample_labels: Path):
    labels = read_labels(sample_labels)
    lines = (SAMPLE / "expected.jsonl").read_text("utf-8").splitlines()
    truth = [json.loads(line) for line in lines]
    by_query: dict[str, list[tuple[str | None, str]]] = {}
    for label in labels:
        assert label.source == "simulated_reviewer"
        by_query.setdefault(str(label.query.id), []).append((label.canonical_id, label.label))
    assert set(by_query) == {str(t["id"]) for t in truth}
    for t in truth:
        got = by_query[str(t["id"])]
        if t["expected"] == "match":
            assert got == [(cid, "correct") for cid in t["canonical_ids"]]
        else:  # every plausible id wrong, and one row saying no candidate is right
            assert got == [(cid, "wrong") for cid in t["canonical_ids"]] + [(None, "wrong")]


def test_entity_types_follow_the_canonical_id_templates(sample_labels: Path):
    prefixes = {"SA2:": "supplier", "SA1:": "customer", "SRA:": "employee", "SU5:": "contact"}
    for label in read_labels(sample_labels):
        if label.canonical_id is not None:
            assert prefixes[label.canonical_id[:4]] == label.entity_type


def test_the_file_is_the_same_every_time(sample_labels: Path, tmp_path: Path):
    for name in ("queries.jsonl", "expected.jsonl"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    assert write_simulated_labels(tmp_path).read_bytes() == sample_labels.read_bytes()
