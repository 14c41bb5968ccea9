"""`Resolver`: the online resolve path over the serving indexes of a trained workdir."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from resolver.calibrated import CalibrationTable, EntityCalibration, load_active
from resolver.decision import decide
from resolver.errors import QueryError
from resolver.normalise import normalise_record
from resolver.profiles import ROLES, EntityTypeSpec, Profile
from resolver.scored import Scored
from resolver.serving import ServedType, Snapshot, load_snapshot
from resolver.types import Decision, Resolution, ResolveQuery
from resolver.workdir import current_model_dir

TOP_PER_TYPE = 10
RETURNED = 5
#: How often a watching resolver looks whether `CURRENT` moved (refresh or training).
WATCH_SECONDS = 2.0

log = logging.getLogger(__name__)

_EntityType = ServedType  # the name earlier versions exported


class Resolver:
    """Resolves queries against one trained model version and one calibration version.

    With a workdir to watch, it swaps to the workdir's active model folder when `CURRENT`
    changes (after `canon refresh` or `canon train`): the new snapshot is loaded beside the
    old one, then replaces it in one assignment; each resolve uses one snapshot throughout.
    """

    def __init__(
        self, model_dir: Path, calibration: CalibrationTable, *, watch: Path | None = None
    ):
        self.calibration = calibration
        self._snapshot = load_snapshot(model_dir)
        self._watch = watch
        self._next_check = time.monotonic() + WATCH_SECONDS
        self._reloading = threading.Lock()

    # -- the served snapshot -------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def model_dir(self) -> Path:
        return self._snapshot.model_dir

    @property
    def model_version(self) -> str:
        return self._snapshot.model_version

    @property
    def index_version(self) -> str:
        return self._snapshot.index_version

    @property
    def profile(self) -> Profile:
        return self._snapshot.profile

    @property
    def entity_types(self) -> dict[str, ServedType]:
        return self._snapshot.entity_types

    def reload(self) -> bool:
        """Serve the watched workdir's active model folder if it changed; True if swapped."""
        if self._watch is None:
            return False
        with self._reloading:
            model_dir = current_model_dir(self._watch)
            if model_dir == self._snapshot.model_dir:
                return False
            snapshot = load_snapshot(model_dir)
            self._snapshot = snapshot  # one assignment: resolves see old or new, never a mix
            self.calibration = load_active(self._watch)
            log.info("now serving %s (%s)", snapshot.index_version, model_dir)
            return True

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if self._watch is None or now < self._next_check or self._reloading.locked():
            return
        self._next_check = now + WATCH_SECONDS
        threading.Thread(target=self._reload_quietly, name="resolver-reload", daemon=True).start()

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except Exception:  # a half-written or broken folder: keep serving the old one
            log.exception("resolver reload failed; still serving %s", self.index_version)

    # -- query parsing -------------------------------------------------------------------
    def _roles(
        self, record: dict[str, object], spec: EntityTypeSpec, et: str, strict: bool
    ) -> dict[str, object]:
        by_column = spec.role_of_column()
        out: dict[str, object] = {}
        for key, value in record.items():
            role = key if key in ROLES and key in spec.roles else by_column.get(key.upper())
            if role is None and not strict:
                continue
            if role is None:
                known = ", ".join(sorted(spec.roles))
                raise QueryError(f"record.{key}: not a field of {et} (roles: {known})")
            if value not in (None, ""):
                out[role] = value
        return out

    def _targets(self, query: ResolveQuery, served: dict[str, ServedType]) -> list[str]:
        if query.entity_type is not None:
            if query.entity_type not in served:
                known = ", ".join(served)
                raise QueryError(f"entity_type: unknown {query.entity_type!r} (known: {known})")
            return [query.entity_type]
        owners = set()
        for key in query.record:
            if key not in ROLES:
                owners |= {n for n, e in served.items() if key.upper() in e.spec.role_of_column()}
        if owners:
            return sorted(owners)
        parties = [n for n, e in served.items() if e.spec.party]
        for key in query.record:
            if not any(key in served[n].spec.roles for n in parties):
                raise QueryError(f"record.{key}: no entity type has this field")
        return parties

    # -- resolve -------------------------------------------------------------------------
    def resolve(self, query: ResolveQuery) -> Resolution:
        """Resolve one query to a canonical id, or halt with the candidates and the reason."""
        self._maybe_reload()
        snapshot = self._snapshot
        targets = self._targets(query, snapshot.entity_types)
        candidates: list[Scored] = []
        identity: dict[str, str | None] = {}
        query_tax: str | None = None
        for name in targets:
            et = snapshot.entity_types[name]
            roles = self._roles(dict(query.record), et.spec, name, strict=len(targets) == 1)
            normalised = normalise_record(roles)
            identity = identity or {k: normalised.get(k) for k in ("name", "tax_id")}
            query_tax = query_tax or normalised.get("tax_id")
            candidates.extend(self._score(et, normalised))
        candidates.sort(key=lambda c: c.match_weight, reverse=True)
        return self._decide(snapshot, query, targets, candidates, (identity, query_tax))

    def _score(self, et: ServedType, query: dict[str, str | None]) -> list[Scored]:
        if et.model is None:
            return [Scored(et, i, 50.0, query) for i in et.index.candidates_by_key(query)]
        rows = et.index.candidates(query)
        if not len(rows):
            return []
        scores = et.model.score_rows(query, et.index, rows)
        # Best first; among equal weights, the record blocking found first (stable order).
        order = np.argsort(-scores.weights, kind="stable")[:TOP_PER_TYPE]
        weights = scores.weights.tolist()
        return [Scored(et, int(rows[j]), weights[j], query, scores, j) for j in order.tolist()]

    def _calibration(self, spec: EntityTypeSpec, name: str) -> EntityCalibration:
        found = self.calibration.entity_types.get(name)
        if found is not None:
            return found
        d = spec.decision
        return EntityCalibration(threshold=d.threshold, margin=d.margin)

    def _decide(
        self,
        snapshot: Snapshot,
        query: ResolveQuery,
        targets: list[str],
        candidates: list[Scored],
        asked: tuple[dict[str, str | None], str | None],
    ) -> Resolution:
        identity, query_tax = asked
        entity_type = query.entity_type
        probability, threshold, margin, conflict, corroborated = 0.0, 1.0, 0.0, False, True
        if candidates:
            top = candidates[0]
            spec = snapshot.entity_types[top.entity_type].spec
            cal = self._calibration(spec, top.entity_type)
            margin = cal.margin if cal.margin is not None else spec.decision.margin
            gap = top.match_weight - candidates[1].match_weight if len(candidates) > 1 else 99.0
            probability = cal.mapping.probability(top.match_weight, min(gap, 99.0))
            threshold = cal.threshold
            conflict = _tax_conflict(candidates, query_tax)
            corroborated = _evidence(top, spec.decision.identifiers) >= spec.decision.min_evidence
        verdict = decide(candidates, probability, threshold, margin, conflict, corroborated)
        canonical = None
        if verdict.decision is Decision.MATCH:
            canonical = candidates[0].canonical_id
            entity_type = candidates[0].entity_type
        elif len(targets) == 1:
            entity_type = targets[0]
        return Resolution(
            id=query.id,
            decision=verdict.decision,
            entity_type=entity_type,
            canonical_id=canonical,
            candidates=[c.candidate() for c in candidates[:RETURNED]],
            reason=verdict.reason,
            distinguishing_fields=_distinguishing(candidates)
            if verdict.decision is Decision.AMBIGUOUS
            else [],
            model_version=snapshot.model_version,
            calibration_version=self.calibration.version,
            query_identity=identity,
        )


def _part(candidate: Scored, comparison: str) -> tuple[str | None, float]:
    return candidate.part(comparison)


#: How much more a name must agree with another record than with the tax id's owner before
#: the query is taken to name one record and identify another.
NAME_CONFLICT_BITS = 3.0


def _tax_conflict(candidates: list[Scored], query_tax: str | None) -> bool:
    """True when the query's tax id contradicts the record its other fields point to."""
    if not query_tax or not candidates:
        return False
    top_tax, _ = _part(candidates[0], "tax_id")
    if top_tax and top_tax != query_tax:
        return True
    _, top_name = _part(candidates[0], "name")
    for other in candidates[1:]:
        other_tax, _ = _part(other, "tax_id")
        _, other_name = _part(other, "name")
        if other_tax == query_tax and top_tax != query_tax:
            return True  # the tax id belongs to another record than the one chosen
        if other_tax and other_tax != query_tax and other_name > top_name + NAME_CONFLICT_BITS:
            return True  # the name belongs to another record than the tax id's owner
    return False


def _evidence(candidate: Scored, identifiers: list[str]) -> int:
    """How many fields agree with the query: each agreeing comparison counts one, an
    identifier two. Key-matched entity types (no explanation) are identified by their key."""
    if not candidate.explanation:
        return 99
    return sum(
        2 if part.comparison in identifiers else 1
        for part in candidate.explanation
        if part.match_weight > 0 and part.level not in ("missing", "different")
    )


def _distinguishing(candidates: list[Scored]) -> list[str]:
    """Fields whose values differ between the two best candidates: what would tell them apart."""
    if len(candidates) < 2:
        return []
    a, b = candidates[0], candidates[1]
    if a.entity_type != b.entity_type:
        return ["entity_type"]
    return [k for k in a.display if a.display.get(k) != b.display.get(k)]


def load_resolver(workdir: Path, *, watch: bool = False) -> Resolver:
    """The resolver of a workdir's active model and calibration; with `watch`, it follows the
    workdir's `CURRENT` (a running server picks up `canon refresh` without a restart)."""
    return Resolver(
        current_model_dir(workdir), load_active(workdir), watch=workdir if watch else None
    )
