"""Canon's gate: action catalog, policy, resolution tokens, idempotent actions, rollout, audit."""

from gateway.actions import ActionRequest, TargetRef
from gateway.audit import AuditVerification
from gateway.catalog import ActionSpec, Catalog, Phase, RiskClass, load_catalog
from gateway.erp import ErpConnector, ErpOperation, ErpRecord, ErpResult, LocalLedgerConnector
from gateway.errors import GatewayError
from gateway.keys import LOCAL_OPERATOR, Principal, Role, authenticate, create_key, revoke_key
from gateway.policy import Execute, Outcome, Reject, RequireApproval, Shadow, decide
from gateway.rollout import PromotionRules, Readiness, RolloutChange
from gateway.service import EntityResolver, GateRules, Gateway, ResolveResponse
from gateway.store import Store
from gateway.tokens import TokenClaims, TokenSigner
from gateway.views import ActionView

__all__ = [
    "LOCAL_OPERATOR",
    "ActionRequest",
    "ActionSpec",
    "ActionView",
    "AuditVerification",
    "Catalog",
    "EntityResolver",
    "ErpConnector",
    "ErpOperation",
    "ErpRecord",
    "ErpResult",
    "Execute",
    "GateRules",
    "Gateway",
    "GatewayError",
    "LocalLedgerConnector",
    "Outcome",
    "Phase",
    "Principal",
    "PromotionRules",
    "Readiness",
    "Reject",
    "RequireApproval",
    "ResolveResponse",
    "RiskClass",
    "Role",
    "RolloutChange",
    "Shadow",
    "Store",
    "TargetRef",
    "TokenClaims",
    "TokenSigner",
    "authenticate",
    "create_key",
    "decide",
    "load_catalog",
    "revoke_key",
]
