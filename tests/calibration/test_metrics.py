"""ECE, Brier, the Clopper–Pearson bound and the threshold rule, against known values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration import (
    brier,
    choose_threshold,
    ece,
    labels_needed,
    reliability_curve,
    threshold_curve,
    wrong_rate_upper,
)


def test_ece_of_a_perfectly_calibrated_bin_is_zero_and_of_an_overconfident_one_is_the_gap():
    assert ece([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert ece([0.95] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.45)


def test_ece_weights_bins_by_their_counts():
    p = [0.05] * 9 + [0.95]
    y = [False] * 9 + [False]
    # bin 0: predicted 0.05, observed 0 → 0.05 × 9; bin 9: 0.95 vs 0 → 0.95 × 1
    assert ece(p, y) == pytest.approx((0.05 * 9 + 0.95) / 10)


def test_reliability_curve_leaves_empty_bins_out_and_counts_the_rest():
    curve = reliability_curve([0.05, 0.06, 0.95, 1.0], [False, False, True, True])
    assert [(b.low, b.n) for b in curve] == [(0.0, 2), (0.9, 2)]
    assert curve[1].observed == 1.0


def test_brier():
    assert brier([1.0, 0.0], [True, False]) == 0.0
    assert brier([0.5, 0.5], [True, False]) == pytest.approx(0.25)


@pytest.mark.parametrize("n", [1, 10, 100, 598, 5000])
def test_upper_bound_with_no_failure_has_the_closed_form(n: int):
    assert wrong_rate_upper(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)


def test_598_clean_auto_resolutions_prove_half_a_percent_and_597_do_not():
    assert wrong_rate_upper(0, 598) <= 0.005 < wrong_rate_upper(0, 597)


@given(st.integers(min_value=1, max_value=2000), st.data())
def test_upper_bound_is_above_the_observed_rate_and_grows_with_failures(n: int, data):
    k = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert k / n <= wrong_rate_upper(k, n) <= 1.0
    assert wrong_rate_upper(k, n) <= wrong_rate_upper(k + 1, n)


def test_threshold_curve_takes_ties_together_and_counts_wrong_from_the_top():
    curve = threshold_curve([0.9, 0.9, 0.8, 0.2], [True, False, True, False], rows=5)
    assert [(pt.threshold, pt.auto, pt.wrong) for pt in curve] == [
        (0.9, 2, 1),
        (0.8, 3, 1),
        (0.2, 4, 2),
    ]
    assert curve[1].coverage == pytest.approx(3 / 5)
    assert curve[1].precision == pytest.approx(2 / 3)


def test_choose_threshold_is_the_smallest_whose_bound_meets_the_target():
    # 700 right answers at high P, then 5 wrong ones at lower P
    p = [0.999] * 700 + [0.4] * 5
    y = [True] * 700 + [False] * 5
    curve = threshold_curve(p, y, rows=705)
    chosen = choose_threshold(curve, 0.005)
    assert chosen is not None and chosen.threshold == 0.999 and chosen.wrong == 0
    assert chosen.upper <= 0.005
    fewer = threshold_curve(p[:500] + p[700:], y[:500] + y[700:], 505)
    assert choose_threshold(fewer, 0.005) is None


def test_labels_needed_scales_the_clean_rows_up_to_the_bound():
    # 300 of 400 queries auto-resolve cleanly: 598 are needed, i.e. 598 / 0.75 queries in all
    curve = threshold_curve([0.999] * 300 + [0.1] * 100, [True] * 300 + [False] * 100, rows=400)
    assert choose_threshold(curve, 0.005) is None
    assert labels_needed(curve, 0.005) == math.ceil(598 / 0.75) - 400


def test_labels_needed_is_none_when_every_threshold_fails_too_often():
    curve = threshold_curve([0.999] * 10, [True] * 9 + [False], rows=10)
    assert labels_needed(curve, 0.005) is None


def test_sure_answers_do_not_carry_likely_wrong_ones_over_the_threshold():
    # 1,300 right at P 0.999 would prove 0.5 % even with 3 rows at P 0.3 (one wrong) added;
    # the threshold still stops above them.
    p = [0.999] * 1300 + [0.3] * 3
    y = [True] * 1300 + [True, True, False]
    curve = threshold_curve(p, y, rows=1303)
    assert curve[-1].upper <= 0.005  # the aggregate bound alone would take them
    chosen = choose_threshold(curve, 0.005)
    assert chosen is not None and chosen.threshold == 0.999 and chosen.auto == 1300
