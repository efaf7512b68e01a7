"""Per-horizon probabilities from hazards, and their calibration on censored data.

``P(event within h) = 1 - prod over the periods ending by h of (1 - hazard)``. Calibration is
fitted per horizon on leads that took no part in the fit, with censored leads handled by
inverse probability of censoring weights (IPCW): a lead whose status at ``h`` is known counts
``1 / G``, where ``G`` is the Kaplan-Meier chance of still being followed then, and a lead
censored before ``h`` counts 0. The calibrated curves are then made non-decreasing across
horizons (a 30-day chance is never below the 7-day one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression

from training.calibration import TIE_BREAK, isotonic_steps
from training.survival.expand import FollowUp, Periods


def p_within(hazards: np.ndarray, periods: Periods, horizon: int) -> np.ndarray:
    """P(event within ``horizon`` days) per lead from its (leads, periods) hazards."""
    k = periods.index_of(horizon)
    return 1.0 - np.prod(1.0 - hazards[:, :k], axis=1)


def censoring_survival(f: FollowUp, at: np.ndarray, *, before: bool = False) -> np.ndarray:
    """Kaplan-Meier G(t) = P(still followed after t) of the censoring times (events count as
    followed through their time: at a tie, the event comes first); ``before``: G(t-)."""
    times, inverse = np.unique(f.days, return_inverse=True)
    censored = np.bincount(inverse, weights=(~f.event).astype(float), minlength=len(times))
    at_risk = len(f.days) - np.concatenate([[0], np.cumsum(np.bincount(inverse))[:-1]])
    steps = np.cumprod(1.0 - censored / at_risk)
    position = np.searchsorted(times, at, side="left" if before else "right") - 1
    return np.where(position < 0, 1.0, steps[np.maximum(position, 0)])


@dataclass(frozen=True)
class HorizonLabels:
    """Per lead at one horizon: the event by then (0/1) and its IPCW weight (0: unknown)."""

    y: np.ndarray
    weight: np.ndarray


def horizon_labels(f: FollowUp, horizon: float) -> HorizonLabels:
    """Who converted within ``horizon`` days, weighted for censoring (module docstring)."""
    y = f.event & (f.days <= horizon)
    known = y | (f.days >= horizon)
    g = np.where(
        y,
        censoring_survival(f, f.days, before=True),
        censoring_survival(f, np.full(len(f.days), float(horizon))),
    )
    weight = np.where(known & (g > 0), 1.0 / np.where(g > 0, g, 1.0), 0.0)
    return HorizonLabels(y=y.astype(float), weight=weight)


@dataclass
class HorizonCalibrator:
    """One isotonic map per horizon, fitted with IPCW weights."""

    maps: dict[int, IsotonicRegression]

    def apply(self, raw: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Calibrated probabilities per horizon, non-decreasing from horizon to horizon."""
        out: dict[int, np.ndarray] = {}
        floor: np.ndarray | None = None
        for h in sorted(raw):
            p = isotonic_steps(self.maps[h], raw[h]) if h in self.maps else raw[h]
            # isotonic steps tie whole ranges: the raw order breaks the ties (calibration.py)
            p = np.clip(np.asarray(p, dtype=float) + TIE_BREAK * raw[h], 0.0, 1.0)
            floor = p if floor is None else np.maximum(floor, p)
            out[h] = floor
        return out


def fit_horizon_calibrator(
    raw: Mapping[int, np.ndarray], f: FollowUp, horizons: Sequence[int]
) -> HorizonCalibrator:
    """Isotonic maps from raw to IPCW-weighted observed rates, one per horizon with both
    outcomes among the known leads (else that horizon stays raw)."""
    maps: dict[int, IsotonicRegression] = {}
    for h in horizons:
        labels = horizon_labels(f, h)
        known = labels.weight > 0
        if 0 < labels.y[known].sum() < known.sum():
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(raw[h][known], labels.y[known], sample_weight=labels.weight[known])
            maps[h] = iso
    return HorizonCalibrator(maps=maps)
