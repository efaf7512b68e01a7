"""Survival measures: time-dependent AUC and the integrated Brier score (scikit-survival's
``cumulative_dynamic_auc`` and ``integrated_brier_score``, both IPCW-corrected for censoring),
and the calibration error at one horizon, plain or IPCW-weighted.

scikit-survival is the optional ``survival`` extra: it is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.metrics import ECE_BINS
from training.survival.expand import FollowUp


def _structured(f: FollowUp) -> Any:
    from sksurv.util import Surv

    return Surv.from_arrays(event=f.event, time=f.days)


def time_dependent_auc(
    train: FollowUp, test: FollowUp, risk: np.ndarray, horizons: Sequence[float]
) -> dict[float, float]:
    """Cumulative/dynamic AUC at each horizon: leads converted by ``h`` against leads still
    unconverted after ``h``. ``risk``: (leads, horizons), e.g. P(within h); ``train`` gives
    the censoring distribution."""
    from sksurv.metrics import cumulative_dynamic_auc

    aucs, _mean = cumulative_dynamic_auc(
        _structured(train), _structured(test), risk, np.asarray(horizons, dtype=float)
    )
    return {h: float(a) for h, a in zip(horizons, aucs, strict=True)}


def integrated_brier(
    train: FollowUp, test: FollowUp, survival: np.ndarray, times: Sequence[float]
) -> float:
    """The Brier score of the survival curves ``survival`` (leads, times), integrated over
    ``times`` (each inside the test follow-up)."""
    from sksurv.metrics import integrated_brier_score

    return float(
        integrated_brier_score(
            _structured(train), _structured(test), survival, np.asarray(times, dtype=float)
        )
    )


def weighted_ece(
    y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None, bins: int = ECE_BINS
) -> float:
    """Expected calibration error over equal-width bins, each lead counted ``weight`` times
    (IPCW weights from ``horizons.horizon_labels``; none: plain ECE)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    if w.sum() <= 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    sum_w = np.bincount(index, weights=w, minlength=bins)
    sum_p = np.bincount(index, weights=w * p, minlength=bins)
    sum_y = np.bincount(index, weights=w * y, minlength=bins)
    return float(np.abs(sum_y - sum_p).sum() / sum_w.sum())
