"""Plain data types of the resolver: queries, candidates and resolutions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: Longest free-text mention a query may carry.
MAX_TEXT = 2000


class Decision(StrEnum):
    """What the resolver concluded for one query."""

    MATCH = "match"
    AMBIGUOUS = "ambiguous"
    NO_MATCH = "no_match"


class ResolveQuery(BaseModel):
    """An agent's structured intent: which entity type (or any) and what it knows of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | int | None = None
    entity_type: str | None = Field(
        default=None, description="supplier, customer, employee, contact, purchase_order or null"
    )
    text: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="A free-text mention instead of (or beside) record: 'the supplier ABC "
        "Manufacturing AG in Zürich, UID CHE-123.456.789'. Identifiers are read from it "
        "deterministically; `query_identity` says how it was read. Fields in record win.",
    )
    record: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,
        description="Field roles (name, tax_id, city, …) or the ERP's own field names (A2_NOME, …)",
    )

    @field_validator("record")
    @classmethod
    def _not_empty(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        text = info.data.get("text")
        if not any(v not in (None, "") for v in value.values()) and not (text and text.strip()):
            raise ValueError(
                "record is empty: give at least one field (e.g. name, tax_id), or text"
            )
        return value


class FieldExplanation(BaseModel):
    """How one comparison contributed to a candidate's match weight."""

    model_config = ConfigDict(frozen=True)

    comparison: str
    level: str
    match_weight: float
    query_value: str | None = None
    candidate_value: str | None = None


class Candidate(BaseModel):
    """One ERP record the query may mean, with its score and the reasons for it."""

    model_config = ConfigDict(frozen=True)

    entity_type: str
    canonical_id: str
    native_key: dict[str, str]
    display: dict[str, str | None]
    match_weight: float
    probability: float
    explanation: list[FieldExplanation]


class Resolution(BaseModel):
    """The answer: a decision, the candidates behind it and the versions that made it."""

    model_config = ConfigDict(frozen=True)

    id: str | int | None = None
    decision: Decision
    entity_type: str | None
    canonical_id: str | None = None
    candidates: list[Candidate]
    reason: str
    distinguishing_fields: list[str] = Field(default_factory=list)
    model_version: str
    calibration_version: str
    query_identity: dict[str, str | None] = Field(
        default_factory=dict,
        description="The normalised name and tax id the query asked for (no_match tokens);"
        " for a `text` query, everything read from the sentence (tax_id_kind, email, phone,"
        " postcode, city, iban, order_number, the entity_type its words name)",
    )
