"""The discrete-time hazard model: LightGBM on lead x period rows with the period a feature.

Each row asks "given the lead had not converted by the start of this period, does it convert
in it?". The fitted probability is the period's hazard; the chance of converting within a
horizon is one minus the product of the survivals of the periods before it
(``horizons.p_within``). Censored leads count for every period they were followed through,
so recent leads inform the early periods instead of being thrown away. Features come from
the one feature pipeline (``LeadFeaturizer``) for one ``known_at``; the lead's features are
repeated on each of its rows. Early stopping uses a slice of the training leads (all of a
lead's rows go to one side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.pipeline import LeadFeaturizer
from features.pipeline.columns import Inputs
from features.spec import DatasetSpec
from training.gbm import DEFAULT_PARAMS, fit_gbm
from training.survival.expand import FollowUp, Periods, PersonPeriods, expand

#: Rows per lead x period: at least this many per leaf (the rows are many and correlated).
MIN_ROWS_PER_LEAF = 200


@dataclass(frozen=True)
class HazardOptions:
    """What one hazard fit is asked to do."""

    known_at: str = "arrival"
    periods: Periods = field(default_factory=Periods)
    valid_share: float = 0.2  # training leads held out for early stopping and calibration
    seed: int = 0
    num_threads: int = 1  # sized on purpose: see training/threads.py for the CLI's choice


@dataclass
class HazardModel:
    """The featurizer, the booster and the period grid: hazards for raw lead rows."""

    featurizer: LeadFeaturizer
    booster: lgb.Booster
    periods: Periods

    def hazards(self, frame: Inputs) -> np.ndarray:
        """(leads, periods): each period's conversion probability given none before it."""
        x = self.featurizer.transform(frame)
        k = self.periods.count
        rows = np.repeat(x, k, axis=0)
        period = np.tile(np.arange(k, dtype=float), len(x))[:, None]
        raw = self.booster.predict(np.hstack([rows, period]))
        return np.asarray(raw, dtype=float).reshape(len(x), k)


def period_matrix(x: np.ndarray, rows: PersonPeriods) -> np.ndarray:
    """The lead features of each lead x period row, with the period index as the last column."""
    return np.hstack([x[rows.lead], rows.period[:, None].astype(float)])


def split_leads(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit and validation lead positions: a seeded random ``share`` held out. Random, not the
    latest leads: the latest are the most censored and say nothing about the late periods."""
    order = np.random.default_rng(seed).permutation(n)
    cut = round(n * (1 - share))
    return np.sort(order[:cut]), np.sort(order[cut:])


def _subset(f: FollowUp, rows: np.ndarray) -> FollowUp:
    return FollowUp(days=f.days[rows], event=f.event[rows])


def fit_hazard(
    spec: DatasetSpec, frame: pd.DataFrame, f: FollowUp, options: HazardOptions
) -> tuple[HazardModel, np.ndarray]:
    """Fit on the leads of ``frame`` followed as ``f``; the model and the validation leads'
    positions (for calibration: they took no part in the fit beyond early stopping)."""
    if not f.event.any():
        raise ValueError("no lead reached the event: nothing to learn a hazard from")
    featurizer = LeadFeaturizer(spec=spec, known_at=options.known_at)
    fit_rows, valid_rows = split_leads(len(frame), options.valid_share, options.seed)
    x_fit = featurizer.fit_transform(frame.iloc[fit_rows])
    x_valid = featurizer.transform(frame.iloc[valid_rows])
    pp_fit = expand(_subset(f, fit_rows), options.periods)
    pp_valid = expand(_subset(f, valid_rows), options.periods)
    params = {
        **DEFAULT_PARAMS,
        "min_data_in_leaf": MIN_ROWS_PER_LEAF,
        "num_threads": options.num_threads,
    }
    categorical = [int(i) for i in featurizer.categorical_indices_]
    fitted = fit_gbm(
        (period_matrix(x_fit, pp_fit), pp_fit.label),
        (period_matrix(x_valid, pp_valid), pp_valid.label),
        categorical,
        params,
        seed=options.seed,
    )
    model = HazardModel(featurizer=featurizer, booster=fitted.booster, periods=options.periods)
    return model, valid_rows
