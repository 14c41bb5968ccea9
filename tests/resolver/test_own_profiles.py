"""Bring your own entity type: a person file outside any ERP, written with its own lower-case
headers and a name over two columns; a master where one partner plays two roles; partial
extracts. Each test trains a real model on a small generated file."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from faker import Faker

from resolver import Decision, ResolveQuery, load_resolver, train_workdir
from resolver.errors import ModelError

PERSON_PROFILE = """
erp: people
comparisons:
  person_name:
    column: name
    levels:
      - {kind: exact, tf: true}
      - {kind: exact, column: name_sorted}
      - {kind: levenshtein, distance: 2}
      - {kind: token_prefix, column: name_sorted}
      - {kind: jaro_winkler, threshold: 0.85}
  birth_date:
    column: birth_date
    levels:
      - {kind: exact}
      - {kind: levenshtein, distance: 1}
  postcode:
    column: postcode
    levels:
      - {kind: exact}
  city:
    column: city
    levels:
      - {kind: exact}
entity_types:
  person:
    table: people
    native_key: [rec_id]
    canonical_id: "person:{rec_id}"
    roles:
      name: [given_name+surname]
      given_name: [given_name]
      family_name: [surname]
      birth_date: [date_of_birth]
      postcode: [postcode]
      city: [suburb]
    display: [given_name, surname, date_of_birth, suburb]
    comparisons: [person_name, birth_date, postcode, city]
    blocking_rules: [[name_sorted], [birth_date, postcode]]
    decision: {threshold: 0.9, margin: 5.0, identifiers: []}
"""


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    folder = tmp_path_factory.mktemp("people")
    fake = Faker("en_AU")
    fake.seed_instance(5)
    rng = random.Random(5)
    rows = []
    for k in range(600):
        rows.append(
            {
                "rec_id": f"rec-{k}",
                "given_name": fake.first_name(),
                "surname": fake.last_name(),
                "date_of_birth": fake.date_of_birth(minimum_age=18, maximum_age=90).strftime(
                    "%Y%m%d"
                ),
                "postcode": str(rng.randrange(2000, 7999)),
                "suburb": fake.city(),
            }
        )
    with (folder / "people.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / "people.yaml").write_text(PERSON_PROFILE, encoding="utf-8")
    return folder, rows


@pytest.fixture(scope="module")
def person_workdir(people: tuple[Path, list[dict[str, str]]], tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    folder, _ = people
    workdir = tmp_path_factory.mktemp("people-workdir")
    train_workdir(folder, workdir, folder / "people.yaml")
    return workdir


def test_lower_case_headers_and_a_name_over_two_columns(
    people: tuple[Path, list[dict[str, str]]], person_workdir: Path
) -> None:
    _, rows = people
    resolver = load_resolver(person_workdir)
    et = resolver.entity_types["person"]
    assert et.index.size == len(rows)
    row = rows[17]
    i = et.index.ids.index(f"person:{row['rec_id']}")
    # Both columns make the name, not the first one alone.
    record = et.index.record(i)
    assert record["name"] is not None and len(record["name"].split()) >= 2
    # A query in parts, by role; and one by the file's own (lower-case) column names.
    for query in (
        {
            "given_name": row["given_name"],
            "family_name": row["surname"],
            "birth_date": row["date_of_birth"],
        },
        {
            "GIVEN_NAME": row["given_name"],
            "surname": row["surname"],
            "date_of_birth": row["date_of_birth"],
        },
    ):
        result = resolver.resolve(ResolveQuery(entity_type="person", record=query))
        assert result.decision is Decision.MATCH, result.reason
        assert result.canonical_id == f"person:{row['rec_id']}"


def test_a_mangled_name_is_found_by_the_profiles_blocking_rule(
    people: tuple[Path, list[dict[str, str]]], person_workdir: Path
) -> None:
    _, rows = people
    resolver = load_resolver(person_workdir)
    row = rows[42]
    query = {"name": "Xq Zzyzx", "birth_date": row["date_of_birth"], "postcode": row["postcode"]}
    result = resolver.resolve(ResolveQuery(entity_type="person", record=query))
    assert f"person:{row['rec_id']}" in [c.canonical_id for c in result.candidates]


def test_partial_extracts_train_what_exists(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus" / "data"
    data = tmp_path / "data"
    data.mkdir()
    for table in ("SA2010", "SA1010"):  # suppliers and customers only
        (data / f"{table}.csv").write_bytes((sample / f"{table}.csv").read_bytes())
    summary = train_workdir(data, tmp_path / "w")
    assert [r.entity_type for r in summary.reports] == ["supplier", "customer"]
    assert set(summary.skipped) == {"employee", "contact", "purchase_order"}
    assert all("no extract" in why for why in summary.skipped.values())
    resolver = load_resolver(tmp_path / "w")
    assert sorted(resolver.entity_types) == ["customer", "supplier"]
    only = train_workdir(data, tmp_path / "w2", entity_types=["customer"])
    assert [r.entity_type for r in only.reports] == ["customer"]
    assert only.skipped["supplier"] == "not selected"
    with pytest.raises(ModelError, match="unknown entity type 'vendor'"):
        train_workdir(data, tmp_path / "w3", entity_types=["vendor"])
    with pytest.raises(ModelError, match="no extract to train on"):
        train_workdir(data, tmp_path / "w4", entity_types=["employee"])
