"""Per-horizon probabilities, censoring weights and the per-horizon calibration."""

from __future__ import annotations

import numpy as np
import pytest

from training.survival.expand import FollowUp, Periods
from training.survival.horizons import (
    censoring_survival,
    fit_horizon_calibrator,
    horizon_labels,
    p_within,
)
from training.survival.metrics import weighted_ece

# Five leads: events at 1, 2 and 4 days, censored at 2 and 3. Kaplan-Meier of the censoring
# (events first at a tie): at 2, 4 followed, 1 censored -> 3/4; at 3, 2 followed, 1 censored
# -> 3/4 x 1/2 = 3/8.
SMALL = FollowUp(
    days=np.array([1.0, 2.0, 2.0, 3.0, 4.0]), event=np.array([True, False, True, False, True])
)


def test_p_within_from_constant_hazards() -> None:
    periods = Periods((0, 1, 2, 5))
    hazards = np.full((2, 3), 0.1)
    assert p_within(hazards, periods, 2) == pytest.approx([0.19, 0.19])
    assert p_within(hazards, periods, 5) == pytest.approx([1 - 0.9**3] * 2)


def test_censoring_survival_by_hand() -> None:
    at = np.array([0.5, 2.0, 2.5, 3.0, 10.0])
    assert censoring_survival(SMALL, at) == pytest.approx([1.0, 0.75, 0.75, 0.375, 0.375])
    assert censoring_survival(SMALL, at, before=True) == pytest.approx(
        [1.0, 1.0, 0.75, 0.75, 0.375]
    )


def test_horizon_labels_by_hand() -> None:
    labels = horizon_labels(SMALL, 2.5)
    assert labels.y.tolist() == [1, 0, 1, 0, 0]
    # the lead censored at 2 is unknown at 2.5; events weigh 1/G(t-), the rest 1/G(2.5)
    assert labels.weight == pytest.approx([1.0, 0.0, 1.0, 4 / 3, 4 / 3])


def test_ipcw_recovers_the_rate_under_heavy_censoring() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    event_days = rng.exponential(40.0, n)
    censor_days = rng.uniform(0.0, 120.0, n)  # most leads are censored before 90 days
    f = FollowUp(days=np.minimum(event_days, censor_days), event=event_days <= censor_days)
    for h in (7, 30, 90):
        labels = horizon_labels(f, h)
        estimate = np.sum(labels.weight * labels.y) / np.sum(labels.weight)
        assert estimate == pytest.approx(1 - np.exp(-h / 40.0), abs=0.015)
        naive = f.event[f.days <= h].sum() / n  # censored leads as non-converters
        assert 1 - np.exp(-h / 40.0) - naive > 0.03 or h == 7


def test_calibration_per_horizon_fixes_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    risk = rng.uniform(0.2, 3.0, n)
    event_days = rng.exponential(60.0 / risk)
    censor_days = rng.uniform(0.0, 150.0, n)
    f = FollowUp(days=np.minimum(event_days, censor_days), event=event_days <= censor_days)
    horizons = (7, 30, 90)
    truth = {h: 1 - np.exp(-h * risk / 60.0) for h in horizons}
    raw = {h: truth[h] ** 2 for h in horizons}  # ranks right, probabilities too low
    half = np.arange(n) < n // 2
    fit_f = FollowUp(days=f.days[half], event=f.event[half])
    calibrator = fit_horizon_calibrator({h: raw[h][half] for h in horizons}, fit_f, horizons)
    calibrated = calibrator.apply({h: raw[h][~half] for h in horizons})
    for h in horizons:
        outcome = (event_days[~half] <= h).astype(float)  # the uncensored truth
        assert weighted_ece(outcome, raw[h][~half]) > 0.04
        assert weighted_ece(outcome, calibrated[h]) < 0.015
    assert (calibrated[30] >= calibrated[7]).all()
    assert (calibrated[90] >= calibrated[30]).all()
