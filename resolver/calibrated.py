"""The active calibration as the resolver reads it: per entity type, a map from a candidate's
match weight and margin to P(correct), and the threshold on it.

`calibration/` fits and writes this file (`<workdir>/calibration/active.json`); the resolver only
evaluates it, so it stays free of scikit-learn and of the calibration package.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resolver.errors import ModelError
from resolver.scoring import match_probability

ACTIVE_FILE = Path("calibration") / "active.json"


class Mapping(BaseModel):
    """identity: splink's probability; logistic: sigmoid(a·weight + b·margin + c);
    isotonic: piecewise-linear interpolation of (x, y) points over the match weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["identity", "logistic", "isotonic"] = "identity"
    coef_weight: float = 0.0
    coef_margin: float = 0.0
    intercept: float = 0.0
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)

    def probability(self, match_weight: float, margin: float) -> float:
        if self.kind == "identity":
            return match_probability(match_weight)
        if self.kind == "logistic":
            z = self.coef_weight * match_weight + self.coef_margin * margin + self.intercept
            return 1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, z))))
        if not self.x:
            return match_probability(match_weight)
        if match_weight <= self.x[0]:
            return self.y[0]
        if match_weight >= self.x[-1]:
            return self.y[-1]
        j = bisect.bisect_right(self.x, match_weight)
        x0, x1, y0, y1 = self.x[j - 1], self.x[j], self.y[j - 1], self.y[j]
        return y0 + (y1 - y0) * (match_weight - x0) / (x1 - x0) if x1 > x0 else y1


class EntityCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(gt=0.0, le=1.0)
    margin: float | None = Field(default=None, ge=0.0)
    mapping: Mapping = Field(default_factory=Mapping)


class CalibrationTable(BaseModel):
    """A calibration version: its id and one entry per calibrated entity type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = "default"
    entity_types: dict[str, EntityCalibration] = Field(default_factory=dict)


def load_active(workdir: Path) -> CalibrationTable:
    """The workdir's active calibration, or the profile defaults (version `default`)."""
    path = workdir / ACTIVE_FILE
    if not path.exists():
        return CalibrationTable()
    try:
        return CalibrationTable.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not a valid calibration: {e}") from e
