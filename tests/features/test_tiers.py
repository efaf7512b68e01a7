"""Tier cut-offs: one lead and many leads get the same letter, boundaries included."""

from __future__ import annotations

import numpy as np

from features.tiers import Tiers


def test_one_and_many_agree_at_every_boundary() -> None:
    tiers = Tiers(0.5, 0.25, 0.1)
    probabilities = np.array([0.0, 0.0999, 0.1, 0.2499, 0.25, 0.4999, 0.5, 1.0])
    expected = ["D", "D", "C", "C", "B", "B", "A", "A"]
    assert [tiers.of(float(p)) for p in probabilities] == expected
    assert tiers.of_many(probabilities).tolist() == expected
