"""Per-entity-type calibrators: match weight (and margin) → P(correct), with held-out predictions.

Every calibrator is expressed as a `resolver.Mapping`, and held-out predictions are computed
through that same mapping, so the metrics measure exactly what the resolver will evaluate.

- isotonic (enough labels of both classes): scikit-learn's isotonic regression over the weight;
- logistic (few labels, Platt scaling): sigmoid(a·weight + b·margin + c);
- floor (no wrong label at all, the usual state of a clean type): from the lowest labelled
  weight up, Laplace's estimate (n+1)/(n+2) or splink's probability, whichever is higher.

Below the lowest labelled weight no label vouches for anything, so the isotonic and floor
mappings fall back to splink's own probability there (never above the fitted value): an unseen,
weaker query cannot borrow the confidence earned by stronger ones. A logistic mapping falls
with the weight by construction; one that would not (a non-positive slope) is replaced by the
floor.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from resolver import Mapping

Method = Literal["isotonic", "logistic", "floor"]

FOLDS = 5
ISOTONIC_MIN_ROWS = 100
ISOTONIC_MIN_CLASS = 5
#: How far below the lowest labelled weight the splink fallback is drawn, in bits.
FLOOR_SPAN = 24
#: Above this many bits splink's probability is 1 to twelve digits.
SATURATION = 40

_SPLINK = Mapping(kind="identity")


@dataclass(frozen=True)
class Fit:
    """A fitted mapping and the held-out P of every row it was fitted on (same order)."""

    method: Method
    mapping: Mapping
    held_out: list[float]
    folds: int


def choose_method(correct: Sequence[bool]) -> Method:
    """Isotonic with enough of both classes, logistic with few, floor with no wrong label."""
    n_right = sum(bool(c) for c in correct)
    minority = min(n_right, len(correct) - n_right)
    if minority == 0:
        return "floor"
    if len(correct) >= ISOTONIC_MIN_ROWS and minority >= ISOTONIC_MIN_CLASS:
        return "isotonic"
    return "logistic"


def _floor_below(x0: float, y0: float) -> tuple[list[float], list[float]]:
    """Points under the lowest labelled weight: splink's probability, capped at the fit's first."""
    xs = [x0 - FLOOR_SPAN + k for k in range(FLOOR_SPAN)]
    return xs, [min(y0, _SPLINK.probability(x, 0.0)) for x in xs]


def _isotonic(w: np.ndarray, y: np.ndarray) -> Mapping:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(w, y)
    xs = [float(v) for v in model.X_thresholds_]
    ys = [float(v) for v in model.y_thresholds_]
    fx, fy = _floor_below(xs[0], ys[0])
    return Mapping(kind="isotonic", x=fx + xs, y=fy + ys)


def _logistic(w: np.ndarray, m: np.ndarray, y: np.ndarray) -> Mapping:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(np.column_stack([w, m]), y.astype(int))
    a, b = (float(v) for v in model.coef_[0])
    if a <= 0.0:
        return _floor(w, y)
    return Mapping(
        kind="logistic", coef_weight=a, coef_margin=b, intercept=float(model.intercept_[0])
    )


def _floor(w: np.ndarray, y: np.ndarray) -> Mapping:
    right = w[y]
    if not len(right):
        return _SPLINK
    x0 = float(right.min())
    laplace = (len(right) + 1) / (len(right) + 2)
    fx, fy = _floor_below(x0, laplace)
    # From the lowest labelled weight up, no label contradicts splink either: where it is more
    # confident than Laplace's estimate, keep it (drawn every half bit; it saturates by +40).
    ux = [x0 + k / 2 for k in range(2 * SATURATION)]
    uy = [max(laplace, _SPLINK.probability(x, 0.0)) for x in ux]
    return Mapping(kind="isotonic", x=fx + ux, y=fy + uy)


def fit_once(method: Method, w: np.ndarray, m: np.ndarray, y: np.ndarray) -> Mapping:
    """Fit one mapping; a fold left with one class falls back to the floor."""
    if method == "floor" or y.all() or not y.any():
        return _floor(w, y)
    if method == "isotonic":
        return _isotonic(w, y)
    return _logistic(w, m, y)


def predict(mapping: Mapping, w: Sequence[float], m: Sequence[float]) -> list[float]:
    """P(correct) for each row, exactly as the resolver will compute it."""
    return [mapping.probability(float(a), float(b)) for a, b in zip(w, m, strict=True)]


def fit_calibrator(
    weights: Sequence[float],
    margins: Sequence[float],
    correct: Sequence[bool],
    seed: int = 0,
) -> Fit:
    """Fit on every row, and predict each row from a model that did not see it (K-fold)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    w = np.asarray(weights, dtype=float)
    m = np.asarray(margins, dtype=float)
    y = np.asarray(correct, dtype=bool)
    method = choose_method(list(y))
    held_out = np.asarray([_SPLINK.probability(float(v), 0.0) for v in w])
    folds = min(FOLDS, len(y))
    if folds < 2:
        return Fit(method, fit_once(method, w, m, y), [float(v) for v in held_out], 0)
    if method == "floor":
        splits = KFold(folds, shuffle=True, random_state=seed).split(w)
    else:
        # With fewer wrong labels than folds some folds get none; stratifying still spreads
        # them as evenly as they go (scikit-learn warns about it, which is expected here).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            strat = StratifiedKFold(folds, shuffle=True, random_state=seed)
            splits = iter(list(strat.split(w, y)))
    for train, test in splits:
        fold_map = fit_once(method, w[train], m[train], y[train])
        held_out[test] = predict(fold_map, w[test], m[test])
    return Fit(method, fit_once(method, w, m, y), [float(v) for v in held_out], folds)
