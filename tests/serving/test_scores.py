"""A score's trend against the one before it."""

from __future__ import annotations

import pytest

from serving.scores import Trend, trend


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (0.30, 0.42, Trend("improving", 12.0, 0.30)),
        (0.42, 0.30, Trend("declining", -12.0, 0.42)),
        (0.300, 0.315, Trend("steady", 1.5, 0.300)),
        (0.300, 0.320, Trend("improving", 2.0, 0.300)),
        (0.50, 0.50, Trend("steady", 0.0, 0.50)),
    ],
)
def test_trend(previous: float, current: float, expected: Trend) -> None:
    assert trend(previous, current) == expected
