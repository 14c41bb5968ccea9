"""Which action types exist on an ERP: those whose every step's operation and compensation the
ERP's connector declares it can run (`gateway.erp.base.DeclaresOperations`).

An action type that does not exist on the deployment's ERP is refused when proposed
(`ActionNotOffered`), reported as "not offered" by a rollback drill, and cannot be promoted
out of `read_only`/`supervised`. Which vendor publishes what: docs/ERP.md.
"""

from __future__ import annotations

from gateway.catalog import ActionSpec
from gateway.erp.base import DeclaresOperations


def erp_name(connector: object) -> str:
    """The ERP a connector talks to, as people name it (`Protheus`, `SAP`, `Oracle`). Here and
    below, `connector` may be a connector or its class: the declaration is class-level."""
    return str(getattr(connector, "name", "") or type(connector).__name__)


def missing_operation(connector: object, spec: ActionSpec) -> str | None:
    """The first operation of the action (steps in order, each step's operation before its
    compensation) that the connector does not run; None when it runs them all."""
    if not isinstance(connector, DeclaresOperations):
        return None
    for step in spec.steps:
        for operation in (step.operation, step.compensation):
            if operation is not None and operation not in connector.operations:
                return operation
    return None


def not_offered(connector: object, spec: ActionSpec) -> str | None:
    """Why `spec` does not exist on the connector's ERP (naming the ERP and the operation it
    lacks), or None when it does."""
    missing = missing_operation(connector, spec)
    if missing is None:
        return None
    erp = erp_name(connector)
    return f"{spec.name} is not offered on {erp}: the {erp} connector cannot run {missing}"
