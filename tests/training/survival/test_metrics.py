"""The survival measures' wrappers and the weighted calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from training.survival.expand import FollowUp
from training.survival.metrics import integrated_brier, time_dependent_auc, weighted_ece


def test_weighted_ece_by_hand() -> None:
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = np.array([0.1, 0.15, 0.8, 0.85])
    # 15 bins: 0.1 and 0.15 alone, 0.8 and 0.85 share [0.8, 0.867): |0 - 0.1| + |1 - 0.15|
    # + |(1 + 0) - (0.8 + 0.85)|, over 4 leads
    assert weighted_ece(y, p) == pytest.approx((0.1 + 0.85 + 0.65) / 4)
    w = np.array([1.0, 0.0, 3.0, 0.0])
    assert weighted_ece(y, p, w) == pytest.approx((0.1 + 3 * 0.2) / 4)


def test_time_dependent_auc_and_brier_on_a_perfect_ordering() -> None:
    rng = np.random.default_rng(0)
    days = rng.uniform(1.0, 100.0, 400)
    event = rng.random(400) < 0.7
    f = FollowUp(days=days, event=event)
    risk = -days  # the sooner, the riskier: a perfect ordering
    aucs = time_dependent_auc(f, f, np.column_stack([risk, risk]), [20.0, 60.0])
    assert aucs == {20.0: pytest.approx(1.0), 60.0: pytest.approx(1.0)}
    times = [10.0, 30.0, 60.0]
    perfect = np.column_stack([(days > t).astype(float) for t in times])
    flat = np.full((400, 3), 0.5)
    assert integrated_brier(f, f, perfect, times) < 0.02 < integrated_brier(f, f, flat, times)
