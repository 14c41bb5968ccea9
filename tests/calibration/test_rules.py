"""The verdict on a rule run over the labels, and the entry that halts a type."""

from __future__ import annotations

import pytest

from calibration import halt_entry, is_halt
from calibration.metrics import rate_interval, wrong_rate_upper
from calibration.rules import HALT_CEILING, verdict
from resolver import EntityCalibration, Mapping


@pytest.mark.parametrize(
    ("auto", "wrong", "target", "halts", "expected"),
    [
        pytest.param(1000, 0, 0.005, False, "meets", id="bound-within-target"),
        pytest.param(549, 0, 0.005, False, "unproven", id="clean-but-too-few"),
        pytest.param(549, 4, 0.005, False, "exceeds", id="observed-above-target"),
        pytest.param(549, 2, 0.005, False, "unproven", id="observed-within-bound-above"),
        pytest.param(0, 0, 0.005, False, "unproven", id="nothing-auto-resolved"),
        pytest.param(0, 0, 0.005, True, "halts", id="halted"),
    ],
)
def test_the_verdict_on_a_rule(auto: int, wrong: int, target: float, halts: bool, expected: str):
    assert verdict(auto, wrong, wrong_rate_upper(wrong, auto), target, halts) == expected


def test_a_halt_entry_never_reaches_its_threshold_and_keeps_splinks_probability_below():
    entry = halt_entry(3.0)
    assert is_halt(entry) and entry.threshold == 1.0 and entry.margin == 3.0
    splink = Mapping(kind="identity")
    for weight in (-200.0, -30.0, -5.0, 0.0, 5.0, 9.0, 30.0, 200.0):
        p = entry.mapping.probability(weight, 99.0)
        assert p < entry.threshold
        assert p == pytest.approx(min(HALT_CEILING, splink.probability(weight, 0.0)), abs=1e-9)
    assert not is_halt(EntityCalibration(threshold=0.99, margin=3.0))
    assert not is_halt(None)


def test_the_interval_of_a_rate():
    low, high = rate_interval(70, 100)
    assert low < 0.70 < high and high - low < 0.2
    assert rate_interval(0, 50)[0] == 0.0 and rate_interval(50, 50)[1] == 1.0
    assert rate_interval(0, 0) == (0.0, 1.0)
