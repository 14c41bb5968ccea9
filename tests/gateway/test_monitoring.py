"""Monitors: robust z-score against history, and the burst limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.monitoring import amount_flag, burst_flag, robust_z

HISTORY = [40_000.0, 42_000.0, 45_000.0, 43_500.0, 41_000.0, 44_000.0]


@pytest.mark.parametrize(
    ("value", "history", "flagged"),
    [
        pytest.param(45_000.0, HISTORY, False, id="typical"),
        pytest.param(450_000.0, HISTORY, True, id="ten-times-larger"),
        pytest.param(10.0, HISTORY, True, id="far-smaller"),
        pytest.param(1e9, HISTORY[:4], False, id="too-little-history"),
        pytest.param(100.0, [100.0] * 6, False, id="constant-history-same-value"),
        pytest.param(101.0, [100.0] * 6, True, id="constant-history-other-value"),
        pytest.param(150.0, [100.0] * 5 + [200.0] * 2, False, id="mad-zero-falls-back-to-mean-ad"),
    ],
)
def test_amount_flag(value: float, history: list[float], flagged: bool) -> None:
    flag = amount_flag(value, history, threshold=3.5)
    assert (flag is not None) is flagged
    if flag:
        assert "robust z-score" in flag and f"over {len(history)} values" in flag


@given(
    st.lists(st.floats(min_value=1, max_value=1e7), min_size=5, max_size=50),
    st.floats(min_value=1, max_value=1e7),
)
def test_robust_z_is_shift_invariant_in_sign(history: list[float], value: float) -> None:
    z = robust_z(value, history)
    assert z is not None
    if value > max(history):
        assert z >= 0
    if value < min(history):
        assert z <= 0


@pytest.mark.parametrize(
    ("recent", "flagged"),
    [pytest.param(29, False, id="under-limit"), pytest.param(30, True, id="at-limit")],
)
def test_burst_flag(recent: int, flagged: bool) -> None:
    assert (burst_flag(recent, 30, 60) is not None) is flagged
