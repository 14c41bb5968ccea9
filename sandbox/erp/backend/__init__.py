"""The sandbox ERP's data and fault injection (its HTTP faces live in `sandbox/erp/`).

One SQLite file of Protheus-shaped tables, loaded from the sample CSVs, with soft deletes and
a journal of writes by idempotency key; fault rules that make calls slow, fail, drop, time out
after committing, or hang until released.
"""

from sandbox.erp.backend.database import (
    SandboxDatabase,
    SandboxRefusal,
    Tx,
    Written,
    po_summary,
)
from sandbox.erp.backend.faults import Call, FaultBook, FaultRule, parse_header
from sandbox.erp.backend.tables import DELETED, RECDEL, RECNO

__all__ = [
    "DELETED",
    "RECDEL",
    "RECNO",
    "Call",
    "FaultBook",
    "FaultRule",
    "SandboxDatabase",
    "SandboxRefusal",
    "Tx",
    "Written",
    "parse_header",
    "po_summary",
]
