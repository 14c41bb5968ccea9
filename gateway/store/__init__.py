"""The gateway's store: SQLAlchemy models over SQLite or PostgreSQL, migrated by Alembic."""

from gateway.store.engine import Store, create_store_engine, migrate
from gateway.store.models import (
    Action,
    ApiKey,
    Approval,
    ApprovalDecision,
    AuditEntry,
    AuditHead,
    Base,
    Label,
    RolloutDrill,
    RolloutState,
    WorkflowRun,
    WorkflowStep,
    utcnow,
)

__all__ = [
    "Action",
    "ApiKey",
    "Approval",
    "ApprovalDecision",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Label",
    "RolloutDrill",
    "RolloutState",
    "Store",
    "WorkflowRun",
    "WorkflowStep",
    "create_store_engine",
    "migrate",
    "utcnow",
]
