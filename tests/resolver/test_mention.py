"""Free-text mentions: what each sentence is read as, exactly, and that no text makes it fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver import ProfileError, ResolveQuery, Resolver, load_profile
from resolver.mention import NOTHING_READ, parse_mention
from resolver.types import Decision

PROFILE = load_profile()

#: sentence -> (everything read, normalised; the entity type its words name)
TABLE: list[tuple[str, dict[str, str], str | None]] = [
    # en
    (
        "the PO for ABC Manufacturing AG in Zürich, UID CHE-116.281.710",
        {"name": "abc manufacturing", "tax_id": "CHE116281710", "tax_id_kind": "ch_uid",
         "city": "zurich"},
        None,
    ),
    (
        "Pay supplier Mendes Novais Distribuidora de Alimentos EPP, CEP 01205-711 São Paulo,"
        " phone (11) 5066-6824",
        {"name": "mendes novais distribuidora alimentos", "postcode": "01205711",
         "city": "sao paulo", "phone": "50666824"},
        "supplier",
    ),
    (
        "customer 'Northwind Traders Ltd', e-mail billing@northwind.co.uk",
        {"name": "northwind traders", "email": "billing@northwind.co.uk"},
        "customer",
    ),
    # pt-BR
    (
        "Bloquear o fornecedor Metalúrgica Souza Ltda, CNPJ 22.424.331/0001-91, em Campinas",
        {"name": "metalurgica souza", "tax_id": "22424331000191", "tax_id_kind": "cnpj",
         "city": "campinas"},
        "supplier",
    ),
    (
        "funcionária Maria da Silva, CPF 529.982.247-25",
        {"name": "maria silva", "tax_id": "52998224725", "tax_id_kind": "cpf"},
        "employee",
    ),
    (
        "pedido 000123 da Gomes Comércio de Materiais Elétricos Ltda",
        {"name": "gomes comercio materiais eletricos", "order_number": "000123"},
        None,
    ),
    # de-CH
    (
        "Bitte den Lieferanten Müller Haustechnik GmbH aus 8004 Zürich sperren,"
        " Tel. 044 668 18 00",
        {"name": "muller haustechnik", "postcode": "8004", "city": "zurich",
         "phone": "46681800"},
        "supplier",
    ),
    (
        "Lieferant Alpen Logistik GmbH, USt-IdNr. DE136695976, IBAN DE89 3704 0044 0532 0130 00",
        {"name": "alpen logistik", "tax_id": "DE136695976", "tax_id_kind": "de_vat",
         "iban": "DE89370400440532013000"},
        "supplier",
    ),
    (
        "Kunde Wiener Bau GmbH, UID ATU13585627, 1010 Wien",
        {"name": "wiener bau", "tax_id": "ATU13585627", "tax_id_kind": "at_uid",
         "postcode": "1010", "city": "vienna"},
        "customer",
    ),
    # fr-CH
    (
        "Le fournisseur «Dupont Frères SA» à Genève, IDE CHE-116.281.710 TVA,"
        " e-mail compta@dupont.ch",
        {"name": "dupont freres", "tax_id": "CHE116281710", "tax_id_kind": "ch_uid",
         "city": "geneva", "email": "compta@dupont.ch"},
        "supplier",
    ),
    (
        "Merci de bloquer le client Boulangerie Favre Sàrl, 1003 Lausanne, tél. +41 21 555 12 34",
        {"name": "boulangerie favre", "postcode": "1003", "city": "lausanne",
         "phone": "15551234"},
        "customer",
    ),
    (
        "Le fournisseur LORENZO PORTO COMERCIO IMPORTACAO E EXPORTACAO - ME, IDE 39741198000108",
        {"name": "lorenzo porto comercio importacao exportacao", "tax_id": "39741198000108",
         "tax_id_kind": "cnpj"},
        "supplier",
    ),
    (
        "Bloquear o fornecedor GARCIA FILHOS, CEP 01986724",
        {"name": "garcia filhos", "postcode": "01986724"},
        "supplier",
    ),
    (
        "the supplier Martins Engenharia Elétrica Ltda, in SÃO JOSÉ DO RIO PRETO",
        {"name": "martins engenharia eletrica", "city": "sao jose do rio preto"},
        "supplier",
    ),
    # nothing usable
    ("", {}, None),
    ("CNPJ 11.111.111/1111-11, tel 0", {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "read", "entity_type"), TABLE, ids=[t[0][:40] for t in TABLE])
def test_sentences_are_read_exactly(text: str, read: dict[str, str], entity_type: str | None):
    mention = parse_mention(text, PROFILE)
    assert mention.identity() == read
    assert mention.entity_type == entity_type
    assert mention.usable == bool(set(read) - {"iban", "tax_id_kind"})


def test_an_invalid_check_digit_is_not_a_tax_id() -> None:
    mention = parse_mention("Souza Ltda CNPJ 22.424.331/0001-92", PROFILE)
    assert "tax_id" not in mention.roles
    assert mention.roles["name"].startswith("Souza Ltda")


def test_only_the_profile_kinds_are_read() -> None:
    profile = PROFILE.model_copy(
        update={"mentions": PROFILE.mentions.model_copy(update={"tax_ids": ["cnpj"]})}
    )
    mention = parse_mention("ACME AG, UID CHE-116.281.710", profile)
    assert "tax_id" not in mention.roles
    assert parse_mention("ACME AG, UID CHE-116.281.710", PROFILE).roles["tax_id"]


@pytest.mark.parametrize(
    "text",
    [
        "fornecedor Santos Ferreira Transportes Ltda",
        "CNPJ 22.424.331/0001-91, Santos Ferreira Transportes Ltda",
    ],
)
def test_a_city_word_opening_a_name_is_not_a_city(text: str) -> None:
    mention = parse_mention(text, PROFILE)
    assert "city" not in mention.roles
    assert mention.identity()["name"] == "santos ferreira transportes"


def test_a_city_ending_the_sentence_after_a_comma() -> None:
    mention = parse_mention("Transportes Ferreira Ltda, Santos", PROFILE)
    assert (mention.roles["city"], mention.identity()["name"]) == ("Santos", "transportes ferreira")


_FRAGMENTS = st.sampled_from(
    [
        "CNPJ 22.424.331/0001-91", "CHE-116.281.710 MWST", "DE136695976", "ATU13585627",
        "in Zürich", "em São Paulo", "à Genève", "8004", "01205-711", "CH-1003", "+41 44 668 18 00",
        "(11) 5066-6824", "x@y.ch", "@", "IBAN", "DE89 3704 0044 0532 0130 00", "PO 000123",
        "«", "»", '"', ",", "GmbH", "Ltda", "der", "de", "\x00", "\n", "🙂", "ß", "İ", "0" * 30,
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.lists(_FRAGMENTS | st.text(max_size=12)).map(" ".join)))
def test_parsing_never_raises(text: str) -> None:
    mention = parse_mention(text, PROFILE)
    read = mention.identity()
    assert all(isinstance(v, str | None) for v in read.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS | st.text(max_size=12), min_size=1).map(" ".join))
def test_resolving_text_never_raises(resolver: Resolver, text: str) -> None:
    if not text.strip():
        return  # refused by the query model, not the parser (test_blank_text_is_refused)
    resolution = resolver.resolve(ResolveQuery(text=text))
    assert resolution.decision in set(Decision)
    if resolution.decision is not Decision.NO_MATCH:
        assert resolution.candidates


def test_text_resolves_a_sample_supplier(resolver: Resolver) -> None:
    text = "Bloquear o fornecedor Auto Peças Guerra, CNPJ 16.036.630/0001-56, em Recife"
    resolution = resolver.resolve(ResolveQuery(id="t1", text=text))
    assert (resolution.decision, resolution.canonical_id) == (Decision.MATCH, "SA2::000001:01")
    assert resolution.id == "t1"
    assert resolution.query_identity["tax_id"] == "16036630000156"
    assert resolution.query_identity["city"] == "recife"
    assert resolution.query_identity["entity_type"] == "supplier"


def test_nothing_usable_is_no_match_with_the_reason(resolver: Resolver) -> None:
    resolution = resolver.resolve(ResolveQuery(text="... ??? 0"))
    assert resolution.decision is Decision.NO_MATCH
    assert resolution.reason == NOTHING_READ
    assert resolution.candidates == []


def test_record_fields_win_over_the_text(resolver: Resolver) -> None:
    query = ResolveQuery(
        entity_type="supplier",
        text="the supplier with CNPJ 16.036.630/0001-56",
        record={"tax_id": "23927267000124"},
    )
    resolution = resolver.resolve(query)
    assert resolution.canonical_id == "SA2::000002:01"
    assert resolution.query_identity["tax_id"] == "23927267000124"


def test_an_order_number_resolves_the_order(resolver: Resolver) -> None:
    resolution = resolver.resolve(ResolveQuery(text="please close PO 000001"))
    assert resolution.entity_type == "purchase_order"
    assert resolution.query_identity["order_number"] == "000001"
    assert "name" not in resolution.query_identity  # "please close PO" is filler
    ids = {c.canonical_id for c in resolution.candidates}
    assert ids and all(i.endswith(":000001") for i in ids)  # one per branch
    one = resolver.resolve(ResolveQuery(text="please close PO 000001", record={"branch": "01"}))
    assert (one.decision, one.canonical_id) == (Decision.MATCH, "SC7:01:000001")


def test_blank_text_is_refused() -> None:
    with pytest.raises(ValueError, match="record is empty"):
        ResolveQuery(text="   ")
    with pytest.raises(ValueError, match="at most 2000"):
        ResolveQuery(text="x" * 2001)


def test_a_bad_mention_pattern_is_a_profile_error(tmp_path: Path) -> None:
    raw = yaml.safe_load(Path("config/profiles/protheus.yaml").read_text(encoding="utf-8"))
    raw["entity_types"]["purchase_order"]["mention"] = "(unclosed"
    raw["mentions"] = {"phone_regions": ["Brazil"]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert "purchase_order.mention: Value error, not a regular expression" in str(e.value)
    assert "mentions.phone_regions" in str(e.value)


def test_the_words_naming_a_type_are_the_profiles(tmp_path: Path) -> None:
    """A sentence's entity type comes from the profile's `words`: a word another profile gives
    a type it declares is read as that type; without the words, no type is read."""
    text = "Bitte den Kreditor Müller Haustechnik GmbH sperren"
    assert parse_mention(text, PROFILE).entity_type is None
    raw = yaml.safe_load(Path("config/profiles/protheus.yaml").read_text(encoding="utf-8"))
    raw["entity_types"]["customer"]["words"] = ["Kreditor"]  # a type the words never named
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert parse_mention(text, load_profile(path)).entity_type == "customer"
    del raw["entity_types"]["supplier"]["words"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    unnamed = load_profile(path)
    assert parse_mention("Bloquear o fornecedor Souza Ltda", unnamed).entity_type is None
    assert parse_mention("Bloquear o fornecedor Souza Ltda", PROFILE).entity_type == "supplier"
