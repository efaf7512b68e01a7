"""Lead x period rows: each lead's follow-up cut into periods, censored leads included.

A lead is followed from arrival until its event (reaching the target stage) or until the
moment the data was read (``as_of``), whichever comes first. Period ``k`` covers the days
``(edges[k], edges[k + 1]]`` (the first one includes day 0). A lead with its event in period
``k`` gives one row for each period ``0..k``, labelled 1 in ``k`` and 0 before; a censored
lead gives a 0 row for every period it was followed to the end of, and nothing for the
period it was still inside when the data was read (its outcome there is unknown). Follow-up
past the last edge adds nothing. Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

#: Period edges in days since arrival: short periods first, where most conversions happen.
DEFAULT_EDGES: tuple[int, ...] = (0, 1, 2, 4, 7, 10, 14, 21, 30, 45, 60, 75, 90, 120, 150, 180)
_DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Periods:
    """The period grid: ``edges[0] = 0`` and strictly increasing days."""

    edges: tuple[int, ...] = DEFAULT_EDGES

    def __post_init__(self) -> None:
        e = self.edges
        if len(e) < 2 or e[0] != 0 or any(b <= a for a, b in pairwise(e)):
            raise ValueError(f"period edges must start at 0 and increase, got {e}")

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def index_of(self, horizon: int) -> int:
        """How many periods end at or before ``horizon`` (which must be an edge)."""
        if horizon not in self.edges[1:]:
            raise ValueError(f"horizon {horizon} days is not a period edge: {self.edges[1:]}")
        return self.edges.index(horizon)


@dataclass(frozen=True)
class FollowUp:
    """Per lead: days followed (to the event, else to ``as_of``) and whether the event came."""

    days: np.ndarray  # float, >= 0
    event: np.ndarray  # bool


@dataclass(frozen=True)
class PersonPeriods:
    """The expanded rows: the lead (row position) and period of each, and its 0/1 label."""

    lead: np.ndarray  # int64
    period: np.ndarray  # int64
    label: np.ndarray  # int8


def event_times(arrived: pd.Series, days: pd.Series) -> pd.Series:
    """When each event happened, from days since arrival (missing: no event)."""
    return arrived + pd.to_timedelta(days, unit="D")


def follow_up(arrived: pd.Series, event_at: pd.Series, as_of: pd.Timestamp) -> FollowUp:
    """Days followed and the event flag as the data stood at ``as_of``: an event after
    ``as_of`` is not known yet, so that lead is censored at ``as_of``."""
    start = pd.DatetimeIndex(arrived)
    at = pd.DatetimeIndex(event_at)
    if (start > as_of).any():
        raise ValueError("every lead must have arrived by as_of")
    seen = np.asarray(at.notna() & (at <= as_of))
    end = at.where(seen, as_of)
    days = np.asarray((end - start).total_seconds(), dtype=float) / _DAY_SECONDS
    if (days < 0).any():
        raise ValueError("an event before its lead's arrival")
    return FollowUp(days=days.astype(float), event=seen)


def event_period(days: np.ndarray, periods: Periods) -> np.ndarray:
    """The period holding each time: ``k`` with ``edges[k] < days <= edges[k + 1]`` (day 0
    in period 0); ``count`` past the last edge."""
    edges = np.asarray(periods.edges[1:], dtype=float)
    return np.searchsorted(edges, days, side="left").astype(np.int64)


def complete_periods(days: np.ndarray, periods: Periods) -> np.ndarray:
    """How many periods a censored lead was followed to the end of."""
    edges = np.asarray(periods.edges[1:], dtype=float)
    return np.searchsorted(edges, days, side="right").astype(np.int64)


def expand(f: FollowUp, periods: Periods) -> PersonPeriods:
    """The lead x period rows of ``f`` (see the module docstring)."""
    k_event = event_period(f.days, periods)
    has_event = f.event & (k_event < periods.count)
    followed = np.minimum(complete_periods(f.days, periods), periods.count)
    rows = np.where(has_event, k_event + 1, np.where(f.event, periods.count, followed))
    lead = np.repeat(np.arange(len(f.days), dtype=np.int64), rows)
    starts = np.cumsum(rows) - rows
    period = np.arange(int(rows.sum()), dtype=np.int64) - np.repeat(starts, rows)
    label = (has_event[lead] & (period == k_event[lead])).astype(np.int8)
    return PersonPeriods(lead=lead, period=period, label=label)
