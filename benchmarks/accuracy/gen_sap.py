"""Set (b): an SAP S/4HANA business-partner master from Switzerland, Germany, Austria, France
and Italy, in its supplier and customer roles.

Extracts are shaped as `SapConnector.extract` writes them (one row per business partner with its
first address, tax number, e-mail and phone; SAP's own field names): a partner that is both
supplier and customer appears in both files under one `BusinessPartner` id. Noise is written from
how DACH/EU masters and the people querying them spell things (PERTURBATIONS.md, "sap"): German
business abbreviations, umlauts as ae/oe/ue, city names in another language, legal-form
spellings, formatted VAT/UID numbers (all valid per python-stdnum).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faker import Faker
from stdnum.at import uid as at_uid
from stdnum.ch import uid as ch_uid
from stdnum.de import vat as de_vat
from stdnum.fr import tva as fr_tva
from stdnum.it import iva as it_iva

from benchmarks.accuracy.common import (
    HALT,
    MATCH,
    BaselineTable,
    DataSet,
    Query,
    alnum_upper,
    case_variant,
    german_transcription,
    strip_accents,
    typo,
    write_csv,
)

# (name in the master, country, region, postcode prefix, how else people write it)
CITIES: list[tuple[str, str, str, str, list[str]]] = [
    ("Zürich", "CH", "ZH", "80", ["Zuerich", "Zurich", "Zurigo", "ZÜRICH"]),
    ("Genève", "CH", "GE", "12", ["Genf", "Geneva", "Ginevra", "Geneve"]),
    ("Basel", "CH", "BS", "40", ["Bâle", "Basilea"]),
    ("Bern", "CH", "BE", "30", ["Berne", "Berna"]),
    ("Lausanne", "CH", "VD", "10", ["Losanna"]),
    ("Luzern", "CH", "LU", "60", ["Lucerne", "Lucerna"]),
    ("St. Gallen", "CH", "SG", "90", ["Sankt Gallen", "St Gallen", "Saint-Gall"]),
    ("Lugano", "CH", "TI", "69", ["Lauis"]),
    ("Winterthur", "CH", "ZH", "84", []),
    ("Biel/Bienne", "CH", "BE", "25", ["Biel", "Bienne"]),
    ("München", "DE", "BY", "80", ["Muenchen", "Munich", "Monaco di Baviera"]),
    ("Köln", "DE", "NW", "50", ["Koeln", "Cologne", "Colonia"]),
    ("Nürnberg", "DE", "BY", "90", ["Nuernberg", "Nuremberg", "Norimberga"]),
    ("Düsseldorf", "DE", "NW", "40", ["Duesseldorf", "Dusseldorf"]),
    ("Frankfurt am Main", "DE", "HE", "60", ["Frankfurt a.M.", "Frankfurt/Main", "Frankfurt"]),
    ("Stuttgart", "DE", "BW", "70", []),
    ("Hamburg", "DE", "HH", "20", ["Amburgo"]),
    ("Berlin", "DE", "BE", "10", ["Berlino"]),
    ("Freiburg im Breisgau", "DE", "BW", "79", ["Freiburg i. Br.", "Freiburg"]),
    ("Wien", "AT", "W", "1", ["Vienna", "Vienne"]),
    ("Graz", "AT", "ST", "8", []),
    ("Salzburg", "AT", "S", "5", ["Salisburgo"]),
    ("Linz", "AT", "OÖ", "4", []),
    ("Innsbruck", "AT", "T", "6", []),
    ("Paris", "FR", "75", "75", ["Parigi"]),
    ("Lyon", "FR", "69", "69", ["Lione", "Lyons"]),
    ("Marseille", "FR", "13", "13", ["Marsiglia", "Marseilles"]),
    ("Strasbourg", "FR", "67", "67", ["Straßburg", "Strassburg"]),
    ("Mulhouse", "FR", "68", "68", ["Mülhausen"]),
    ("Milano", "IT", "MI", "20", ["Milan", "Mailand"]),
    ("Torino", "IT", "TO", "10", ["Turin"]),
    ("Roma", "IT", "RM", "00", ["Rome", "Rom"]),
    ("Firenze", "IT", "FI", "50", ["Florence", "Florenz"]),
    ("Venezia", "IT", "VE", "30", ["Venice", "Venedig"]),
    ("Bolzano", "IT", "BZ", "39", ["Bozen"]),
]
DIALLING = {"CH": 41, "DE": 49, "AT": 43, "FR": 33, "IT": 39}
COUNTRY_WEIGHTS = {"CH": 35, "DE": 30, "AT": 15, "FR": 10, "IT": 10}
LOCALES = {
    "CH": ["de_CH", "de_CH", "fr_CH", "it_CH"],
    "DE": ["de_DE"],
    "AT": ["de_AT"],
    "FR": ["fr_FR"],
    "IT": ["it_IT"],
}

#: Legal forms per language area, with the other spellings of each (the empty one: dropped).
LEGAL: dict[str, dict[str, list[str]]] = {
    "de": {
        "GmbH": ["G.m.b.H.", "Gesellschaft mit beschränkter Haftung", ""],
        "AG": ["Aktiengesellschaft", "A.G.", ""],
        "GmbH & Co. KG": ["GmbH & Co KG", "GmbH u. Co. KG", "GmbH & Co.KG"],
        "KG": ["Kommanditgesellschaft", ""],
        "e.K.": ["e. K.", "eK", "e.Kfm.", ""],
        "OHG": ["oHG", ""],
    },
    "at": {
        "Ges.m.b.H.": ["GesmbH", "Ges.m.b.H", "GmbH", ""],
        "GmbH": ["Ges.m.b.H.", "G.m.b.H.", ""],
        "AG": ["Aktiengesellschaft", ""],
        "KG": ["Kommanditgesellschaft", ""],
        "OG": ["O.G.", ""],
        "e.U.": ["eU", ""],
    },
    "ch": {
        "AG": ["A.G.", "Aktiengesellschaft", "SA", ""],
        "GmbH": ["Sàrl", "G.m.b.H.", ""],
        "& Cie": ["& Co.", "und Co.", ""],
        "Genossenschaft": ["Gen.", ""],
    },
    "fr": {
        "Sàrl": ["SARL", "S.à r.l.", "Sarl", ""],
        "SA": ["S.A.", "AG", ""],
        "SAS": ["S.A.S.", ""],
        "EURL": ["E.U.R.L.", ""],
    },
    "it": {
        "S.r.l.": ["Srl", "SRL", "S.R.L.", ""],
        "S.p.A.": ["SpA", "SPA", ""],
        "Sagl": ["S.a.g.l.", ""],
        "S.n.c.": ["snc", ""],
    },
}
TRADES = {
    "de": [
        "Maschinenbau",
        "Metallbau",
        "Holzbau",
        "Elektrotechnik",
        "Sanitär",
        "Bäckerei",
        "Druckerei",
        "Transporte",
        "Logistik",
        "Handel",
        "Bauunternehmung",
        "Gärtnerei",
        "Fahrzeugtechnik",
        "Kältetechnik",
        "Schreinerei",
        "Informatik",
        "Treuhand",
        "Immobilien",
        "Kunststofftechnik",
        "Vertrieb",
        "Dienstleistungen",
    ],
    "fr": [
        "Transports",
        "Menuiserie",
        "Plomberie",
        "Électricité",
        "Bâtiment",
        "Informatique",
        "Imprimerie",
        "Chauffage",
        "Fiduciaire",
        "Horlogerie",
    ],
    "it": [
        "Costruzioni",
        "Trasporti",
        "Impianti Elettrici",
        "Informatica",
        "Arredamenti",
        "Meccanica",
        "Tipografia",
        "Serramenti",
        "Alimentari",
    ],
}
#: Whole words people abbreviate, per language (the master may hold either side).
ABBREVIATIONS = {
    "gebrüder": "Gebr.",
    "technische": "techn.",
    "technik": "Techn.",
    "und": "u.",
    "söhne": "Söhne",
    "gesellschaft": "Ges.",
    "internationale": "Int.",
    "vertrieb": "Vertr.",
    "dienstleistungen": "Dienstl.",
    "bauunternehmung": "Bauunt.",
    "elektrotechnik": "Elektrotechn.",
    "établissements": "Éts",
    "société": "Sté",
    "fils": "Fils",
    "fratelli": "F.lli",
    "officine": "Off.",
    "meccaniche": "Mecc.",
    "società": "Soc.",
    "costruzioni": "Costr.",
}
STREET_ABBREVIATIONS = {"straße": "str.", "strasse": "str.", "Straße": "Str.", "Strasse": "Str."}


def _check_digit_id(
    rng: random.Random,
    prefix: str,
    digits: int,
    valid: Callable[[str], bool],
    key: Callable[[str], str] = lambda d: d,
) -> str:
    """A random identifier that python-stdnum accepts: random digits, then the last digit (or
    the key) that makes the check hold."""
    while True:
        base = "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
        for last in range(10):
            candidate = prefix + key(base + str(last))
            if valid(candidate):
                return candidate


def _fr_key(siren: str) -> str:
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}" + siren


def new_tax_id(country: str, rng: random.Random) -> tuple[str, str]:
    """(SAP tax type, number as SAP keeps it) for a valid id of the country."""
    if country == "CH":
        return "CH3", _check_digit_id(rng, "CHE", 9, ch_uid.is_valid)
    if country == "DE":
        return "DE0", _check_digit_id(rng, "DE", 9, de_vat.is_valid)
    if country == "AT":
        return "AT1", _check_digit_id(rng, "ATU", 8, at_uid.is_valid)
    if country == "FR":
        return "FR0", _check_digit_id(rng, "FR", 9, fr_tva.is_valid, _fr_key)
    return "IT0", _check_digit_id(rng, "IT", 11, it_iva.is_valid)


def master_tax(tax: str, rng: random.Random) -> str:
    """How the BPTaxNumber field holds it: CH UIDs often formatted, with or without MWST."""
    if tax.startswith("CHE"):
        d = tax[3:]
        return rng.choice(
            [
                f"CHE-{d[:3]}.{d[3:6]}.{d[6:]} MWST",
                f"CHE-{d[:3]}.{d[3:6]}.{d[6:]}",
                tax,
                f"CHE{d}MWST",
            ]
        )
    return tax


def query_tax(tax: str, rng: random.Random) -> str:
    """How a person copies a VAT/UID number from an invoice."""
    c, d = tax[:2], alnum_upper(tax)[2:]
    if tax.startswith("CHE"):
        d = tax[3:]
        return rng.choice(
            [
                f"CHE-{d[:3]}.{d[3:6]}.{d[6:]} MWST",
                f"CHE-{d[:3]}.{d[3:6]}.{d[6:]}",
                f"CHE {d[:3]} {d[3:6]} {d[6:]} TVA",
                f"CHE-{d} IVA",
            ]
        )
    if c == "DE":
        return rng.choice([f"DE {d[:3]} {d[3:6]} {d[6:]}", f"DE{d}", f"DE-{d}"])
    if c == "AT":
        return rng.choice([f"ATU {d[1:]}", f"AT U{d[1:]}", f"ATU{d[1:]}"])
    if c == "FR":
        return rng.choice([f"FR {d[:2]} {d[2:5]} {d[5:8]} {d[8:]}", f"FR{d}"])
    return rng.choice([f"IT {d}", f"IT{d}", f"IT-{d}"])


@dataclass
class Partner:
    bp: str
    name: str
    legal: str
    area: str  # legal-form area: de, at, ch, fr, it
    city: tuple[str, str, str, str, list[str]]
    street: str
    postcode: str
    tax_type: str
    tax: str
    email: str
    phone: str
    supplier: bool
    customer: bool

    @property
    def core(self) -> str:
        return self.name[: -len(self.legal)].strip() if self.legal else self.name


def _language(city: tuple[str, str, str, str, list[str]], locale: str) -> str:
    country = city[1]
    if country in ("FR",) or locale == "fr_CH":
        return "fr"
    if country == "IT" or locale == "it_CH":
        return "it"
    return "de"


def _name(fk: Faker, rng: random.Random, lang: str) -> str:
    sur = fk.last_name()
    rng.random()  # an unused draw, kept so that version 1.0 writes the same sets
    if lang == "de":
        pool = [
            f"{sur} {rng.choice(TRADES['de'])}",
            f"Gebrüder {sur}",
            f"{sur} & Söhne",
            f"{sur} technische {rng.choice(['Dienste', 'Anlagen'])}",
            f"{sur} + {fk.last_name()} {rng.choice(TRADES['de'])}",
            f"{sur} {rng.choice(TRADES['de'])} und {rng.choice(TRADES['de'])}",
            f"{rng.choice(TRADES['de'])} {sur}",
        ]
        weights = [30, 8, 6, 6, 10, 8, 10]
    elif lang == "fr":
        pool = [
            f"{sur} {rng.choice(TRADES['fr'])}",
            f"Établissements {sur}",
            f"{sur} et Fils",
            f"Société {rng.choice(TRADES['fr'])} {sur}",
            f"{rng.choice(TRADES['fr'])} {sur}",
        ]
        weights = [30, 8, 8, 8, 10]
    else:
        pool = [
            f"{sur} {rng.choice(TRADES['it'])}",
            f"Fratelli {sur}",
            f"{sur} & Figli",
            f"Officine Meccaniche {sur}",
            f"{rng.choice(TRADES['it'])} {sur}",
        ]
        weights = [30, 8, 8, 6, 10]
    return rng.choices(pool, weights)[0]


def _partner(fk_by: dict[str, Faker], rng: random.Random, k: int, taxes: set[str]) -> Partner:
    country = rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
    city = rng.choice([c for c in CITIES if c[1] == country])
    locale = rng.choice(LOCALES[country])
    lang = _language(city, locale)
    fk = fk_by[locale]
    area = {"DE": "de", "AT": "at", "FR": "fr", "IT": "it"}.get(country) or (
        "ch" if lang == "de" else lang
    )
    legal = rng.choice(list(LEGAL[area]))
    core = _name(fk, rng, lang)
    while True:
        tax_type, tax = new_tax_id(country, rng)
        if tax not in taxes:
            taxes.add(tax)
            break
    street = fk.street_name()
    if country == "CH":
        street = street.replace("straße", "strasse")
    slug = alnum_upper(strip_accents(core.split()[0])).lower()
    roles = rng.random()
    return Partner(
        bp=f"{k:010d}",
        name=f"{core} {legal}",
        legal=legal,
        area=area,
        city=city,
        street=f"{street} {rng.randint(1, 180)}",
        postcode=city[3]
        + "".join(
            str(rng.randint(0, 9))
            for _ in range((4 if country in ("CH", "AT") else 5) - len(city[3]))
        ),
        tax_type=tax_type,
        tax=tax,
        email=f"{rng.choice(['info', 'office', 'buchhaltung', 'contact'])}@{slug}{k % 97}."
        f"{country.lower()}",
        phone=f"+{DIALLING[country]} {rng.randint(10, 99)} {rng.randint(100, 999)} "
        f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
        supplier=roles < 0.75,
        customer=roles >= 0.5,
    )


def _master_name(p: Partner, rng: random.Random) -> str:
    """The clerk's spelling in the master: most as registered, some keyed without umlauts, some
    in capitals (legacy migrations)."""
    r = rng.random()
    if r < 0.12:
        return german_transcription(p.name)
    if r < 0.2:
        return p.name.upper()
    return p.name


def abbreviate(text: str) -> str:
    out = []
    for w in text.split(" "):
        out.append(ABBREVIATIONS.get(w.lower(), w))
    return " ".join(out)


def street_variant(street: str, rng: random.Random) -> str:
    for long, short in STREET_ABBREVIATIONS.items():
        if long in street:
            return street.replace(
                long, rng.choice([short, "strasse" if long.islower() else "Strasse"])
            )
    return street


def legal_variant(p: Partner, rng: random.Random) -> str:
    return f"{p.core} {rng.choice(LEGAL[p.area][p.legal])}".strip()


def generate(out: Path, size: int = 2000, seed: int = 202) -> DataSet:
    rng = random.Random(seed)
    fk_by = {}
    for i, loc in enumerate(sorted({x for v in LOCALES.values() for x in v})):
        fk_by[loc] = Faker(loc)
        fk_by[loc].seed_instance(seed + i)
    taxes: set[str] = set()
    partners = [_partner(fk_by, rng, 10_000_000 + k, taxes) for k in range(size)]
    # Homonyms: another partner (other id, tax number, city) registered under the same name.
    homonyms = []
    for p in rng.sample(partners, size // 30):
        twin = _partner(fk_by, rng, 10_000_000 + len(partners), taxes)
        twin.name, twin.legal, twin.area = p.name, p.legal, p.area
        twin.supplier, twin.customer = p.supplier, p.customer
        twin.city = rng.choice([c for c in CITIES if c[1] == p.city[1] and c != p.city])
        partners.append(twin)
        homonyms.append((p, twin))

    header = [
        "BusinessPartner",
        "BusinessPartnerCategory",
        "BusinessPartnerFullName",
        "OrganizationBPName1",
        "OrganizationBPName2",
        "SearchTerm1",
        "BusinessPartnerIsBlocked",
        "StreetName",
        "HouseNumber",
        "CityName",
        "PostalCode",
        "Region",
        "Country",
        "BPTaxType",
        "BPTaxNumber",
        "EmailAddress",
        "PhoneNumber",
    ]
    rows_s, rows_c = [], []
    for p in partners:
        name = _master_name(p, rng)
        street, _, number = p.street.rpartition(" ")
        city = (
            p.city[0]
            if rng.random() < 0.9
            else rng.choice([p.city[0].upper(), german_transcription(p.city[0])])
        )
        row = {
            "BusinessPartner": p.bp,
            "BusinessPartnerCategory": "2",
            "BusinessPartnerFullName": name,
            "OrganizationBPName1": name[:40],
            "OrganizationBPName2": name[40:],
            "SearchTerm1": alnum_upper(
                german_transcription(
                    p.core.split()[
                        -1 if p.core.startswith(("Gebr", "Fra", "Ét", "Soc", "Off")) else 0
                    ]
                )
            )[:20],
            "BusinessPartnerIsBlocked": "false",
            "StreetName": street,
            "HouseNumber": number,
            "CityName": city,
            "PostalCode": p.postcode,
            "Region": p.city[2],
            "Country": p.city[1],
            "BPTaxType": p.tax_type,
            "BPTaxNumber": master_tax(p.tax, rng),
            "EmailAddress": p.email if rng.random() < 0.7 else "",
            "PhoneNumber": p.phone if rng.random() < 0.8 else "",
        }
        if p.supplier:
            rows_s.append(row)
        if p.customer:
            rows_c.append(row)
    data = out / "data"
    write_csv(data / "A_BusinessPartner_Supplier.csv", header, rows_s)
    write_csv(data / "A_BusinessPartner_Customer.csv", header, rows_c)
    suppliers = [p for p in partners if p.supplier]
    po_rows = [
        {
            "PurchaseOrder": f"45000{k:05d}",
            "CompanyCode": rng.choice(["1010", "1710", "2010"]),
            "Supplier": rng.choice(suppliers).bp,
            "PurchaseOrderDate": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "PurchaseOrderNetAmount": f"{rng.uniform(50, 50000):.2f}",
            "DocumentCurrency": rng.choice(["CHF", "EUR"]),
            "PurchasingProcessingStatus": "05",
            "IsCompletelyDelivered": rng.choice(["true", "false"]),
        }
        for k in range(size // 5)
    ]
    write_csv(data / "A_PurchaseOrder.csv", list(po_rows[0]), po_rows)

    queries = _queries(rng, fk_by, partners, homonyms, taxes, size)

    def cid(r: dict[str, str]) -> str:
        return f"BusinessPartner:{r['BusinessPartner']}"

    tables = [
        BaselineTable(
            "supplier",
            "A_BusinessPartner_Supplier.csv",
            cid,
            ["BusinessPartnerFullName"],
            "BPTaxNumber",
            "EmailAddress",
            "CityName",
            "PostalCode",
        ),
        BaselineTable(
            "customer",
            "A_BusinessPartner_Customer.csv",
            cid,
            ["BusinessPartnerFullName"],
            "BPTaxNumber",
            "EmailAddress",
            "CityName",
            "PostalCode",
        ),
    ]
    repo = Path(__file__).resolve().parents[2]
    ds = DataSet("sap_dach_eu", data, repo / "config" / "profiles" / "sap.yaml", queries, tables)
    ds.write_queries()
    return ds


def _queries(
    rng: random.Random,
    fk_by: dict[str, Faker],
    partners: list[Partner],
    homonyms: list[tuple[Partner, Partner]],
    taxes: set[str],
    size: int,
) -> list[Query]:
    out: list[Query] = []
    per = max(8, size // 30)
    twins = {id(p) for pair in homonyms for p in pair}
    plain = [p for p in partners if id(p) not in twins]

    def role(p: Partner) -> str:
        return "supplier" if p.supplier else "customer"

    def add(
        kind: str,
        record: dict[str, str],
        expected: str,
        p: Partner | None,
        et: str | None,
        in_master: bool = False,
    ) -> None:
        rec = {k: v for k, v in record.items() if v}
        cid = f"BusinessPartner:{p.bp}" if p else None
        out.append(Query(f"sap-{len(out) + 1:05d}", kind, rec, expected, cid, et, in_master))

    def pick(pool: list[Partner]) -> list[Partner]:
        return rng.sample(pool, min(per, len(pool)))

    def city(p: Partner) -> str:
        return p.city[0]

    for p in pick(plain):
        add("exact_id", {"tax_id": p.tax}, MATCH, p, role(p), True)
    for p in pick(plain):
        add(
            "formatted_id",
            {"tax_id": query_tax(p.tax, rng), "name": legal_variant(p, rng)},
            MATCH,
            p,
            role(p),
            True,
        )
    for p in pick(plain):
        add("name_city", {"name": p.name, "city": city(p)}, MATCH, p, role(p))
    for p in pick(plain):
        add("typo_name", {"name": typo(p.name, rng), "city": city(p)}, MATCH, p, role(p))
    abbreviable = [p for p in plain if abbreviate(p.name) != p.name]
    for p in pick(abbreviable):
        add(
            "abbreviation",
            {"name": abbreviate(p.name), "address": street_variant(p.street, rng), "city": city(p)},
            MATCH,
            p,
            role(p),
        )
    umlauts = [p for p in plain if german_transcription(p.name) != p.name]
    for p in pick(umlauts):
        add(
            "umlaut_ascii",
            {"name": german_transcription(p.name), "city": german_transcription(city(p))},
            MATCH,
            p,
            role(p),
        )
    exonyms = [p for p in plain if p.city[4]]
    for p in pick(exonyms):
        add(
            "city_exonym",
            {"name": case_variant(p.name, rng), "city": rng.choice(p.city[4])},
            MATCH,
            p,
            role(p),
        )
    for p in pick(plain):
        add(
            "legal_form_variant",
            {"name": legal_variant(p, rng), "city": city(p)},
            MATCH,
            p,
            role(p),
        )
    for p in pick(plain):
        add("missing_fields", {"name": p.name}, MATCH, p, role(p))
    for p in pick(plain):
        add(
            "street_postcode",
            {
                "name": strip_accents(p.core),
                "address": street_variant(p.street, rng),
                "postcode": p.postcode,
            },
            MATCH,
            p,
            role(p),
        )
    for p in pick([p for p in plain if p.supplier and p.customer]):
        add("untyped_dual_role", {"name": p.name, "city": city(p)}, MATCH, p, None)
    for p in pick([p for p in plain if p.customer and not p.supplier]):
        add(
            "cross_type",
            {"name": p.name, "tax_id": query_tax(p.tax, rng)},
            HALT,
            None,
            "supplier",
            True,
        )
    for a, b in rng.sample(homonyms, min(per, len(homonyms))):
        add("homonym_name_only", {"name": a.name}, HALT, None, role(a))
        twin = rng.choice([a, b])
        add("homonym_name_city", {"name": a.name, "city": city(twin)}, MATCH, twin, role(a))
    for p in pick(plain):
        add(
            "lookalike_new_id",
            {
                "name": typo(p.name, rng),
                "city": city(p),
                "tax_id": query_tax(new_tax_id(p.city[1], rng)[1], rng),
            },
            HALT,
            None,
            role(p),
        )
    for k in range(per):
        p = _partner(fk_by, rng, 90_000_000 + k, taxes)
        add(
            "new_record",
            {"name": p.name, "city": city(p), "tax_id": query_tax(p.tax, rng)},
            HALT,
            None,
            role(p),
        )
    return out
