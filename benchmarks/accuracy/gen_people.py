"""Set (c): an English-speaking person master (UK, US, Australia), as a CRM or HR system
exports it: given and family name in two columns, birth date, address, postcode, e-mail, phone.

Noise is written from how people and agents write other people's details (PERTURBATIONS.md,
"people"): nicknames, initials, family name first, hyphens and apostrophes, birth dates in
national formats, people who moved, twins, father and son of one name at one address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from benchmarks.accuracy.common import (
    HALT,
    MATCH,
    BaselineTable,
    DataSet,
    Query,
    case_variant,
    typo,
    write_csv,
)

NICKNAMES = {
    "William": ["Bill", "Will", "Billy"],
    "Robert": ["Bob", "Rob", "Bobby"],
    "Richard": ["Rick", "Dick", "Rich"],
    "Elizabeth": ["Liz", "Beth", "Betty"],
    "Margaret": ["Maggie", "Peggy", "Meg"],
    "Katherine": ["Kate", "Katie", "Kathy"],
    "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Jack", "Johnny"],
    "Michael": ["Mike", "Mick"],
    "Thomas": ["Tom", "Tommy"],
    "Christopher": ["Chris"],
    "Jennifer": ["Jen", "Jenny"],
    "Jessica": ["Jess"],
    "Alexander": ["Alex"],
    "Andrew": ["Andy", "Drew"],
    "Anthony": ["Tony"],
    "Benjamin": ["Ben"],
    "Charles": ["Charlie", "Chuck"],
    "Daniel": ["Dan", "Danny"],
    "David": ["Dave"],
    "Edward": ["Ed", "Ted", "Eddie"],
    "Joseph": ["Joe"],
    "Joshua": ["Josh"],
    "Matthew": ["Matt"],
    "Nicholas": ["Nick"],
    "Patrick": ["Pat"],
    "Peter": ["Pete"],
    "Samuel": ["Sam"],
    "Stephen": ["Steve"],
    "Steven": ["Steve"],
    "Timothy": ["Tim"],
    "Victoria": ["Vicky"],
    "Rebecca": ["Becky"],
    "Susan": ["Sue"],
    "Patricia": ["Trish", "Pat"],
    "Deborah": ["Deb"],
    "Catherine": ["Cathy", "Kate"],
    "Jonathan": ["Jon"],
    "Gregory": ["Greg"],
    "Kenneth": ["Ken"],
    "Ronald": ["Ron"],
    "Donald": ["Don"],
    "Gerald": ["Gerry"],
    "Lawrence": ["Larry"],
    "Frederick": ["Fred"],
    "Abigail": ["Abby"],
    "Samantha": ["Sam"],
    "Alexandra": ["Alex"],
    "Zachary": ["Zach"],
    "Jacqueline": ["Jackie"],
}
LOCALES = {"en_GB": 45, "en_US": 35, "en_AU": 20}


@dataclass(frozen=True)
class Person:
    pid: str
    given: str
    family: str
    born: date
    address: str
    city: str
    region: str
    postcode: str
    email: str
    phone: str
    locale: str

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


def _person(fk: dict[str, Faker], rng: random.Random, k: int) -> Person:
    locale = rng.choices(list(LOCALES), list(LOCALES.values()))[0]
    f = fk[locale]
    if rng.random() < 0.25:
        given = rng.choice(list(NICKNAMES))
    else:
        given = f.first_name()
    family = f.last_name()
    r = rng.random()
    if r < 0.04:
        family = f"{family}-{f.last_name()}"
    elif r < 0.08:
        family = rng.choice(["O'", "Mc", "Mac"]) + family
    region = f.state_abbr() if locale != "en_GB" else f.county()
    return Person(
        pid=f"P{k:07d}",
        given=given,
        family=family,
        born=f.date_of_birth(minimum_age=18, maximum_age=90),
        address=f.street_address().replace("\n", ", "),
        city=f.city(),
        region=region,
        postcode=f.postcode(),
        email=f"{given.lower()}.{family.lower().replace(chr(39), '')}{rng.randint(1, 99)}@"
        f"{rng.choice(['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com'])}",
        phone=f.phone_number(),
        locale=locale,
    )


def fmt_date(d: date, locale: str, rng: random.Random) -> str:
    """A birth date as people write it where they live."""
    r = rng.random()
    if r < 0.3:
        return d.isoformat()
    if r < 0.45:
        return d.strftime("%-d %B %Y")
    if r < 0.55:
        return d.strftime("%B %-d, %Y")
    if locale == "en_US":
        return d.strftime("%m/%d/%Y")
    return d.strftime("%d/%m/%Y")


def postcode_variant(pc: str, rng: random.Random) -> str:
    if " " in pc and rng.random() < 0.5:
        return pc.replace(" ", "")
    return pc.lower() if rng.random() < 0.2 else pc


def generate(out: Path, size: int = 2000, seed: int = 303) -> DataSet:
    rng = random.Random(seed)
    fk = {}
    for i, loc in enumerate(LOCALES):
        fk[loc] = Faker(loc)
        fk[loc].seed_instance(seed + i)
    people = [_person(fk, rng, k) for k in range(1, size + 1)]
    extra: list[Person] = []
    k = size
    # Namesakes: another person of the same name (other birth date and address).
    namesakes = []
    for p in rng.sample(people, size // 40):
        k += 1
        other = replace(_person(fk, rng, k), given=p.given, family=p.family)
        extra.append(other)
        namesakes.append((p, other))
    # Twins: same family name, birth date and address, another given name.
    twins = []
    for p in rng.sample(people, size // 60):
        k += 1
        other = replace(
            p, pid=f"P{k:07d}", given=fk[p.locale].first_name(), email="", phone=p.phone
        )
        if other.given != p.given:
            extra.append(other)
            twins.append((p, other))
    # Father and son: one name, one address, a generation apart.
    juniors = []
    for p in rng.sample(people, size // 60):
        k += 1
        son = replace(
            p, pid=f"P{k:07d}", born=p.born + timedelta(days=rng.randint(8000, 12000)), email=""
        )
        if son.born < date(2007, 1, 1):
            extra.append(son)
            juniors.append((p, son))
    master = people + extra
    header = [
        "person_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "address_line1",
        "city",
        "region",
        "postcode",
        "email",
        "phone",
    ]
    rows = [
        {
            "person_id": p.pid,
            "given_name": p.given,
            "family_name": p.family,
            "date_of_birth": p.born.isoformat(),
            "address_line1": p.address,
            "city": p.city,
            "region": p.region,
            "postcode": p.postcode,
            "email": p.email if rng.random() < 0.75 else "",
            "phone": p.phone if rng.random() < 0.6 else "",
        }
        for p in master
    ]
    data = out / "data"
    write_csv(data / "persons.csv", header, rows)
    # An e-mail-only query can only name a person whose master row carries the e-mail.
    with_email = {str(r["person_id"]) for r in rows if r["email"]}
    queries = _queries(rng, fk, people, namesakes, twins, juniors, size, with_email)
    tables = [
        BaselineTable(
            "person",
            "persons.csv",
            lambda r: f"Person:{r['person_id']}",
            ["given_name", "family_name"],
            None,
            "email",
            "city",
            "postcode",
            "date_of_birth",
        ),
    ]
    here = Path(__file__).resolve().parent
    ds = DataSet("people_en", data, here / "profiles" / "people.yaml", queries, tables)
    ds.write_queries()
    return ds


def _queries(
    rng: random.Random,
    fk: dict[str, Faker],
    people: list[Person],
    namesakes: list[tuple[Person, Person]],
    twins: list[tuple[Person, Person]],
    juniors: list[tuple[Person, Person]],
    size: int,
    with_email: set[str],
) -> list[Query]:
    out: list[Query] = []
    per = max(8, size // 30)
    special = {p.pid for pairs in (namesakes, twins, juniors) for pair in pairs for p in pair}
    plain = [p for p in people if p.pid not in special]

    def add(
        kind: str, record: dict[str, str], expected: str, p: Person | None, in_master: bool = False
    ) -> None:
        rec = {k: v for k, v in record.items() if v}
        cid = f"Person:{p.pid}" if p else None
        out.append(Query(f"ppl-{len(out) + 1:05d}", kind, rec, expected, cid, "person", in_master))

    def pick(pool: list[Person]) -> list[Person]:
        return rng.sample(pool, min(per, len(pool)))

    for p in pick(plain):
        add("name_dob", {"name": p.name, "birth_date": p.born.isoformat()}, MATCH, p)
    for p in pick(plain):
        add(
            "name_dob_postcode",
            {
                "name": case_variant(p.name, rng),
                "birth_date": fmt_date(p.born, p.locale, rng),
                "postcode": postcode_variant(p.postcode, rng),
            },
            MATCH,
            p,
        )
    for p in pick([p for p in plain if p.given in NICKNAMES]):
        add(
            "nickname",
            {
                "name": f"{rng.choice(NICKNAMES[p.given])} {p.family}",
                "birth_date": p.born.isoformat(),
                "city": p.city,
            },
            MATCH,
            p,
        )
    for p in pick(plain):
        add(
            "initial",
            {
                "name": f"{p.given[0]}. {p.family}",
                "birth_date": p.born.isoformat(),
                "postcode": p.postcode,
            },
            MATCH,
            p,
        )
    for p in pick(plain):
        add(
            "typo_name",
            {
                "name": f"{p.given} {typo(p.family, rng)}",
                "city": p.city,
                "birth_date": p.born.isoformat(),
            },
            MATCH,
            p,
        )
    for p in pick(plain):
        add(
            "family_first",
            {
                "name": rng.choice([f"{p.family.upper()}, {p.given}", f"{p.family} {p.given}"]),
                "birth_date": p.born.isoformat(),
            },
            MATCH,
            p,
        )
    for p in pick(plain):
        add(
            "dob_format",
            {"name": p.name, "birth_date": fmt_date(p.born, p.locale, rng), "city": p.city},
            MATCH,
            p,
        )
    for p in pick(plain):
        moved = _person(fk, rng, 0)
        add(
            "moved_address",
            {
                "name": p.name,
                "birth_date": p.born.isoformat(),
                "address": moved.address,
                "postcode": moved.postcode,
                "city": moved.city,
            },
            MATCH,
            p,
        )
    for p in pick([p for p in plain if p.pid in with_email]):
        add(
            "email_only",
            {"email": p.email.upper() if rng.random() < 0.3 else p.email},
            MATCH,
            p,
            True,
        )
    for p in pick(plain):
        add(
            "name_address", {"name": p.name, "address": p.address, "postcode": p.postcode}, MATCH, p
        )
    punct = [p for p in plain if "-" in p.family or "'" in p.family]
    for p in pick(punct):
        fam = p.family.replace("'", "").replace("-", rng.choice([" ", ""]))
        add(
            "punctuation_name",
            {"name": f"{p.given} {fam}", "birth_date": p.born.isoformat()},
            MATCH,
            p,
        )
    for a, b in rng.sample(namesakes, min(per, len(namesakes))):
        add("namesake_name_only", {"name": a.name}, HALT, None)
        t = rng.choice([a, b])
        add("namesake_name_dob", {"name": a.name, "birth_date": t.born.isoformat()}, MATCH, t)
    for a, _b in rng.sample(twins, min(per, len(twins))):
        add(
            "twin_family_dob_address",
            {"name": a.family, "birth_date": a.born.isoformat(), "address": a.address},
            HALT,
            None,
        )
    for a, _b in rng.sample(juniors, min(per, len(juniors))):
        add(
            "same_name_same_address",
            {"name": a.name, "address": a.address, "postcode": a.postcode},
            HALT,
            None,
        )
    for p in pick(plain):
        other = _person(fk, rng, 0)
        add(
            "lookalike_other_person",
            {
                "name": f"{p.given} {typo(p.family, rng)}",
                "birth_date": other.born.isoformat(),
                "postcode": other.postcode,
            },
            HALT,
            None,
        )
    for _ in range(per):
        q = _person(fk, rng, 0)
        add(
            "new_record",
            {
                "name": q.name,
                "birth_date": q.born.isoformat(),
                "postcode": q.postcode,
                "email": q.email,
            },
            HALT,
            None,
        )
    return out
