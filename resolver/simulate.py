"""Simulated agent queries: where a model's m-probabilities come from.

m is P(comparison level | the query and the record are the same entity). EM over a master
estimates it from the master's own duplicates, which real masters (a clean employee file, a
well-kept SAP system) barely have, and which look nothing like what an agent writes: it
learned exact name + exact CPF at +1.5 bits and a name written with abbreviations as a veto.
What exists on every master is the master itself: each record, written the way agents write
it, is a true pair of (query, record). So m is counted over such pairs.

The perturbation model (`PERTURBATION_MODEL`, versioned; the trained model's report names it)
applies, to the normalised values of a sample of records, independent per-role noise:

| noise | what an agent does | roles |
|---|---|---|
| typo | one edit in one word: substitute, delete, insert, swap two neighbours | text, ids, dates |
| second typo | another edit in another place | names |
| abbreviate | a word of ≥ 5 letters cut to 3–4 letters (`Gebr.`, `techn.`) | names, street |
| initial | the first given name as its initial (`J. Smith`) | person names |
| drop a word | a middle word left out (a second given name, a filler word) | names, street |
| drop the last word | a trailing legal form, branch or family name left out | company names |
| swap | the first two words in the other order (`Smith John`) | names |
| day/month | day and month of a date exchanged | birth dates |
| replace | another record's value: another phone line, an old e-mail | all |

Noise the normaliser removes whatever its extent (case, accents, punctuation, id formatting)
lands on the exact level and needs no simulation; the model's input is the normalised value.
The rates below are judgement, stated here so that a steward can read, and a later version
change, what the weights assume.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from resolver.comparisons import level_predicate
from resolver.normalise import normalise_record
from resolver.profiles import ROLES, ComparisonSpec

PERTURBATION_MODEL = "agent-queries/1"
#: Records sampled per entity type, and simulated queries per record.
SAMPLE_RECORDS = 4000
QUERIES_PER_RECORD = 2


@dataclass(frozen=True)
class Noise:
    """Probabilities of each kind of noise for one role (see the module's table)."""

    typo: float = 0.0
    second_typo: float = 0.0
    abbreviate: float = 0.0
    initial: float = 0.0
    drop_word: float = 0.0
    drop_last: float = 0.0
    swap: float = 0.0
    day_month: float = 0.0
    replace: float = 0.0


COMPANY_NAME = Noise(
    typo=0.15, second_typo=0.04, abbreviate=0.15, drop_word=0.08, drop_last=0.10, swap=0.02,
    replace=0.005,
)  # fmt: skip
PERSON_NAME = Noise(
    typo=0.12, second_typo=0.03, initial=0.10, drop_word=0.15, swap=0.04, replace=0.005
)
ROLE_NOISE: dict[str, Noise] = {
    "tax_id": Noise(typo=0.02, replace=0.005),
    "city": Noise(typo=0.05, abbreviate=0.02, replace=0.05),
    "state": Noise(replace=0.03),
    "country": Noise(replace=0.01),
    "postcode": Noise(typo=0.03, replace=0.08),
    "address": Noise(typo=0.08, abbreviate=0.10, drop_word=0.15, replace=0.10),
    "phone": Noise(typo=0.02, replace=0.15),
    "email": Noise(typo=0.03, replace=0.10),
    "birth_date": Noise(typo=0.03, day_month=0.02, replace=0.005),
    "given_name": PERSON_NAME,
    "family_name": Noise(typo=0.12, second_typo=0.03, replace=0.005),
    "house_number": Noise(typo=0.02, replace=0.05),
}

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def _typo(text: str, rng: random.Random) -> str:
    """One edit at a random place of a random word of ≥ 2 characters."""
    words = text.split(" ")
    eligible = [k for k, w in enumerate(words) if len(w) >= 2] or list(range(len(words)))
    k = rng.choice(eligible)
    word = words[k]
    alphabet = _DIGITS if word.isdigit() else _LETTERS if word.isalpha() else _LETTERS + _DIGITS
    i = rng.randrange(len(word))
    edit = rng.choice(("substitute", "delete", "insert", "swap"))
    if edit == "substitute":
        word = word[:i] + rng.choice(alphabet.replace(word[i], "") or alphabet) + word[i + 1 :]
    elif edit == "delete" and len(word) > 1:
        word = word[:i] + word[i + 1 :]
    elif edit == "insert":
        word = word[:i] + rng.choice(alphabet) + word[i:]
    elif i + 1 < len(word):
        word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    words[k] = word
    return " ".join(words)


def _abbreviate(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    long = [k for k, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    k = rng.choice(long)
    words[k] = words[k][: rng.choice((3, 4))]
    return " ".join(words)


def _initial(text: str) -> str:
    words = text.split(" ")
    if len(words) < 2:
        return text
    words[0] = words[0][0]
    return " ".join(words)


def _drop_word(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    if len(words) < 3:
        return text
    del words[rng.randrange(1, len(words) - 1)]
    return " ".join(words)


def _drop_last(text: str) -> str:
    words = text.split(" ")
    return " ".join(words[:-1]) if len(words) >= 2 else text


def _swap(text: str) -> str:
    words = text.split(" ")
    if len(words) < 2:
        return text
    words[0], words[1] = words[1], words[0]
    return " ".join(words)


def _day_month(text: str) -> str:
    if len(text) == 8 and text.isdigit() and int(text[6:]) <= 12:
        return text[:4] + text[6:] + text[4:6]
    return text


def perturb(value: str, noise: Noise, others: list[str], rng: random.Random) -> str:
    """One agent's writing of a normalised value, under the given noise."""
    if noise.replace and others and rng.random() < noise.replace:
        return rng.choice(others)
    out = value
    if rng.random() < noise.initial:
        out = _initial(out)
    if rng.random() < noise.abbreviate:
        out = _abbreviate(out, rng)
    if rng.random() < noise.drop_word:
        out = _drop_word(out, rng)
    if rng.random() < noise.drop_last:
        out = _drop_last(out)
    if rng.random() < noise.swap:
        out = _swap(out)
    if rng.random() < noise.day_month:
        out = _day_month(out)
    if rng.random() < noise.typo:
        out = _typo(out, rng)
        if rng.random() < noise.second_typo / max(noise.typo, 1e-9):
            out = _typo(out, rng)
    return out


def simulated_pairs(
    frame: pd.DataFrame, roles: Iterable[str], person: bool, seed: int = 42
) -> list[tuple[dict[str, str | None], dict[str, str | None]]]:
    """(simulated query, record) pairs over a sample of a normalised master: each query is its
    record's role values perturbed, then normalised again (derived columns recomputed)."""
    rng = random.Random(seed)
    roles = [r for r in roles if r in frame.columns and r in ROLES]
    n = len(frame)
    picked = rng.sample(range(n), min(n, SAMPLE_RECORDS))
    values = {r: frame[r].tolist() for r in roles}
    pools = {r: [v for v in values[r][:50_000] if v] for r in roles}
    records: list[dict[str, str | None]] = frame.iloc[picked].to_dict("records")  # type: ignore[assignment]
    pairs = []
    for i, record in zip(picked, records, strict=True):
        for _ in range(QUERIES_PER_RECORD):
            query: dict[str, object] = {}
            for role in roles:
                value = values[role][i]
                if not value:
                    continue
                if role == "name":
                    noise = PERSON_NAME if person else COMPANY_NAME
                else:
                    noise = ROLE_NOISE.get(role, Noise())
                query[role] = perturb(str(value), noise, pools[role], rng)
            pairs.append((normalise_record(query), record))
    return pairs


def m_from_pairs(
    spec: ComparisonSpec, pairs: list[tuple[dict[str, str | None], dict[str, str | None]]]
) -> list[float] | None:
    """Share of the pairs reaching each level (then else), among pairs where both sides have
    the comparison's value; None when no pair has both."""
    counts = level_counts(spec, pairs)
    total = sum(counts)
    if total == 0:
        return None
    return [c / total for c in counts]


def level_counts(
    spec: ComparisonSpec, pairs: list[tuple[dict[str, str | None], dict[str, str | None]]]
) -> list[int]:
    """How many pairs reach each level (then else), among pairs where both sides have the
    comparison's value."""
    predicates = [(level.column or spec.column, level_predicate(level)) for level in spec.levels]
    counts = [0] * (len(spec.levels) + 1)
    for query, record in pairs:
        if query.get(spec.column) is None or record.get(spec.column) is None:
            continue
        reached = len(spec.levels)
        for k, (column, predicate) in enumerate(predicates):
            a, b = query.get(column), record.get(column)
            if a is not None and b is not None and predicate(a, b):
                reached = k
                break
        counts[reached] += 1
    return counts
