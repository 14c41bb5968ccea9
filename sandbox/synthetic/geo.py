"""Cities, postcodes, streets, phones and e-mails, drawn and written for whole arrays.

A record keeps its facts as numbers (city index, CEP, phone digits, street index);
the written forms are rendered from them, so a legacy duplicate or a stale copy can
write the same fact differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sandbox.synthetic import fmt, vocab
from sandbox.synthetic.names import (
    BR_COMPANY,
    BR_PERSON,
    CH_COMPANY,
    DE_COMPANY,
    US_COMPANY,
    NamePools,
)
from sandbox.synthetic.text import ObjArray, as_objects, strip_accents

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Cities:
    """All cities, Brazilian first; foreign ones have state 'EX' and no CEP range."""

    variants: ObjArray  # (n, 4): accented, UPPER PLAIN, Title plain, UPPER ACCENTED
    state: ObjArray
    phone_prefix: ObjArray  # DDD for Brazil, '+41 44' style abroad
    cep_low: IntArray
    cep_high: IntArray
    weight: npt.NDArray[np.float64]
    n_br: int
    foreign: dict[int, IntArray]  # origin → city indices

    @property
    def names(self) -> ObjArray:
        """The accented, title-case spelling of each city."""
        return self.variants[:, 0]


def build_cities() -> Cities:
    """The city table from the fixed vocabulary."""
    br = vocab.BR_CITIES
    foreign = [
        (vocab.CH_CITIES, CH_COMPANY),
        (vocab.DE_CITIES, DE_COMPANY),
        (vocab.US_CITIES, US_COMPANY),
    ]
    names = [c[0] for c in br] + [c[0] for group, _ in foreign for c in group]
    variants = np.array(
        [[n, strip_accents(n).upper(), strip_accents(n), n.upper()] for n in names], dtype=object
    )
    prefixes = [str(c[2]) for c in br] + [c[1] for group, _ in foreign for c in group]
    index: dict[int, IntArray] = {}
    start = len(br)
    for group, origin in foreign:
        index[origin] = np.arange(start, start + len(group), dtype=np.int64)
        start += len(group)
    n_foreign = len(names) - len(br)
    weight = np.array([c[5] for c in br], dtype=np.float64)
    return Cities(
        variants=variants,
        state=as_objects([c[1] for c in br] + ["EX"] * n_foreign),
        phone_prefix=as_objects(prefixes),
        cep_low=np.array([c[3] for c in br] + [0] * n_foreign, dtype=np.int64),
        cep_high=np.array([c[4] for c in br] + [0] * n_foreign, dtype=np.int64),
        weight=weight / weight.sum(),
        n_br=len(br),
        foreign=index,
    )


def draw_cities(rng: np.random.Generator, cities: Cities, origin: IntArray) -> IntArray:
    """A city per record: weighted Brazilian cities, or one of the record's country."""
    out = rng.choice(cities.n_br, size=len(origin), p=cities.weight).astype(np.int64)
    for code, pool in cities.foreign.items():
        mask = origin == code
        out[mask] = rng.choice(pool, size=int(mask.sum()))
    return out


def other_city(
    rng: np.random.Generator, cities: Cities, city: IntArray, step: IntArray
) -> IntArray:
    """A different Brazilian city for each record; distinct `step`s give distinct cities."""
    shift = (step * 7 + rng.integers(1, 5, size=len(city))) % (cities.n_br - 1) + 1
    return (city + shift) % cities.n_br


def written_cities(rng: np.random.Generator, cities: Cities, city: IntArray) -> ObjArray:
    """'São Paulo' / 'SAO PAULO' / 'Sao Paulo' / 'SÃO PAULO' as keyed."""
    style = rng.choice(4, size=len(city), p=[0.4, 0.35, 0.15, 0.1])
    return cities.variants[city, style]


def draw_ceps(rng: np.random.Generator, cities: Cities, city: IntArray) -> IntArray:
    """An 8-digit CEP inside the city's range; -1 abroad (Protheus keeps CEP blank)."""
    low, high = cities.cep_low[city], cities.cep_high[city]
    prefix = low + (rng.random(len(city)) * (high - low + 1)).astype(np.int64)
    cep = prefix * 1000 + rng.integers(0, 1000, size=len(city))
    return np.where(city < cities.n_br, cep, -1)


def written_ceps(rng: np.random.Generator, cep: IntArray) -> ObjArray:
    """'01310-100' or '01310100'; blank where unknown."""
    known = np.maximum(cep, 0)
    head, tail = fmt.padded(known // 1000, 5), fmt.padded(known % 1000, 3)
    out = fmt.choose(rng.random(len(cep)) < 0.5, head + "-" + tail, head + tail)
    out[cep < 0] = ""
    return out


def draw_phones(rng: np.random.Generator, size: int, mobile: BoolArray) -> IntArray:
    """Subscriber numbers: 8-digit landlines (2…5xxx-xxxx), 9-digit mobiles (9xxxx-xxxx)."""
    land = rng.integers(20_000_000, 60_000_000, size=size)
    cell = 900_000_000 + rng.integers(60_000_000, 100_000_000, size=size)
    return np.where(mobile, cell, land)


def written_phones(
    rng: np.random.Generator, cities: Cities, city: IntArray, number: IntArray
) -> ObjArray:
    """Phones in the formats people really type, foreign ones in international form."""
    style = rng.choice(7, size=len(city), p=[0.3, 0.2, 0.15, 0.08, 0.1, 0.07, 0.1])
    style[city >= cities.n_br] = 7
    d = cities.phone_prefix[city]
    a, b = fmt.decimal(number // 10_000), fmt.padded(number % 10_000, 4)
    out = np.empty(len(city), dtype=object)
    for s in range(8):
        i = np.flatnonzero(style == s)
        if not len(i):
            continue
        di, ai, bi = d[i], a[i], b[i]
        if s == 0:
            out[i] = "(" + di + ") " + ai + "-" + bi
        elif s == 1:
            out[i] = di + " " + ai + "-" + bi
        elif s == 2:
            out[i] = di + ai + bi
        elif s == 3:
            out[i] = "(0" + di + ") " + ai + "-" + bi
        elif s == 4:
            out[i] = "+55 " + di + " " + ai + "-" + bi
        elif s == 5:
            out[i] = di + "-" + ai + bi
        elif s == 6:
            out[i] = ai + "-" + bi
        else:
            head, tail = number[i] // 10_000 % 1000, number[i] % 10_000
            out[i] = (
                di + " " + fmt.padded(head, 3) + " " + fmt.padded(tail // 100, 2) + " "
                + fmt.padded(tail % 100, 2)
            )  # fmt: skip
    return out


@dataclass(frozen=True)
class Streets:
    """Address facts: street index, prefix index (Rua, Avenida…), number, complement."""

    street: IntArray
    prefix: IntArray
    number: IntArray
    complement: IntArray


def draw_streets(rng: np.random.Generator, size: int) -> Streets:
    """Address facts for `size` records (the pool used depends on the origin when written)."""
    weights = np.array([w for *_, w in vocab.BR_STREET_PREFIXES], dtype=np.float64)
    round_number = rng.integers(1, 200, size=size) * 10
    return Streets(
        street=rng.integers(0, 1 << 30, size=size),
        prefix=rng.choice(len(weights), size=size, p=weights / weights.sum()),
        number=np.where(rng.random(size) < 0.8, rng.integers(1, 3000, size=size), round_number),
        complement=rng.integers(0, len(vocab.BR_COMPLEMENTS), size=size),
    )


_SEPARATORS = as_objects([", ", ", ", " ", ", nº ", ", N. ", ", "])
# Prefix spellings per prefix: the full word, then abbreviations cycled to three columns.
_PREFIXES = np.array(
    [
        [full, *[shorts[k % len(shorts)] for k in range(3)]]
        for full, shorts, _ in vocab.BR_STREET_PREFIXES
    ],
    dtype=object,
)


def written_streets(
    rng: np.random.Generator, pools: NamePools, streets: Streets, origin: IntArray
) -> ObjArray:
    """'Rua José Bonifácio, 123 - Sala 12' / 'AV. PAULISTA 1000' / 'Bahnhofstrasse 12'."""
    size = len(origin)
    spelling = np.where(rng.random(size) < 0.4, 1 + streets.street % 3, 0)
    sep = rng.integers(0, len(_SEPARATORS), size=size)
    number = fmt.decimal(streets.number)
    name = pools.br_streets[streets.street % len(pools.br_streets)]
    complement = as_objects(vocab.BR_COMPLEMENTS)[streets.complement]
    out = _PREFIXES[streets.prefix, spelling] + " " + name + _SEPARATORS[sep] + number + complement
    us = np.flatnonzero(origin == US_COMPANY)
    out[us] = number[us] + " " + pools.us_streets[streets.street[us] % len(pools.us_streets)]
    europe = np.flatnonzero((origin > BR_PERSON) & (origin != US_COMPANY))
    out[europe] = (
        pools.ch_streets[streets.street[europe] % len(pools.ch_streets)] + " " + number[europe]
    )
    return out  # type: ignore[no-any-return]


def _slug_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x250):
        char = chr(code)
        plain = strip_accents(char).lower()
        table[code] = "".join(c for c in plain if c.isascii() and c.isalnum()) or None
    return table


_SLUG = _slug_table()


def slug(text: str) -> str:
    """Domain-safe lowercase ASCII of a name: 'Silva & Filhos' → 'silvafilhos'."""
    return text.translate(_SLUG)


def _domain_stem(body: str) -> str:
    return slug("".join(body.split(" ")[:2]))[:24]


_TLD = {
    BR_COMPANY: "com.br",
    BR_PERSON: "com.br",
    CH_COMPANY: "ch",
    DE_COMPANY: "de",
    US_COMPANY: "com",
}


def company_domains(bodies: ObjArray, origin: IntArray) -> ObjArray:
    """A plausible web domain per company from the first two words of its name."""
    tld = as_objects([_TLD[o] for o in range(5)])
    return fmt.per_unique(bodies, _domain_stem) + "." + tld[origin]  # type: ignore[no-any-return]


def _local_part(name: str) -> str:
    words = slug_words(name)
    return f"{words[0]}.{words[-1]}" if len(words) > 1 else words[0]


def personal_emails(rng: np.random.Generator, names: ObjArray) -> ObjArray:
    """'maria.santos87@gmail.com'-style addresses for people."""
    n = len(names)
    domains = as_objects(vocab.PERSONAL_DOMAINS)[
        rng.integers(0, len(vocab.PERSONAL_DOMAINS), size=n)
    ]
    digits = fmt.choose(
        rng.random(n) < 0.6, fmt.decimal(rng.integers(1, 100, size=n)), as_objects([""] * n)
    )
    return fmt.each(names, _local_part) + digits + "@" + domains  # type: ignore[no-any-return]


def work_emails(names: ObjArray, domains: ObjArray) -> ObjArray:
    """'first.last@domain' for people at a company."""
    return fmt.each(names, _local_part) + "@" + domains  # type: ignore[no-any-return]


_SLUG_WORDS = {**_SLUG, ord(" "): " "}


def slug_words(name: str) -> list[str]:
    """Lowercase ASCII words of a person's name, without the particles."""
    words = [w for w in name.translate(_SLUG_WORDS).split(" ") if w and w not in _PARTICLES]
    return words or ["contato"]


_PARTICLES = frozenset(vocab.BR_PARTICLES)
