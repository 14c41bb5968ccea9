"""Free-text mentions: what an agent's sentence names, read deterministically.

Agents often hold only a sentence ("the PO for ABC Manufacturing AG in Zürich, UID
CHE-123.456.789"). `parse_mention` reads it into the roles a resolve query gives, in a fixed
order, each step taking its span out of the text so that no later one reads it again:

1. IBANs (`stdnum.iban`): reported, never matched on (no ERP role holds them).
2. Tax ids of the kinds the profile's `mentions.tax_ids` names, each checked by python-stdnum
   (CNPJ and CPF check digits, the Swiss UID, the German USt-IdNr, the Austrian UID, any EU VAT
   number `stdnum.vatin` knows).
3. E-mail addresses.
4. Order numbers, by the `mention` pattern of a key-matched entity type (purchase orders).
5. Postcodes: after their cue word (`CEP 01310100`, `PLZ 8004`, `NPA 1003`), a Brazilian CEP
   (`01310-100`), or 4–5 digits written before a known city (`8004 Zürich`) or after a country
   prefix (`CH-8004`).
6. Phone numbers (`phonenumbers`, valid numbers only, tried in the profile's regions in order).
7. A city: a GeoNames spelling (`resolver.places`) right after a postcode, or after a locative
   word (`in`, `em`, `à`, `aus`…), or alone after a comma at the end of the sentence.

What is left is the name: a quoted part if there is one, else the part (between commas and the
spans taken) holding a legal form, else the longest one, with filler words (articles, verbs,
"supplier", "fornecedor"…, the cue words of the identifiers) stripped from its edges only, so
that `Comércio de Alimentos` keeps its `de`. Nothing is downloaded and no model is asked:
the same sentence always reads the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import phonenumbers
from stdnum import iban, vatin
from stdnum.at import uid as at_uid
from stdnum.br import cnpj, cpf
from stdnum.ch import uid as ch_uid
from stdnum.de import vat as de_vat

from resolver.normalise import fold, normalise_record, umlauts
from resolver.profiles import EntityTypeSpec, Profile
from resolver.types import Decision, Resolution, ResolveQuery

#: Longest text read; the rest is ignored (the API caps the field well below this).
MAX_TEXT = 4000

#: Tax-id kinds a profile may name, each with the pattern that finds it and its check.
_TAX_IDS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "cnpj": (
        re.compile(r"(?<![\w/.-])\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?![\w/-])"),
        cnpj.is_valid,
    ),
    "cpf": (re.compile(r"(?<![\w/.-])\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?![\w/-])"), cpf.is_valid),
    "ch_uid": (
        re.compile(r"(?i)\bCHE[\s-]?\d{3}\.?\d{3}\.?\d{3}(?:\s?(?:MWST|TVA|IVA|VAT))?(?!\w)"),
        lambda v: ch_uid.is_valid(re.sub(r"(?i)\s?(?:MWST|TVA|IVA|VAT)$", "", v)),
    ),
    "de_vat": (re.compile(r"\bDE\s?\d{3}\s?\d{3}\s?\d{3}(?!\w)"), de_vat.is_valid),
    "at_uid": (re.compile(r"\bATU\s?\d{8}(?!\w)"), at_uid.is_valid),
    "vat": (re.compile(r"\b[A-Z]{2}[\s-]?[0-9A-Z][0-9A-Z .-]{6,14}[0-9A-Z](?!\w)"), vatin.is_valid),
}
TAX_ID_KINDS = tuple(_TAX_IDS)

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?(?!\w)")
_EMAIL = re.compile(r"(?i)(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CEP = re.compile(r"(?<![\w.-])\d{5}-\d{3}(?![\w/-])")
#: A postcode after its cue word, whatever its shape: "CEP 01310100", "PLZ 8004", "NPA 1003".
_CUED_POSTCODE = re.compile(
    r"(?i)\b(?:CEP|PLZ|NPA|CAP|post\s?code|zip(?:\s?code)?|code\s+postal|c[oó]digo\s+postal)"
    r"\s*[:.]?\s*(\d{4,5}(?:-?\d{3})?)(?![\w/-])"
)
_PREFIXED_POSTCODE = re.compile(r"(?i)\b(?:CH|D|DE|A|AT|F|FR|BR)-(\d{4,5})(?!\w)")
_BARE_POSTCODE = re.compile(r"(?<![\w.,/-])(\d{4,5})(?![\w.,/-])")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*\.?", re.UNICODE)
_QUOTED = re.compile(r"[\"“”„«»‹›]([^\"“”„«»‹›]{2,})[\"“”„«»‹›]")
#: Separators between the parts of a sentence the name is chosen from.
_SEPARATORS = re.compile(r"[,;:()\[\]{}|\n]|\s[-–—]\s|\x00+")

#: Most words a city name has ("São José do Rio Preto" has five).
CITY_WORDS = 6
#: Words after which a city is read: "in Zürich", "em São Paulo", "à Genève", "aus Bern".
LOCATIVES = frozenset("in em na no à a aus bei from at nach zu en près von".split())
#: Words that carry no identity at a name's edges: articles, verbs, politeness, the entity
#: nouns, and the cue words of the identifiers (pt-BR, de, fr, en).
FILLER = frozenset(
    """
    a o os as um uma the an der die das den dem des ein eine einen le la les l un une
    de do da dos das du von of for para pour für fuer to for ao à aux with com mit avec
    por per by sur on em in im na no nos nas au bei aus from at
    e and und et ou or oder
    please por favor bitte svp merci obrigado thanks
    block bloquear bloqueie sperren sperre sperrt bloquer bloquez unblock desbloquear entsperren
    débloquer pay pagar zahlen payer check verificar prüfen vérifier find encontrar finden trouver
    update atualizar aktualisieren mettre jour create criar erstellen créer resolve
    close fechar encerrar schliessen abschliessen fermer cancel cancelar stornieren annuler
    supplier suppliers vendor fornecedor fornecedora lieferant lieferanten lieferantin
    fournisseur fournisseurs customer cliente clientes kunde kunden client clients
    employee funcionario funcionaria colaborador colaboradora mitarbeiter mitarbeiterin
    employe employee salarie contact contato kontakt ansprechpartner
    company empresa firma unternehmen societe entreprise
    po order pedido compra bestellung commande purchase ordem nr no number numero nummer n
    cnpj cpf uid ide mwst tva iva vat ust idnr ust-idnr ustidnr steuernummer tax id taxid
    tel telefon telefone phone fone fax mobile celular handy portable natel cep plz npa
    email e-mail mail iban conta konto compte
    """.split()
)


@dataclass
class Mention:
    """What a sentence names: role -> the value as written, and what else was read."""

    text: str
    roles: dict[str, str] = field(default_factory=dict)
    #: Read but not matched on: `iban`, `tax_id_kind`, `order_number`.
    extras: dict[str, str] = field(default_factory=dict)
    #: The entity type the sentence's own words name (`fornecedor` -> supplier), if any.
    entity_type: str | None = None
    #: The key-matched entity type whose number was found, with the number.
    order: tuple[str, str] | None = None

    @property
    def usable(self) -> bool:
        """Whether anything was read that a resolve can search on."""
        return bool(self.roles) or self.order is not None

    def identity(self) -> dict[str, str | None]:
        """Everything read, normalised as the resolver compares it (the response's
        `query_identity`): the agent and the reviewer see how the sentence was read."""
        out: dict[str, str | None] = dict(normalise_record(dict(self.roles)))
        out.pop("name_sorted", None)
        out.pop("tax_root", None)
        out.update(self.extras)
        if self.order is not None:
            out["order_number"] = self.order[1]
        return out


class _Text:
    """The sentence with the spans taken so far masked out (offsets kept)."""

    def __init__(self, text: str):
        self.original = text
        self.masked = text

    def take(self, start: int, end: int) -> str:
        value = self.original[start:end]
        self.masked = self.masked[:start] + "\x00" * (end - start) + self.masked[end:]
        return value

    def free(self, start: int, end: int) -> bool:
        return "\x00" not in self.masked[start:end]


def parse_mention(text: str, profile: Profile) -> Mention:
    """Read a sentence into roles (see the module). Never raises on any text."""
    text = str(text)[:MAX_TEXT]
    mention = Mention(text=text)
    t = _Text(text)
    _ibans(t, mention)
    _tax_ids(t, mention, profile)
    _emails(t, mention)
    _orders(t, mention, profile)
    _postcodes_and_cities(t, mention)
    _phones(t, mention, profile)
    _cities_after_words(t, mention)
    name = _name(t)
    if name:
        mention.roles["name"] = name
    mention.entity_type = _type_word(t.masked, profile)
    return mention


def _first(t: _Text, pattern: re.Pattern[str], valid: Callable[[str], bool]) -> str | None:
    for m in pattern.finditer(t.masked):
        if t.free(m.start(), m.end()) and valid(m.group(0)):
            return t.take(m.start(), m.end())
    return None


def _ibans(t: _Text, mention: Mention) -> None:
    found = _first(t, _IBAN, iban.is_valid)
    if found:
        mention.extras["iban"] = iban.compact(found)


def _tax_ids(t: _Text, mention: Mention, profile: Profile) -> None:
    for kind in profile.mentions.tax_ids:
        pattern, valid = _TAX_IDS[kind]
        found = _first(t, pattern, partial(_safe, valid))
        if found:
            mention.roles["tax_id"] = found
            mention.extras["tax_id_kind"] = kind
            return


def _safe(check: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(check(value))
    except Exception:  # a validator's edge case is "not this kind", never a failed resolve
        return False


def _emails(t: _Text, mention: Mention) -> None:
    found = _first(t, _EMAIL, lambda v: "." in v.rsplit("@", 1)[1])
    if found:
        mention.roles["email"] = found.rstrip(".")


def _orders(t: _Text, mention: Mention, profile: Profile) -> None:
    for name, spec in profile.entity_types.items():
        if not spec.mention:
            continue
        for m in re.finditer(spec.mention, t.masked):
            number = m.group(1) if m.groups() else m.group(0)
            if number and t.free(m.start(), m.end()):
                t.take(m.start(), m.end())
                mention.order = (name, number)
                return


def _postcodes_and_cities(t: _Text, mention: Mention) -> None:
    for pattern in (_CUED_POSTCODE, _CEP, _PREFIXED_POSTCODE):
        for m in pattern.finditer(t.masked):
            if t.free(m.start(), m.end()):
                t.take(m.start(), m.end())
                mention.roles["postcode"] = m.group(m.lastindex or 0)
                _city_at(t, mention, m.end())
                return
    for m in _BARE_POSTCODE.finditer(t.masked):
        if t.free(m.start(), m.end()) and _city_at(t, mention, m.end()):
            mention.roles["postcode"] = t.take(m.start(), m.end())
            return


def _city_at(t: _Text, mention: Mention, start: int) -> bool:
    """Take a known city written right at `start` (after blanks), if there is one."""
    if "city" in mention.roles:
        return False
    words = list(_WORD.finditer(t.masked, start))[:CITY_WORDS]
    if not words or t.masked[start : words[0].start()].strip(" \t"):
        return False
    return _take_city(t, mention, words)


def _take_city(
    t: _Text, mention: Mention, words: list[re.Match[str]], *, whole: bool = False
) -> bool:
    """Take the longest run of `words`' first ones that names a known city (with `whole`,
    only all of them)."""
    from resolver.places import city_names

    names = city_names()
    for n in range(len(words), 0 if not whole else len(words) - 1, -1):
        span = words[:n]
        if any(not t.free(w.start(), w.end()) for w in span):
            continue
        gaps = [t.masked[a.end() : b.start()] for a, b in zip(span, span[1:], strict=False)]
        if any(g.strip(" -") for g in gaps):
            continue  # a city's words are separated by blanks or hyphens only
        key = umlauts(fold(t.original[span[0].start() : span[-1].end()]))
        if key and key in names and not key.isdigit():
            mention.roles["city"] = t.take(span[0].start(), span[-1].end()).rstrip(".")
            return True
    return False


def _phones(t: _Text, mention: Mention, profile: Profile) -> None:
    for region in profile.mentions.phone_regions:
        try:
            matches = list(
                phonenumbers.PhoneNumberMatcher(
                    t.masked, region, leniency=phonenumbers.Leniency.VALID
                )
            )
        except Exception:  # phonenumbers on odd input: no phone, never an error
            continue
        for m in matches:
            if t.free(m.start, m.end):
                mention.roles["phone"] = t.take(m.start, m.end)
                return


def _cities_after_words(t: _Text, mention: Mention) -> None:
    """A known city after a locative word, or ending the sentence after a comma."""
    if "city" in mention.roles:
        return
    words = list(_WORD.finditer(t.masked))
    for k, w in enumerate(words[:-1]):
        if fold(w.group(0)) in LOCATIVES and t.free(w.start(), w.end()):
            if _take_city(t, mention, words[k + 1 : k + 1 + CITY_WORDS]):
                t.take(w.start(), w.end())
                return
    tail = t.masked.rstrip(" .!?\x00")
    comma = tail.rfind(",")
    if comma >= 0:
        last = [w for w in words if w.start() > comma and w.end() <= len(tail)]
        if 0 < len(last) <= CITY_WORDS:  # the whole tail, not a city word opening a name
            _take_city(t, mention, last, whole=True)


def _edge_trimmed(words: list[str]) -> list[str]:
    start, end = 0, len(words)
    while start < end and _filler(words[start]):
        start += 1
    while end > start and _filler(words[end - 1]):
        end -= 1
    return words[start:end]


def _filler(word: str) -> bool:
    folded = fold(word)
    return not folded or folded in FILLER or folded.replace(" ", "") in FILLER


def _name(t: _Text) -> str | None:
    quoted = [m for m in _QUOTED.finditer(t.masked) if t.free(m.start(), m.end())]
    if quoted:
        text = quoted[0].group(1).strip()
        return text if fold(text) else None
    from resolver.normalise import LEGAL_FORMS

    def is_legal(word: str) -> bool:
        return fold(word).replace(" ", "") in LEGAL_FORMS

    parts: list[list[str]] = []
    for chunk in _SEPARATORS.split(t.masked):
        words = _edge_trimmed([w.group(0) for w in _WORD.finditer(chunk)])
        if parts and words and all(is_legal(w) for w in words):
            parts[-1].extend(words)  # "Porto Comércio - ME": the legal form ends the name
        elif words and any(any(c.isalpha() for c in w) for w in words):
            parts.append(words)
    if not parts:
        return None
    legal = [p for p in parts if any(is_legal(w) for w in p)]
    best = legal[0] if legal else max(parts, key=lambda p: sum(len(w) for w in p))
    return " ".join(best)


def _type_word(masked: str, profile: Profile) -> str | None:
    """The first entity type one of the sentence's words names (the profile's `words`, which
    the profile keeps folded)."""
    for w in _WORD.finditer(masked):
        word = fold(w.group(0))
        for kind, spec in profile.entity_types.items():
            if word in spec.words:
                return kind
    return None


#: Why a sentence that names nothing searchable is `no_match`.
NOTHING_READ = (
    "the text names nothing to search on: no name, tax id, e-mail, phone, postcode, city or"
    " order number was read from it"
)


def resolve_text(
    query: ResolveQuery,
    profile: Profile,
    specs: dict[str, EntityTypeSpec],
    versions: tuple[str, str],
    resolve: Callable[[ResolveQuery], Resolution],
) -> Resolution:
    """Resolve a query carrying `text`: read the sentence, search on what it names (the
    query's own record fields win), and return what was read as `query_identity`.

    `specs`: the served entity types; `versions`: the model and calibration versions a
    resolution names; `resolve`: the structured resolve.
    """
    mention = parse_mention(query.text or "", profile)
    entity_type = query.entity_type
    if entity_type is None and mention.order is not None and mention.order[0] in specs:
        entity_type = mention.order[0]
    elif entity_type is None and mention.entity_type in specs:
        entity_type = mention.entity_type
    record: dict[str, object] = {}
    spec = specs.get(entity_type) if entity_type is not None else None
    if spec is not None and spec.matching == "key":
        if mention.order is not None and mention.order[0] == entity_type:
            record["number"] = mention.order[1]
    else:
        allowed = set(spec.roles) if spec is not None else _party_roles(specs)
        record = {k: v for k, v in mention.roles.items() if k in allowed}
    record.update(query.record)
    read = mention.identity()
    if entity_type is not None and entity_type != query.entity_type:
        read["entity_type"] = entity_type
    if not any(v not in (None, "") for v in record.values()):
        return Resolution(
            id=query.id,
            decision=Decision.NO_MATCH,
            entity_type=entity_type,
            candidates=[],
            reason=NOTHING_READ,
            model_version=versions[0],
            calibration_version=versions[1],
            query_identity=read,
        )
    structured = ResolveQuery(id=query.id, entity_type=entity_type, record=record)
    resolution = resolve(structured)
    asked = {k: v for k, v in resolution.query_identity.items() if v is not None}
    return resolution.model_copy(update={"query_identity": {**read, **asked}})


def _party_roles(specs: dict[str, EntityTypeSpec]) -> set[str]:
    return {role for spec in specs.values() if spec.party for role in spec.roles}
