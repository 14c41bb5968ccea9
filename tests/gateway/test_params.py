"""Parameter parsers: dates, IBANs and money formatting, checked over generated inputs."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidParams
from gateway.params import ActionContext, ParamSpec, ParamType, build_params_model, validate_model
from gateway.summary import format_money, render, template_problems

DATE_MODEL = build_params_model("D", {"d": ParamSpec(type=ParamType.DATE, description="d")})
IBAN_MODEL = build_params_model("I", {"i": ParamSpec(type=ParamType.IBAN, description="i")})


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)))
def test_any_calendar_date_round_trips(day: date) -> None:
    assert validate_model(DATE_MODEL, {"d": day.isoformat()}, "params") == {"d": day.isoformat()}


@given(st.text(max_size=12).filter(lambda s: not (len(s) == 10 and s[4] == s[7] == "-")))
def test_anything_not_shaped_like_a_date_is_refused(text: str) -> None:
    with pytest.raises(InvalidParams):
        validate_model(DATE_MODEL, {"d": text}, "params")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", max_size=34))
def test_random_iban_like_strings_are_refused_unless_checksummed(text: str) -> None:
    from stdnum import iban

    if iban.is_valid(text):
        assert validate_model(IBAN_MODEL, {"i": text}, "params") == {"i": iban.compact(text)}
    else:
        with pytest.raises(InvalidParams):
            validate_model(IBAN_MODEL, {"i": text}, "params")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(45000, "45,000", id="integer"),
        pytest.param("1234.5", "1,234.50", id="cents"),
        pytest.param(0.1, "0.10", id="float"),
        pytest.param("n/a", "n/a", id="not-a-number"),
    ],
)
def test_money(value: object, text: str) -> None:
    assert format_money(value) == text


def test_render_shows_unknown_for_missing_values() -> None:
    assert render("{record.name} {params.x}", {"params": {"x": 1}}) == "unknown 1"


def test_malformed_template_reported() -> None:
    assert template_problems("{record.name", []) != []


def test_context_needs_a_reason() -> None:
    with pytest.raises(InvalidParams) as refused:
        validate_model(ActionContext, {"evidence": ["x"]}, "context")
    assert refused.value.field == "context.reason"
