"""A careful hand-written rules resolver, written beside Canon and independent of it.

The rules a competent integrator would write in an afternoon: look the identifier (tax id,
VAT/UID, national id) or the e-mail up exactly; a valid identifier that is not in the master
means a new record; one found only under another entity type halts. Otherwise the best name
similarity (rapidfuzz, after accent, umlaut, punctuation and legal-form folding) wins if it is
high enough and leads the runner-up by a margin, among the records whose city and birth date do
not contradict the query.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process
from stdnum import vatin
from stdnum.br import cnpj, cpf
from stdnum.ch import uid

from benchmarks.accuracy.common import BaselineTable, read_csv

NAME_MIN = 88.0  # best name score needed to match
NAME_MARGIN = 6.0  # lead over the runner-up (another record) needed to match
CITY_MIN = 80.0  # a candidate whose city scores below this (against the query's) is dropped
ID_NAME_MIN = 50.0  # an identifier hit whose name scores below this is a contradiction
POSTCODE_PENALTY = 10.0

#: Legal-form and filler tokens dropped before names are compared (after folding).
NOISE_TOKENS = {
    "ltda",
    "sa",
    "s",
    "a",
    "eireli",
    "me",
    "epp",
    "gmbh",
    "ag",
    "kg",
    "co",
    "ohg",
    "ek",
    "ekfm",
    "ug",
    "og",
    "eu",
    "gesmbh",
    "sarl",
    "sas",
    "srl",
    "spa",
    "sagl",
    "snc",
    "eurl",
    "cie",
    "inc",
    "llc",
    "ltd",
    "plc",
    "corp",
    "de",
    "da",
    "do",
    "dos",
    "das",
    "e",
    "et",
    "und",
    "u",
    "the",
    "of",
    "and",
}
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TAX_SUFFIX = re.compile(r"(MWST|TVA|IVA)$")


def fold(text: str) -> str:
    """Lower case, umlauts as ae/oe/ue, accents off, punctuation to spaces."""
    text = text.lower().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = text.replace("g.m.b.h", "gmbh").replace("ges.m.b.h", "gesmbh")
    return _NON_ALNUM.sub(" ", text).strip()


def name_key(text: str) -> str:
    return " ".join(t for t in fold(text).split() if t not in NOISE_TOKENS) or fold(text)


def tax_key(text: str) -> str:
    key = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    return _TAX_SUFFIX.sub("", key) if key.startswith("CHE") else key


def tax_valid(key: str) -> bool:
    """A well-formed identifier with a valid check digit (so a miss means a new record)."""
    if key.isdigit():
        return (len(key) == 14 and cnpj.is_valid(key)) or (len(key) == 11 and cpf.is_valid(key))
    if key.startswith("CHE"):
        return bool(uid.is_valid(key))
    return bool(vatin.is_valid(key))


def date_key(text: str) -> str:
    """YYYYMMDD from the formats masters and people use (day first when ambiguous)."""
    digits: list[str] = re.findall(r"\d+", text)
    if len(digits) == 1 and len(digits[0]) == 8:
        return digits[0]
    month = next((m for m, word in enumerate(_MONTHS, 1) if word in text.lower()), None)
    if month and len(digits) == 2:
        day, year = sorted(digits, key=len)
        return f"{year}{month:02d}{int(day):02d}"
    if len(digits) == 3:
        a, b, c = digits
        if len(a) == 4:
            return f"{a}{int(b):02d}{int(c):02d}"
        if len(c) == 4:
            return f"{c}{int(b):02d}{int(a):02d}"
    return ""


@dataclass(frozen=True)
class Row:
    entity_type: str
    canonical_id: str
    name: str
    city: str
    postcode: str
    birth_date: str


@dataclass(frozen=True)
class Outcome:
    decision: str  # match, ambiguous or no_match
    canonical_id: str | None
    reason: str


class RulesBaseline:
    """The rules resolver over a set's extracts (read with its own `BaselineTable`s)."""

    def __init__(self, data_dir: Path, tables: list[BaselineTable]):
        self.rows: list[Row] = []
        self.by_tax: dict[str, set[int]] = defaultdict(set)
        self.by_email: dict[str, set[int]] = defaultdict(set)
        self.types = sorted({t.entity_type for t in tables})
        for t in tables:
            for raw in read_csv(data_dir / t.file):
                if t.deleted(raw):
                    continue
                i = len(self.rows)
                self.rows.append(
                    Row(
                        t.entity_type,
                        t.canonical_id(raw),
                        name_key(" ".join(raw[c] for c in t.name)),
                        fold(raw[t.city]) if t.city else "",
                        fold(raw[t.postcode]).replace(" ", "") if t.postcode else "",
                        date_key(raw[t.birth_date]) if t.birth_date else "",
                    )
                )
                if t.tax_id and raw[t.tax_id]:
                    self.by_tax[tax_key(raw[t.tax_id])].add(i)
                if t.email and raw[t.email]:
                    self.by_email[raw[t.email].strip().lower()].add(i)
        self.names = [r.name for r in self.rows]

    def _name_score(self, query_name: str, row: Row) -> float:
        return 0.5 * fuzz.token_sort_ratio(query_name, row.name) + 0.5 * fuzz.token_set_ratio(
            query_name, row.name
        )

    def _by_identifier(
        self, hits: set[int], types: set[str], query_name: str | None, what: str
    ) -> Outcome | None:
        typed = [i for i in hits if self.rows[i].entity_type in types]
        if not typed:
            return Outcome("ambiguous", None, f"{what} belongs to another entity type")
        ids = {self.rows[i].canonical_id for i in typed}
        if len(ids) == 1:
            row = self.rows[typed[0]]
            if query_name and self._name_score(query_name, row) < ID_NAME_MIN:
                return Outcome("ambiguous", None, f"{what} agrees, the name contradicts it")
            return Outcome("match", row.canonical_id, f"{what} found")
        return None  # several records share it: let the name decide among them

    def resolve(self, entity_type: str | None, record: dict[str, str]) -> Outcome:
        types = {entity_type} if entity_type else set(self.types)
        name = name_key(record["name"]) if record.get("name") else None
        pool: list[int] | None = None
        if record.get("tax_id"):
            key = tax_key(record["tax_id"])
            hits = self.by_tax.get(key)
            if hits:
                decided = self._by_identifier(hits, types, name, "tax id")
                if decided:
                    return decided
                pool = [i for i in hits if self.rows[i].entity_type in types]
            elif tax_valid(key):
                return Outcome("no_match", None, "valid tax id not in the master")
        if record.get("email") and pool is None:
            hits = self.by_email.get(record["email"].strip().lower())
            if hits:
                decided = self._by_identifier(hits, types, name, "e-mail")
                if decided:
                    return decided
                pool = [i for i in hits if self.rows[i].entity_type in types]
        if not name:
            return Outcome("ambiguous", None, "no identifier found and no name")
        if pool is None:
            found = process.extract(name, self.names, scorer=fuzz.token_sort_ratio, limit=40)
            found += process.extract(name, self.names, scorer=fuzz.token_set_ratio, limit=40)
            pool = [i for _, _, i in found if self.rows[i].entity_type in types]
        city = fold(record.get("city", ""))
        born = date_key(record.get("birth_date", ""))
        postcode = fold(record.get("postcode", "")).replace(" ", "")
        best: dict[str, float] = {}
        for i in set(pool):
            row = self.rows[i]
            if city and row.city and fuzz.ratio(city, row.city) < CITY_MIN:
                continue
            if born and row.birth_date and born != row.birth_date:
                continue
            score = self._name_score(name, row)
            if postcode and row.postcode and postcode != row.postcode:
                score -= POSTCODE_PENALTY
            best[row.canonical_id] = max(score, best.get(row.canonical_id, 0.0))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < NAME_MIN:
            return Outcome("no_match", None, "no name close enough")
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < NAME_MARGIN:
            return Outcome("ambiguous", None, "two names too close")
        return Outcome("match", ranked[0][0], f"name {ranked[0][1]:.0f}")
