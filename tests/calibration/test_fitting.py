"""Calibrators: expressible as the resolver's mapping, honest on held-out folds, safe below the
labelled range."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import ece, fit_calibrator
from calibration.fitting import choose_method
from resolver import Mapping


def overconfident_sample(n: int, seed: int = 1) -> tuple[list[float], list[float], list[bool]]:
    """Weights whose true P(correct) is sigmoid(0.5·w − 2): splink's 1/(1+2^-w) overstates it."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-10, 20, n)
    truth = 1 / (1 + np.exp(-(0.5 * w - 2)))
    y = rng.uniform(size=n) < truth
    return list(w), [10.0] * n, list(y)


@pytest.mark.parametrize(
    ("correct", "method"),
    [
        pytest.param([True] * 50, "floor", id="no-wrong-label"),
        pytest.param([True] * 50 + [False], "logistic", id="one-wrong-label"),
        pytest.param([True] * 60 + [False] * 4, "logistic", id="few-wrong"),
        pytest.param([True] * 95 + [False] * 5, "isotonic", id="enough-of-both"),
        pytest.param([True] * 40 + [False] * 40, "logistic", id="few-rows"),
    ],
)
def test_method_follows_how_many_labels_of_each_class(correct: list[bool], method: str):
    assert choose_method(correct) == method


def test_isotonic_mapping_reproduces_sklearn_inside_the_labelled_range():
    from sklearn.isotonic import IsotonicRegression

    w, m, y = overconfident_sample(800)
    fit = fit_calibrator(w, m, y)
    assert fit.method == "isotonic" and fit.mapping.kind == "isotonic"
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(w, y)
    grid = np.linspace(min(w), max(w), 97)
    ours = [fit.mapping.probability(float(x), 10.0) for x in grid]
    assert np.allclose(ours, reference.predict(grid), atol=1e-9)
    assert fit.mapping.x == sorted(fit.mapping.x)  # the resolver bisects it


def test_held_out_calibration_beats_splinks_probability_on_overconfident_scores():
    w, m, y = overconfident_sample(1500)
    fit = fit_calibrator(w, m, y)
    raw = [Mapping().probability(x, 0.0) for x in w]
    assert fit.folds == 5
    assert ece(fit.held_out, y) < 0.05 < ece(raw, y)


def test_held_out_predictions_do_not_come_from_a_model_that_saw_the_row():
    # Pure noise: in-sample isotonic would chase it; held-out predictions cannot.
    rng = np.random.default_rng(3)
    w = list(rng.uniform(0, 10, 400))
    y = list(rng.uniform(size=400) < 0.5)
    fit = fit_calibrator(w, [5.0] * 400, y)
    in_sample = [fit.mapping.probability(x, 5.0) for x in w]
    brier_in = float(np.mean((np.asarray(in_sample) - np.asarray(y)) ** 2))
    brier_out = float(np.mean((np.asarray(fit.held_out) - np.asarray(y)) ** 2))
    assert brier_out > brier_in


def test_floor_uses_laplace_above_the_lowest_labelled_weight_and_splink_below():
    w = [4.0 + i / 10 for i in range(40)]
    fit = fit_calibrator(w, [9.0] * 40, [True] * 40)
    laplace = 41 / 42
    assert fit.method == "floor"
    assert fit.mapping.probability(4.0, 9.0) == pytest.approx(max(laplace, 1 / (1 + 2**-4)))
    assert fit.mapping.probability(30.0, 9.0) == pytest.approx(1.0, abs=1e-6)
    below = fit.mapping.probability(-6.0, 9.0)
    assert below == pytest.approx(1 / (1 + 2**6), rel=1e-6)  # no label vouches down there


def test_isotonic_does_not_lend_its_confidence_below_the_lowest_labelled_weight():
    rng = np.random.default_rng(5)
    w = list(rng.uniform(5, 15, 300))
    y = [True] * 290 + [False] * 10
    fit = fit_calibrator(w, [9.0] * 300, y)
    assert fit.method == "isotonic"
    # splink's own probability (drawn every bit, so to within interpolation), not the fit's
    assert fit.mapping.probability(-10.0, 9.0) == pytest.approx(1 / (1 + 2**10), rel=0.01)


def test_logistic_uses_the_margin():
    rng = np.random.default_rng(7)
    margins = list(rng.uniform(0, 20, 80))
    y = [m > 6 or i % 9 == 0 for i, m in enumerate(margins)]
    fit = fit_calibrator([5.0] * 80, margins, y)
    assert fit.method == "logistic" and fit.mapping.coef_margin > 0
    assert fit.mapping.probability(5.0, 15.0) > fit.mapping.probability(5.0, 1.0)
