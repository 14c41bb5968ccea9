"""Normalisation of field values, the same for training, serving and queries.

Every function maps a raw value to a canonical string, or None when nothing usable is left;
each is idempotent (normalising a normalised value changes nothing).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from anyascii import anyascii
from stdnum import vatin
from stdnum.br import cnpj, cpf
from stdnum.ch import uid

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
#: Everything but ASCII digits (Unicode digits of other scripts are not phone digits).
_DIGITS = re.compile(r"[^0-9]+")
#: ASCII whitespace, as Arrow's regular expressions read `\s` (resolver.normalise_columns).
SPACES = r"[\t\n\x0b\f\r ]+"
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: Values clerks type for "nothing" (compared after folding, without spaces).
_BLANK_LIKE = frozenset({"", "na", "nan", "none", "null", "nil", "xxx", "sn", "semnome"})

#: Legal forms in pt/es/de/fr/en, as tokens after punctuation is folded (s.a. -> "sa").
LEGAL_FORMS = frozenset(
    "ltda ltd limitada sa me epp eireli mei ss ag gmbh kg ohg ug se inc incorporated corp "
    "corporation llc llp plc co sarl sas srl spa sl slu bv nv ab oy as aps".split()
)
#: Words that carry no identity: articles and conjunctions in pt/es/de/fr/en.
STOPWORDS = frozenset("de da do das dos e y and the of und der die das et la le les del".split())
#: Abbreviations seen in ERP masters, expanded to the word they stand for.
ABBREVIATIONS = {
    "ind": "industria",
    "inds": "industrias",
    "indl": "industrial",
    "com": "comercio",
    "coml": "comercial",
    "cia": "companhia",
    "distrib": "distribuidora",
    "dist": "distribuidora",
    "distr": "distribuidora",
    "serv": "servicos",
    "svcs": "services",
    "transp": "transportes",
    "imp": "importacao",
    "exp": "exportacao",
    "emp": "empreendimentos",
    "part": "participacoes",
    "adm": "administracao",
    "eng": "engenharia",
    "tec": "tecnologia",
    "ferram": "ferramentas",
    "log": "logistica",
    "prod": "produtos",
    "prods": "produtos",
    "quim": "quimicos",
    "equip": "equipamentos",
    "equips": "equipamentos",
    "mat": "materiais",
    "mats": "materiais",
    "constr": "construcoes",
    "const": "construcoes",
    "metal": "metalurgica",
    "eletr": "eletricos",
    "alim": "alimentos",
    "maq": "maquinas",
    "veic": "veiculos",
    "agric": "agricola",
    "farm": "farmaceutica",
    "hosp": "hospitalar",
    "mont": "montagens",
    "repr": "representacoes",
    "rep": "representacoes",
    "mfg": "manufacturing",
    "intl": "international",
    "natl": "national",
    "bros": "brothers",
    "assoc": "associates",
    "mgmt": "management",
    "svc": "service",
    "techn": "technik",
    "hdl": "handel",
}
_ADDRESS_ABBREVIATIONS = {
    "r": "rua",
    "av": "avenida",
    "avda": "avenida",
    "rod": "rodovia",
    "al": "alameda",
    "pca": "praca",
    "trav": "travessa",
    "est": "estrada",
    "str": "strasse",
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "blvd": "boulevard",
    "n": "",
    "no": "",
    "nr": "",
}


def fold(value: object) -> str:
    """Lower-case, strip accents (non-spacing marks after NFKD), transliterate what is left
    outside ASCII (anyascii: ø -> o, ł -> l, Cyrillic, Greek…) and fold every run of
    punctuation to one space."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    text = text.replace("ß", "ss").replace("&", " e ")
    if not text.isascii():
        text = anyascii(text).lower()
    return _NON_ALNUM.sub(" ", text).strip()


#: German umlauts written without the dots (Müller = Mueller = Muller): every `ae`, `oe`,
#: `ue` folds to its vowel, on both sides of every comparison, so the three spellings meet.
_UMLAUT = re.compile(r"([aou])e+")


def umlauts(text: str) -> str:
    """`Mueller` and `Müller` (folded to `muller`) alike: `ae/oe/ue` -> `a/o/u`."""
    return _UMLAUT.sub(r"\1", text)


def _legal_form_suffixes() -> list[str]:
    """Legal forms that end a company name, folded: cleanco's per-country terms, and the DACH
    spellings it lacks (Ges.m.b.H., e.K.)."""
    from cleanco.clean import prepare_default_terms

    forms = {fold(" ".join(tokens)) for _, tokens in prepare_default_terms()}
    forms |= {"ges m b h", "gesmbh", "ges mbh", "e k", "e kfm", "e kfr", "e u", "e gen"}
    forms |= LEGAL_FORMS
    plain = {umlauts(f) for f in forms if re.fullmatch(r"[0-9a-z]+(?: [0-9a-z]+)*", f)}
    return sorted((f for f in plain if len(f) > 1), key=lambda f: (-len(f), f))


#: Trailing legal forms (one or several: `GmbH & Co. KG`), removed from a folded name unless
#: nothing else is left. The same pattern runs in RE2 (resolver.normalise_columns).
TRAILING_LEGAL_FORMS = r"^(.+?)(?: (?:" + "|".join(_legal_form_suffixes()) + r"))+$"
_TRAILING = re.compile(TRAILING_LEGAL_FORMS)


def strip_legal_suffix(folded: str) -> str:
    return _TRAILING.sub(r"\1", folded)


#: ABBREVIATIONS as the name rule applies them: to words whose umlauts are already folded.
EXPANSIONS = {k: umlauts(v) for k, v in ABBREVIATIONS.items()}


def _join_initials(tokens: list[str]) -> list[str]:
    """Rejoin runs of single letters: 's a' (from S.A. or S/A) -> 'sa', 'a b c' -> 'abc'."""
    out: list[str] = []
    run: list[str] = []
    for tok in tokens + [""]:
        if len(tok) == 1 and tok.isalpha() and tok not in ("e", "y"):
            run.append(tok)
            continue
        if run:
            out.append("".join(run))
            run = []
        if tok:
            out.append(tok)
    return out


def _blank(text: str) -> bool:
    compact = text.replace(" ", "")
    return compact in _BLANK_LIKE or set(compact) == {"0"}


def name(value: object) -> str | None:
    """Company or person name: accents, case, punctuation, legal forms and stopwords removed,
    abbreviations expanded. 'IND. COM. SOUZA LTDA.' -> 'industria comercio souza'."""
    text = umlauts(fold(value))
    if _blank(text):
        return None
    text = strip_legal_suffix(text)
    tokens = [EXPANSIONS.get(t, t) for t in _join_initials(text.split())]
    # A legal form ends a name or hides inside it; the first word is the name's own (the
    # surname Sá of "SA & Filhos", the "AG" of "AG Bau" are no legal forms there).
    core = [
        t for k, t in enumerate(tokens) if t not in STOPWORDS and (k == 0 or t not in LEGAL_FORMS)
    ]
    if not core:
        # A name made only of legal forms or stopwords keeps them rather than vanishing.
        core = tokens
    # Initials that a removed word separated ("a e b") join now, as they would next time;
    # a legal form that a dropped stopword hid ("Foo UK de") goes now too.
    result = strip_legal_suffix(" ".join(_join_initials(core)))
    # What is left may be a placeholder itself ("0 E" leaves "0"): blank, as "0" is.
    return None if _blank(result) else result


def name_sorted(normalised_name: str | None) -> str | None:
    """The distinct words of a normalised name in alphabetical order (order-insensitive key)."""
    if not normalised_name:
        return None
    return " ".join(sorted(set(normalised_name.split())))


def tax_id(value: object) -> str | None:
    """Tax id as upper-case letters and digits: '12.345.678/0001-95' -> '12345678000195',
    'CHE-123.456.789 MWST' -> 'CHE123456789'. Leading zeros lost by spreadsheets are restored
    for Brazilian ids (13 digits -> CNPJ, 10 digits -> CPF)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = re.sub(r"[^0-9A-Za-z]", "", str(value)).upper()
    if text.startswith("CHE") and len(text) >= 12:
        text = text[:12]
    if text.isdigit():
        if set(text) == {"0"}:
            return None
        if len(text) == 13:
            text = "0" + text
        elif len(text) == 10:
            text = "0" + text
    return text or None


def tax_root(normalised_tax_id: str | None) -> str | None:
    """The 8-digit CNPJ root shared by every branch of one company; None for other ids."""
    if normalised_tax_id and len(normalised_tax_id) == 14 and normalised_tax_id.isdigit():
        return normalised_tax_id[:8]
    return None


def tax_id_kind(normalised_tax_id: str | None) -> str | None:
    """What a tax id is, if it is valid: 'cnpj', 'cpf', 'ch_uid', 'vat'; None if invalid."""
    if not normalised_tax_id:
        return None
    if normalised_tax_id.isdigit():
        if len(normalised_tax_id) == 14 and cnpj.is_valid(normalised_tax_id):
            return "cnpj"
        if len(normalised_tax_id) == 11 and cpf.is_valid(normalised_tax_id):
            return "cpf"
        return None
    if normalised_tax_id.startswith("CHE") and uid.is_valid(normalised_tax_id):
        return "ch_uid"
    if vatin.is_valid(normalised_tax_id):
        return "vat"
    return None


def email(value: object) -> str | None:
    """E-mail address: trimmed, lower-case; None unless it has one '@' with text on both sides."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip().lower().removeprefix("mailto:")
    local, sep, domain = text.partition("@")
    if not sep or not local or "." not in domain or "@" in domain or " " in text:
        return None
    return text


def phone(value: object) -> str | None:
    """Phone number as its last 8 digits: country and area codes are written so inconsistently
    that only the subscriber part compares reliably."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    digits = _DIGITS.sub("", str(value))
    if len(digits) < 6 or set(digits) == {"0"}:
        return None
    return digits[-8:]


def postcode(value: object) -> str | None:
    """Postcode as upper-case letters and digits: '01310-100' -> '01310100'."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = re.sub(r"[^0-9A-Za-z]", "", str(value)).upper()
    if not text or set(text) == {"0"}:
        return None
    return text


def place(value: object) -> str | None:
    """Country or region name: folded like a name, without removing any word."""
    text = umlauts(fold(value))
    return None if _blank(text) else text


def city(value: object) -> str | None:
    """City name: folded like a place, then named as GeoNames names it (Genf, Genève and
    Geneva -> `geneva`; Wien -> `vienna`; Zuerich -> `zurich`), for every city GeoNames lists
    with ≥ 15,000 people (`resolver.places`); other places stay as folded."""
    from resolver.places import city_names

    if isinstance(value, str) and (found := _REGION_SUFFIX.fullmatch(value)) is not None:
        value = found.group(1)
    text = place(value)
    return None if text is None else city_names().get(text, text)


#: A state, canton or region code after a city: "Salvador - BA", "São Paulo/SP", "Zürich (ZH)",
#: "Rio de Janeiro, RJ" (a separator and two letters; "Biel/Bienne" keeps its second name).
#: Written for Python's `re` and RE2 alike (the column normaliser runs it in Arrow).
REGION_SUFFIX = r"(.*[^ \t])[ \t]*(?:[-/,][ \t]*[A-Za-z]{2}|\([ \t]*[A-Za-z]{2}[ \t]*\))[ \t]*"
_REGION_SUFFIX = re.compile(REGION_SUFFIX)


def state(value: object) -> str | None:
    """State or canton code, upper-case."""
    text = fold(value)
    return None if _blank(text) else text.upper().replace(" ", "")


_ADDRESS_EXPANSIONS = {k: umlauts(v) for k, v in _ADDRESS_ABBREVIATIONS.items()}


def address(value: object) -> str | None:
    """Street address: folded, street-type abbreviations expanded, house-number markers dropped."""
    text = umlauts(fold(value))
    if _blank(text):
        return None
    tokens = [_ADDRESS_EXPANSIONS.get(t, t) for t in text.split()]
    return " ".join(t for t in tokens if t) or None


def birth_date(value: object) -> str | None:
    """Date as YYYYMMDD from YYYYMMDD, YYYY-MM-DD, DD/MM/YYYY or DD.MM.YYYY."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?", text)
    if m:
        return "".join(m.groups())
    m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if m:
        day, month, year = m.groups()
        return f"{year}{int(month):02d}{int(day):02d}"
    return None


def code(value: object) -> str | None:
    """An ERP code or number compared as written but for surrounding blanks and leading zeros."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = re.sub(SPACES, "", str(value)).translate(_ASCII_UPPER)
    return (text.lstrip("0") or "0") if text else None


#: The normaliser of each role.
ROLE_NORMALISERS: dict[str, Callable[[object], str | None]] = {
    "name": name,
    "tax_id": tax_id,
    "address": address,
    "city": city,
    "state": state,
    "postcode": postcode,
    "country": place,
    "phone": phone,
    "email": email,
    "birth_date": birth_date,
    "number": code,
    "branch": code,
    "given_name": name,
    "family_name": name,
    "house_number": postcode,
}


def normalise_record(record: dict[str, object]) -> dict[str, str | None]:
    """Normalise a query given by roles, adding the derived columns."""
    out: dict[str, str | None] = {role: ROLE_NORMALISERS[role](v) for role, v in record.items()}
    if "name" in out:
        out["name_sorted"] = name_sorted(out["name"])
    if "tax_id" in out:
        out["tax_root"] = tax_root(out["tax_id"])
    return out
