"""What every data set of the accuracy harness shares: the query/truth records, the files a set
is written as, and the perturbation primitives agents' queries are made with.

Nothing here derives from Canon's normaliser: the noise is what real masters and agents
produce (see PERTURBATIONS.md), written from the data's side.
"""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Version of the perturbation model (PERTURBATIONS.md). Bump it when any generator's noise,
#: query kinds or sizes change, so results of two versions are never compared as equals.
PERTURBATION_VERSION = "1.1"

MATCH = "match"
HALT = "halt"


@dataclass(frozen=True)
class Query:
    """One agent-style query and the truth about it."""

    id: str
    kind: str
    record: dict[str, str]
    expected: str  # MATCH or HALT
    canonical_id: str | None = None  # the one right answer of a MATCH query
    entity_type: str | None = None
    #: The query's identifier (tax id, national id…) belongs to a record of the master: such a
    #: query must never answer no_match.
    id_in_master: bool = False

    def query_json(self) -> dict[str, Any]:
        return {"id": self.id, "entity_type": self.entity_type, "record": self.record}

    def expected_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "expected": self.expected,
            "canonical_ids": [self.canonical_id] if self.canonical_id else [],
            "id_in_master": self.id_in_master,
        }


@dataclass(frozen=True)
class BaselineTable:
    """How the rules baseline reads one entity type's extract, without Canon's profile."""

    entity_type: str
    file: str
    canonical_id: Callable[[dict[str, str]], str]
    name: Sequence[str]  # columns joined with a space
    tax_id: str | None = None
    email: str | None = None
    city: str | None = None
    postcode: str | None = None
    birth_date: str | None = None
    deleted: Callable[[dict[str, str]], bool] = lambda row: False


@dataclass
class DataSet:
    """A generated or loaded set: extracts in `data_dir`, a profile, queries with truth."""

    name: str
    data_dir: Path
    profile: Path | None  # None: Canon's default profile
    queries: list[Query]
    tables: list[BaselineTable]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def queries_path(self) -> Path:
        return self.data_dir.parent / "queries.jsonl"

    @property
    def expected_path(self) -> Path:
        return self.data_dir.parent / "expected.jsonl"

    def write_queries(self) -> None:
        write_jsonl(self.queries_path, (q.query_json() for q in self.queries))
        write_jsonl(self.expected_path, (q.expected_json() for q in self.queries))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[dict[str, str]]) -> int:
    """Write an extract as UTF-8 CSV; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})
            n += 1
    return n


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)
        ]


# -- perturbations (agent- and keying-side noise) -----------------------------------------------

_KEYBOARD = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


def typo(text: str, rng: random.Random) -> str:
    """One keying error at a letter: a neighbour key, a dropped, doubled or swapped letter."""
    spots = [i for i, c in enumerate(text) if c.isalpha()]
    if len(spots) < 4:
        return text
    i = rng.choice(spots[1:])  # first letters are rarely mistyped
    c = text[i]
    op = rng.random()
    if op < 0.35 and c.lower() in _KEYBOARD:
        sub = rng.choice(_KEYBOARD[c.lower()])
        return text[:i] + (sub.upper() if c.isupper() else sub) + text[i + 1 :]
    if op < 0.6:
        return text[:i] + text[i + 1 :]
    if op < 0.8:
        return text[:i] + c + text[i:]
    if i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + c + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def strip_accents(text: str) -> str:
    """What a US keyboard or a legacy system leaves of accented letters (é → e, ü → u)."""
    out = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in out if unicodedata.category(c) != "Mn")


def german_transcription(text: str) -> str:
    """Umlauts written as the German convention for keyboards without them (ü → ue, ß → ss)."""
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
    return "".join(table.get(c, c) for c in text)


def case_variant(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return text.upper()
    if r < 0.7:
        return text.title()
    if r < 0.85:
        return text.lower()
    return text


def replace_words(text: str, table: dict[str, str]) -> str:
    """Replace whole words (case-insensitively; the replacement keeps the table's spelling)."""
    out = []
    for word in text.split(" "):
        key = word.lower()
        out.append(table.get(key, word))
    return " ".join(out)


def digits_only(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def alnum_upper(text: str) -> str:
    return "".join(c for c in text if c.isalnum()).upper()
