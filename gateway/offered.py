"""Which action types exist on an ERP: those whose every step's operation and compensation the
ERP's connector declares it can run (`gateway.erp.base.DeclaresOperations`).

An action type that does not exist on the deployment's ERP is refused when proposed
(`ActionNotOffered`), reported as "not offered" by a rollback drill, and cannot be promoted
out of `read_only`/`supervised`. Which vendor publishes what: docs/ERP.md.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog import ActionSpec, Catalog
from gateway.erp.base import DeclaresEvidence, DeclaresOperations


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


def unnamed_operations(connector: object, catalog: Catalog) -> frozenset[str]:
    """The operations the connector declares that no step of the catalog names (as operation
    or compensation): the catalog says which operations exist, so a connector method running
    one of these serves no action (empty for a connector that declares nothing)."""
    if not isinstance(connector, DeclaresOperations):
        return frozenset()
    return frozenset(connector.operations) - catalog.operations


def not_offered(connector: object, spec: ActionSpec) -> str | None:
    """Why `spec` does not exist on the connector's ERP (naming the ERP and the operation it
    lacks), or None when it does."""
    missing = missing_operation(connector, spec)
    if missing is None:
        return None
    erp = erp_name(connector)
    return f"{spec.name} is not offered on {erp}: the {erp} connector cannot run {missing}"


def evidence(connector: object, operation: str | None) -> str | None:
    """What tells, from the ERP's standard records, whether `operation` happened when a write
    of it is in doubt and the ERP has no look-up by key; None: nothing does, so such a step is
    never sent again and ends `needs_attention` (or the connector declares nothing)."""
    if operation is None or not isinstance(connector, DeclaresEvidence):
        return None
    return connector.evidence_of.get(operation)


def describe(connector: object, catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as agents see it (`Catalog.describe`), marked for the deployment's ERP: each
    action says whether it is `offered` here (and why not), each step the standard `evidence`
    of its operation and of its compensation (None: none; see `evidence`)."""
    out: list[dict[str, Any]] = []
    for entry in catalog.describe():
        spec = catalog.get(entry["action"])
        steps = [
            {
                **step,
                "evidence": evidence(connector, step["operation"]),
                "compensation_evidence": evidence(connector, step.get("compensation")),
            }
            for step in entry["steps"]
        ]
        why = not_offered(connector, spec)
        out.append({**entry, "offered": why is None, "not_offered": why, "steps": steps})
    return out
