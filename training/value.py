"""Expected value: what a won deal is worth, and what a lead is worth before it is won.

The deal-value model is LightGBM regression on the log of won deals' value in the spec's base
currency (read by ``features.deal.deal_values``, from the columns the spec's ``deal:``
section names; log scale: deal values span orders of magnitude and their errors are relative),
with two quantile models for a range (10% and 90% by default). ``E[value | won]`` is the
exponentiated log prediction times Duan's smearing factor (the mean of the exponentiated
validation residuals), which undoes the log's bias without assuming a distribution. A lead's
expected value is ``P(won) x E[value | won]``. The measures: MAPE on won deals, against the
median value per service, and the realised value captured in the top share of a queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.pipeline import LeadFeaturizer
from features.pipeline.columns import Inputs
from features.spec import DatasetSpec
from training.gbm import DEFAULT_PARAMS, EARLY_STOPPING_ROUNDS, MAX_ROUNDS

#: Quantiles of the deal value the model gives as its range.
DEFAULT_QUANTILES: tuple[float, float] = (0.1, 0.9)
_MISSING = "(missing)"


@dataclass(frozen=True)
class ValueOptions:
    known_at: str = "arrival"
    quantiles: tuple[float, float] = DEFAULT_QUANTILES
    valid_share: float = 0.2  # the latest won deals: early stopping and the smearing factor
    seed: int = 0
    num_threads: int = 1


@dataclass
class ValueModel:
    """The featurizer, the log-value booster, its smearing factor and the quantile boosters."""

    featurizer: LeadFeaturizer
    booster: lgb.Booster
    smearing: float
    quantile_boosters: dict[float, lgb.Booster] = field(default_factory=dict)

    def expected(self, frame: Inputs) -> np.ndarray:
        """E[deal value | won] per lead, in the base currency."""
        x = self.featurizer.transform(frame)
        return np.exp(np.asarray(self.booster.predict(x), dtype=float)) * self.smearing

    def median(self, frame: Inputs) -> np.ndarray:
        """The median deal value given won (the log prediction, exponentiated): the point
        forecast for a relative error such as MAPE, where the mean overshoots."""
        x = self.featurizer.transform(frame)
        return np.exp(np.asarray(self.booster.predict(x), dtype=float))

    def value_range(self, frame: Inputs) -> dict[float, np.ndarray]:
        """The deal value's quantiles per lead (quantile -> values)."""
        return self._quantiles(self.featurizer.transform(frame))

    def expected_and_range(self, frame: Inputs) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        """``expected`` and ``value_range`` from one pass of the featurizer."""
        x = self.featurizer.transform(frame)
        mean = np.exp(np.asarray(self.booster.predict(x), dtype=float)) * self.smearing
        return mean, self._quantiles(x)

    def _quantiles(self, x: np.ndarray) -> dict[float, np.ndarray]:
        return {
            q: np.exp(np.asarray(b.predict(x), dtype=float))
            for q, b in sorted(self.quantile_boosters.items())
        }


def fit_value_model(
    spec: DatasetSpec, won: pd.DataFrame, values: np.ndarray, options: ValueOptions | None = None
) -> ValueModel:
    """Fit on won deals (rows in time order: the latest ``valid_share`` validate)."""
    opts = options or ValueOptions()
    if len(won) != len(values) or len(won) < 20:
        raise ValueError(f"need at least 20 won deals with a value, got {len(values)}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("deal values must be positive numbers")
    y = np.log(values)
    cut = int(len(won) * (1 - opts.valid_share))
    featurizer = LeadFeaturizer(spec=spec, known_at=opts.known_at)
    x_fit = featurizer.fit_transform(won.iloc[:cut])
    x_valid = featurizer.transform(won.iloc[cut:])
    categorical = [int(i) for i in featurizer.categorical_indices_]
    base = {**DEFAULT_PARAMS, "num_threads": opts.num_threads, "min_data_in_leaf": 10}

    def fit(params: Mapping[str, object]) -> lgb.Booster:
        train_set = lgb.Dataset(x_fit, y[:cut], categorical_feature=categorical)
        valid_set = lgb.Dataset(x_valid, y[cut:], reference=train_set)
        return lgb.train(
            {**base, **params, "seed": opts.seed},
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )

    booster = fit({"objective": "regression", "metric": "l2"})
    residual = y[cut:] - np.asarray(booster.predict(x_valid), dtype=float)
    quantiles = {
        q: fit({"objective": "quantile", "alpha": q, "metric": "quantile"}) for q in opts.quantiles
    }
    return ValueModel(
        featurizer=featurizer,
        booster=booster,
        smearing=float(np.mean(np.exp(residual))),
        quantile_boosters=quantiles,
    )


def expected_value(p_won: np.ndarray, value_if_won: np.ndarray) -> np.ndarray:
    """``P(won) x E[value | won]``, per lead."""
    return np.asarray(p_won, dtype=float) * np.asarray(value_if_won, dtype=float)


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (a share: 0.25 is 25%) over positive ``actual``."""
    actual = np.asarray(actual, dtype=float)
    if len(actual) == 0 or np.any(actual <= 0):
        raise ValueError("MAPE needs positive actual values")
    return float(np.mean(np.abs(np.asarray(predicted, dtype=float) - actual) / actual))


@dataclass(frozen=True)
class ServiceMedians:
    """The baseline: the median won value per service (the overall median when unseen)."""

    medians: dict[str, float]
    overall: float

    def predict(self, services: Sequence[object]) -> np.ndarray:
        keys = [_service_key(s) for s in services]
        return np.array([self.medians.get(k, self.overall) for k in keys], dtype=float)


def _service_key(value: object) -> str:
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return _MISSING if missing else str(value)


def fit_service_medians(services: Sequence[object], values: np.ndarray) -> ServiceMedians:
    keys = pd.Series([_service_key(s) for s in services])
    medians = pd.Series(values).groupby(keys).median()
    return ServiceMedians(
        medians={str(k): float(v) for k, v in medians.items()}, overall=float(np.median(values))
    )


def captured_value(score: np.ndarray, realised: np.ndarray, share: float = 0.1) -> float:
    """The realised value (0 where none) of the top ``share`` of leads ordered by ``score``
    (ties broken by position, so the result does not depend on the sort's whims)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    n = len(score)
    top = np.lexsort((np.arange(n), -np.asarray(score, dtype=float)))[: max(1, round(n * share))]
    return float(np.nansum(np.asarray(realised, dtype=float)[top]))
