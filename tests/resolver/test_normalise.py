"""Normalisers: examples from real masters, and properties that must hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from resolver import normalise as n


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("IND. COM. SOUZA LTDA.", "industria comercio souza", id="abbrev-legal"),
        pytest.param("Indústria e Comércio Souza Ltda", "industria comercio souza", id="accents"),
        pytest.param("Distribuidora Souza Comércio S/A", "distribuidora souza comercio", id="s/a"),
        pytest.param("DISTRIB. SOUZA COM. S.A.", "distribuidora souza comercio", id="s.a."),
        pytest.param("Müller Maschinenbau AG", "muller maschinenbau", id="de-ag"),
        pytest.param("Keller Logistik GmbH", "keller logistik", id="gmbh"),
        pytest.param("A.B.C. Manufacturing Inc.", "abc manufacturing", id="initials"),
        pytest.param("Cia Brasileira de Distrib.", "companhia brasileira distribuidora", id="cia"),
        pytest.param("Silva & Filhos EIRELI", "silva filhos", id="ampersand-eireli"),
        pytest.param("LTDA", "ltda", id="only-legal-form"),
        pytest.param("  ", None, id="blank"),
        pytest.param("N/A", None, id="blank-like"),
    ],
)
def test_name_examples(raw: str, expected: str | None) -> None:
    assert n.name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.345.678/0001-95", "12345678000195"),
        ("12345678000195", "12345678000195"),
        ("2345678000195", "02345678000195"),  # a spreadsheet ate the leading zero
        ("123.456.789-09", "12345678909"),
        ("CHE-116.281.710 MWST", "CHE116281710"),
        ("00000000000000", None),
        ("", None),
    ],
)
def test_tax_id_examples(raw: str, expected: str | None) -> None:
    assert n.tax_id(raw) == expected


def test_tax_root_and_kind() -> None:
    assert n.tax_root("11222333000181") == "11222333"
    assert n.tax_root("12345678909") is None
    assert n.tax_id_kind("11222333000181") == "cnpj"
    assert n.tax_id_kind("11222333000182") is None  # wrong check digit
    assert n.tax_id_kind("11144477735") == "cpf"
    assert n.tax_id_kind("CHE116281710") == "ch_uid"


@pytest.mark.parametrize(
    ("fn", "raw", "expected"),
    [
        (n.email, " Ana.Souza@Example.COM ", "ana.souza@example.com"),
        (n.email, "not-an-email", None),
        (n.phone, "+55 (11) 3456-7890", "34567890"),
        (n.phone, "3456-7890", "34567890"),
        (n.phone, "123", None),
        (n.postcode, "01310-100", "01310100"),
        (n.place, "SÃO PAULO", "sao paulo"),
        (n.state, "sp", "SP"),
        (n.address, "R. das Flores, nº 12", "rua das flores 12"),
        (n.birth_date, "1980-02-01", "19800201"),
        (n.birth_date, "01/02/1980", "19800201"),
        (n.birth_date, "19800201", "19800201"),
        (n.code, "002891", "2891"),
    ],
)
def test_other_normalisers(fn, raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert fn(raw) == expected


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@pytest.mark.parametrize("role", sorted(n.ROLE_NORMALISERS))
@settings(deadline=None)  # the first city look-up loads the GeoNames map
@given(raw=TEXT)
@example(raw="0 E")  # left "0", which is itself a blank placeholder
@example(raw="0 e ltda")
def test_every_normaliser_is_idempotent(role: str, raw: str) -> None:
    fn = n.ROLE_NORMALISERS[role]
    once = fn(raw)
    assert once is None or fn(once) == once


def test_a_name_that_leaves_only_a_placeholder_is_blank() -> None:
    assert n.name("0 E") is None
    assert n.name("0 e ltda") is None
    assert n.name("0") is None
    assert n.name("3M do Brasil Ltda") == "3m brasil"


@given(raw=TEXT)
def test_name_is_plain_lowercase_words(raw: str) -> None:
    out = n.name(raw)
    if out is not None:
        assert out == out.strip()
        assert "  " not in out
        assert all(c.isascii() and (c.isalnum() or c == " ") for c in out)
        assert out == out.lower()


@given(digits=st.text(alphabet="0123456789", min_size=11, max_size=14), sep=st.sampled_from(".-/ "))
def test_tax_id_ignores_punctuation(digits: str, sep: str) -> None:
    punctuated = sep.join([digits[:2], digits[2:5], digits[5:]])
    assert n.tax_id(punctuated) == n.tax_id(digits)


@given(raw=TEXT)
def test_name_sorted_is_order_free(raw: str) -> None:
    name = n.name(raw)
    if name:
        reversed_words = " ".join(reversed(name.split()))
        assert n.name_sorted(name) == n.name_sorted(reversed_words)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Salvador - BA", "salvador"),
        ("São Paulo/SP", "sao paulo"),
        ("Rio de Janeiro, RJ", "rio de janeiro"),
        ("Zürich (ZH)", "zurich"),
        ("Biel/Bienne", "biel bienne"),  # a second name, not a region code
        ("Frankfurt am Main", "frankfurt am main"),
        ("BA", "ba"),  # a code alone stays what it is
    ],
)
def test_a_city_loses_the_region_code_written_after_it(raw: str, expected: str) -> None:
    assert n.city(raw) == expected
