"""What a query can and cannot tell apart, computed from the rows actually written.

Every expectation in expected.jsonl is checked against this index: a target is used
for a resolvable query only if the facts the query carries point at the target's
entity alone among the live rows of all entity types. Everything is grouped through
integer codes (pandas.factorize) so a million-row master indexes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz import fuzz, process

from resolver.synthetic.fmt import per_unique
from resolver.synthetic.text import ObjArray, name_key

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT = "supplier", "customer", "employee", "contact"
ENTITY_TYPES = (SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT)


@dataclass(frozen=True)
class Part:
    """One table's rows as the index needs them, in the table's row order."""

    entity_type: str
    ids: ObjArray
    entity: ObjArray
    deleted: BoolArray
    body: ObjArray
    city: IntArray
    tax: ObjArray  # digits as written, '' when blank
    email: ObjArray
    cep: ObjArray  # digits as written, '' when blank


class _Codes:
    """String values as integer codes, with the code of any value on demand."""

    def __init__(self, values: ObjArray) -> None:
        codes, uniques = pd.factorize(values)
        self.codes: IntArray = codes.astype(np.int64)
        self.uniques = pd.Index(uniques)

    def code(self, value: str) -> int:
        return int(self.uniques.get_indexer([value])[0])


class _Groups:
    """Rows grouped by an integer key, and the number of distinct entities per key."""

    def __init__(self, keys: IntArray, entity: IntArray, n_entities: int) -> None:
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        pairs = np.unique(keys * n_entities + entity)
        self._keys, self._spread = np.unique(pairs // n_entities, return_counts=True)

    def rows(self, key: int) -> IntArray:
        lo, hi = np.searchsorted(self._sorted, [key, key + 1])
        return self._order[lo:hi]  # type: ignore[no-any-return]

    def entities(self, key: int) -> int:
        i = int(np.searchsorted(self._keys, key))
        return int(self._spread[i]) if i < len(self._keys) and self._keys[i] == key else 0


class Lookup:
    """Live rows of all tables with the groupings the query builders ask about."""

    def __init__(self, parts: list[Part], similar: float = 85.0) -> None:
        every_core = [per_unique(p.body, name_key) for p in parts]
        self.all_cores = frozenset(np.concatenate(every_core).tolist())
        live = [~p.deleted for p in parts]
        cat = lambda name: np.concatenate([getattr(p, name)[m] for p, m in zip(parts, live)])  # noqa: E731
        self.etype = np.concatenate([np.full(int(m.sum()), i) for i, m in enumerate(live)])
        self.row = np.concatenate([np.flatnonzero(m) for m in live])
        self.cid, self.core = cat("ids"), np.concatenate([c[m] for c, m in zip(every_core, live)])
        self.city = cat("city").astype(np.int64)
        self._similar = similar
        entity = _Codes(cat("entity"))
        self._entity = entity
        n_ent = len(entity.uniques) + 1
        self._core = _Codes(self.core)
        n_city = int(self.city.max()) + 1 if len(self.city) else 1
        self._n_city = n_city
        self._name_city = _Groups(self._core.codes * n_city + self.city, entity.codes, n_ent)
        self._by_entity = _Groups(entity.codes, entity.codes, n_ent)
        self._by_core = _Groups(self._core.codes, entity.codes, n_ent)
        self._keyed: dict[str, tuple[_Codes, _Groups, _Groups]] = {}
        for name in ("tax", "email", "cep"):
            values = cat(name)
            if name == "email":
                values = per_unique(values, str.lower)
            codes = _Codes(values)
            blank = codes.code("")
            keys = np.where(codes.codes == blank, -1, codes.codes)
            by_type = _Groups(keys, self.etype, len(ENTITY_TYPES))
            self._keyed[name] = (codes, _Groups(keys, entity.codes, n_ent), by_type)
        self._blocks = [self._token_block(i) for i in (0, 1, -1)]

    def _token_block(self, position: int) -> tuple[_Codes, _Groups]:
        def token(core: str) -> str:
            words = core.split(" ")
            return words[position] if len(words) > abs(position) or position == -1 else ""

        tokens = _Codes(per_unique(self.core, token))
        keys = tokens.codes * self._n_city + self.city
        return tokens, _Groups(keys, self._entity.codes, len(self._entity.uniques) + 1)

    def table_rows(self, entity_type: str) -> IntArray:
        """Table rows of the live records of one entity type."""
        return self.row[self.etype == ENTITY_TYPES.index(entity_type)]  # type: ignore[no-any-return]

    def same_entity(self, entity_type: str, entity: str) -> list[str]:
        """Canonical ids of the live rows of `entity` in one table, sorted."""
        rows = self._by_entity.rows(self._entity.code(entity))
        rows = rows[self.etype[rows] == ENTITY_TYPES.index(entity_type)]
        return sorted(str(c) for c in self.cid[rows])

    def ids_with_core(self, core: str, entity_type: str) -> list[str]:
        """Canonical ids of live rows of one entity type whose name key is `core`."""
        rows = self._by_core.rows(self._core.code(core))
        rows = rows[self.etype[rows] == ENTITY_TYPES.index(entity_type)]
        return sorted(str(c) for c in self.cid[rows])

    def entities_with_core(self, core: str, entity_type: str) -> int:
        """How many entities of one type have a live row with this name key."""
        rows = self._by_core.rows(self._core.code(core))
        rows = rows[self.etype[rows] == ENTITY_TYPES.index(entity_type)]
        return len(np.unique(self._entity.codes[rows]))

    def unique_name_city(self, core: str, city: int) -> bool:
        """Exactly one entity has a live row with this name key in this city."""
        code = self._core.code(core)
        return code >= 0 and self._name_city.entities(code * self._n_city + city) == 1

    def _unique(self, name: str, value: str, single_type: bool) -> bool:
        codes, by_entity, by_type = self._keyed[name]
        code = codes.code(value) if value else -1
        if code < 0 or by_entity.entities(code) != 1:
            return False
        return not single_type or by_type.entities(code) == 1

    def unique_tax(self, tax: str, single_type: bool = False) -> bool:
        """One entity (and, if asked, one entity type) holds this tax id."""
        return self._unique("tax", tax, single_type)

    def unique_email(self, email: str, single_type: bool = False) -> bool:
        """One entity (and, if asked, one entity type) uses this e-mail."""
        return self._unique("email", email.lower(), single_type)

    def unique_cep(self, cep: str) -> bool:
        """One entity has this CEP."""
        return self._unique("cep", cep, False)

    def isolated(self, core: str, city: int, entity: str) -> bool:
        """No live row of another entity in `city` has a name key similar to `core`.

        Candidates are the rows sharing the first, second or last word (blocking, as a
        resolver would); similarity is rapidfuzz's ratio.
        """
        words = core.split(" ")
        wanted = {0: words[0], 1: words[1] if len(words) > 1 else "", -1: words[-1]}
        found = []
        for (tokens, groups), position in zip(self._blocks, (0, 1, -1), strict=True):
            code = tokens.code(wanted[position])
            if code >= 0:
                found.append(groups.rows(code * self._n_city + city))
        rows = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
        if len(rows) and entity:
            rows = rows[self._entity.codes[rows] != self._entity.code(entity)]
        if not len(rows):
            return True
        best = process.extractOne(
            core, self.core[rows].tolist(), scorer=fuzz.ratio, score_cutoff=self._similar
        )
        return best is None
