"""Whether a write whose answer was lost happened: by key, else from the ERP's own records.

After a timeout or a dropped connection the workflow runner must know whether the write ran
before it sends it again. Canon's optional ERP-side services answer that by idempotency key
(`ZCANON_IDEMPOTENCY_SRV`, `canonOperations`, the Protheus `operations` endpoint). A stock ERP
has none of them, and ignores `Idempotency-Key`: there, re-sending on a 404 would duplicate a
supplier. So each connector reads evidence from standard records (`evidence(operation)`):

- the write visibly happened (the supplier with this tax id exists; the field holds the value
  the compensation restores): its result;
- it visibly did not (no such supplier; the field does not hold the value written): None, and
  the runner sends it;
- the records cannot tell, or cannot give back what the write replaced: `ErpUndecided`, and the
  step is never re-sent; it ends `needs_attention` with the message naming what to check.

`EVIDENCE` (in each connector) says, per operation, what is read; docs/ERP.md has the table.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.erp.base import ErpConnector, ErpOperation, ErpResult
from gateway.errors import ErpLookupMissing, ErpUndecided


@runtime_checkable
class ReadsEvidence(Protocol):
    """A connector that can tell from standard reads whether an operation happened."""

    def evidence(self, operation: ErpOperation) -> ErpResult | None:
        """The operation's result if it happened, None if it did not; ErpUndecided otherwise."""
        ...


def recover(connector: ErpConnector, operation: ErpOperation) -> ErpResult | None:
    """The result of an operation whose outcome was in doubt, or None when it never ran."""
    try:
        return connector.lookup(operation.idempotency_key)
    except ErpLookupMissing as missing:
        reason = str(missing)
    if not isinstance(connector, ReadsEvidence):
        raise ErpUndecided(
            f"{operation.operation} ({operation.idempotency_key}): {reason}, and this connector "
            "reads no other evidence; check the ERP before running it again"
        )
    return connector.evidence(operation)
