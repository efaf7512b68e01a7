"""Conversion timing: when a converting lead reaches SQL and the deal, and the true chance of
doing so within each horizon.

Whether a lead ever reaches SQL or a deal is the truth's decision (``truth.py``, drawn in
``outcomes.py``); this module draws only *when*, from its own random stream, so adding it
changed no earlier column. Days to SQL are log-normal per channel; the sales cycle after SQL
is log-normal per company size (``data/timing.yaml``). Both depend on arrival fields only, so
``P(SQL within h) = P(SQL) x F_channel(h)`` holds exactly for the full-information truth and
for the arrival oracle alike. A lead whose conversion falls after the export's end shows as
open there (censored): ``training.survival.expand.follow_up`` cuts the latent times at a date.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from pydantic import Field
from scipy.special import ndtr

from features.demo.arrivals import Arrival
from features.demo.datafiles import Entry, Named, exactly, raise_problems, read_data
from features.demo.stories import SIZES, story

#: Horizons (days) of the true per-horizon probabilities the frame carries.
SQL_HORIZONS: tuple[int, ...] = (7, 30, 90)
WON_HORIZONS: tuple[int, ...] = (90, 180)
_GRID = np.linspace(-8.0, 8.0, 4_001)  # standard normal grid for the won-time convolution


class Delay(Entry):
    name: str
    median: float = Field(gt=0)  # days
    sigma: float = Field(gt=0)  # of the log


class TimingFile(Entry):
    sql_days: Named[Delay]
    sales_cycle_days: Named[Delay]


@cache
def timing_story() -> TimingFile:
    """``data/timing.yaml``, checked against the channels and company sizes."""
    loaded = read_data("timing.yaml", TimingFile)
    where = "features/demo/data/timing.yaml"
    raise_problems(
        exactly(f"{where}: sql_days", list(loaded.sql_days), story().channel_names)
        + exactly(f"{where}: sales_cycle_days", list(loaded.sales_cycle_days), ("missing", *SIZES))
    )
    return loaded


@dataclass(frozen=True)
class Timing:
    days_to_sql: np.ndarray  # latent days from arrival to SQL (nan: never reaches SQL)
    days_to_won: np.ndarray  # latent days from arrival to the deal (nan: never won)
    p_sql_within: dict[int, np.ndarray]  # horizon -> P(SQL within h | SQL), per lead
    p_won_within: dict[int, np.ndarray]  # horizon -> P(won within h | won), per lead


def _params(delays: dict[str, Delay]) -> tuple[np.ndarray, np.ndarray]:
    values = list(delays.values())
    return np.log([d.median for d in values]), np.array([d.sigma for d in values])


def _lognormal_cdf(days: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(days, 0.0)) - mu) / sigma
    return np.asarray(ndtr(z))


def sql_within(channel: np.ndarray, horizon: float) -> np.ndarray:
    """P(days to SQL <= horizon | the lead reaches SQL), per lead."""
    mu, sigma = _params(timing_story().sql_days)
    return _lognormal_cdf(np.full(len(channel), float(horizon)), mu[channel], sigma[channel])


def won_within(channel: np.ndarray, size: np.ndarray, horizon: float) -> np.ndarray:
    """P(days to SQL + sales cycle <= horizon | won), per lead: the convolution of the two
    log-normals on a fine normal grid, once per (channel, size)."""
    t = timing_story()
    mu_s, sigma_s = _params(t.sql_days)
    mu_c, sigma_c = _params(t.sales_cycle_days)
    density = np.exp(-0.5 * _GRID**2)
    density /= density.sum()
    table = np.empty((len(mu_s), len(mu_c)))
    for i in range(len(mu_s)):
        for j in range(len(mu_c)):
            cycle = np.exp(mu_c[j] + sigma_c[j] * _GRID)
            table[i, j] = float(density @ _lognormal_cdf(horizon - cycle, mu_s[i], sigma_s[i]))
    return table[channel, size]


def draw_timing(rng: np.random.Generator, a: Arrival, sql: np.ndarray, won: np.ndarray) -> Timing:
    """Latent conversion times of the leads that convert (``sql``, ``won``: they ever do)."""
    n = len(a.at)
    t = timing_story()
    mu_s, sigma_s = _params(t.sql_days)
    mu_c, sigma_c = _params(t.sales_cycle_days)
    size = a.size.astype(np.int64)
    to_sql = np.exp(mu_s[a.channel] + sigma_s[a.channel] * rng.normal(size=n))
    cycle = np.exp(mu_c[size] + sigma_c[size] * rng.normal(size=n))
    return Timing(
        days_to_sql=np.where(sql, to_sql, np.nan),
        days_to_won=np.where(won, to_sql + cycle, np.nan),
        p_sql_within={h: sql_within(a.channel, h) for h in SQL_HORIZONS},
        p_won_within={h: won_within(a.channel, size, h) for h in WON_HORIZONS},
    )
