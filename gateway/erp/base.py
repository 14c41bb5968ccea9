"""The ERP connector interface: the only way the gateway reads from or writes to an ERP.

Chosen in `api/` and passed in (as httpx chooses a transport), so the same gateway code runs
against the local ledger, the sandbox ERP over HTTP, or a real Protheus, SAP or Oracle.
Records are given in the gateway's vocabulary of field roles (`name`, `tax_id`, `amount`,
`currency`, `supplier_name`, `delivery_date`, …); each connector maps its ERP's fields to them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class ErpRecord(BaseModel):
    """One record as the ERP holds it now."""

    model_config = ConfigDict(frozen=True)

    entity_type: str
    canonical_id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    deleted: bool = False


class ErpOperation(BaseModel):
    """One write to the ERP; the idempotency key makes running it twice a no-op."""

    model_config = ConfigDict(frozen=True)

    operation: str
    entity_type: str
    canonical_id: str | None
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str = Field(min_length=1, max_length=200)


class ErpResult(BaseModel):
    """What the ERP did for one operation."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    operation: str
    canonical_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ErpConnector(Protocol):
    """Read records, run operations idempotently, and look operations up by key."""

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        """The record, or None when the ERP has no record of that id."""
        ...

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        """Past values of `field` around this record (e.g. its supplier's past PO totals)."""
        ...

    def extract(
        self, entity_type: str, source: Mapping[str, str] | None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        """The master data of an entity type, page by page, in the ERP's own field names, read
        from where its profile says the ERP keeps it (`source`, `gateway.erp.sources`); the
        entity type names it in messages."""
        ...

    def run(self, operation: ErpOperation) -> ErpResult:
        """Run the operation once: a known idempotency key returns the first result.

        Raises ErpOperationFailed when the ERP refuses it (nothing was changed), ErpUnavailable
        when the ERP's answer does not say whether it ran (a timeout, a dropped connection).
        """
        ...

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        """The result of the operation run with this key, or None if it never ran."""
        ...


@runtime_checkable
class DeclaresOperations(Protocol):
    """A connector that says which gateway operations it can run (`operations`, a class-level
    set of names, e.g. `supplier.block`: its methods marked `@runs`, `gateway.erp.operations`).
    An action type exists on that ERP only if its connector runs every step's operation and
    compensation (`gateway.offered`). A connector without the declaration (the local ledger,
    which journals any operation) runs them all."""

    operations: frozenset[str]


@runtime_checkable
class DeclaresEvidence(Protocol):
    """A connector that says, per operation, what standard record tells whether a write in
    doubt happened when the ERP has no look-up by idempotency key (`evidence_of`, a class-level
    map of operation -> what is read). An operation it does not name leaves no standard trace:
    in doubt on such an ERP, it is never sent again and ends `needs_attention` (docs/ERP.md).
    The served catalog shows this per step (`gateway.offered.describe`)."""

    evidence_of: Mapping[str, str]


@runtime_checkable
class RowReads(Protocol):
    """Reading one master row back as `extract` yields it: what applies Canon's own writes to
    the resolver's serving index (read-your-own-writes). Connectors without it are not synced."""

    def read_row(self, entity_type: str, canonical_id: str) -> dict[str, str] | None:
        """The record's row in the ERP's field names (a deleted one too, with its deletion
        mark), or None when the ERP has no record of that id."""
        ...


@runtime_checkable
class TaxIdSearch(Protocol):
    """Finding live records by tax id: the guard of creations (`duplicate-in-erp`)."""

    def find_by_tax_id(self, entity_type: str, tax_id: str) -> list[ErpRecord]:
        """The live records of an entity type whose tax id has these digits."""
        ...


class ChangePage(BaseModel):
    """One page of an ERP's change feed: rows as `extract` yields them (deleted ones with their
    deletion mark), and the watermark to ask for the next changes from."""

    model_config = ConfigDict(frozen=True)

    rows: list[dict[str, str]]
    watermark: str


@runtime_checkable
class ChangeFeed(Protocol):
    """Reading what changed in a master since a watermark: the continuous sync (`canon sync`)."""

    def changes(
        self, entity_type: str, since: str | None, page_size: int = 500
    ) -> Iterator[ChangePage]:
        """Pages of rows changed after `since` (None: every change the ERP tracks), oldest
        first; each page's watermark covers it and every page before it."""
        ...
