"""Whether a write whose answer was lost happened: by key, else from the ERP's own records.

After a timeout or a dropped connection the workflow runner must know whether the write ran
before it sends it again. Canon's optional ERP-side services answer that by idempotency key
(`ZCANON_IDEMPOTENCY_SRV`, `canonOperations`, the Protheus `operations` endpoint). A stock ERP
has none of them, and ignores `Idempotency-Key`: there, re-sending on a 404 would duplicate a
supplier. So each connector reads evidence from standard records (`evidence(operation)`):

- the write visibly happened (the supplier with this tax id exists; the field holds the value
  the compensation restores): its result;
- it visibly did not (no such supplier; the field does not hold the value written): None. On a
  stock ERP that only says "not landed yet": a request still being processed (held in a queue,
  a slow work process) can land after the read, and the ERP does not say so. The runner sends
  it again only once the last send is older than the ERP's longest request (`settle_seconds`
  of the runner's policy; `Evidence.by_key` is False here), and reads the records again then;
- the records cannot tell, or cannot give back what the write replaced: `ErpUndecided`, and the
  step is never re-sent; it ends `needs_attention` with the message naming what to check.

`EVIDENCE` (in each connector) says, per operation, what is read; docs/ERP.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.erp.base import ErpConnector, ErpOperation, ErpResult
from gateway.errors import ErpLookupMissing, ErpUndecided


@runtime_checkable
class ReadsEvidence(Protocol):
    """A connector that can tell from standard reads whether an operation happened."""

    def evidence(self, operation: ErpOperation) -> ErpResult | None:
        """The operation's result if it happened, None if it did not; ErpUndecided otherwise."""
        ...


@dataclass(frozen=True)
class Evidence:
    """What the ERP says of a write in doubt."""

    #: The write's result when it happened; None when the ERP shows it did not (yet).
    found: ErpResult | None
    #: Read by idempotency key, from an ERP that honours the key: "not found" is final, since a
    #: copy of the write still in flight is the same keyed write. False: read from the ERP's own
    #: records, where "not found" only means "not landed by the time of the read".
    by_key: bool


def read_evidence(connector: ErpConnector, operation: ErpOperation) -> Evidence:
    """Whether an operation whose outcome was in doubt happened, and how that was read."""
    try:
        return Evidence(connector.lookup(operation.idempotency_key), by_key=True)
    except ErpLookupMissing as missing:
        reason = str(missing)
    if not isinstance(connector, ReadsEvidence):
        raise ErpUndecided(
            f"{operation.operation} ({operation.idempotency_key}): {reason}, and this connector "
            "reads no other evidence; check the ERP before running it again"
        )
    return Evidence(connector.evidence(operation), by_key=False)


def recover(connector: ErpConnector, operation: ErpOperation) -> ErpResult | None:
    """The result of an operation whose outcome was in doubt, or None when it did not happen
    (on a stock ERP: not by the time of this read; see `read_evidence`)."""
    return read_evidence(connector, operation).found
