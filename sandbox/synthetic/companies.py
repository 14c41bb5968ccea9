"""Company and person-as-supplier records: their facts, and how they are written.

`draw_companies` decides the facts (name body, legal form, tax number, city, street,
CEP, phone, e-mail); `render_companies` writes them the way Protheus users do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.synthetic import fmt, geo, names, taxid, vocab
from sandbox.synthetic.frame import Frame, filled
from sandbox.synthetic.geo import Cities, IntArray
from sandbox.synthetic.names import BR_COMPANY, BR_PERSON, CH_COMPANY, NamePools
from sandbox.synthetic.text import ObjArray, abbreviate, apply_case, as_objects, short_name

TAX_NONE, TAX_CNPJ, TAX_CPF, TAX_UID = 0, 1, 2, 3


@dataclass(frozen=True)
class Numbers:
    """Every tax number of the run comes from these pools, so none is issued twice."""

    cnpj_roots: taxid.NumberPool
    cpf_bases: taxid.NumberPool
    uid_bases: taxid.NumberPool


def make_numbers(rng: np.random.Generator, suppliers: int) -> Numbers:
    """Pools sized for `suppliers` plus the proportional customers and employees."""
    companies = int(suppliers * 1.75) + 2_000
    people = int(suppliers * 0.5) + 2_000
    uid = taxid.unique_ints(rng, 10_000_000, 100_000_000, companies // 10 + 2_000)
    return Numbers(
        cnpj_roots=taxid.NumberPool.draw(rng, 100_000, 100_000_000, companies),
        cpf_bases=taxid.NumberPool.draw(rng, 1_000_000, 1_000_000_000, people),
        # A base whose check digit would be 10 has no valid UID.
        uid_bases=taxid.NumberPool(uid[taxid.uid_check_digit(uid) != 10]),
    )


def tax_facts(rng: np.random.Generator, numbers: Numbers, origin: IntArray) -> Frame:
    """Kind, base, branch and check digits of each record's tax number."""
    n = len(origin)
    kind = np.full(n, TAX_NONE, dtype=np.int64)
    base = np.zeros(n, dtype=np.int64)
    kind[origin == BR_COMPANY] = TAX_CNPJ
    kind[origin == BR_PERSON] = TAX_CPF
    swiss = np.flatnonzero((origin == CH_COMPANY) & (rng.random(n) < 0.7))
    kind[swiss] = TAX_UID
    for code, pool in (
        (TAX_CNPJ, numbers.cnpj_roots),
        (TAX_CPF, numbers.cpf_bases),
        (TAX_UID, numbers.uid_bases),
    ):
        mask = kind == code
        base[mask] = pool.take(int(mask.sum()))
    branch = np.where(kind == TAX_CNPJ, 1, 0).astype(np.int64)
    return {
        "tax_kind": kind,
        "tax_base": base,
        "tax_branch": branch,
        "tax_check": check_digits(kind, base, branch),
    }


def check_digits(kind: IntArray, base: IntArray, branch: IntArray) -> IntArray:
    """The correct check digits for each record's number (UID: its single digit)."""
    out = np.zeros(len(kind), dtype=np.int64)
    for code in (TAX_CNPJ, TAX_CPF, TAX_UID):
        mask = kind == code
        if not mask.any():
            continue
        if code == TAX_CNPJ:
            out[mask] = taxid.cnpj_check_digits(base[mask], branch[mask])
        elif code == TAX_CPF:
            out[mask] = taxid.cpf_check_digits(base[mask])
        else:
            out[mask] = taxid.uid_check_digit(base[mask])
    return out


def draw_companies(
    rng: np.random.Generator, pools: NamePools, cities: Cities, numbers: Numbers, origin: IntArray
) -> Frame:
    """The facts of `len(origin)` new, unrelated companies (or self-employed people)."""
    n = len(origin)
    body, legal = names.company_bodies(rng, pools, origin)
    city = geo.draw_cities(rng, cities, origin)
    streets = geo.draw_streets(rng, n)
    person = origin == BR_PERSON
    mobile = rng.random(n) < np.where(person, 0.8, 0.15)
    mailbox = as_objects(vocab.EMAIL_LOCALS)[rng.integers(0, len(vocab.EMAIL_LOCALS), size=n)]
    email = mailbox + "@" + geo.company_domains(body, origin)
    if person.any():
        email[person] = geo.personal_emails(rng, body[person])
    return {
        "origin": origin,
        "body": body,
        "legal": legal,
        **tax_facts(rng, numbers, origin),
        "city": city,
        "cep": geo.draw_ceps(rng, cities, city),
        "street": streets.street,
        "prefix": streets.prefix,
        "number": streets.number,
        "complement": streets.complement,
        "phone": geo.draw_phones(rng, n, mobile),
        "email": email,
    }


def relocate(
    rng: np.random.Generator, pools: NamePools, cities: Cities, frame: Frame, city: IntArray
) -> None:
    """Move records to `city`: new street, CEP and phone there (in place)."""
    n = len(city)
    streets = geo.draw_streets(rng, n)
    frame["city"] = city
    frame["cep"] = geo.draw_ceps(rng, cities, city)
    frame["street"], frame["prefix"] = streets.street, streets.prefix
    frame["number"], frame["complement"] = streets.number, streets.complement
    frame["phone"] = geo.draw_phones(rng, n, rng.random(n) < 0.15)


@dataclass(frozen=True)
class Blanks:
    """Share of records keyed without each field."""

    email: float = 0.15
    phone: float = 0.08
    address: float = 0.05
    cep: float = 0.08
    taxid: float = 0.0


def render_companies(
    rng: np.random.Generator, pools: NamePools, cities: Cities, f: Frame, blanks: Blanks
) -> Frame:
    """Written columns (name, short name, tax id, address…) for the facts in `f`."""
    n = len(f["origin"])
    upper = rng.random(n) < 0.45
    plain = rng.random(n) < np.where(upper, 0.55, 0.15)
    legal = names.written_legal(rng, f["legal"])
    body = f["body"].copy()
    # Some clerks abbreviate on first entry too ('Ind. e Com. de Plásticos').
    short_form = np.flatnonzero(rng.random(n) < 0.08)
    body[short_form] = fmt.per_unique(body[short_form], abbreviate)
    full = fmt.choose(legal != "", body + " " + legal, body)
    cgc = written_taxids(rng, f)
    email = f["email"].copy()
    shout = rng.random(n) < 0.08
    email[shout] = [e.upper() for e in email[shout].tolist()]
    person = f["origin"] == BR_PERSON
    short = fmt.per_unique(f["body"], short_name)
    short[person] = fmt.each(f["body"][person], lambda b: short_name(b, person=True))
    out: Frame = {
        "name": apply_case(full, upper, plain),
        "short": apply_case(short, upper, plain),
        "cgc": cgc,
        "upper": upper,
        "plain": plain,
        "city_written": geo.written_cities(rng, cities, f["city"]),
        "state": cities.state[f["city"]],
        "cep_written": geo.written_ceps(rng, f["cep"]),
        "email_written": email,
    }
    for column, share in (
        ("email_written", blanks.email), ("cep_written", blanks.cep), ("cgc", blanks.taxid),
    ):  # fmt: skip
        out[column][rng.random(n) < share] = ""
    return out


def company_reach(
    rng: np.random.Generator, pools: NamePools, cities: Cities, f: Frame, w: Frame, blanks: Blanks
) -> None:
    """Write address and phone (in place): no query reads them, so the file writer does."""
    n = len(f["origin"])
    streets = geo.Streets(f["street"], f["prefix"], f["number"], f["complement"])
    address = geo.written_streets(rng, pools, streets, f["origin"])
    w["address"] = apply_case(address, w["upper"], w["plain"])
    w["phone_written"] = geo.written_phones(rng, cities, f["city"], f["phone"])
    w["address"][rng.random(n) < blanks.address] = ""
    # A legacy duplicate often lost its phone on the way.
    lost = rng.random(n) < np.where(f["role"] == "legacy_duplicate", 0.26, blanks.phone)
    w["phone_written"][lost] = ""


def written_taxids(rng: np.random.Generator, f: Frame) -> ObjArray:
    """Tax ids as keyed: ~40 % punctuated ('12.345.678/0001-95'), the rest raw digits;
    blank for foreigners without one."""
    n = len(f["tax_kind"])
    written = filled(n, "")
    punct = rng.random(n) < 0.4
    kind, base, branch, check = f["tax_kind"], f["tax_base"], f["tax_branch"], f["tax_check"]
    for code in (TAX_CNPJ, TAX_CPF):
        for pretty in (True, False):
            m = np.flatnonzero((kind == code) & (punct == pretty))
            if code == TAX_CNPJ:
                written[m] = taxid.cnpj_text(base[m], branch[m], check[m], pretty)
            else:
                written[m] = taxid.cpf_text(base[m], check[m], pretty)
    m = np.flatnonzero(kind == TAX_UID)
    written[m] = taxid.uid_strings(base[m], check[m])
    return written


def tax_keys(f: Frame, written: ObjArray) -> IntArray:
    """One integer per tax number (equal numbers, equal keys); -1 where none is written."""
    key = f["tax_kind"] * 10**15 + f["tax_base"] * 10**6 + f["tax_branch"] * 100 + f["tax_check"]
    return np.where((f["tax_kind"] == TAX_NONE) | (written == ""), -1, key)
