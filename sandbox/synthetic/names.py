"""Pools of name parts drawn once from seeded Faker, and vectorised name builders.

Calling Faker per row would cost minutes for a million suppliers; drawing a few
thousand parts once and combining them with numpy indices costs about a second.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from faker import Faker

from sandbox.synthetic import vocab
from sandbox.synthetic.text import ObjArray, as_objects

# Origin of a record: decides alphabet, name shape, legal form, tax id and country.
BR_COMPANY, BR_PERSON, CH_COMPANY, DE_COMPANY, US_COMPANY = 0, 1, 2, 3, 4

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NamePools:
    """Name parts per locale; the first entries of `br_last` are the common surnames."""

    br_last: ObjArray
    br_last_weights: FloatArray
    br_company_last: ObjArray  # surnames without particles ('da Rosa' would open a name)
    br_first: ObjArray
    ch_last: ObjArray
    ch_first: ObjArray
    us_last: ObjArray
    us_first: ObjArray
    br_streets: ObjArray
    ch_streets: ObjArray
    us_streets: ObjArray


def _unique(values: list[str], limit: int) -> ObjArray:
    seen = dict.fromkeys(v for v in values if v)
    return as_objects(list(seen)[:limit])


def build_pools(seed: int) -> NamePools:
    """Draw the pools from Faker (pt_BR, de_CH, en_US) seeded with `seed`."""
    fakers = {}
    for locale in ("pt_BR", "de_CH", "en_US"):
        fake = Faker(locale)
        fake.seed_instance(seed)
        fakers[locale] = fake
    br, ch, us = fakers["pt_BR"], fakers["de_CH"], fakers["en_US"]
    br_last = _unique([br.last_name() for _ in range(3000)], 400)
    # Brazilian surnames are very concentrated (Silva, Santos, Oliveira…): a Zipf-like
    # weight makes name collisions as frequent as in a real master.
    weights = 1.0 / (np.arange(len(br_last), dtype=np.float64) + 3.0) ** 0.9
    br_first = _unique([br.first_name() for _ in range(3000)], 400)
    rng = np.random.default_rng(seed)
    honorifics = rng.choice(as_objects(vocab.BR_STREET_HONORIFICS), size=1200).tolist()
    people = [
        f"{h}{br.first_name_male() if h else br.first_name()} {br.last_name()}" for h in honorifics
    ]
    br_streets = _unique([*people, *vocab.BR_STREET_NAMED], 1400)
    return NamePools(
        br_last=br_last,
        br_last_weights=weights / weights.sum(),
        br_company_last=as_objects([n for n in br_last.tolist() if " " not in n]),
        br_first=br_first,
        ch_last=_unique([ch.last_name() for _ in range(2000)], 400),
        ch_first=_unique([ch.first_name() for _ in range(2000)], 400),
        us_last=_unique([us.last_name() for _ in range(2000)], 400),
        us_first=_unique([us.first_name() for _ in range(2000)], 400),
        br_streets=br_streets,
        ch_streets=_unique([ch.street_name() for _ in range(1500)], 500),
        us_streets=_unique([us.street_name() for _ in range(1500)], 500),
    )


def _pick(
    rng: np.random.Generator, pool: ObjArray, size: int, p: FloatArray | None = None
) -> ObjArray:
    return pool[rng.choice(len(pool), size=size, p=p)]


def _fill(out: ObjArray, mask: npt.NDArray[np.bool_], values: list[str]) -> None:
    out[np.flatnonzero(mask)] = as_objects(values)


def person_names(rng: np.random.Generator, pools: NamePools, origin: IntArray) -> ObjArray:
    """Full names: Brazilian 'Maria Aparecida dos Santos Lima', others 'First Last'."""
    out = np.empty(len(origin), dtype=object)
    br = origin <= BR_PERSON
    k = int(br.sum())
    if k:
        first = _pick(rng, pools.br_first, k)
        # Faker's first names include compounds ('Maria Julia'); those take no second one.
        single = np.array([" " not in f for f in first.tolist()], dtype=bool)
        second = np.where(single & (rng.random(k) < 0.25), _pick(rng, pools.br_first, k), "")
        last = _pick(rng, pools.br_last, k, pools.br_last_weights)
        last2 = np.where(
            rng.random(k) < 0.55, _pick(rng, pools.br_last, k, pools.br_last_weights), ""
        )
        # Faker's surnames carry their own particles ('da Rosa', 'das Neves').
        name = first.copy()
        for part in (second, last, last2):
            given = np.flatnonzero(part != "")
            name[given] = name[given] + " " + part[given]
        out[np.flatnonzero(br)] = name
    for code, firsts, lasts in (
        (CH_COMPANY, pools.ch_first, pools.ch_last),
        (DE_COMPANY, pools.ch_first, pools.ch_last),
        (US_COMPANY, pools.us_first, pools.us_last),
    ):
        mask = origin == code
        k = int(mask.sum())
        if k:
            names = zip(_pick(rng, firsts, k).tolist(), _pick(rng, lasts, k).tolist(), strict=True)
            _fill(out, mask, [f"{f} {last}" for f, last in names])
    return out


def _legal(rng: np.random.Generator, size: int, families: list[int], p: list[float]) -> IntArray:
    return rng.choice(np.array(families, dtype=np.int64), size=size, p=p)


def _br_company_bodies(
    rng: np.random.Generator, pools: NamePools, k: int
) -> tuple[ObjArray, IntArray]:
    acts = as_objects([a for a, _ in vocab.BR_ACTIVITIES])
    roles = as_objects([r for r, _ in vocab.BR_ROLES])
    tails = as_objects([t for t, _ in vocab.BR_ROLE_TAILS])
    fantasy = as_objects(vocab.BR_FANTASY)
    parts = {
        "l": _pick(rng, pools.br_company_last, k),
        "l2": _pick(rng, pools.br_company_last, k),
        "a": _pick(rng, acts, k),
        "r": _pick(rng, roles, k),
        "t": _pick(rng, tails, k),
        "f": _pick(rng, fantasy, k),
        "p": _pick(rng, pools.br_first, k),
    }
    shape = rng.choice(7, size=k, p=[0.1, 0.15, 0.3, 0.15, 0.12, 0.1, 0.08])
    shapes = (
        "{l} & Filhos {a}", "{r} {l} {t}", "{l} {a}", "{l} {l2} {a}", "{f} {a}", "{r} {f}",
        "{p} {l} {a}",
    )  # fmt: skip
    bodies = np.empty(k, dtype=object)
    for number, template in enumerate(shapes):
        rows = np.flatnonzero(shape == number)
        bodies[rows] = _compose(template, {key: part[rows] for key, part in parts.items()})
    legal = _legal(
        rng,
        k,
        [vocab.LEGAL_LTDA, vocab.LEGAL_SA, vocab.LEGAL_ME, vocab.LEGAL_EPP, vocab.LEGAL_EIRELI,
         vocab.LEGAL_NONE],
        [0.6, 0.08, 0.12, 0.08, 0.06, 0.06],
    )  # fmt: skip
    corporate = shape == 1
    legal[corporate] = np.where(
        rng.random(int(corporate.sum())) < 0.6, vocab.LEGAL_SA, vocab.LEGAL_LTDA
    )
    # A one-person business named after its owner is an ME or EIRELI by law.
    owner = shape == 6
    legal[owner] = np.where(rng.random(int(owner.sum())) < 0.6, vocab.LEGAL_ME, vocab.LEGAL_EIRELI)
    return bodies, legal


def _compose(template: str, parts: dict[str, ObjArray]) -> ObjArray:
    """`template.format(**row)` for every row, as object-array concatenation."""
    pieces: list[str | ObjArray] = []
    for literal, key, _, _ in string.Formatter().parse(template):
        pieces += [literal] if literal else []
        pieces += [parts[key]] if key else []
    first = pieces[0]
    assert not isinstance(first, str), "templates start with a field"
    out: ObjArray = first
    for piece in pieces[1:]:
        out = out + piece
    return out


def _foreign_bodies(
    rng: np.random.Generator, pools: NamePools, origin: int, k: int
) -> tuple[ObjArray, IntArray]:
    if origin == US_COMPANY:
        last = _pick(rng, pools.us_last, k).tolist()
        ind = _pick(rng, as_objects(vocab.US_INDUSTRIES), k).tolist()
        lead = _pick(rng, as_objects(vocab.US_LEADS), k).tolist()
        letters = rng.integers(65, 91, size=(k, 3)).tolist()
        acronym = ["".join(map(chr, row)) for row in letters]
        shape = rng.choice(4, size=k, p=[0.25, 0.35, 0.15, 0.25]).tolist()
        shapes = ("{c} {i}", "{l} {i}", "{l} & Sons", "{g} {i}")
        bodies = [
            shapes[s].format(c=c, i=i, l=la, g=g)
            for s, c, i, la, g in zip(shape, acronym, ind, last, lead, strict=True)
        ]
        families = [vocab.LEGAL_INC, vocab.LEGAL_CORP, vocab.LEGAL_LLC, vocab.LEGAL_LTD]
        return as_objects(bodies), _legal(rng, k, families, [0.45, 0.25, 0.2, 0.1])
    last = _pick(rng, pools.ch_last, k).tolist()
    last2 = _pick(rng, pools.ch_last, k).tolist()
    trade = _pick(rng, as_objects(vocab.CH_BRANCHES), k).tolist()
    shape = rng.choice(4, size=k, p=[0.5, 0.2, 0.2, 0.1]).tolist()
    shapes = ("{l} {b}", "{l} & {l2}", "{b} {l}", "{l} & Cie.")
    bodies = [
        shapes[s].format(l=la, l2=l2, b=b)
        for s, la, l2, b in zip(shape, last, last2, trade, strict=True)
    ]
    p_ag = 0.7 if origin == CH_COMPANY else 0.25
    return as_objects(bodies), _legal(rng, k, [vocab.LEGAL_AG, vocab.LEGAL_GMBH], [p_ag, 1 - p_ag])


def company_bodies(
    rng: np.random.Generator, pools: NamePools, origin: IntArray
) -> tuple[ObjArray, IntArray]:
    """(name without legal form, legal-form family) per record; persons get their name."""
    bodies = np.empty(len(origin), dtype=object)
    legal = np.zeros(len(origin), dtype=np.int64)
    for code in (BR_COMPANY, CH_COMPANY, DE_COMPANY, US_COMPANY):
        mask = origin == code
        k = int(mask.sum())
        if not k:
            continue
        if code == BR_COMPANY:
            b, lf = _br_company_bodies(rng, pools, k)
        else:
            b, lf = _foreign_bodies(rng, pools, code, k)
        bodies[mask] = b
        legal[mask] = lf
    persons = origin == BR_PERSON
    if persons.any():
        bodies[persons] = person_names(rng, pools, origin[persons])
    return bodies, legal


def novel_bodies(
    rng: np.random.Generator, pools: NamePools, size: int
) -> tuple[ObjArray, IntArray]:
    """Brazilian-style names no master uses: immigrant surnames (drawn from the US pool,
    which Brazilian companies never get) with a Brazilian activity."""
    last = _pick(rng, pools.us_last, size)
    acts = as_objects([a for a, _ in vocab.BR_ACTIVITIES])
    families = [vocab.LEGAL_LTDA, vocab.LEGAL_SA, vocab.LEGAL_ME, vocab.LEGAL_EPP]
    return last + " " + _pick(rng, acts, size), _legal(rng, size, families, [0.6, 0.15, 0.15, 0.1])


def generic_bodies(rng: np.random.Generator, clusters: int) -> ObjArray:
    """Names such as 'Comercial São José' that several unrelated companies carry."""
    heads = rng.choice(as_objects(vocab.BR_GENERIC_HEADS), size=clusters).tolist()
    tails = rng.choice(as_objects(vocab.BR_GENERIC_TAILS), size=clusters).tolist()
    return as_objects([f"{h} {t}" for h, t in zip(heads, tails, strict=True)])


def written_legal(rng: np.random.Generator, legal: IntArray, canonical: bool = False) -> ObjArray:
    """The legal form as keyed: one of the spellings of its family."""
    out = np.empty(len(legal), dtype=object)
    for family, forms in enumerate(vocab.LEGAL_FORMS):
        mask = legal == family
        k = int(mask.sum())
        if k:
            idx = np.zeros(k, dtype=np.int64) if canonical else rng.integers(len(forms), size=k)
            out[mask] = as_objects(forms)[idx]
    return out
