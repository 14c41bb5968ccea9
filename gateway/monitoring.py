"""Monitors of the unsupervised phases: amounts far outside a target's history, bursts per key.

A flag does not refuse anything: the policy routes the flagged action to a human, and the flag's
reason goes into the summary the human reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean, median

MIN_HISTORY = 5
# Iglewicz & Hoaglin: 0.6745 makes the MAD a consistent estimator of the standard deviation;
# 1.2533 does the same for the mean absolute deviation when more than half the values tie.
MAD_SCALE = 0.6745
MEAN_AD_SCALE = 1.253314


def robust_z(value: float, history: Sequence[float]) -> float | None:
    """How many robust standard deviations `value` lies from the history's median.

    None when the history is too short to judge.
    """
    if len(history) < MIN_HISTORY:
        return None
    centre = median(history)
    deviations = [abs(x - centre) for x in history]
    mad = median(deviations)
    if mad > 0:
        return MAD_SCALE * (value - centre) / mad
    mean_ad = mean(deviations)
    if mean_ad > 0:
        return (value - centre) / (MEAN_AD_SCALE * mean_ad)
    return 0.0 if value == centre else float("inf") if value > centre else float("-inf")


def amount_flag(value: float, history: Sequence[float], threshold: float) -> str | None:
    """A reason to review when `value` is an outlier against `history`, else None."""
    z = robust_z(value, history)
    if z is None or abs(z) <= threshold:
        return None
    return (
        f"amount {value:,.2f} is far outside this target's history "
        f"(robust z-score {z:+.1f}, median {median(history):,.2f} over {len(history)} values)"
    )


def burst_flag(recent: int, max_actions: int, window_seconds: int) -> str | None:
    """A reason to review when one key proposed too many actions in the window, else None."""
    if recent < max_actions:
        return None
    return (
        f"burst: this key proposed {recent} actions in the last {window_seconds} s "
        f"(limit {max_actions})"
    )
