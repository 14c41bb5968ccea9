"""Column-wise normalisation equals the per-value normalisers, value for value: masters are
normalised a column at a time, queries one value at a time, and both must meet in the index."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from resolver import normalise as scalar
from resolver import normalise_columns as columns

#: Letters, accents, combining marks, ligatures, punctuation and digits that masters hold,
#: plus words the name rules act on.
ALPHABET = "aAbBcCeEyYsSlLtTdD .,/-&'_\t0129ÉéçÇãõßẞİÅøœ\u0301\u0327ﬁＡ²½"
WORDS = ["S.A.", "S/A", "LTDA", "Ind.", "Com.", "e", "y", "de", "a", "b", "GmbH", "Av.", "R.", "N"]

texts = st.one_of(
    st.text(alphabet=ALPHABET, max_size=24),
    st.lists(st.sampled_from(WORDS + ["Souza", "Müller", "0000", "nan"]), max_size=6).map(" ".join),
    st.text(max_size=12),
)

ROLES = sorted(columns.COLUMN_NORMALISERS)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), texts), min_size=1, max_size=40))
# a code point Arrow's Unicode tables decompose (to `w`) and Python's do not know (CI, once)
@example(values=["\u209d", "x\u209dy Ltda"])
@pytest.mark.parametrize("role", ROLES)
def test_column_normaliser_equals_the_value_normaliser(role: str, values: list[str | None]) -> None:
    got = columns.normalise_column(role, pd.Series(values, dtype=object)).tolist()
    fn = scalar.ROLE_NORMALISERS[role]
    assert got == [fn(v) for v in values]


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), texts), min_size=1, max_size=40))
def test_derived_columns_equal_the_value_functions(values: list[str | None]) -> None:
    names = columns.normalise_column("name", pd.Series(values, dtype=object))
    assert columns.derive("name_sorted", names).tolist() == [
        scalar.name_sorted(v) for v in names.tolist()
    ]
    tax = columns.normalise_column("tax_id", pd.Series(values, dtype=object))
    assert columns.derive("tax_root", tax).tolist() == [scalar.tax_root(v) for v in tax.tolist()]


@pytest.mark.parametrize(
    ("role", "raw", "expected"),
    [
        pytest.param("name", "IND. COM. SOUZA LTDA.", "industria comercio souza", id="name"),
        pytest.param("name", "A e B Comercio", "ab comercio", id="initials-across-e"),
        pytest.param("name", "LTDA", "ltda", id="only-legal-form"),
        pytest.param("tax_id", "2345678000195", "02345678000195", id="lost-zero"),
        pytest.param("phone", "+55 (11) 3456-7890", "34567890", id="phone"),
        pytest.param("number", " 000123 ", "123", id="code"),
        pytest.param("address", "Av. Paulista, nº 1000", "avenida paulista 1000", id="address"),
    ],
)
def test_examples(role: str, raw: str, expected: str) -> None:
    assert columns.normalise_column(role, pd.Series([raw, None])).tolist() == [expected, None]
