"""Lead x period expansion and censoring, at the period boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.survival.expand import FollowUp, Periods, expand, follow_up

PERIODS = Periods((0, 1, 3, 7, 30))  # periods (0,1], (1,3], (3,7], (7,30]


def rows_of(days: float, event: bool) -> list[tuple[int, int]]:
    pp = expand(FollowUp(days=np.array([days]), event=np.array([event])), PERIODS)
    assert (pp.lead == 0).all()
    return list(zip(pp.period.tolist(), pp.label.tolist(), strict=True))


@pytest.mark.parametrize(
    ("days", "event", "expected"),
    [
        (0.0, True, [(0, 1)]),  # converted at arrival: the first period
        (1.0, True, [(0, 1)]),  # on an edge: the period that ends there
        (1.0001, True, [(0, 0), (1, 1)]),
        (7.0, True, [(0, 0), (1, 0), (2, 1)]),
        (45.0, True, [(0, 0), (1, 0), (2, 0), (3, 0)]),  # after the grid: never in it
        (0.5, False, []),  # censored inside the first period: nothing known
        (1.0, False, [(0, 0)]),  # followed to the end of period 0
        (6.99, False, [(0, 0), (1, 0)]),  # the period it was still in is left out
        (7.0, False, [(0, 0), (1, 0), (2, 0)]),
        (400.0, False, [(0, 0), (1, 0), (2, 0), (3, 0)]),
    ],
)
def test_rows_at_the_boundaries(days: float, event: bool, expected: list[tuple[int, int]]) -> None:
    assert rows_of(days, event) == expected


def test_expansion_keeps_leads_apart_and_counts_events_once() -> None:
    f = FollowUp(days=np.array([2.0, 10.0, 0.2, 31.0]), event=np.array([True, False, False, True]))
    pp = expand(f, PERIODS)
    assert pp.lead.tolist() == [0, 0, 1, 1, 1, 3, 3, 3, 3]
    assert pp.period.tolist() == [0, 1, 0, 1, 2, 0, 1, 2, 3]
    assert pp.label.sum() == 1
    assert pp.label[1] == 1


def test_follow_up_censors_at_as_of() -> None:
    as_of = pd.Timestamp("2026-03-01", tz="UTC")
    arrived = pd.Series(pd.to_datetime(["2026-02-01", "2026-02-01", "2026-02-20"], utc=True))
    event_at = pd.Series(pd.to_datetime(["2026-02-08", "2026-03-05", None], utc=True))
    f = follow_up(arrived, event_at, as_of)
    assert f.event.tolist() == [True, False, False]  # the March 5th event is not known yet
    assert f.days.tolist() == pytest.approx([7.0, 28.0, 9.0])
    with pytest.raises(ValueError, match="arrived by as_of"):
        follow_up(arrived, event_at, pd.Timestamp("2026-02-10", tz="UTC"))


def test_period_grid_is_checked() -> None:
    with pytest.raises(ValueError, match="start at 0"):
        Periods((1, 7))
    with pytest.raises(ValueError, match="increase"):
        Periods((0, 7, 7))
    with pytest.raises(ValueError, match="not a period edge"):
        PERIODS.index_of(14)
    assert PERIODS.index_of(7) == 3
