"""String noise and keys: accents, case, abbreviations, typos, the generator's name key.

Per-string functions here are used on the few rows that need bespoke noise (legacy
duplicates, look-alikes, queries); bulk rows go through the vectorised renderers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sandbox.synthetic import vocab

ObjArray = npt.NDArray[np.object_]


def _accent_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
        if base and base != char:
            table[code] = base
    table[ord("ß")] = "ss"
    table[ord("º")] = "o"
    table[ord("ª")] = "a"
    return table


_ACCENTS = _accent_table()
# The key drops punctuation so "S/A", "Ind." and "&" do not split otherwise equal names.
_KEY_TABLE = {**{k: v.upper() for k, v in _ACCENTS.items()}}
_KEY_TABLE.update({ord(c): " " for c in ".,;:/\\-&()'\"+*!?#@"})
_STOPWORDS = frozenset({"DE", "DA", "DO", "DOS", "DAS", "E", "AND", "THE"})


def _byte_table(mapping: dict[int, str]) -> bytes:
    """The one-character part of `mapping` over Latin-1, as a bytes.translate table."""
    out = bytearray(range(256))
    for code, repl in mapping.items():
        if code < 256 and len(repl) == 1 and ord(repl) < 256:
            out[code] = ord(repl)
    return bytes(out)


# bytes.translate runs in C; str.translate with a dict looks up every character.
_ACCENT_BYTES = _byte_table(_ACCENTS)
_KEY_BYTES = _byte_table(_KEY_TABLE)


def strip_accents(text: str) -> str:
    """'São Paulo' → 'Sao Paulo' (Latin letters only, which is all the generator emits)."""
    if text.isascii():
        return text
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text.translate(_ACCENTS)
    if b"\xdf" in raw:  # ß becomes two letters
        return text.translate(_ACCENTS)
    return raw.translate(_ACCENT_BYTES).decode("latin-1")


def name_key(text: str) -> str:
    """Accent-, case- and punctuation-blind key with connectives dropped.

    The generator uses it to decide which records a name alone cannot tell apart; it
    is deliberately simpler than the resolver's own normaliser.
    """
    upper = text.upper()
    try:
        words = upper.encode("latin-1").translate(_KEY_BYTES).decode("latin-1").split()
    except UnicodeEncodeError:
        words = upper.translate(_KEY_TABLE).split()
    return " ".join(w for w in words if w not in _STOPWORDS)


def apply_case(
    values: ObjArray, upper: npt.NDArray[np.bool_], plain: npt.NDArray[np.bool_]
) -> ObjArray:
    """Upper-case where `upper`, strip accents where `plain` (both vectorised by mask)."""
    out = values.copy()
    rows = np.flatnonzero(plain)
    out[rows] = [strip_accents(s) for s in out[rows].tolist()]
    rows = np.flatnonzero(upper)
    out[rows] = [s.upper() for s in out[rows].tolist()]
    return out


def as_objects(items: Sequence[str]) -> ObjArray:
    """A 1-d object array of Python strings (numpy would otherwise pick a '<U' dtype)."""
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


_ABBREVIATIONS = {
    full: short
    for pairs in (vocab.BR_ACTIVITIES, vocab.BR_ROLES, vocab.BR_ROLE_TAILS)
    for full, short in pairs
    if full != short
}
# Longest phrases first so "Indústria e Comércio" wins over "Indústria".
_ABBREV_ORDER = sorted(_ABBREVIATIONS, key=len, reverse=True)


def abbreviate(body: str) -> str:
    """Replace the first known phrase by its legacy abbreviation, if any."""
    for full in _ABBREV_ORDER:
        if full in body:
            return body.replace(full, _ABBREVIATIONS[full], 1)
    return body


_KEYBOARD_NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip


def typo(text: str, rng: np.random.Generator, edits: int = 1) -> str:
    """Apply `edits` keyboard slips (substitute, drop, double, swap), never on the first letter;
    the result always differs from `text` when it has a letter after the first character."""
    out = _slips(text, rng, edits)
    while out == text and any(ch.isalpha() for ch in text[1:]):
        out = _slips(text, rng, 1)
    return out


def _slips(text: str, rng: np.random.Generator, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        letters = [i for i in range(1, len(chars)) if chars[i].isalpha()]
        if not letters:
            break
        i = int(letters[int(rng.integers(len(letters)))])
        kind = int(rng.integers(4))
        lower = chars[i].lower()
        if kind == 0 and lower in _KEYBOARD_NEIGHBOURS:
            options = _KEYBOARD_NEIGHBOURS[lower]
            repl = options[int(rng.integers(len(options)))]
            chars[i] = repl.upper() if chars[i].isupper() else repl
        elif kind == 1 and len(letters) > 3:
            del chars[i]
        elif kind == 2:
            chars.insert(i, chars[i])
        elif i + 1 < len(chars) and chars[i + 1].isalpha() and chars[i + 1] != chars[i]:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


_SPELLING_SWAPS = (
    ("z", "s"), ("s", "z"), ("ll", "l"), ("y", "i"), ("ph", "f"), ("ei", "ey"), ("ss", "s"),
)  # fmt: skip


def near_spelling(body: str) -> str | None:
    """A one-sound variant ('Souza' → 'Sousa'), or None when no rule applies."""
    words = body.split(" ")
    for pos, word in enumerate(words):
        if len(word) < 4 or not word[0].isupper():
            continue
        for old, new in _SPELLING_SWAPS:
            idx = word.find(old, 1)
            if idx > 0:
                words[pos] = word[:idx] + new + word[idx + len(old) :]
                return " ".join(words)
    return None


def sloppy_name(body: str, legal: str, rng: np.random.Generator) -> str:
    """How a hurried clerk re-keys an existing company: abbreviations, dropped legal form,
    a slip or two, careless case."""
    name = abbreviate(body) if rng.random() < 0.6 else body
    if rng.random() < 0.35:
        name = typo(name, rng, 1)
    if legal and rng.random() < 0.5:
        name = f"{name} {legal}"
    if rng.random() < 0.5:
        name = strip_accents(name)
    roll = rng.random()
    if roll < 0.55:
        name = name.upper()
    elif roll < 0.65:
        name = name.lower()
    return name.replace(" & ", " E ") if rng.random() < 0.2 else name


_CONNECTIVES = frozenset({"&", "E", "DE", "DA", "DO", "DOS", "DAS"})


def short_name(body: str, person: bool = False) -> str:
    """The A2_NREDUZ habit: first two words (a person: first and last name), upper case,
    at most 20 characters."""
    words = [w for w in body.upper().split(" ") if w not in _CONNECTIVES]
    picked = [words[0], words[-1]] if person and len(words) > 1 else words[:2]
    return " ".join(picked)[:20].rstrip()
