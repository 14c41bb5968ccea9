"""The action catalog (`config/actions.yaml`): what agents may propose, and how each is governed.

Loaded once at start-up with `yaml.safe_load` into frozen pydantic models; every problem in the
file is collected and reported at once (`CatalogError.problems`), each with the file and path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import CatalogError, UnknownAction
from gateway.params import ParamSpec, ParamType, build_params_model
from gateway.summary import template_problems

ACTION_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
#: A `leaves` value naming a param: `{params.<name>}`.
LEAVES_PARAM = re.compile(r"\{params\.([A-Za-z_][A-Za-z0-9_]*)\}")


class RiskClass(StrEnum):
    """How much harm a wrong action can do; decided by configuration, never by the agent."""

    READ = "read"
    LOW_RISK = "low_risk"
    HIGH_RISK = "high_risk"
    IRREVERSIBLE = "irreversible"


class Phase(StrEnum):
    """How far an action type has been rolled out (ordered from most to least supervised)."""

    READ_ONLY = "read_only"
    SUPERVISED = "supervised"
    AUTONOMOUS = "autonomous"
    HIGH_VOLUME = "high_volume"


class TargetSpec(BaseModel):
    """What the action acts on, and which kind of resolution token names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_type: str = Field(min_length=1)
    resolution: Literal["match", "no_match"] = "match"
    identity: dict[str, str] = Field(
        default_factory=dict,
        description="For no_match targets: identity field (name, tax_id) -> param holding it",
    )
    single_use: bool = Field(
        default=False,
        description="The token may name one action only (irreversible actions: always)",
    )


class StepSpec(BaseModel):
    """One ERP operation of the action's workflow, and the operation that undoes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    operation: str = Field(min_length=1)
    compensation: str | None = None
    leaves: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description=(
            "What the step leaves on the target record, by field role (`blocked: true`, "
            "`delivery_date: '{params.delivery_date}'`): a revert checks it is still so before "
            "undoing the step, and a rollback drill checks the ERP holds it after the step"
        ),
    )


class MonitoringSpec(BaseModel):
    """What the autonomous-phase monitors look at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: str | None = Field(
        default=None, description="`record.<field>` or `params.<name>`: the action's amount"
    )


class ActionSpec(BaseModel):
    """One action type of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str = Field(min_length=1)
    target: TargetSpec
    risk: RiskClass
    phase: Phase
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    steps: tuple[StepSpec, ...] = Field(min_length=1)
    approval_template: str = Field(min_length=1)
    monitoring: MonitoringSpec = MonitoringSpec()
    drill_record: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description=(
            "What the record a rollback drill picks must hold, by field role (a purchase order "
            "is closed once approved: `approved: true`)"
        ),
    )
    revert_risk: RiskClass | None = Field(
        default=None,
        description="The risk class of reverting it (default: the action's own class)",
    )

    @property
    def reverting_risk(self) -> RiskClass:
        """The risk class a revert of this action goes through the gate with."""
        return self.revert_risk or self.risk

    @property
    def steps_hash(self) -> str:
        """The SHA-256 of the steps (operations, compensations, what they leave): what a
        rollback drill was run against; a change to the steps invalidates the drill."""
        steps = [step.model_dump(mode="json") for step in self.steps]
        text = json.dumps(steps, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CatalogFile(BaseModel):
    """The YAML file's top level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    actions: dict[str, ActionSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Catalog:
    """The validated catalog: action specs and the params model built for each."""

    actions: Mapping[str, ActionSpec]
    params_models: Mapping[str, type[BaseModel]]

    def get(self, name: str) -> ActionSpec:
        """The action named `name`, or UnknownAction."""
        spec = self.actions.get(name)
        if spec is None:
            raise UnknownAction(f"unknown action {name!r}", field="action")
        return spec

    def params_model(self, name: str) -> type[BaseModel]:
        """The pydantic model of the named action's params."""
        self.get(name)
        return self.params_models[name]

    @property
    def operations(self) -> frozenset[str]:
        """Every ERP operation the catalog names: each step's operation and compensation. The
        catalog is the authority on which exist: a connector runs only operations named here
        (`gateway.offered.unnamed_operations`)."""
        return frozenset(
            name
            for spec in self.actions.values()
            for step in spec.steps
            for name in (step.operation, step.compensation)
            if name is not None
        )

    def describe(self) -> list[dict[str, Any]]:
        """Every action as agents see it: target, risk, params' JSON schema, steps."""
        return [
            {
                "action": name,
                "description": spec.description,
                "target": spec.target.model_dump(),
                "risk": spec.risk.value,
                "params_schema": self.params_models[name].model_json_schema(),
                "steps": [step.model_dump() for step in spec.steps],
            }
            for name, spec in self.actions.items()
        ]


def _semantic_problems(name: str, spec: ActionSpec) -> list[str]:
    """Rules pydantic cannot express alone: names, identities, compensations, templates."""
    problems: list[str] = []
    where = f"actions.{name}"
    if not ACTION_NAME.match(name):
        problems.append(f"{where}: action names are <entity>.<verb> in lower_snake_case")
    for pname, pspec in spec.params.items():
        if not pname.isidentifier():
            problems.append(f"{where}.params.{pname}: not a valid parameter name")
        if (pspec.type is ParamType.ENUM) != bool(pspec.values):
            problems.append(f"{where}.params.{pname}: `values` goes with type enum, and only it")
    if spec.target.resolution == "no_match":
        if "name" not in spec.target.identity:
            problems.append(f"{where}.target.identity: a no_match target needs at least `name`")
        for key, pname in spec.target.identity.items():
            if pname not in spec.params:
                problems.append(f"{where}.target.identity.{key}: no param {pname!r}")
    elif spec.target.identity:
        problems.append(f"{where}.target.identity: only no_match targets bind an identity")
    if spec.risk is RiskClass.IRREVERSIBLE and not spec.target.single_use:
        problems.append(f"{where}.target.single_use: an irreversible action's token is single-use")
    step_names = [step.name for step in spec.steps]
    if len(set(step_names)) != len(step_names):
        problems.append(f"{where}.steps: step names must be unique")
    if len(spec.steps) > 1:
        for i, step in enumerate(spec.steps):
            if step.compensation is None:
                problems.append(f"{where}.steps[{i}]: a multi-step action needs a compensation")
    for i, step in enumerate(spec.steps):
        for role, value in step.leaves.items():
            ref = LEAVES_PARAM.fullmatch(value) if isinstance(value, str) else None
            if ref is not None and ref.group(1) not in spec.params:
                problems.append(f"{where}.steps[{i}].leaves.{role}: no param {ref.group(1)!r}")
    if spec.revert_risk is RiskClass.READ:
        problems.append(f"{where}.revert_risk: a revert writes; it cannot be of class read")
    for problem in template_problems(spec.approval_template, spec.params):
        problems.append(f"{where}.approval_template: {problem}")
    if spec.monitoring.amount is not None:
        namespace, _, field = spec.monitoring.amount.partition(".")
        if namespace not in ("record", "params") or not field.isidentifier():
            problems.append(f"{where}.monitoring.amount: use record.<field> or params.<name>")
        elif namespace == "params" and field not in spec.params:
            problems.append(f"{where}.monitoring.amount: no param {field!r}")
    return problems


def _pydantic_problems(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in err['loc']) or '<top>'}: {err['msg']}"
        for err in error.errors()
    ]


def parse_catalog(data: Any, source: str = "<catalog>") -> Catalog:
    """Validate parsed YAML; raise CatalogError listing every problem as `source: path: why`."""
    try:
        parsed = CatalogFile.model_validate(data)
    except ValidationError as e:
        raise CatalogError([f"{source}: {p}" for p in _pydantic_problems(e)]) from e
    problems: list[str] = []
    actions: dict[str, ActionSpec] = {}
    for name, spec in parsed.actions.items():
        problems.extend(f"{source}: {p}" for p in _semantic_problems(name, spec))
        actions[name] = spec.model_copy(update={"name": name})
    if problems:
        raise CatalogError(problems)
    models = {
        name: build_params_model(_model_name(name), spec.params) for name, spec in actions.items()
    }
    return Catalog(actions=actions, params_models=models)


def _model_name(action: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[._]", action)) + "Params"


def load_catalog(path: Path) -> Catalog:
    """Read and validate the catalog file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CatalogError([f"{path}: cannot read: {e.strerror}"]) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise CatalogError([f"{path}: {where}: not valid YAML: {e}"]) from e
    return parse_catalog(data, str(path))
