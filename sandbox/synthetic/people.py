"""Employees (SRA) and contacts (SU5), with the people who are both and the employees
whose CPF or e-mail turns up on a supplier (conflict of interest)."""

from __future__ import annotations

import numpy as np

from sandbox.synthetic import fmt, geo, names, taxid, vocab
from sandbox.synthetic.companies import TAX_CPF, Numbers
from sandbox.synthetic.entities import CONTACT_PERSON, EMPLOYEE_PERSON, new_entities
from sandbox.synthetic.frame import Frame, concat, filled, length, take
from sandbox.synthetic.geo import Cities, IntArray
from sandbox.synthetic.masters import Master
from sandbox.synthetic.names import BR_PERSON, NamePools
from sandbox.synthetic.text import ObjArray, apply_case, as_objects

FILIAIS = ("01", "02", "03")
_FILIAL_HOME = ("São Paulo", "Campinas", "Curitiba")  # where each branch's staff live


def _cased(rng: np.random.Generator, values: ObjArray, p_upper: float) -> ObjArray:
    upper = rng.random(len(values)) < p_upper
    plain = rng.random(len(values)) < np.where(upper, 0.6, 0.2)
    return apply_case(values, upper, plain)


def _numbered(rng: np.random.Generator, group: IntArray) -> IntArray:
    """1, 2, 3… within each group, in random order (matrícula or contact code)."""
    order = np.lexsort((rng.random(len(group)), group))
    rank = np.empty(len(group), dtype=np.int64)
    counts = np.bincount(group)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank[order] = np.arange(len(group)) - starts
    return rank + 1


def _with_stale(rng: np.random.Generator, frame: Frame, key: str, share: float) -> Frame:
    """Delete some rows outright and add deleted stale copies before live ones."""
    n = length(frame)
    # People in two roles and planted defects stay live: the queries and tests rely on them.
    plain = (frame["role"] == "original") & (frame["defect"] == "")
    frame["deleted"][plain & (rng.random(n) < share / 2)] = True
    live = np.flatnonzero(~frame["deleted"])
    copies = take(frame, rng.choice(live, size=max(1, round(n * share / 2)), replace=False))
    copies["deleted"][:] = True
    copies["role"][:] = "stale_copy"
    copies["defect"][:] = ""
    table = concat([frame, copies])
    order = np.lexsort((~table["deleted"], table[key], table["filial"]))
    return take(table, order)


def build_employees(
    rng: np.random.Generator, pools: NamePools, cities: Cities, numbers: Numbers, rows: int
) -> Frame:
    """Employees of the three branches: name, CPF, birth date, e-mail, home town, status."""
    n = max(3, round(rows / 1.004))
    origin = np.full(n, BR_PERSON, dtype=np.int64)
    body = names.person_names(rng, pools, origin)
    filial = rng.choice(3, size=n, p=[0.55, 0.3, 0.15]).astype(np.int64)
    home = np.array([int(np.flatnonzero(cities.names == c)[0]) for c in _FILIAL_HOME])
    city = np.where(rng.random(n) < 0.7, home[filial], geo.draw_cities(rng, cities, origin))
    base = numbers.cpf_bases.take(n)
    born = np.datetime64("1960-01-01") + rng.integers(0, 16_000, size=n).astype("timedelta64[D]")
    corporate = geo.work_emails(body, filled(n, vocab.EMPLOYER_DOMAIN))
    roll = rng.random(n)
    email = fmt.choose(roll < 0.7, corporate, geo.personal_emails(rng, body))
    email[roll > 0.9] = ""
    status = rng.choice(as_objects(["", "F", "A", "D"]), size=n, p=[0.86, 0.04, 0.03, 0.07])
    frame: Frame = {
        "filial": filial,
        "mat": _numbered(rng, filial),
        "body": body,
        "cpf_base": base,
        "cpf_check": taxid.cpf_check_digits(base),
        "birth": fmt.day_strings(born),
        "email": email,
        "city": city,
        "status": status,
        "entity": new_entities(EMPLOYEE_PERSON, 0, n),
        "role": filled(n, "original"),
        "deleted": np.zeros(n, dtype=bool),
        "defect": filled(n, ""),
        "related": filled(n, ""),
    }
    return frame


def build_contacts(
    rng: np.random.Generator,
    pools: NamePools,
    cities: Cities,
    companies: list[Master],
    employees: Frame,
    rows: int,
) -> Frame:
    """Contacts at supplier and customer companies; ~5 % of employees are contacts too."""
    both = rng.choice(
        np.flatnonzero(
            ~employees["deleted"] & (employees["role"] == "original") & (employees["defect"] == "")
        ),
        size=min(max(12, round(length(employees) * 0.05)), rows // 3),
        replace=False,
    )
    employees["role"][both] = "person_both_roles"
    n = rows - len(both)
    n_new = max(1, round(n / 1.004))
    pick = [m.facts for m in companies]
    sizes = np.array([length(f) for f in pick])
    which = rng.choice(len(pick), size=n_new, p=sizes / sizes.sum())
    origin = np.empty(n_new, dtype=np.int64)
    city = np.empty(n_new, dtype=np.int64)
    email = np.empty(n_new, dtype=object)
    for i, facts in enumerate(pick):
        mask = which == i
        row = rng.integers(0, length(facts), size=int(mask.sum()))
        origin[mask], city[mask] = facts["origin"][row], facts["city"][row]
        email[mask] = facts["email"][row]
    body = np.concatenate([names.person_names(rng, pools, origin), employees["body"][both]])
    city = np.concatenate([city, employees["city"][both]])
    origin = np.concatenate([np.minimum(origin, 4), np.full(len(both), BR_PERSON)])
    domain = fmt.per_unique(email, lambda e: e.split("@")[-1])
    work = geo.work_emails(body[:n_new], domain)
    # The employee, as somebody's contact, is reached at a private address.
    private = geo.personal_emails(rng, body[n_new:])
    clash = np.flatnonzero(private == employees["email"][both])
    private[clash] = "pessoal." + private[clash]
    email = np.concatenate([work, private])
    streets = geo.draw_streets(rng, len(body))
    mobile = geo.draw_phones(rng, len(body), np.ones(len(body), dtype=bool))
    land = geo.draw_phones(rng, len(body), np.zeros(len(body), dtype=bool))
    total = len(body)
    frame: Frame = {
        "filial": np.zeros(total, dtype=np.int64),
        "code": rng.permutation(total).astype(np.int64) + 1,
        "body": body,
        "name": _cased(rng, body, 0.4),
        "email": email,
        "origin": origin,
        "land": land,
        "cell": mobile,
        "street": streets.street,
        "prefix": streets.prefix,
        "number": streets.number,
        "complement": streets.complement,
        "city": city,
        "entity": np.concatenate(
            [new_entities(CONTACT_PERSON, 0, n_new), employees["entity"][both]]
        ),
        "role": np.concatenate([filled(n_new, "original"), filled(len(both), "person_both_roles")]),
        "deleted": np.zeros(total, dtype=bool),
        "defect": filled(total, ""),
    }
    # Phones and addresses are written by the file writer (see `contact_reach`); only
    # which of them are blank is decided here, with the e-mail's.
    frame["email"][rng.random(total) < 0.12] = ""
    for column, share in (("no_phone", 0.15), ("no_mobile", 0.35), ("no_address", 0.2)):
        frame[column] = rng.random(total) < share
    empty = rng.choice(n_new, size=max(1, n_new // 100), replace=False)
    frame["email"][empty] = ""
    frame["no_phone"][empty] = frame["no_mobile"][empty] = True
    frame["defect"][empty] = "blank_contact_data"
    return _with_stale(rng, frame, "code", 0.01)


def contact_reach(rng: np.random.Generator, pools: NamePools, cities: Cities, frame: Frame) -> None:
    """Write the contacts' phone, mobile and address columns (in place)."""
    city = frame["city"]
    streets = geo.Streets(frame["street"], frame["prefix"], frame["number"], frame["complement"])
    frame["phone"] = geo.written_phones(rng, cities, city, frame["land"])
    frame["mobile"] = geo.written_phones(rng, cities, city, frame["cell"])
    frame["address"] = geo.written_streets(rng, pools, streets, frame["origin"])
    for column in ("phone", "mobile", "address"):
        frame[column][frame["no_" + column]] = ""


def plant_conflicts(
    rng: np.random.Generator, employees: Frame, suppliers: Master, supplier_ids: ObjArray
) -> list[tuple[int, int, str]]:
    """Employees who are (or share an e-mail with) a live supplier: (employee row, supplier
    row, defect) for each planted case; both rows name the other as related."""
    facts, written = suppliers.facts, suppliers.written
    plain = (facts["role"] == "original") & ~facts["deleted"] & (facts["defect"] == "")
    free = np.flatnonzero((employees["role"] == "original") & ~employees["deleted"])
    count = max(2, round(length(employees) * 0.003))
    chosen = rng.choice(free, size=min(2 * count, len(free)), replace=False)
    persons = rng.permutation(np.flatnonzero(plain & (facts["tax_kind"] == TAX_CPF)))[:count]
    firms = rng.permutation(np.flatnonzero(plain & (facts["origin"] == names.BR_COMPANY)))[:count]
    # The supplier is the employee: same person, same CPF.
    emp, sup = chosen[: len(persons)], persons
    employees["body"][emp] = facts["body"][sup]
    employees["cpf_base"][emp] = facts["tax_base"][sup]
    employees["cpf_check"][emp] = facts["tax_check"][sup]
    employees["entity"][emp] = facts["entity"][sup]
    employees["email"][emp] = geo.work_emails(
        facts["body"][sup], filled(len(sup), vocab.EMPLOYER_DOMAIN)
    )
    # The employee's private e-mail is the contact address of a supplier firm.
    mail_emp = chosen[count:][: len(firms)]
    mail_sup = firms[: len(mail_emp)]
    address = geo.personal_emails(rng, employees["body"][mail_emp])
    employees["email"][mail_emp] = address
    written["email_written"][mail_sup] = address
    facts["email"][mail_sup] = address
    emp_rows = np.concatenate([emp, mail_emp])
    sup_rows = np.concatenate([sup, mail_sup])
    kinds = ["conflict_of_interest_cpf"] * len(emp) + ["conflict_of_interest_email"] * len(mail_emp)
    employees["defect"][emp_rows] = as_objects(kinds)
    employees["related"][emp_rows] = supplier_ids[sup_rows]
    facts["defect"][sup_rows] = as_objects(kinds)
    facts["related"][sup_rows] = (
        "SRA:"
        + fmt.padded(employees["filial"][emp_rows] + 1, 2)
        + ":"
        + fmt.padded(employees["mat"][emp_rows], 6)
    )
    planted = list(zip(emp_rows.tolist(), sup_rows.tolist(), kinds, strict=True))
    return planted


def finish_employees(rng: np.random.Generator, cities: Cities, employees: Frame) -> Frame:
    """Written columns and deleted rows, after conflicts have been planted."""
    n = length(employees)
    employees["name"] = _cased(rng, employees["body"], 0.75)
    punct = rng.random(n) < 0.2
    base, check = employees["cpf_base"], employees["cpf_check"]
    cpf = filled(n, "")
    for pretty in (True, False):
        rows = np.flatnonzero(punct == pretty)
        cpf[rows] = taxid.cpf_text(base[rows], check[rows], pretty)
    employees["cpf"] = cpf
    # The same key as a self-employed supplier's CPF (see companies.tax_keys).
    employees["tax_key"] = TAX_CPF * 10**15 + base * 10**6 + check
    employees["city_written"] = geo.written_cities(rng, cities, employees["city"])
    return _with_stale(rng, employees, "mat", 0.01)
