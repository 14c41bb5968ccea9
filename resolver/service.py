"""`Resolver`: the online resolve path over the serving indexes of a trained workdir."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from resolver.calibrated import CalibrationTable, EntityCalibration, load_active
from resolver.current import CURRENT, current_model_dir
from resolver.decision import (
    Evidence,
    decide,
    evidence_count,
    exact_names,
    identifier_relation,
    lookalike_near,
    name_points_elsewhere,
)
from resolver.errors import QueryError
from resolver.index import SCAN_BUDGET, candidates_together
from resolver.mention import resolve_text
from resolver.normalise import normalise_record, tax_id_kind
from resolver.profiles import ROLES, EntityTypeSpec, Profile
from resolver.scored import Scored
from resolver.serving import ServedType, Snapshot, load_snapshot
from resolver.types import Decision, Resolution, ResolveQuery

TOP_PER_TYPE = 10
#: Roles a query may give for a person's name in parts; together they make its `name`.
NAME_PARTS = ("given_name", "family_name")
RETURNED = 5
#: How long a watching resolver waits before loading again a model folder that failed to load.
WATCH_SECONDS = 2.0

log = logging.getLogger(__name__)


class Resolver:
    """Resolves queries against one trained model version and one calibration version.

    With a workdir to watch, it swaps to the workdir's active model folder when `CURRENT`
    changes (after `canon refresh`, `canon train`, or a workflow's write applied to the index):
    the new snapshot is loaded beside the old one, then replaces it in one assignment; each
    resolve uses one snapshot throughout. Every resolve first looks whether `CURRENT` was
    replaced (one `stat`; `CURRENT` is written by rename, so a new version is a new inode) and,
    if so, loads the new snapshot before answering (cheap: the index is memory-mapped). So a
    record that another process (another worker of `canon serve --workers N`) applied to the
    index is seen by every later resolve in every process, not a watch interval later.
    """

    def __init__(
        self, model_dir: Path, calibration: CalibrationTable, *, watch: Path | None = None
    ):
        self.calibration = calibration
        self._watch = watch
        #: `CURRENT`'s identity when the served snapshot was chosen (see `_maybe_reload`);
        #: unknown at first (the caller read `CURRENT`), so the first resolve looks.
        self._seen: tuple[int, int, int] | None = (-1, -1, -1)
        self._snapshot = load_snapshot(model_dir)
        self._retry_at = 0.0
        self._reloading = threading.Lock()
        #: Name-posting entries one resolve may scan (`resolver.index.name_candidates`);
        #: None scans every usable posting (the exact top, as brute force finds it).
        self.scan_budget: int | None = SCAN_BUDGET

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
            seen = _stamp(self._watch)  # before reading CURRENT: a later switch is seen again
            model_dir = current_model_dir(self._watch)
            if model_dir == self._snapshot.model_dir:
                self._seen = seen
                return False
            snapshot = load_snapshot(model_dir)
            self._snapshot = snapshot  # one assignment: resolves see old or new, never a mix
            self.calibration = load_active(self._watch)
            self._seen = seen
            log.info("now serving %s (%s)", snapshot.index_version, model_dir)
            return True

    def _maybe_reload(self) -> None:
        """Serve the watched workdir's active model if `CURRENT` was replaced since the served
        snapshot was chosen; a folder that fails to load is logged, the old snapshot served,
        and the load tried again WATCH_SECONDS later."""
        if self._watch is None or _stamp(self._watch) == self._seen:
            return
        if time.monotonic() < self._retry_at:
            return
        try:
            self.reload()
        except Exception:  # a broken folder: keep serving the old one
            self._retry_at = time.monotonic() + WATCH_SECONDS
            log.exception("resolver reload failed; still serving %s", self.index_version)

    # -- query parsing -------------------------------------------------------------------
    def _roles(
        self, record: dict[str, object], spec: EntityTypeSpec, et: str, strict: bool
    ) -> dict[str, object]:
        by_column = spec.role_of_column()
        out: dict[str, object] = {}
        parts: dict[str, dict[str, str]] = {}  # role -> joined column -> its value
        for key, value in record.items():
            role = key if key in ROLES and key in spec.roles else by_column.get(key.upper())
            if role is None and key in NAME_PARTS and "name" in spec.roles:
                role = key  # given and family name make the name (below)
            if role is None and not strict:
                continue
            if role is None:
                known = ", ".join(sorted(spec.roles))
                raise QueryError(f"record.{key}: not a field of {et} (roles: {known})")
            if value in (None, ""):
                continue
            joined = [src for src in spec.sources(role) if len(src) > 1 and key.upper() in src]
            if role != key and joined:
                parts.setdefault(role, {})[key.upper()] = str(value)
            else:
                out[role] = value
        for role, given in parts.items():
            for source in spec.sources(role):
                present = [given[c] for c in source if c in given]
                if role not in out and present:
                    out[role] = " ".join(present)
        if "name" in spec.roles and "name" not in out:
            person = [str(out[r]) for r in NAME_PARTS if out.get(r)]
            if person:
                out["name"] = " ".join(person)
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
            if not any(_has_role(served[n].spec, key) for n in parties):
                raise QueryError(f"record.{key}: no entity type has this field")
        return parties

    # -- resolve -------------------------------------------------------------------------
    def resolve(self, query: ResolveQuery) -> Resolution:
        """Resolve one query to a canonical id, or halt with the candidates and the reason."""
        self._maybe_reload()
        snapshot = self._snapshot
        if query.text is not None:  # a free-text mention: read it, then resolve what it names
            specs = {n: e.spec for n, e in snapshot.entity_types.items()}
            versions = (snapshot.model_version, self.calibration.version)
            return resolve_text(query, snapshot.profile, specs, versions, self.resolve)
        targets = self._targets(query, snapshot.entity_types)
        identity: dict[str, str | None] = {}
        query_tax: str | None = None
        asked: list[tuple[ServedType, dict[str, str | None]]] = []
        for name in targets:
            et = snapshot.entity_types[name]
            roles = self._roles(dict(query.record), et.spec, name, strict=len(targets) == 1)
            normalised = normalise_record(roles)
            identity = identity or {k: normalised.get(k) for k in ("name", "tax_id")}
            query_tax = query_tax or normalised.get("tax_id")
            asked.append((et, normalised))
        # One blocking pass over every probabilistic type searched, under one budget.
        blocked = [(et.index, q) for et, q in asked if et.model is not None]
        found = iter(candidates_together(blocked, self.scan_budget)) if blocked else iter(())
        candidates: list[Scored] = []
        in_master = False
        for et, normalised in asked:
            owners = _owners(et, normalised.get("tax_id"))
            in_master = in_master or len(owners) > 0
            rows = next(found) if et.model is not None else None
            candidates.extend(self._score(et, normalised, owners, rows))
        ranked = one_per_id(candidates)
        return self._decide(snapshot, query, targets, ranked, (identity, query_tax), in_master)

    def _score(
        self,
        et: ServedType,
        query: dict[str, str | None],
        keep: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> list[Scored]:
        """The best-scored records of one entity type among `rows` (its blocking candidates,
        found here if not given), and every record in `keep` (the owners of the query's
        identifier, whatever their score: the rule must see them)."""
        if et.model is None:
            return [Scored(et, i, 50.0, query) for i in et.index.candidates_by_key(query)]
        if rows is None:
            rows = et.index.candidates(query, self.scan_budget)
        if len(keep):
            rows = np.concatenate([rows, keep[~np.isin(keep, rows)]])
        if not len(rows):
            return []
        scores = et.model.score_rows(query, et.index, rows)
        # Best first; among equal weights, the record blocking found first (stable order).
        ranked = np.argsort(-scores.weights, kind="stable")
        order = ranked[:TOP_PER_TYPE].tolist()
        order += [j for j in ranked[TOP_PER_TYPE:].tolist() if rows[j] in keep]
        weights = scores.weights.tolist()
        return [Scored(et, int(rows[j]), weights[j], query, scores, j) for j in order]

    def _calibration(self, spec: EntityTypeSpec, name: str) -> EntityCalibration:
        found = self.calibration.entity_types.get(name)
        if found is not None:
            return found
        d = spec.decision
        return EntityCalibration(threshold=d.threshold, margin=d.margin)

    def _evidence(
        self, snapshot: Snapshot, candidates: list[Scored], query_tax: str | None, in_master: bool
    ) -> Evidence:
        if not candidates:
            return Evidence(0.0, 1.0, 0.0, identifier_in_master=in_master)
        top = candidates[0]
        spec = snapshot.entity_types[top.entity_type].spec
        cal = self._calibration(spec, top.entity_type)
        margin = cal.margin if cal.margin is not None else spec.decision.margin
        gap = top.match_weight - candidates[1].match_weight if len(candidates) > 1 else 99.0
        relation = identifier_relation(
            query_tax,
            top.part("tax_id")[0],
            [c.part("tax_id")[0] for c in candidates[1:]],
            lambda tax: tax_id_kind(tax) is not None,
        )
        top_name = top.part("name")
        name_elsewhere = name_points_elsewhere(
            top_name[1] if top_name[0] is not None else None,
            [c.part("name")[1] for c in candidates[1:]],
        )
        agreeing = [
            p.comparison
            for p in top.explanation
            if p.match_weight > 0 and p.level not in ("missing", "different")
        ]
        model = top.served.model
        exact = [
            p.comparison
            for p, comp in zip(top.explanation, model.comparisons if model else (), strict=False)
            if comp.levels and p.level == comp.levels[0].label and p.match_weight > 0
        ]
        names = {c for c in agreeing if c == "name" or c.endswith("_name")}
        bits = spec.decision.lookalike_name_bits
        lookalike = lookalike_near([c.part("name")[1] for c in candidates[1:]], bits)
        rival = bool(agreeing) and set(agreeing) == names and lookalike
        weights = {p.comparison: p.match_weight for p in top.explanation if p.comparison in names}
        contradicted = any(
            p.match_weight < 0 and p.level not in ("missing",) for p in top.explanation
        )
        exact = exact_names(weights, exact, lookalike, bits, contradicted)
        return Evidence(
            name_only_rival=rival,
            plausible=_plausible(candidates, snapshot),
            other_type=self._other_type(snapshot, top, candidates[1:]),
            probability=cal.mapping.probability(top.match_weight, min(gap, 99.0)),
            threshold=cal.threshold,
            margin=margin,
            identifier=relation,
            identifier_in_master=in_master,
            name_elsewhere=name_elsewhere,
            # Key-matched entity types (no explanation) are identified by their key.
            corroborated=not top.explanation
            or evidence_count(agreeing, spec.decision.identifiers, exact)
            >= spec.decision.min_evidence,
        )

    def _other_type(self, snapshot: Snapshot, top: Scored, others: list[Scored]) -> str | None:
        """The entity type of another record (another canonical id, another type) that fits
        the query as well as its own type's threshold asks, if any."""
        for c in others:
            if c.entity_type == top.entity_type:
                continue
            cal = self._calibration(snapshot.entity_types[c.entity_type].spec, c.entity_type)
            if cal.mapping.probability(c.match_weight, 0.0) >= cal.threshold:
                return c.entity_type
        return None

    def _decide(
        self,
        snapshot: Snapshot,
        query: ResolveQuery,
        targets: list[str],
        candidates: list[Scored],
        asked: tuple[dict[str, str | None], str | None],
        in_master: bool,
    ) -> Resolution:
        identity, query_tax = asked
        evidence = self._evidence(snapshot, candidates, query_tax, in_master)
        verdict = decide(candidates, evidence)
        entity_type = query.entity_type
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


def _has_role(spec: EntityTypeSpec, key: str) -> bool:
    return key in spec.roles or (key in NAME_PARTS and "name" in spec.roles)


def _plausible(candidates: list[Scored], snapshot: Snapshot) -> bool:
    """Whether some candidate shares an identifier with the query (its comparison agrees with
    a positive weight) or has a name weighing more than its profile's floor."""
    for c in candidates:
        decision = snapshot.entity_types[c.entity_type].spec.decision
        if any(c.part(k)[1] > 0 for k in decision.identifiers):
            return True
        value, name_bits = c.part("name")
        if value is not None and name_bits > decision.plausible_name_bits:
            return True
    return False


def one_per_id(candidates: list[Scored]) -> list[Scored]:
    """Candidates best first, each canonical id once: a record served in several roles (an SAP
    business partner that is supplier and customer) is one candidate, not its own runner-up."""
    ordered = sorted(candidates, key=lambda c: c.match_weight, reverse=True)
    seen: set[str] = set()
    out: list[Scored] = []
    for c in ordered:
        if c.canonical_id not in seen:
            seen.add(c.canonical_id)
            out.append(c)
    return out


def _owners(et: ServedType, tax: str | None) -> np.ndarray:
    """Records of an entity type holding exactly the query's tax id."""
    if not tax or et.model is None or et.index.column("tax_id") is None:
        return np.zeros(0, dtype=np.int64)
    return et.index.rows_where("tax_id", tax)


def _distinguishing(candidates: list[Scored]) -> list[str]:
    """Fields whose values differ between the two best candidates: what would tell them apart."""
    if len(candidates) < 2:
        return []
    a, b = candidates[0], candidates[1]
    if a.entity_type != b.entity_type:
        return ["entity_type"]
    return [k for k in a.display if a.display.get(k) != b.display.get(k)]


def _stamp(workdir: Path | None) -> tuple[int, int, int] | None:
    """The identity of a workdir's `CURRENT` file (inode, change time, size); None without."""
    if workdir is None:
        return None
    try:
        info = os.stat(workdir / CURRENT)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def load_resolver(workdir: Path, *, watch: bool = False) -> Resolver:
    """The resolver of a workdir's active model and calibration; with `watch`, it follows the
    workdir's `CURRENT` (a running server picks up `canon refresh` without a restart)."""
    return Resolver(
        current_model_dir(workdir), load_active(workdir), watch=workdir if watch else None
    )
