"""Cities, postcodes, streets, phones and e-mails, drawn and written for whole arrays.

A record keeps its facts as numbers (city index, CEP, phone digits, street index);
the written forms are rendered from them, so a legacy duplicate or a stale copy can
write the same fact differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from resolver.synthetic import vocab
from resolver.synthetic.names import BR_COMPANY, BR_PERSON, CH_COMPANY, US_COMPANY, NamePools
from resolver.synthetic.text import ObjArray, as_objects, strip_accents

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
        return self.variants[:, 0]  # type: ignore[no-any-return]


def build_cities() -> Cities:
    """The city table from the fixed vocabulary."""
    br = vocab.BR_CITIES
    foreign = [(vocab.CH_CITIES, CH_COMPANY), (vocab.DE_CITIES, 3), (vocab.US_CITIES, US_COMPANY)]
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
    return cities.variants[city, style]  # type: ignore[no-any-return]


def draw_ceps(rng: np.random.Generator, cities: Cities, city: IntArray) -> IntArray:
    """An 8-digit CEP inside the city's range; -1 abroad (Protheus keeps CEP blank)."""
    low, high = cities.cep_low[city], cities.cep_high[city]
    prefix = low + (rng.random(len(city)) * (high - low + 1)).astype(np.int64)
    cep = prefix * 1000 + rng.integers(0, 1000, size=len(city))
    return np.where(city < cities.n_br, cep, -1)


def written_ceps(rng: np.random.Generator, cep: IntArray) -> ObjArray:
    """'01310-100' or '01310100'; blank where unknown."""
    dash = (rng.random(len(cep)) < 0.5).tolist()
    return as_objects(
        [
            "" if c < 0 else (f"{c // 1000:05d}-{c % 1000:03d}" if d else f"{c:08d}")
            for c, d in zip(cep.tolist(), dash, strict=True)
        ]
    )


def draw_phones(rng: np.random.Generator, size: int, mobile: BoolArray) -> IntArray:
    """Subscriber numbers: 8-digit landlines (2…5xxx-xxxx), 9-digit mobiles (9xxxx-xxxx)."""
    land = rng.integers(20_000_000, 60_000_000, size=size)
    cell = 900_000_000 + rng.integers(60_000_000, 100_000_000, size=size)
    return np.where(mobile, cell, land)


_BR_PHONE_STYLES = (
    "({d}) {a}-{b}", "{d} {a}-{b}", "{d}{a}{b}", "(0{d}) {a}-{b}", "+55 {d} {a}-{b}",
    "{d}-{a}{b}", "{a}-{b}",
)  # fmt: skip


def written_phones(
    rng: np.random.Generator, cities: Cities, city: IntArray, number: IntArray
) -> ObjArray:
    """Phones in the formats people really type, foreign ones in international form."""
    style = rng.choice(
        len(_BR_PHONE_STYLES), size=len(city), p=[0.3, 0.2, 0.15, 0.08, 0.1, 0.07, 0.1]
    )
    prefix = cities.phone_prefix[city].tolist()
    out = []
    for s, p, num, c in zip(style.tolist(), prefix, number.tolist(), city.tolist(), strict=True):
        head, tail = divmod(num, 10_000)
        if c >= cities.n_br:
            out.append(f"{p} {head % 1000:03d} {tail // 100:02d} {tail % 100:02d}")
        else:
            out.append(_BR_PHONE_STYLES[s].format(d=p, a=head, b=f"{tail:04d}"))
    return as_objects(out)


@dataclass(frozen=True)
class Streets:
    """Address facts: street index, prefix index (Rua, Avenida…), number, complement."""

    street: IntArray
    prefix: IntArray
    number: IntArray
    complement: IntArray


def draw_streets(rng: np.random.Generator, pools: NamePools, size: int) -> Streets:
    """Address facts for `size` records (the pool used depends on the origin when written)."""
    weights = np.array([w for *_, w in vocab.BR_STREET_PREFIXES], dtype=np.float64)
    return Streets(
        street=rng.integers(0, 1 << 30, size=size),
        prefix=rng.choice(len(weights), size=size, p=weights / weights.sum()),
        number=np.where(
            rng.random(size) < 0.8,
            rng.integers(1, 3000, size=size),
            rng.integers(1, 200, size=size) * 10,
        ),
        complement=rng.integers(0, len(vocab.BR_COMPLEMENTS), size=size),
    )


_SEPARATORS = (", ", ", ", " ", ", nº ", ", N. ", ", ")


def written_streets(
    rng: np.random.Generator, pools: NamePools, streets: Streets, origin: IntArray
) -> ObjArray:
    """'Rua José Bonifácio, 123 - Sala 12' / 'AV. PAULISTA 1000' / 'Bahnhofstrasse 12'."""
    size = len(origin)
    abbreviate = (rng.random(size) < 0.4).tolist()
    sep = rng.integers(0, len(_SEPARATORS), size=size).tolist()
    prefixes = vocab.BR_STREET_PREFIXES
    br_names = pools.br_streets[streets.street % len(pools.br_streets)].tolist()
    ch_names = pools.ch_streets[streets.street % len(pools.ch_streets)].tolist()
    us_names = pools.us_streets[streets.street % len(pools.us_streets)].tolist()
    short_pick = (streets.street // 7).tolist()
    out = []
    for i, (o, pre, num, comp) in enumerate(
        zip(origin.tolist(), streets.prefix.tolist(), streets.number.tolist(),
            streets.complement.tolist(), strict=True)
    ):  # fmt: skip
        if o == US_COMPANY:
            out.append(f"{num} {us_names[i]}")
        elif o > BR_PERSON:
            out.append(f"{ch_names[i]} {num}")
        else:
            full, shorts, _ = prefixes[pre]
            head = shorts[short_pick[i] % len(shorts)] if abbreviate[i] else full
            out.append(
                f"{head} {br_names[i]}{_SEPARATORS[sep[i]]}{num}{vocab.BR_COMPLEMENTS[comp]}"
            )
    return as_objects(out)


def slug(text: str) -> str:
    """Domain-safe lowercase ASCII of a name: 'Silva & Filhos' → 'silvafilhos'."""
    return "".join(ch for ch in strip_accents(text).lower() if ch.isalnum())


def company_domains(bodies: ObjArray, origin: IntArray) -> ObjArray:
    """A plausible web domain per company from the first two words of its name."""
    tld = {BR_COMPANY: "com.br", CH_COMPANY: "ch", 3: "de", US_COMPANY: "com"}
    return as_objects(
        [
            f"{slug(''.join(b.split(' ')[:2]))[:24]}.{tld.get(o, 'com.br')}"
            for b, o in zip(bodies.tolist(), origin.tolist(), strict=True)
        ]
    )


def personal_emails(rng: np.random.Generator, names: ObjArray) -> ObjArray:
    """'maria.santos87@gmail.com'-style addresses for people."""
    domains = rng.choice(as_objects(vocab.PERSONAL_DOMAINS), size=len(names)).tolist()
    digits = rng.integers(1, 100, size=len(names)).tolist()
    with_digits = (rng.random(len(names)) < 0.6).tolist()
    out = []
    for name, dom, num, use in zip(names.tolist(), domains, digits, with_digits, strict=True):
        words = slug_words(name)
        local = f"{words[0]}.{words[-1]}" if len(words) > 1 else words[0]
        out.append(f"{local}{num if use else ''}@{dom}")
    return as_objects(out)


def slug_words(name: str) -> list[str]:
    """Lowercase ASCII words of a person's name, without the particles."""
    words = [slug(w) for w in name.split(" ")]
    return [w for w in words if w and w not in vocab.BR_PARTICLES] or ["contato"]
