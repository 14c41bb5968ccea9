"""`canon learn`: refit a model's m-probabilities from labelled pairs, as a new model version.

Every label saying "this record is the one the query meant" (a reviewer's pick, an approval, a
steward's row: `label = correct`) is a true pair (query, record). Per entity type, each
comparison's level is counted over those pairs — the query read as the resolver reads it (its
roles or ERP fields, or its free text), the record as the model holds it — and m becomes the
posterior mean under a Dirichlet prior centred on the model's current m, worth `PRIOR_PAIRS`
pairs:

    m_k = (count_k + PRIOR_PAIRS · m_k(current)) / (pairs + PRIOR_PAIRS)

Labels come mostly from halts, a biased sample of what agents write (few exact names: those
resolve without a human), while the current m stands for every query. Worth 500 pairs, it lets
a few hundred picks raise the levels they land in without dragging down the ones halts rarely
reach: on the committed sample, 200 picks of loosely written names raise the held-out coverage
of that kind from 165 to 170 of 200 and leave the sample's own 300 queries as they were (with a
prior of 50 pairs, the exact-name weight fell 2 bits and 5 of those queries halted). (splink's
`estimate_m_from_pairwise_labels` replaces m outright: with a few hundred labels, a level no
label reached would get m = 0, a veto.) u, the prior and the term frequencies describe the
master and stay; pinned comparisons (`fixed_m`) stay pinned; labels saying `wrong` judge pairs
that are not matches and say nothing of m.

The refit model is written beside the active one, `models/<model>.l<time>` (records and index
hard-linked, the compiled and splink models rewritten), and is not served until activated
(`activate_model`; `rollback_model` goes back; `models/history.jsonl` keeps the stack, as the
calibration's does). Before it is written, every labelled query is replayed with the active model
and with the refit one, under the active calibration: how many halts the refit resolves to the
labelled record, and how many queries it would send to another record.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.dataset import verdicts_of
from calibration.errors import LabelError, VersionError
from calibration.labels import Label
from calibration.versions import history_at, record_at, stack_of
from resolver import (
    Decision,
    ResolveQuery,
    Resolver,
    ResolverError,
    current_model_dir,
    load_active,
    load_profile,
    normalise_record,
)
from resolver.atomic import atomic_write_text
from resolver.current import CURRENT, MODELS
from resolver.mention import parse_mention
from resolver.profiles import EntityTypeSpec, Profile
from resolver.refresh import link_tree
from resolver.simulate import level_counts

#: How many labelled pairs the current m is worth in the refit (see the module).
PRIOR_PAIRS = 500.0
#: Roles a query may give for a person's name in parts (as the resolver reads them).
NAME_PARTS = ("given_name", "family_name")

Pair = tuple[dict[str, str | None], dict[str, str | None]]


@dataclass(frozen=True)
class LevelChange:
    """One level of one comparison: its weight before and after, and the labels reaching it."""

    comparison: str
    level: str
    before: float
    after: float
    labels: int


@dataclass(frozen=True)
class TypeRefit:
    """What the refit did to one entity type."""

    entity_type: str
    pairs: int
    levels: list[LevelChange] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Replay:
    """The labelled queries resolved by the active model and by the refit one."""

    queries: int = 0
    halted_before: int = 0
    halted_after: int = 0
    #: Halts of queries the labels give a right record for (what a human resolved by a pick).
    answerable_halts: int = 0
    #: Of those, matched to a labelled right record by the refit.
    resolved: int = 0
    right_before: int = 0
    right_after: int = 0
    wrong_before: int = 0
    wrong_after: int = 0


@dataclass(frozen=True)
class Refit:
    """A refit model version, not yet active."""

    version: str
    parent: str
    path: Path
    labels: int
    types: dict[str, TypeRefit]
    replay: Replay


def query_roles(query: ResolveQuery, spec: EntityTypeSpec, profile: Profile) -> dict[str, object]:
    """A query's values by role for one entity type: its free text read first, then its record
    (roles or the ERP's own columns), which wins."""
    roles: dict[str, object] = {}
    if query.text:
        mention = parse_mention(query.text, profile)
        roles.update({k: v for k, v in mention.roles.items() if k in spec.roles})
    by_column = spec.role_of_column()
    for key, value in query.record.items():
        role = key if key in spec.roles or key in NAME_PARTS else by_column.get(key.upper())
        if role is not None and value not in (None, ""):
            roles[role] = value
    if "name" in spec.roles and "name" not in roles:
        person = [str(roles[r]) for r in NAME_PARTS if roles.get(r)]
        if person:
            roles["name"] = " ".join(person)
    return {k: v for k, v in roles.items() if k in spec.roles}


def _record_rows(model_dir: Path, entity_type: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    frame = pd.read_parquet(model_dir / f"records_{entity_type}.parquet")
    frame = frame[frame["unique_id"].isin(ids)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {str(r["unique_id"]): {str(k): v for k, v in r.items()} for r in rows}


def labelled_pairs(labels: list[Label], model_dir: Path, profile: Profile) -> dict[str, list[Pair]]:
    """Per entity type, the (normalised query, record) pairs the labels call correct (the latest
    label of each pair wins); a label naming a record the model lacks is an error."""
    pairs_of, _, _ = verdicts_of(labels)
    by_key = {label.query_key: label.query for label in labels}
    types = {label.query_key + "\x00" + (label.canonical_id or ""): label.entity_type
             for label in labels}  # fmt: skip
    wanted: dict[str, list[tuple[ResolveQuery, str]]] = {}
    for (key, cid), correct in pairs_of.items():
        et = types.get(key + "\x00" + cid)
        if not correct or et is None:
            continue
        spec = profile.entity_types.get(et)
        if spec is None:
            raise LabelError(f"labels: unknown entity type {et!r}")
        if spec.matching != "probabilistic":
            continue
        wanted.setdefault(et, []).append((by_key[key], cid))
    out: dict[str, list[Pair]] = {}
    for et, items in sorted(wanted.items()):
        spec = profile.entity_types[et]
        rows = _record_rows(model_dir, et, {cid for _, cid in items})
        pairs: list[Pair] = []
        for query, cid in items:
            row = rows.get(cid)
            if row is None:
                raise LabelError(f"labels: {cid!r} is not a {et} of model {model_dir.name}")
            pairs.append((normalise_record(query_roles(query, spec, profile)), row))
        out[et] = pairs
    return out


def refit_m(
    compiled: dict[str, Any],
    splink: dict[str, Any],
    profile: Profile,
    pairs: list[Pair],
    prior_pairs: float = PRIOR_PAIRS,
) -> tuple[list[LevelChange], list[str]]:
    """Set m of every learned comparison of one entity type's compiled and splink models (in
    place) from the pairs; the level changes and the comparisons left pinned."""
    changes: list[LevelChange] = []
    pinned: list[str] = []
    for comp, sp in zip(compiled["comparisons"], splink["comparisons"], strict=True):
        spec = profile.comparisons[comp["name"]]
        if spec.fixed_m is not None:
            pinned.append(comp["name"])
            continue
        counts = level_counts(spec, pairs)
        n = sum(counts)
        levels = [(i, lv) for i, lv in enumerate(comp["levels"]) if not lv["null"]]
        for (i, level), count in zip(levels, counts, strict=True):
            m_old, u = float(level["m"]), float(level["u"])
            m_new = (count + prior_pairs * m_old) / (n + prior_pairs)
            before = float(level["match_weight"])
            level["m"] = m_new
            level["match_weight"] = math.log2(m_new / u)
            sp["comparison_levels"][i]["m_probability"] = m_new
            changes.append(
                LevelChange(comp["name"], level["label"], before, level["match_weight"], count)
            )
    return changes, pinned


def replay(labels: list[Label], before: Resolver, after: Resolver) -> Replay:
    """Resolve every labelled query with both resolvers; count halts, rights and wrongs against
    the record the labels call correct (none: every match is wrong)."""
    pairs, _, _ = verdicts_of(labels)
    right: dict[str, set[str]] = {}
    for (key, cid), ok in pairs.items():
        if ok:  # one entity may be several records (a legacy duplicate): each is right
            right.setdefault(key, set()).add(cid)
    queries = {label.query_key: label.query for label in labels}
    counts = dict.fromkeys(Replay.__dataclass_fields__, 0)
    for key, query in queries.items():
        counts["queries"] += 1
        try:
            old, new = before.resolve(query), after.resolve(query)
        except ResolverError as e:
            raise LabelError(f"labels: query {query.id}: {e}") from e
        wanted = right.get(key, set())
        for res, when in ((old, "before"), (new, "after")):
            if res.decision is not Decision.MATCH:
                counts[f"halted_{when}"] += 1
            elif res.canonical_id in wanted:
                counts[f"right_{when}"] += 1
            else:
                counts[f"wrong_{when}"] += 1
        if old.decision is not Decision.MATCH and wanted:
            counts["answerable_halts"] += 1
            counts["resolved"] += int(new.decision is Decision.MATCH and new.canonical_id in wanted)
    return Replay(**counts)


def refit_workdir(workdir: Path, labels: list[Label], prior_pairs: float = PRIOR_PAIRS) -> Refit:
    """Write a refit of the active model from the labels (not activated; see the module)."""
    model_dir = current_model_dir(workdir)
    profile = load_profile(model_dir / "profile.yaml")
    manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text("utf-8"))
    pairs = labelled_pairs(labels, model_dir, profile)
    if not pairs:
        raise LabelError(
            "labels: no label calls a record of a probabilistic entity type correct; nothing"
            " to learn from"
        )
    parent = str(manifest.get("model_version", model_dir.name))
    version = f"{parent}.l{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    tmp = Path(tempfile.mkdtemp(dir=workdir / MODELS, prefix=".tmp-learn-"))
    try:
        types: dict[str, TypeRefit] = {}
        rewritten = {f"{p}_{et}.json" for et in pairs for p in ("compiled", "splink")}
        for child in model_dir.iterdir():
            if child.name not in rewritten | {"manifest.json"}:
                link_tree(child, tmp / child.name)
        for et, et_pairs in pairs.items():
            compiled = json.loads((model_dir / f"compiled_{et}.json").read_text("utf-8"))
            splink = json.loads((model_dir / f"splink_{et}.json").read_text("utf-8"))
            changes, pinned = refit_m(compiled, splink, profile, et_pairs, prior_pairs)
            (tmp / f"compiled_{et}.json").write_text(json.dumps(compiled), encoding="utf-8")
            (tmp / f"splink_{et}.json").write_text(json.dumps(splink), encoding="utf-8")
            types[et] = TypeRefit(et, len(et_pairs), changes, pinned)
        manifest.update(
            {
                "model_version": version,
                "index_version": manifest.get("index_version", parent),
                "learned_from": parent,
                "learned_at": datetime.now(UTC).isoformat(),
                "learned_labels": {et: len(p) for et, p in pairs.items()},
                "learned_prior_pairs": prior_pairs,
            }
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        calibration = load_active(workdir)
        replayed = replay(labels, Resolver(model_dir, calibration), Resolver(tmp, calibration))
        final = workdir / MODELS / version
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Refit(version, parent, final, len(labels), types, replayed)


# -- promotion: activate and roll back model versions --------------------------------------
def _history(workdir: Path) -> Path:
    return workdir / MODELS / "history.jsonl"


def _switch(workdir: Path, version: str) -> None:
    atomic_write_text(workdir / CURRENT, version + "\n")


def _active(workdir: Path) -> str:
    try:
        return current_model_dir(workdir).name
    except ResolverError as e:
        raise VersionError(str(e)) from e


def activate_model(workdir: Path, version: str) -> str:
    """Serve model `version` of the workdir (a running server follows within seconds);
    returns the version it replaced."""
    folder = workdir / MODELS / version
    if "/" in version or "\\" in version or not (folder / "manifest.json").exists():
        known = sorted(
            p.name for p in (workdir / MODELS).iterdir() if (p / "manifest.json").exists()
        )
        raise VersionError(f"unknown model version {version!r} (known: {', '.join(known)})")
    previous = _active(workdir)
    _switch(workdir, version)
    record_at(_history(workdir), "activate", version, previous)
    return previous


def rollback_model(workdir: Path) -> tuple[str, str]:
    """Serve the model active before the last activation; returns (from, to)."""
    current = _active(workdir)
    entries = history_at(_history(workdir))
    base = entries[0].previous if entries else current
    stack = stack_of(entries, base)
    if entries and stack[-1] != current:
        raise VersionError(
            f"the active model {current} was not activated by `canon learn --activate` (a"
            " training or refresh switched to it since): activate a version by name instead"
        )
    if len(stack) < 2:
        raise VersionError("nothing to roll back to: no model was activated over this one")
    _switch(workdir, stack[-2])
    record_at(_history(workdir), "rollback", stack[-2], current)
    return current, stack[-2]
