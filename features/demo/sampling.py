"""Vectorised draws the generator is built from: weighted picks, ordinal and log-normal draws.

Each function consumes the random generator in a fixed order, so the same seed always gives
the same data set.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def pick(rng: np.random.Generator, weights: Any, size: int) -> np.ndarray:
    """``size`` draws of an index with probabilities proportional to ``weights``."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def pick_by_group(rng: np.random.Generator, groups: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row, an index drawn from ``table[group]`` (rows of weights), group by group."""
    out = np.zeros(len(groups), dtype=np.int64)
    if len(groups) == 0:
        return out
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    bounds = np.flatnonzero(np.diff(ordered)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(groups)], strict=True):
        out[order[lo:hi]] = pick(rng, table[ordered[lo]], int(hi - lo))
    return out


def weighted_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Per-row draw of a column index with probabilities proportional to the row's weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum(np.sum(u[:, None] >= cum, axis=1), weights.shape[1] - 1)


def ordered_logit(
    rng: np.random.Generator, shift: np.ndarray, cuts: tuple[float, ...]
) -> np.ndarray:
    """Ordinal draw: the number of cut points a logistic latent ``shift + noise`` exceeds."""
    latent = shift + rng.logistic(size=len(shift))
    return np.sum(latent[:, None] > np.asarray(cuts)[None, :], axis=1).astype(np.int8)


def lognormal_seconds(
    rng: np.random.Generator, median_hours: float, sigma: float, n: int
) -> np.ndarray:
    """Durations in seconds, log-normal around ``median_hours``."""
    return median_hours * 3_600.0 * np.exp(rng.normal(0.0, sigma, n))


def nice_round(values: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Rounded to ``step`` as people round money, and never below one step."""
    return np.maximum(np.round(values / step) * step, step)


def month_number(value: date | str) -> int:
    """Months since 1970-01 of a date or a ``YYYY-MM`` text."""
    return int(np.datetime64(value, "M").astype(np.int64))


def month_index(seconds: np.ndarray, start: date) -> np.ndarray:
    """Month of each time (seconds since the epoch), counted from ``start``'s month."""
    months = seconds.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return months - np.datetime64(start, "M").astype(np.int64)


def window(end: date, months: int) -> tuple[date, date]:
    """First and last day of ``months`` calendar months ending with ``end``'s month."""
    first = np.datetime64(end, "M") - (months - 1)
    return first.astype("datetime64[D]").astype(date), end
