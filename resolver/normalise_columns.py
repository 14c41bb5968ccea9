"""Whole-column normalisation with Arrow kernels and numpy, for masters of millions of rows.

Each function here returns, for a column, exactly what the per-value function of the same name
in `resolver.normalise` returns for each value (a property test holds them equal): queries are
normalised one value at a time, masters a column at a time, and both must meet in the index.
Word-level rules (initials joined, abbreviations expanded, legal forms dropped) run on the
flattened words of the whole column, with each word's row kept beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resolver import normalise as scalar
from resolver.places import city_names

IntArray = np.ndarray  # int64 row numbers


def _strings(values: pd.Series | list[object]) -> pa.Array:
    """A string array of the values; None/NaN become nulls."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array([None if v is None or v != v else str(v) for v in values])
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else pc.cast(array, pa.string())


def _np_bool(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def fold(values: pa.Array) -> pa.Array:
    """`normalise.fold` of every value (nulls fold to the empty string).

    ASCII values fold in Arrow; the others through `normalise.fold` itself, value by value:
    Arrow's Unicode tables (utf8proc) are not Python's `unicodedata`, and the two disagree on
    code points one of them does not know yet (U+209D decomposed to `w` in one and stayed
    unassigned in the other), while masters and queries must fold alike."""
    text = pc.fill_null(values, "")
    ascii_only = _np_bool(pc.string_is_ascii(text))
    text = pc.utf8_lower(text)
    text = pc.replace_substring(text, "&", " e ")
    text = pc.replace_substring_regex(text, "[^0-9a-z]+", " ")
    text = pc.utf8_trim(text, " ")
    if not ascii_only.all():
        others = pc.fill_null(values, "").filter(pa.array(~ascii_only)).to_pylist()
        fixed = pa.array([scalar.fold(v) for v in others], type=text.type)
        text = pc.replace_with_mask(text, pa.array(~ascii_only), fixed)
    return text


def _strip_legal_suffix(text: pa.Array) -> pa.Array:
    """`normalise.strip_legal_suffix` of every value (the same pattern, in RE2)."""
    return pc.replace_substring_regex(text, scalar.TRAILING_LEGAL_FORMS, "\\1")


def _umlauts(text: pa.Array) -> pa.Array:
    """`normalise.umlauts` of every value."""
    return pc.replace_substring_regex(text, scalar._UMLAUT.pattern, "\\1")


def _blank(folded: pa.Array) -> np.ndarray:
    compact = pc.replace_substring(folded, " ", "")
    blank = pc.or_(
        pc.is_in(compact, value_set=pa.array(sorted(scalar._BLANK_LIKE), type=compact.type)),
        pc.match_substring_regex(compact, "^0+$"),
    )
    return _np_bool(blank)


def _words(folded: pa.Array) -> tuple[pa.Array, IntArray]:
    """Every word of every (non-empty, folded) row, and the row it belongs to."""
    lists = pc.split_pattern(folded, " ")
    words = pc.list_flatten(lists)
    rows = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    return words, rows


def _join(words: pa.Array, rows: IntArray, n: int, sep: str) -> pa.Array:
    """Join each row's words (rows ascending) with sep; a row without words gives null."""
    counts = np.bincount(rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), words)
    joined = pc.binary_join(lists, pa.scalar(sep, type=words.type))
    return pc.if_else(pa.array(counts > 0), joined, pa.scalar(None, type=joined.type))


def _join_initials(words: pa.Array, rows: IntArray) -> tuple[pa.Array, IntArray]:
    """`normalise._join_initials` over flattened words: runs of single letters (not the
    conjunctions e/y) within one row become one word."""
    if len(words) == 0:
        return words, rows
    single = _np_bool(
        pc.and_(
            pc.equal(pc.utf8_length(words), 1),
            pc.and_(
                pc.utf8_is_alpha(words), pc.invert(pc.is_in(words, value_set=pa.array(["e", "y"])))
            ),
        )
    )
    joined_to_previous = np.zeros(len(words), dtype=bool)
    joined_to_previous[1:] = single[1:] & single[:-1] & (rows[1:] == rows[:-1])
    if not joined_to_previous.any():
        return words, rows
    starts = np.flatnonzero(~joined_to_previous)
    offsets = np.append(starts, len(words)).astype(np.int64)
    groups = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), words)
    return pc.binary_join(groups, pa.scalar("", type=words.type)), rows[starts]


def _replace_words(words: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    keys = pa.array(list(mapping), type=words.type)
    position = pc.index_in(words, value_set=keys)
    replacement = pa.array(list(mapping.values()), type=words.type).take(position)
    return pc.coalesce(replacement, words)


def _on_rows(values: pa.Array, keep: np.ndarray, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """fn applied to the rows where keep is true; null elsewhere."""
    idx = np.flatnonzero(keep)
    if len(idx) == len(values):
        return fn(values)
    result = fn(values.take(pa.array(idx)))
    out = pa.nulls(len(values), type=result.type)
    if len(idx):
        positions = np.full(len(values), -1, dtype=np.int64)
        positions[idx] = np.arange(len(idx))
        take = pa.array(positions, mask=positions < 0)
        out = result.take(take)
    return out


def name(values: pa.Array) -> pa.Array:
    """`normalise.name` of every value."""
    folded = _umlauts(fold(values))

    def core(text: pa.Array) -> pa.Array:
        n = len(text)
        text = _strip_legal_suffix(text)
        words, rows = _join_initials(*_words(text))
        words = _replace_words(words, scalar.EXPANSIONS)
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        legal = _np_bool(
            pc.is_in(words, value_set=pa.array(sorted(scalar.LEGAL_FORMS), type=words.type))
        )
        stop = _np_bool(
            pc.is_in(words, value_set=pa.array(sorted(scalar.STOPWORDS), type=words.type))
        )
        dropped = stop | (legal & ~first)
        kept_per_row = np.bincount(rows[~dropped], minlength=n)
        keep = ~dropped | (kept_per_row[rows] == 0)  # a name of only legal forms keeps them
        words, rows = _join_initials(words.filter(pa.array(keep)), rows[keep])
        return _strip_legal_suffix(_join(words, rows, n, " "))

    named = _on_rows(folded, ~_blank(folded), core)
    # What is left may be a placeholder itself ("0 E" leaves "0"): blank, as "0" is.
    return pc.if_else(pa.array(_blank(named)), pa.scalar(None, type=named.type), named)


def name_sorted(names: pa.Array) -> pa.Array:
    """`normalise.name_sorted` of every normalised name: distinct words, sorted."""

    def core(text: pa.Array) -> pa.Array:
        words, rows = _words(text)
        table = pa.table({"row": rows, "word": words}).sort_by(
            [("row", "ascending"), ("word", "ascending")]
        )
        words, rows = table.column("word").combine_chunks(), table.column("row").to_numpy()
        repeat = np.zeros(len(words), dtype=bool)
        if len(words) > 1:
            repeat[1:] = _np_bool(pc.equal(words[1:], words[:-1])) & (rows[1:] == rows[:-1])
        return _join(words.filter(pa.array(~repeat)), rows[~repeat], len(text), " ")

    present = _np_bool(pc.and_(pc.is_valid(names), pc.not_equal(pc.fill_null(names, ""), "")))
    return _on_rows(names, present, core)


def address(values: pa.Array) -> pa.Array:
    """`normalise.address` of every value."""
    folded = _umlauts(fold(values))

    def core(text: pa.Array) -> pa.Array:
        words, rows = _words(text)
        words = _replace_words(words, scalar._ADDRESS_EXPANSIONS)
        keep = _np_bool(pc.not_equal(words, ""))
        return _join(words.filter(pa.array(keep)), rows[keep], len(text), " ")

    return _on_rows(folded, ~_blank(folded), core)


def place(values: pa.Array) -> pa.Array:
    """`normalise.place` of every value."""
    folded = _umlauts(fold(values))
    return _on_rows(folded, ~_blank(folded), lambda a: a)


@cache
def _city_arrays() -> tuple[pa.Array, pa.Array]:
    names = city_names()
    return pa.array(list(names), type=pa.string()), pa.array(list(names.values()), pa.string())


def city(values: pa.Array) -> pa.Array:
    """`normalise.city` of every value."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.replace_substring_regex(values, f"^{scalar.REGION_SUFFIX}$", r"\1")
    places = place(values)
    keys, names = _city_arrays()
    position = pc.index_in(places, value_set=keys)
    return pc.coalesce(names.take(position), places)


def state(values: pa.Array) -> pa.Array:
    """`normalise.state` of every value."""
    folded = fold(values)
    return _on_rows(
        folded, ~_blank(folded), lambda a: pc.replace_substring(pc.ascii_upper(a), " ", "")
    )


def _alnum_upper(values: pa.Array) -> pa.Array:
    return pc.ascii_upper(pc.replace_substring_regex(pc.fill_null(values, ""), "[^0-9A-Za-z]", ""))


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, type=values.type), values)


def tax_id(values: pa.Array) -> pa.Array:
    """`normalise.tax_id` of every value."""
    text = _alnum_upper(values)
    length = pc.utf8_length(text)
    che = pc.and_(pc.starts_with(text, "CHE"), pc.greater_equal(length, 12))
    text = pc.if_else(che, pc.utf8_slice_codeunits(text, 0, 12), text)
    digits = pc.match_substring_regex(text, "^[0-9]+$")
    pad = pc.and_(digits, pc.or_(pc.equal(length, 13), pc.equal(length, 10)))
    text = pc.if_else(pad, pc.binary_join_element_wise("0", text, ""), text)
    empty = _np_bool(pc.equal(text, "")) | _np_bool(pc.match_substring_regex(text, "^0+$"))
    return _null_where(text, empty | ~_np_bool(pc.is_valid(values)))


def tax_root(tax_ids: pa.Array) -> pa.Array:
    """`normalise.tax_root` of every normalised tax id."""
    cnpj = _np_bool(pc.match_substring_regex(tax_ids, "^[0-9]{14}$"))
    return _null_where(pc.utf8_slice_codeunits(tax_ids, 0, 8), ~cnpj)


def phone(values: pa.Array) -> pa.Array:
    """`normalise.phone` of every value."""
    digits = pc.replace_substring_regex(pc.fill_null(values, ""), "[^0-9]+", "")
    bad = _np_bool(pc.less(pc.utf8_length(digits), 6)) | _np_bool(
        pc.match_substring_regex(digits, "^0+$")
    )
    return _null_where(pc.utf8_slice_codeunits(digits, -8, 2**31 - 1), bad)


def postcode(values: pa.Array) -> pa.Array:
    """`normalise.postcode` of every value."""
    text = _alnum_upper(values)
    bad = _np_bool(pc.equal(text, "")) | _np_bool(pc.match_substring_regex(text, "^0+$"))
    return _null_where(text, bad | ~_np_bool(pc.is_valid(values)))


def code(values: pa.Array) -> pa.Array:
    """`normalise.code` of every value."""
    text = pc.ascii_upper(pc.replace_substring_regex(pc.fill_null(values, ""), scalar.SPACES, ""))
    stripped = pc.utf8_ltrim(text, "0")
    zeros = pc.if_else(pc.equal(stripped, ""), pa.scalar("0", type=text.type), stripped)
    return _null_where(zeros, _np_bool(pc.equal(text, "")) | ~_np_bool(pc.is_valid(values)))


#: The column-wise normaliser of each role that has one; other roles map distinct values.
COLUMN_NORMALISERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "name": name,
    "tax_id": tax_id,
    "address": address,
    "city": city,
    "country": place,
    "state": state,
    "postcode": postcode,
    "phone": phone,
    "number": code,
    "branch": code,
    "given_name": name,
    "family_name": name,
    "house_number": postcode,
}


def to_series(values: pa.Array, index: pd.Index) -> pd.Series:
    """An object Series of str/None, as the rest of the resolver expects."""
    return pd.Series(values.to_pylist(), index=index, dtype=object)


def normalise_column(role: str, values: pd.Series) -> pd.Series:
    """Normalise a column of raw values for a role; each distinct value is normalised once."""
    fn = COLUMN_NORMALISERS.get(role)
    if fn is None:
        mapper = scalar.ROLE_NORMALISERS[role]
        raw = values.tolist()
        mapping = {u: mapper(u) for u in set(raw)}
        return pd.Series([mapping[v] for v in raw], index=values.index, dtype=object)
    encoded = pc.dictionary_encode(_strings(values))
    return to_series(fn(encoded.dictionary).take(encoded.indices), values.index)


#: Columns derived from a normalised role column (see `normalise.normalise_record`).
DERIVED_NORMALISERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "name_sorted": name_sorted,
    "tax_root": tax_root,
}


def derive(column: str, source: pd.Series) -> pd.Series:
    """A derived column (name_sorted, tax_root) from its normalised source column."""
    return to_series(DERIVED_NORMALISERS[column](_strings(source)), source.index)
