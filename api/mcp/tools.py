"""The MCP tools: `resolve_entity`, one tool per action of the catalog, `get_action_status`,
`revert_action` and `list_pending_approvals`, each with its JSON input schema, annotations and
static description.

Descriptions are built only from the catalog file and the fixed sentences below: nothing a
caller or the ERP sends ever reaches one. Each tool carries, in `_meta`, the SHA-256 of its
definition and `TOOLS_VERSION`, so that a client can pin them and notice any change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field

from gateway import ActionSpec, Catalog, RiskClass
from gateway.params import ActionContext
from resolver import ResolveQuery

#: Bumped whenever the fixed text or the shape of the tools below changes.
TOOLS_VERSION = "2"
META_VERSION = "canon/tools_version"
META_DIGEST = "canon/definition_sha256"
IDEMPOTENCY_PATTERN = r"^[\x21-\x7e]+$"


class ToolKind(StrEnum):
    RESOLVE = "resolve"
    PROPOSE = "propose"
    STATUS = "status"
    REVERT = "revert"
    APPROVALS = "approvals"


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what the client sees, and which gateway operation it stands for."""

    kind: ToolKind
    definition: types.Tool
    action: str | None = None

    @property
    def name(self) -> str:
        return self.definition.name


class ProposeArgs(BaseModel):
    """The arguments of an action tool (the action is the tool's name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution_token: str = Field(min_length=1, max_length=4096)
    params: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any]
    idempotency_key: str = Field(min_length=1, max_length=200, pattern=IDEMPOTENCY_PATTERN)


class StatusArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str = Field(min_length=1, max_length=36, description="The id a proposal returned")


class RevertArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str = Field(
        min_length=1, max_length=36, description="The id of the succeeded action to revert"
    )
    reason: str = Field(
        min_length=1, max_length=2000, description="Why it is reverted; shown to approvers"
    )
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=IDEMPOTENCY_PATTERN,
        description="Your key for this request; reuse it to retry safely",
    )  # fmt: skip


class PendingArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str | None = Field(
        default=None, max_length=100, description="Only requests of this action type"
    )
    limit: int = Field(default=20, ge=1, le=100, description="At most this many, newest first")


RISK_SENTENCES = {
    RiskClass.READ: "Risk class: read. It runs at once.",
    RiskClass.LOW_RISK: "Risk class: low_risk. It runs at once once the action type is rolled "
    "out (autonomous); while supervised it waits for one human approval.",
    RiskClass.HIGH_RISK: "Risk class: high_risk. It waits for one human approval.",
    RiskClass.IRREVERSIBLE: "Risk class: irreversible. It waits for two approvals by distinct "
    "people.",
}
PROPOSE_FOOTER = (
    "The target is named only by a resolution_token from resolve_entity ({kind} token for a "
    "{entity_type}). The call answers at once with the action's status; when it waits for "
    "approval, follow it with get_action_status. Repeating an idempotency_key with the same "
    "arguments returns the same action and never runs it twice."
)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def _propose_schema(catalog: Catalog, spec: ActionSpec) -> dict[str, Any]:
    params = _schema(catalog.params_model(spec.name))
    defs = params.pop("$defs", None)
    context = _schema(ActionContext)
    context["description"] = "Why the action is proposed; shown to approvers, kept in the audit"
    required = ["resolution_token", "context", "idempotency_key"]
    if params.get("required"):
        required.insert(1, "params")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "resolution_token": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "description": f"From resolve_entity: a {spec.target.resolution} token "
                f"for a {spec.target.entity_type}",
            },
            "params": {**params, "description": "The action's parameters"},
            "context": context,
            "idempotency_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": IDEMPOTENCY_PATTERN,
                "description": "Your key for this proposal; reuse it to retry safely",
            },
        },  # fmt: skip
        "required": required,
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def _annotations(risk: RiskClass) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        read_only_hint=risk is RiskClass.READ,
        destructive_hint=risk in (RiskClass.HIGH_RISK, RiskClass.IRREVERSIBLE),
        idempotent_hint=True,  # every call carries an idempotency key
        open_world_hint=True,  # it acts on the ERP
    )


def _tool(
    name: str,
    title: str,
    description: str,
    schema: dict[str, Any],
    annotations: types.ToolAnnotations,
) -> types.Tool:
    body = {"name": name, "title": title, "description": description, "input_schema": schema,
            "annotations": annotations.model_dump(mode="json", exclude_none=True)}  # fmt: skip
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=schema,
        annotations=annotations,
        _meta={META_VERSION: TOOLS_VERSION, META_DIGEST: digest},
    )


def _resolve_tool() -> ToolSpec:
    description = (
        "Resolve what you mean (a supplier, customer, employee, contact or purchase order, by "
        "name, tax id, address or the ERP's own fields, or a free-text sentence in `text`) to the "
        "ERP's canonical id; `query_identity` shows how a sentence was read. The decision "
        "is match, ambiguous (with candidates and what tells them apart) or no_match; match and "
        "no_match carry the resolution_token that action tools require as their target. "
        "Read-only."
    )
    schema = _schema(ResolveQuery)
    annotations = types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    tool = _tool("resolve_entity", "Resolve an entity", description, schema, annotations)
    return ToolSpec(ToolKind.RESOLVE, tool)


def _action_tool(catalog: Catalog, spec: ActionSpec) -> ToolSpec:
    footer = PROPOSE_FOOTER.format(kind=spec.target.resolution, entity_type=spec.target.entity_type)
    description = f"{spec.description.strip()}\n\n{RISK_SENTENCES[spec.risk]} {footer}"
    title = spec.name.replace("_", " ").replace(".", ": ", 1)
    tool = _tool(
        spec.name, title, description, _propose_schema(catalog, spec), _annotations(spec.risk)
    )
    return ToolSpec(ToolKind.PROPOSE, tool, action=spec.name)


def _status_tool() -> ToolSpec:
    description = (
        "The status of an action you proposed (shadowed, pending_approval, approved, executing, "
        "succeeded, rejected, expired, failed, compensated, needs_attention), its plain-language "
        "summary, approvals and steps. Read-only."
    )
    annotations = types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    tool = _tool(
        "get_action_status", "Action status", description, _schema(StatusArgs), annotations
    )
    return ToolSpec(ToolKind.STATUS, tool)


def _revert_tool() -> ToolSpec:
    description = (
        "Propose the revert of an action that succeeded (one you proposed, of an action type "
        "your key may propose): a new action, linked to the original, that waits for a human "
        "approval and then runs the original's compensations in reverse step order. Before each "
        "step it checks the ERP record still holds what the original left; if someone changed "
        "it since, the revert stops in needs_attention and overwrites nothing. Refused, with "
        "the reason, for an action that did not succeed, one already reverted, and a revert. "
        "Follow it with get_action_status."
    )
    annotations = types.ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
    )
    tool = _tool("revert_action", "Revert an action", description, _schema(RevertArgs), annotations)
    return ToolSpec(ToolKind.REVERT, tool)


def _approvals_tool() -> ToolSpec:
    description = (
        "For approvers: the approval requests waiting for a decision, newest first, each with "
        "its plain-language summary, risk and the approvals still needed. Decisions are made "
        "by people in the approval channels, not through this tool. Read-only."
    )
    annotations = types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    tool = _tool(
        "list_pending_approvals", "Pending approvals", description, _schema(PendingArgs),
        annotations,
    )  # fmt: skip
    return ToolSpec(ToolKind.APPROVALS, tool)


def catalog_tools(catalog: Catalog) -> dict[str, ToolSpec]:
    """Every tool, by name: the fixed ones and one per action of the catalog."""
    specs = [_resolve_tool(), *(_action_tool(catalog, s) for s in catalog.actions.values())]
    specs += [_status_tool(), _revert_tool(), _approvals_tool()]
    return {spec.name: spec for spec in specs}
