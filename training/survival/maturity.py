"""Today's rule, for comparison: a classifier on maturity-window labels.

The labels follow ``training/retraining/labels.py``: a lead counts as converted once it has
reached the target by ``as_of``; an open lead counts as not converted once it is older than
the maturity window (default 90 days); younger open leads are left out. (The demo's
conversion clock has no loss times, so the rule's "closed early" case does not arise.) The
model is the production recipe in small: LightGBM with early stopping on the latest 20% of
the settled leads, then ``training.calibration``'s calibrator on the same slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec
from training.calibration import Calibrator, fit_calibrator
from training.gbm import DEFAULT_PARAMS, fit_gbm
from training.retraining.config import DEFAULT_MATURITY_DAYS
from training.survival.expand import FollowUp


@dataclass(frozen=True)
class Settled:
    rows: np.ndarray  # positions of the leads that count
    y: np.ndarray  # 0/1


def maturity_labels(f: FollowUp, maturity_days: int = DEFAULT_MATURITY_DAYS) -> Settled:
    """The leads that count under the maturity rule, and their labels."""
    counts = f.event | (f.days >= maturity_days)
    rows = np.flatnonzero(counts)
    return Settled(rows=rows, y=f.event[rows].astype(int))


@dataclass
class MaturityModel:
    featurizer: LeadFeaturizer
    booster: lgb.Booster
    calibrator: Calibrator

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raw = np.asarray(self.booster.predict(self.featurizer.transform(frame)), dtype=float)
        return self.calibrator.predict(_logit(raw))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def fit_maturity_model(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    f: FollowUp,
    *,
    known_at: str = "arrival",
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    num_threads: int = 1,
    seed: int = 0,
) -> MaturityModel:
    """Fit on the settled leads of ``frame`` (rows in arrival order: the latest validate)."""
    settled = maturity_labels(f, maturity_days)
    if settled.y.sum() == 0:
        raise ValueError("no settled lead reached the target")
    rows = settled.rows
    cut = int(len(rows) * 0.8)
    featurizer = LeadFeaturizer(spec=spec, known_at=known_at)
    x_fit = featurizer.fit_transform(frame.iloc[rows[:cut]])
    x_valid = featurizer.transform(frame.iloc[rows[cut:]])
    params = {**DEFAULT_PARAMS, "num_threads": num_threads}
    fitted = fit_gbm(
        (x_fit, settled.y[:cut]),
        (x_valid, settled.y[cut:]),
        [int(i) for i in featurizer.categorical_indices_],
        params,
        seed=seed,
    )
    raw_valid = np.asarray(fitted.booster.predict(x_valid), dtype=float)
    calibrator = fit_calibrator(_logit(raw_valid), settled.y[cut:], seed=seed)
    return MaturityModel(featurizer=featurizer, booster=fitted.booster, calibrator=calibrator)
