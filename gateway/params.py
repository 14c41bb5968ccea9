"""Parameter types of the action catalog, and the pydantic models built from them.

An action's params are declared in YAML (`delivery_date: {type: date}`); `build_params_model`
turns the declaration into a frozen pydantic model, whose JSON schema is what agents see.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
)
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from gateway.errors import InvalidParams

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_MAX_LENGTH = 500


class ParamType(StrEnum):
    """What kind of value a parameter holds."""

    STRING = "string"
    TEXT = "text"
    DATE = "date"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    IBAN = "iban"
    ENUM = "enum"


def _iso_date(value: str) -> str:
    if not _ISO_DATE.match(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as e:
        raise ValueError(f"not a calendar date: {e}") from e


def _iban(value: str) -> str:
    try:
        return str(stdnum_iban.validate(value))
    except StdnumValidationError as e:
        raise ValueError(f"not a valid IBAN: {e}") from e


IsoDate = Annotated[str, AfterValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
Iban = Annotated[
    str,
    StringConstraints(max_length=42),
    AfterValidator(_iban),
    Field(json_schema_extra={"format": "iban"}),
]


class ParamSpec(BaseModel):
    """One parameter of an action, as declared in the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParamType
    description: str = Field(min_length=1)
    required: bool = True
    max_length: int | None = Field(default=None, gt=0)
    values: tuple[str, ...] | None = None
    example: Any = None

    def annotation(self) -> Any:
        """The Python type (with constraints) this parameter validates as."""
        max_length = self.max_length or (
            10_000 if self.type is ParamType.TEXT else DEFAULT_MAX_LENGTH
        )
        match self.type:
            case ParamType.STRING | ParamType.TEXT:
                return Annotated[
                    str,
                    StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
                ]
            case ParamType.DATE:
                return IsoDate
            case ParamType.INTEGER:
                return Annotated[int, Field(strict=True)]
            case ParamType.DECIMAL:
                return Annotated[
                    Decimal, Field(max_digits=18, decimal_places=4, allow_inf_nan=False)
                ]
            case ParamType.BOOLEAN:
                return Annotated[bool, Field(strict=True)]
            case ParamType.IBAN:
                return Iban
            case ParamType.ENUM:
                return Literal[tuple(self.values or ())]


def build_params_model(model_name: str, specs: dict[str, ParamSpec]) -> type[BaseModel]:
    """A frozen pydantic model accepting exactly the declared params."""
    fields: dict[str, Any] = {}
    for name, spec in specs.items():
        examples = [spec.example] if spec.example is not None else None
        default: Any = ... if spec.required else None
        annotation = spec.annotation() if spec.required else spec.annotation() | None
        fields[name] = (
            annotation,
            Field(default, description=spec.description, examples=examples),
        )
    config = ConfigDict(extra="forbid", frozen=True)
    model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
    return model


class ActionContext(BaseModel):
    """Why the agent proposes the action: shown to approvers, kept in the audit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1, max_length=2000, description="Why, in one or two sentences")
    evidence: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="References backing the reason"
    )


def _field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    return ".".join([prefix, *(str(part) for part in loc)])


def validate_model(model: type[BaseModel], data: Any, prefix: str) -> dict[str, Any]:
    """Validate `data`; return it as JSON-ready values, or raise InvalidParams naming the field."""
    try:
        return model.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as e:
        problems = [(_field_path(prefix, tuple(err["loc"])), err["msg"]) for err in e.errors()]
        message = "; ".join(f"{field}: {msg}" for field, msg in problems)
        raise InvalidParams(message, field=problems[0][0]) from e
