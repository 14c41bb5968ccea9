"""Errors of the gateway. Domain errors carry no HTTP status: `api/errors.py` maps them.

GatewayError
├── StoreError                 the store cannot be opened or migrated
│   └── SharedStateUnavailable the shared limiter state (store table or Redis) cannot be reached
├── SecretError                the secret file cannot be created, read or rotated safely
├── CatalogError               config/actions.yaml is malformed (every problem listed at once)
├── UnknownAction              an action name the catalog does not list
├── ActionNotOffered           an action type the deployment's ERP connector cannot run
├── InvalidParams              params (or context) fail the action's schema; names the field
├── TokenError                 a resolution token is refused
│   ├── TokenMissing           no token where the action needs one
│   ├── TokenMalformed         not a token at all
│   ├── TokenForged            the signature does not match
│   ├── TokenExpired           past its expiry
│   ├── TokenRotated           signed with a secret that has since been rotated
│   ├── TokenNotYours          issued to another API key
│   ├── TokenUsed              a single-use token that already named an action
│   ├── WrongEntityType        bound to another entity type than the action targets
│   └── WrongTokenKind         a match token where a no_match one is needed, or the reverse
├── IdentityMismatch           a creation's params differ from the identity its token binds
├── IdempotencyConflict        the idempotency key was used with another payload
├── ActionNotFound             no action with that id (or not visible to the caller)
├── AuthError                  authentication and authorisation
│   ├── NotAuthenticated       no key, unknown key or revoked key
│   └── Forbidden              the key's role or scopes do not allow the request
├── InvalidKeyRequest          a key cannot be created as asked (role, scopes, name)
├── PromotionRefused           a rollout promotion fails the readiness rules; says why
├── ApprovalError              an approval decision cannot be recorded
└── ErpError                   the ERP connector failed
    ├── ErpOperationFailed     the ERP refused or failed one operation (nothing was changed)
    │   ├── ErpConflict        the record changed since it was read (stale ETag): never retried
    │   ├── DuplicateInErp     a creation whose identity the ERP already holds (nothing was sent)
    │   └── ErpUnsupported     the connector cannot do that at all (nothing was sent)
    └── ErpUnavailable         no answer, or an answer that does not say whether it ran (in doubt)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose.

    `field` names the offending input (dotted path, e.g. `params.iban`) when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: Set once the refusal has its audit entry, so that no layer writes a second one.
        self.audited = False


class StoreError(GatewayError):
    """The store cannot be opened or migrated."""


class SharedStateUnavailable(StoreError):
    """The state shared by workers and replicas (the store's table, or Redis) is unreachable."""


class SecretError(GatewayError):
    """The secret file cannot be created, read or rotated safely."""


class CatalogError(GatewayError):
    """The action catalog is invalid; `problems` lists every problem with file and path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid action catalog:\n  " + "\n  ".join(problems))
        self.problems = problems


class UnknownAction(GatewayError):
    """The catalog lists no action of that name."""


class ActionNotOffered(GatewayError):
    """The action type does not exist on the deployment's ERP: its connector cannot run one of
    its operations or compensations (`gateway.offered`). The message names the ERP and the
    operation; nothing was stored or sent."""


class InvalidParams(GatewayError):
    """The request's params or context fail the action's schema."""


class TokenError(GatewayError):
    """A resolution token is refused; subclasses say why."""


class TokenMissing(TokenError):
    """The action needs a resolution token and none was given."""


class TokenMalformed(TokenError):
    """The token is not a Canon resolution token."""


class TokenForged(TokenError):
    """The token's signature does not match its content."""


class TokenExpired(TokenError):
    """The token is past its expiry."""


class TokenRotated(TokenError):
    """The token was signed with a master secret that has since been rotated."""


class TokenNotYours(TokenError):
    """The token was issued to another API key than the one presenting it."""


class TokenUsed(TokenError):
    """The action needs a fresh token, and this one already named another action."""


class WrongEntityType(TokenError):
    """The token is bound to another entity type than the action's target."""


class WrongTokenKind(TokenError):
    """A match token where the action needs a no_match token, or the reverse."""


class IdentityMismatch(GatewayError):
    """A creation's params describe another identity than its no_match token."""


class IdempotencyConflict(GatewayError):
    """The idempotency key was already used with another payload."""


class ActionNotFound(GatewayError):
    """No action with that id is visible to the caller."""


class AuthError(GatewayError):
    """Authentication or authorisation failed."""


class NotAuthenticated(AuthError):
    """No API key, an unknown one, or a revoked one."""


class Forbidden(AuthError):
    """The key is valid but its role or scopes do not allow the request."""


class InvalidKeyRequest(GatewayError):
    """A key cannot be created as asked."""


class PromotionRefused(GatewayError):
    """A rollout promotion fails the readiness rules."""


class NotRevertible(GatewayError):
    """The action cannot be reverted in its state (not succeeded: failed, compensated, ...)."""


class AlreadyReverted(NotRevertible):
    """A revert of the action is already proposed, running or done."""


class RevertOfRevert(GatewayError):
    """A revert cannot itself be reverted: propose the original action again."""


class ApprovalError(GatewayError):
    """An approval decision cannot be recorded (own action, duplicate approver, decided)."""


class ErpError(GatewayError):
    """The ERP connector failed."""


class ErpOperationFailed(ErpError):
    """The ERP refused or failed one operation."""


class ErpConflict(ErpOperationFailed):
    """The ERP refused a write because the record changed since it was read (HTTP 412)."""


class DuplicateInErp(ErpOperationFailed):
    """A creation refused before its first write: the ERP already holds a live record with the
    new identity's tax id. The message names that record (`duplicate-in-erp: ... SA2::000123:01`).
    """

    code = "duplicate-in-erp"


class ErpUnsupported(ErpOperationFailed):
    """The connector has no way to do this (an operation or extract it does not know)."""


class ErpUnavailable(ErpError):
    """The ERP did not answer, or answered without saying whether the operation ran.

    The operation may or may not have happened: the workflow runner reads ERP state (by the
    idempotency key) before it runs the operation again.
    """


class ErpLookupMissing(ErpError):
    """The ERP has no look-up of writes by idempotency key (a stock system, without Canon's
    custom service): whether a write happened must be read from the ERP's own records."""


class ErpUndecided(ErpError):
    """Neither a look-up by key nor the ERP's own records tell whether a write happened.

    The write must not be sent again blindly: the message names what a person should check.
    """
