"""Set (a): a Brazilian, Protheus-shaped master of suppliers, customers and employees.

Independent of `sandbox/synthetic`: its own name patterns, cities, identifier formats and
noise (PERTURBATIONS.md, "protheus"). Extracts follow Protheus' own tables and field names
(SA2010 suppliers, SA1010 customers, SRA010 employees, SU5010 contacts, SC7010 purchase orders),
upper-case legacy spellings, 40-character A2_NOME, soft-deleted rows (`D_E_L_E_T_ = '*'`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from faker import Faker
from stdnum.br import cnpj, cpf

from benchmarks.accuracy.common import (
    HALT,
    MATCH,
    BaselineTable,
    DataSet,
    Query,
    case_variant,
    strip_accents,
    typo,
    write_csv,
)

CITIES = [
    ("São Paulo", "SP", "01"),
    ("Rio de Janeiro", "RJ", "20"),
    ("Belo Horizonte", "MG", "30"),
    ("Curitiba", "PR", "80"),
    ("Porto Alegre", "RS", "90"),
    ("Salvador", "BA", "40"),
    ("Recife", "PE", "50"),
    ("Fortaleza", "CE", "60"),
    ("Goiânia", "GO", "74"),
    ("Belém", "PA", "66"),
    ("Manaus", "AM", "69"),
    ("Campinas", "SP", "13"),
    ("São José dos Campos", "SP", "12"),
    ("Ribeirão Preto", "SP", "14"),
    ("Joinville", "SC", "89"),
    ("Florianópolis", "SC", "88"),
    ("Londrina", "PR", "86"),
    ("Uberlândia", "MG", "38"),
    ("Niterói", "RJ", "24"),
    ("Vitória", "ES", "29"),
    ("Maringá", "PR", "87"),
    ("Sorocaba", "SP", "18"),
    ("Jundiaí", "SP", "13"),
    ("Santos", "SP", "11"),
    ("Caxias do Sul", "RS", "95"),
    ("Blumenau", "SC", "89"),
    ("Natal", "RN", "59"),
    ("João Pessoa", "PB", "58"),
    ("Maceió", "AL", "57"),
    ("Cuiabá", "MT", "78"),
    ("Campo Grande", "MS", "79"),
    ("São Luís", "MA", "65"),
    ("Osasco", "SP", "06"),
    ("Guarulhos", "SP", "07"),
    ("São Bernardo do Campo", "SP", "09"),
    ("Contagem", "MG", "32"),
]
CITY_WEIGHTS = [12, 6, 5, 4, 4, 3, 3, 3, 2] + [1] * (len(CITIES) - 9)

#: Activity words as a master spells them in full, and how people abbreviate them.
ACTIVITIES = {
    "Comércio": "Com.",
    "Indústria": "Ind.",
    "Distribuidora": "Distrib.",
    "Transportes": "Transp.",
    "Serviços": "Serv.",
    "Importação": "Imp.",
    "Exportação": "Exp.",
    "Engenharia": "Eng.",
    "Construções": "Constr.",
    "Materiais": "Mat.",
    "Equipamentos": "Equip.",
    "Representações": "Repres.",
    "Participações": "Part.",
    "Tecnologia": "Tec.",
    "Agropecuária": "Agropec.",
    "Metalúrgica": "Metal.",
    "Alimentos": "Alim.",
    "Produtos": "Prod.",
    "Embalagens": "Emb.",
    "Informática": "Inform.",
    "Logística": "Log.",
    "Química": "Quím.",
    "Farmacêutica": "Farm.",
    "Elétrica": "Elétr.",
    "Plásticos": "Plást.",
}
OBJECTS = [
    "de Alimentos",
    "de Bebidas",
    "de Peças",
    "de Papel",
    "de Aço",
    "Têxtil",
    "de Móveis",
    "de Cosméticos",
    "Automotiva",
    "de Ferramentas",
    "Hospitalar",
    "de Grãos",
]
#: Legal forms and the spellings that mean the same.
LEGAL = {
    "LTDA": ["Ltda.", "LTDA.", "Ltda", ""],
    "S.A.": ["S/A", "SA", "S. A.", ""],
    "EIRELI": ["Eireli", ""],
    "LTDA ME": ["Ltda - ME", "LTDA", "ME", ""],
    "LTDA EPP": ["Ltda - EPP", "LTDA", "EPP", ""],
}
LEGAL_WEIGHTS = [10, 3, 2, 2, 2]


def new_cnpj(rng: random.Random, root: str | None = None, branch: int = 1) -> str:
    base = (root or "".join(str(rng.randint(0, 9)) for _ in range(8))) + f"{branch:04d}"
    return base + cnpj.calc_check_digits(base)


def new_cpf(rng: random.Random) -> str:
    base = "".join(str(rng.randint(0, 9)) for _ in range(9))
    return base + cpf._calc_check_digits(base)  # stdnum has no public helper


@dataclass
class Company:
    name: str  # as a careful clerk would write it
    legal: str
    words: list[str]  # the name's words before the legal form
    tax: str
    city: tuple[str, str, str]
    address: str
    phone: str
    email: str
    trade_name: str
    person: bool = False
    branches: list[Company] = field(default_factory=list)


def _company(fk: Faker, rng: random.Random, taxes: set[str]) -> Company:
    city = rng.choices(CITIES, CITY_WEIGHTS)[0]
    sur = fk.last_name()
    acts = rng.sample(list(ACTIVITIES), rng.choice([1, 1, 2, 2, 3]))
    pattern = rng.random()
    if pattern < 0.45:
        words = [sur, *acts[:1], *(["e", acts[1]] if len(acts) > 1 else []), rng.choice(OBJECTS)]
    elif pattern < 0.7:
        words = [*acts, sur, "&", fk.last_name()]
    elif pattern < 0.85:
        words = [sur, "&", "Filhos", *acts[:1]]
    else:
        words = [fk.last_name(), sur, *acts[:2]]
    legal = rng.choices(list(LEGAL), LEGAL_WEIGHTS)[0]
    while True:
        tax = new_cnpj(rng)
        if tax not in taxes:
            taxes.add(tax)
            break
    slug = strip_accents(sur).lower().replace(" ", "")
    return Company(
        name=" ".join(words + [legal]),
        legal=legal,
        words=words,
        tax=tax,
        city=city,
        address=f"{rng.choice(['Rua', 'Av.', 'Avenida', 'R.', 'Rod.'])} {fk.street_name()}, "
        f"{rng.randint(1, 4000)}",
        phone=f"({rng.randint(11, 99)}) {rng.randint(2000, 3999)}-{rng.randint(0, 9999):04d}",
        email=f"{rng.choice(['contato', 'financeiro', 'vendas', 'compras'])}@{slug}"
        f"{rng.randint(1, 99)}.com.br",
        trade_name=" ".join(words[:2]).upper(),
    )


def _person_supplier(fk: Faker, rng: random.Random, taxes: set[str]) -> Company:
    city = rng.choices(CITIES, CITY_WEIGHTS)[0]
    name = f"{fk.first_name()} {fk.last_name()} {fk.last_name()}"
    tax = new_cpf(rng)
    taxes.add(tax)
    return Company(
        name=name,
        legal="",
        words=name.split(),
        tax=tax,
        city=city,
        address=f"Rua {fk.street_name()}, {rng.randint(1, 999)}",
        phone=f"({rng.randint(11, 99)}) 9{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}",
        email=f"{strip_accents(name.split()[0]).lower()}{rng.randint(1, 999)}@gmail.com",
        trade_name=name.split()[0].upper(),
        person=True,
    )


def master_spelling(text: str, rng: random.Random, limit: int = 40) -> str:
    """How a Protheus master holds a name: mostly upper case, often without accents, cut to the
    field's width."""
    r = rng.random()
    if r < 0.55:
        text = strip_accents(text).upper()
    elif r < 0.8:
        text = text.upper()
    return text[:limit].rstrip()


def fmt_cnpj(tax: str, rng: random.Random) -> str:
    if len(tax) == 11:
        return rng.choice([cpf.format(tax), tax, cpf.format(tax).replace(".", "")])
    return rng.choice(
        [cnpj.format(tax), cnpj.format(tax).replace(".", ""), tax[:8] + " " + tax[8:]]
    )


def abbreviate(c: Company, rng: random.Random) -> str:
    """The name an agent writes from memory: activities abbreviated or expanded, the legal form
    spelt another way or dropped, accents lost."""
    words = [ACTIVITIES.get(w, w) if rng.random() < 0.8 else w for w in c.words]
    if rng.random() < 0.3:
        words = [w for w in words if w not in ("e", "de", "&")]
    legal = rng.choice(LEGAL[c.legal]) if c.legal else ""
    text = " ".join([*words, legal]).strip()
    return strip_accents(text) if rng.random() < 0.5 else text


def city_variant(city: str, state: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return strip_accents(city)
    if r < 0.5:
        return f"{city} - {state}"
    if r < 0.6 and city.startswith("São "):
        return "S. " + city[4:]
    return case_variant(city, rng)


def generate(out: Path, size: int = 2000, seed: int = 101) -> DataSet:
    """Write the master (`out/data/*.csv`) and return the set with its queries."""
    rng = random.Random(seed)
    fk = Faker("pt_BR")
    fk.seed_instance(seed)
    taxes: set[str] = set()
    n_sup = int(size * 0.6)
    n_cus = size - n_sup
    suppliers = [
        _person_supplier(fk, rng, taxes) if rng.random() < 0.1 else _company(fk, rng, taxes)
        for _ in range(n_sup)
    ]
    customers = [_company(fk, rng, taxes) for _ in range(n_cus)]
    # Some companies are both: Protheus keeps them as two records (SA2 and SA1).
    both = rng.sample([s for s in suppliers if not s.person], n_sup // 8)
    customers[: len(both)] = both
    # Branches: same A2_COD, another A2_LOJA, same CNPJ root, another city.
    for c in rng.sample([s for s in suppliers if not s.person], n_sup // 12):
        for b in range(2, 2 + rng.choice([1, 1, 2])):
            city = rng.choice([x for x in CITIES if x != c.city])
            c.branches.append(
                Company(
                    c.name,
                    c.legal,
                    c.words,
                    new_cnpj(rng, c.tax[:8], b),
                    city,
                    f"Rua {fk.street_name()}, {rng.randint(1, 3000)}",
                    c.phone,
                    c.email,
                    c.trade_name,
                )
            )
    # Homonyms: another company (other CNPJ, other city) with the same name.
    homonyms: list[tuple[Company, Company]] = []
    for c in rng.sample([s for s in suppliers if not s.person and not s.branches], n_sup // 25):
        twin = _company(fk, rng, taxes)
        twin.name, twin.words, twin.legal, twin.trade_name = c.name, c.words, c.legal, c.trade_name
        twin.city = rng.choice([x for x in CITIES if x != c.city])
        suppliers.append(twin)
        homonyms.append((c, twin))

    data = out / "data"
    rows_sa2: list[dict[str, str]] = []
    ids: dict[int, str] = {}  # id(company) -> canonical id
    recno = 0

    def sa2(c: Company, cod: str, loja: str, deleted: bool = False, blocked: bool = False) -> None:
        nonlocal recno
        recno += 1
        rows_sa2.append(
            {
                "A2_FILIAL": "  ",
                "A2_COD": cod,
                "A2_LOJA": loja,
                "A2_NOME": master_spelling(c.name, rng),
                "A2_NREDUZ": c.trade_name[:20],
                "A2_CGC": c.tax,
                "A2_TIPO": "F" if c.person else "J",
                "A2_END": strip_accents(c.address).upper(),
                "A2_MUN": master_spelling(c.city[0], rng, 60),
                "A2_EST": c.city[1],
                "A2_CEP": f"{c.city[2]}{rng.randint(0, 999999):06d}",
                "A2_TEL": c.phone if rng.random() < 0.85 else "",
                "A2_EMAIL": c.email if rng.random() < 0.7 else "",
                "A2_PAIS": "105",
                "A2_MSBLQL": "1" if blocked else "2",
                "D_E_L_E_T_": "*" if deleted else " ",
                "R_E_C_N_O_": str(recno),
            }
        )

    for k, c in enumerate(suppliers, start=1):
        cod = f"F{k:05d}"
        sa2(c, cod, "01")
        ids[id(c)] = f"SA2::{cod}:01"
        for b, br in enumerate(c.branches, start=2):
            sa2(br, cod, f"{b:02d}")
            ids[id(br)] = f"SA2::{cod}:{b:02d}"
    # Soft-deleted suppliers: gone from the master, though their rows are still in the table.
    deleted = [_company(fk, rng, taxes) for _ in range(max(5, n_sup // 50))]
    for k, c in enumerate(deleted, start=len(suppliers) + 1):
        sa2(c, f"F{k:05d}", "01", deleted=True)
    # Legacy duplicates: the same company keyed again long ago, now blocked. Not queried (two
    # records of one company would give a query two right answers); they are noise.
    legacy = rng.sample([s for s in suppliers if not s.branches and not s.person], n_sup // 40)
    for k, c in enumerate(legacy, start=len(suppliers) + len(deleted) + 1):
        sa2(c, f"F{k:05d}", "01", blocked=True)
    write_csv(data / "SA2010.csv", list(rows_sa2[0]), rows_sa2)

    rows_sa1 = []
    cus_ids: dict[int, str] = {}  # id(company) -> its customer record's canonical id
    for k, c in enumerate(customers, start=1):
        cod = f"C{k:05d}"
        cus_ids[id(c)] = f"SA1::{cod}:01"
        rows_sa1.append(
            {
                "A1_FILIAL": "  ",
                "A1_COD": cod,
                "A1_LOJA": "01",
                "A1_NOME": master_spelling(c.name, rng),
                "A1_NREDUZ": c.trade_name[:20],
                "A1_CGC": c.tax,
                "A1_PESSOA": "J",
                "A1_END": strip_accents(c.address).upper(),
                "A1_MUN": master_spelling(c.city[0], rng, 60),
                "A1_EST": c.city[1],
                "A1_CEP": f"{c.city[2]}{rng.randint(0, 999999):06d}",
                "A1_TEL": c.phone,
                "A1_EMAIL": c.email if rng.random() < 0.6 else "",
                "A1_MSBLQL": "2",
                "D_E_L_E_T_": " ",
                "R_E_C_N_O_": str(k),
            }
        )
    write_csv(data / "SA1010.csv", list(rows_sa1[0]), rows_sa1)

    employees = []
    rows_sra = []
    for k in range(1, size // 4 + 1):
        name = f"{fk.first_name()} {fk.last_name()} {fk.last_name()}"
        tax = new_cpf(rng)
        born = fk.date_of_birth(minimum_age=18, maximum_age=70)
        city = rng.choices(CITIES, CITY_WEIGHTS)[0]
        mat = f"{k:06d}"
        employees.append((name, tax, born, city, f"SRA:01:{mat}"))
        rows_sra.append(
            {
                "RA_FILIAL": "01",
                "RA_MAT": mat,
                "RA_NOME": master_spelling(name, rng, 30),
                "RA_CIC": tax,
                "RA_NASC": born.strftime("%Y%m%d"),
                "RA_EMAIL": f"{strip_accents(name.split()[0]).lower()}.{k}@empresa.com.br",
                "RA_MUNICIP": master_spelling(city[0], rng),
                "RA_ESTADO": city[1],
                "RA_SITFOLH": rng.choice([" ", " ", " ", "D", "A"]),
                "D_E_L_E_T_": " ",
                "R_E_C_N_O_": str(k),
            }
        )
    write_csv(data / "SRA010.csv", list(rows_sra[0]), rows_sra)

    rows_su5 = [
        {
            "U5_FILIAL": "  ",
            "U5_CODCONT": f"{k:06d}",
            "U5_CONTAT": fk.name().upper(),
            "U5_EMAIL": fk.email(),
            "U5_FONE": fk.phone_number(),
            "U5_CELULAR": "",
            "U5_END": "",
            "U5_MUN": "",
            "U5_EST": "",
            "D_E_L_E_T_": " ",
        }
        for k in range(1, size // 10 + 1)
    ]
    write_csv(data / "SU5010.csv", list(rows_su5[0]), rows_su5)
    rows_sc7 = []
    for k in range(1, size // 5 + 1):
        s = rng.choice(rows_sa2[: len(suppliers)])
        rows_sc7.append(
            {
                "C7_FILIAL": "01",
                "C7_NUM": f"{k:06d}",
                "C7_ITEM": "0001",
                "C7_FORNECE": s["A2_COD"],
                "C7_LOJA": s["A2_LOJA"],
                "C7_EMISSAO": fk.date_between("-2y", "today").strftime("%Y%m%d"),
                "C7_TOTAL": f"{rng.uniform(100, 90000):.2f}",
                "C7_MOEDA": "1",
                "C7_CONAPRO": rng.choice(["L", "B"]),
                "C7_ENCER": rng.choice(["", "E"]),
                "D_E_L_E_T_": " ",
            }
        )
    write_csv(data / "SC7010.csv", list(rows_sc7[0]), rows_sc7)

    queries = _queries(
        rng,
        fk,
        suppliers,
        customers,
        both,
        homonyms,
        deleted,
        employees,
        ids,
        cus_ids,
        legacy,
        taxes,
        size,
    )
    tables = [
        BaselineTable(
            "supplier",
            "SA2010.csv",
            lambda r: f"SA2:{r['A2_FILIAL']}:{r['A2_COD']}:{r['A2_LOJA']}",
            ["A2_NOME"],
            "A2_CGC",
            "A2_EMAIL",
            "A2_MUN",
            "A2_CEP",
            deleted=lambda r: r["D_E_L_E_T_"] == "*",
        ),
        BaselineTable(
            "customer",
            "SA1010.csv",
            lambda r: f"SA1:{r['A1_FILIAL']}:{r['A1_COD']}:{r['A1_LOJA']}",
            ["A1_NOME"],
            "A1_CGC",
            "A1_EMAIL",
            "A1_MUN",
            "A1_CEP",
            deleted=lambda r: r["D_E_L_E_T_"] == "*",
        ),
        BaselineTable(
            "employee",
            "SRA010.csv",
            lambda r: f"SRA:{r['RA_FILIAL']}:{r['RA_MAT']}",
            ["RA_NOME"],
            "RA_CIC",
            "RA_EMAIL",
            "RA_MUNICIP",
            None,
            "RA_NASC",
            deleted=lambda r: r["D_E_L_E_T_"] == "*",
        ),
    ]
    ds = DataSet("protheus_br", data, None, queries, tables)
    ds.write_queries()
    return ds


def _queries(
    rng: random.Random,
    fk: Faker,
    suppliers: list[Company],
    customers: list[Company],
    both: list[Company],
    homonyms: list[tuple[Company, Company]],
    deleted: list[Company],
    employees: list[tuple[str, str, date, tuple[str, str, str], str]],
    ids: dict[int, str],
    cus_ids: dict[int, str],
    legacy: list[Company],
    taxes: set[str],
    size: int,
) -> list[Query]:
    out: list[Query] = []
    per = max(8, size // 30)  # queries per kind
    skip = {id(c) for c in legacy} | {id(c) for pair in homonyms for c in pair}
    both_ids = {id(c) for c in both}
    plain = [s for s in suppliers if id(s) not in skip | both_ids and not s.branches]
    cust_only = [c for c in customers if id(c) not in both_ids]

    def add(
        kind: str,
        record: dict[str, str],
        expected: str,
        cid: str | None,
        et: str | None,
        in_master: bool = False,
    ) -> None:
        rec = {k: v for k, v in record.items() if v}
        out.append(Query(f"br-{len(out) + 1:05d}", kind, rec, expected, cid, et, in_master))

    def pick(pool: list[Company]) -> list[Company]:
        return rng.sample(pool, min(per, len(pool)))

    for c in pick(plain):
        add("exact_id", {"tax_id": c.tax}, MATCH, ids[id(c)], "supplier", True)
    for c in pick(plain):
        add(
            "formatted_id",
            {"tax_id": fmt_cnpj(c.tax, rng), "name": abbreviate(c, rng)},
            MATCH,
            ids[id(c)],
            "supplier",
            True,
        )
    for c in pick(plain):
        add(
            "name_city",
            {"name": case_variant(c.name, rng), "city": city_variant(*c.city[:2], rng)},
            MATCH,
            ids[id(c)],
            "supplier",
        )
    for c in pick(plain):
        add(
            "typo_name",
            {"name": typo(case_variant(c.name, rng), rng), "city": city_variant(*c.city[:2], rng)},
            MATCH,
            ids[id(c)],
            "supplier",
        )
    for c in pick([p for p in plain if not p.person]):
        add(
            "abbreviation",
            {"name": abbreviate(c, rng), "state": c.city[1]},
            MATCH,
            ids[id(c)],
            "supplier",
        )
    for c in pick([p for p in plain if not p.person]):
        add(
            "trade_name_city",
            {"name": c.trade_name.title(), "city": c.city[0], "phone": c.phone},
            MATCH,
            ids[id(c)],
            "supplier",
        )
    for c in pick(plain):
        add("missing_fields", {"name": case_variant(c.name, rng)}, MATCH, ids[id(c)], "supplier")
    for c in pick(cust_only):
        tax = c.tax if rng.random() < 0.5 else ""
        add(
            "customer_name_city",
            {"name": abbreviate(c, rng), "city": c.city[0], "tax_id": tax},
            MATCH,
            cus_ids[id(c)],
            "customer",
            bool(tax),
        )
    with_branches = [s for s in suppliers if s.branches]
    for c in pick(with_branches):
        br = rng.choice(c.branches)
        add(
            "branch_name_city",
            {"name": case_variant(c.name, rng), "city": br.city[0]},
            MATCH,
            ids[id(br)],
            "supplier",
        )
    for c in pick(with_branches):
        add("branch_name_only", {"name": case_variant(c.name, rng)}, HALT, None, "supplier")
    for a, b in rng.sample(homonyms, min(per, len(homonyms))):
        add("homonym_name_only", {"name": case_variant(a.name, rng)}, HALT, None, "supplier")
        twin = rng.choice([a, b])
        add(
            "homonym_name_city",
            {"name": a.name, "city": twin.city[0]},
            MATCH,
            ids[id(twin)],
            "supplier",
        )
    for c in pick(cust_only):
        add(
            "cross_type",
            {"name": c.name, "tax_id": fmt_cnpj(c.tax, rng)},
            HALT,
            None,
            "supplier",
            True,
        )
    for c in pick(plain):
        new_tax = new_cnpj(rng)
        add(
            "lookalike_new_id",
            {"name": typo(c.name, rng), "city": c.city[0], "tax_id": cnpj.format(new_tax)},
            HALT,
            None,
            "supplier",
        )
    for _ in range(per):
        c = _company(fk, rng, taxes)
        add(
            "new_record",
            {"name": c.name, "city": c.city[0], "tax_id": cnpj.format(c.tax)},
            HALT,
            None,
            "supplier",
        )
    for c in deleted[:per]:
        add("deleted_record", {"name": c.name, "tax_id": c.tax}, HALT, None, "supplier")
    for name, tax, _born, _city, cid in rng.sample(employees, min(per, len(employees))):
        add(
            "employee_cpf",
            {"tax_id": cpf.format(tax), "name": case_variant(name, rng)},
            MATCH,
            cid,
            "employee",
            True,
        )
    for name, _tax, born, _city, cid in rng.sample(employees, min(per, len(employees))):
        add(
            "employee_name_dob",
            {"name": strip_accents(name), "birth_date": born.strftime("%d/%m/%Y")},
            MATCH,
            cid,
            "employee",
        )
    for name, _tax, born, city, cid in rng.sample(employees, min(per, len(employees))):
        add(
            "employee_typo_dob",
            {"name": typo(name, rng), "city": city[0], "birth_date": born.strftime("%Y-%m-%d")},
            MATCH,
            cid,
            "employee",
        )
    for c in pick(plain):
        add(
            "untyped_id_name",
            {"name": abbreviate(c, rng), "tax_id": c.tax},
            MATCH,
            ids[id(c)],
            None,
            True,
        )
    for c in rng.sample(both, min(per, len(both))):
        add("untyped_dual_role", {"name": c.name, "city": c.city[0]}, HALT, None, None)
    return out
