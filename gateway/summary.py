"""Plain-language summaries for approvers, rendered from the catalog's templates.

A template is Python format syntax restricted to four namespaces: `{target.canonical_id}`,
`{params.delivery_date}`, `{context.reason}`, `{record.amount:money}` (`record` is the ERP's
view of the target). Templates are checked when the catalog loads; rendering never fails:
a value the ERP did not give shows as `unknown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from string import Formatter
from typing import Any

NAMESPACES = ("target", "params", "context", "record")
FORMATS = ("", "money")
UNKNOWN = "unknown"


def template_fields(template: str) -> list[tuple[str, str]]:
    """The `(field, format)` pairs a template refers to, in order."""
    return [
        (field, spec or "")
        for _, field, spec, _ in Formatter().parse(template)
        if field is not None
    ]


def template_problems(template: str, param_names: Iterable[str]) -> list[str]:
    """Why a template cannot render (unknown namespace, param or format), or nothing."""
    try:
        fields = template_fields(template)
    except ValueError as e:
        return [f"not a valid template: {e}"]
    known_params = set(param_names)
    problems: list[str] = []
    for field, spec in fields:
        namespace, _, name = field.partition(".")
        if namespace not in NAMESPACES or not name.isidentifier():
            problems.append(f"{{{field}}}: use one of {', '.join(NAMESPACES)} then .name")
        elif namespace == "params" and name not in known_params:
            problems.append(f"{{{field}}}: the action has no param {name!r}")
        if spec not in FORMATS:
            problems.append(f"{{{field}:{spec}}}: unknown format (use :money or none)")
    return problems


def format_money(value: Any) -> str:
    """45000 -> '45,000'; 1234.5 -> '1,234.50'."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


def render(template: str, values: Mapping[str, Mapping[str, Any]]) -> str:
    """Fill a checked template from `values[namespace][name]`."""
    out: list[str] = []
    for literal, field, spec, _ in Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        namespace, _, name = field.partition(".")
        value = values.get(namespace, {}).get(name)
        if value is None or value == "":
            out.append(UNKNOWN)
        elif spec == "money":
            out.append(format_money(value))
        else:
            out.append(str(value))
    return "".join(out)
