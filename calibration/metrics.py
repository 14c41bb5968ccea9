"""Reliability metrics and the threshold rule: ECE, Brier, reliability curve, precision and
coverage against the threshold, and the Clopper–Pearson bound that proves a wrong-match rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BINS = 10
#: One-sided confidence of the upper bound on the wrong-match rate.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width bin of predicted probability: how many, mean prediction, observed rate."""

    low: float
    high: float
    n: int
    mean_predicted: float
    observed: float


def reliability_curve(
    p: Sequence[float], y: Sequence[bool], bins: int = BINS
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; empty bins are left out."""
    pa, ya = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    index = np.minimum((pa * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(
                ReliabilityBin(
                    low=b / bins,
                    high=(b + 1) / bins,
                    n=int(mask.sum()),
                    mean_predicted=float(pa[mask].mean()),
                    observed=float(ya[mask].mean()),
                )
            )
    return out


def ece(p: Sequence[float], y: Sequence[bool], bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted gap between prediction and outcome."""
    curve = reliability_curve(p, y, bins)
    total = sum(b.n for b in curve)
    if not total:
        return 0.0
    return sum(b.n * abs(b.mean_predicted - b.observed) for b in curve) / total


def brier(p: Sequence[float], y: Sequence[bool]) -> float:
    """Mean squared error of the predicted probability against the 0/1 outcome."""
    pa, ya = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean((pa - ya) ** 2)) if len(pa) else 0.0


def wrong_rate_upper(wrong: int, n: int, confidence: float = CONFIDENCE) -> float:
    """Clopper–Pearson one-sided upper bound on a rate after `wrong` failures in `n` trials."""
    from scipy.stats import beta  # scipy is heavy; only fitting needs it

    if n <= 0 or wrong >= n:
        return 1.0
    return float(beta.ppf(confidence, wrong + 1, n - wrong))


def rate_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Clopper–Pearson interval on a rate after `k` successes in `n` trials."""
    from scipy.stats import beta

    if n <= 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2
    low = float(beta.ppf(tail, k, n - k + 1)) if k > 0 else 0.0
    high = float(beta.ppf(1.0 - tail, k + 1, n - k)) if k < n else 1.0
    return low, high


@dataclass(frozen=True)
class ThresholdPoint:
    """What auto-resolving at P ≥ threshold would do on the labelled rows of one type."""

    threshold: float
    auto: int
    wrong: int
    rows: int
    upper: float

    @property
    def precision(self) -> float:
        return 1.0 - self.wrong / self.auto if self.auto else 1.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.auto if self.auto else 0.0

    @property
    def coverage(self) -> float:
        """Expected auto-resolution rate: the share of the type's queries decided `match`."""
        return self.auto / self.rows if self.rows else 0.0


def threshold_curve(p: Sequence[float], y: Sequence[bool], rows: int) -> list[ThresholdPoint]:
    """One point per distinct predicted probability, highest first.

    `p`, `y` are the decidable rows (the others halt whatever P says); `rows` counts every
    labelled query of the type, the denominator of the auto-resolution rate.
    """
    pa, ya = np.asarray(p, dtype=float), np.asarray(y, dtype=bool)
    order = np.argsort(-pa, kind="stable")
    pa, ya = pa[order], ya[order]
    points = []
    wrong = 0
    for i in range(len(pa)):
        wrong += int(not ya[i])
        if i + 1 < len(pa) and pa[i + 1] == pa[i]:
            continue  # a threshold takes every row of equal P at once
        points.append(
            ThresholdPoint(float(pa[i]), i + 1, wrong, rows, wrong_rate_upper(wrong, i + 1))
        )
    return points


def eligible(pt: ThresholdPoint, target: float) -> bool:
    """Whether a threshold may be chosen at all: not below 1 − target.

    The bound is on the rate over *all* auto-resolved rows, so on its own the smallest passing
    threshold can reach down to queries that are themselves likely wrong (a calibrated P of 0.05,
    diluted by a thousand sure ones). No query whose own calibrated P(wrong) exceeds the target
    is auto-resolved; the bound then proves the rate over those that are.
    """
    return pt.threshold >= 1.0 - target


def choose_threshold(curve: list[ThresholdPoint], target: float) -> ThresholdPoint | None:
    """The smallest threshold (≥ 1 − target) whose upper bound on the wrong-match rate among
    auto-resolved rows meets the target."""
    proven = [pt for pt in curve if eligible(pt, target) and pt.upper <= target]
    return min(proven, key=lambda pt: pt.threshold) if proven else None


def _auto_needed(rate: float, target: float) -> int | None:
    """How many auto-resolved rows, failing at `rate`, it takes for the bound to meet target."""
    if rate >= target:
        return None
    low, high = 1, 1
    while wrong_rate_upper(math.floor(rate * high), high) > target:
        low, high = high, high * 2
        if high > 10_000_000:
            return None
    while low < high:
        mid = (low + high) // 2
        if wrong_rate_upper(math.floor(rate * mid), mid) <= target:
            high = mid
        else:
            low = mid + 1
    return high


def labels_needed(curve: list[ThresholdPoint], target: float) -> int | None:
    """More labelled queries of the type (same mix) for some threshold to prove the target.

    None when every threshold's observed wrong-match rate is at or above the target: more labels
    of the same quality cannot prove it.
    """
    best: int | None = None
    for pt in curve:
        if not eligible(pt, target):
            continue
        need = _auto_needed(pt.wrong_rate, target)
        if need is None or pt.auto == 0:
            continue
        more = max(0, math.ceil(need * pt.rows / pt.auto) - pt.rows)
        best = more if best is None else min(best, more)
    return best
