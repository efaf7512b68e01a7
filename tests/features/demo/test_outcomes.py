"""Status histories: the funnel's transitions, deals, settling and the SDR's reaction."""

from __future__ import annotations

import itertools

import pandas as pd

from features.funnel import Stage, Status, can_transition, highest_stage
from tests.features.demo.conftest import END, TERMINAL, histories, stage_ranks


def test_histories_obey_the_funnel(frame: pd.DataFrame) -> None:
    for row, history in zip(frame.itertuples(), histories(frame), strict=True):
        statuses = [Status(change["status"]) for change in history]
        times = [pd.Timestamp(change["at"]) for change in history]
        assert statuses[0] is Status.NEW
        assert times[0] == row.arrived_at
        assert all(can_transition(a, b) for a, b in itertools.pairwise(statuses))
        assert all(a < b for a, b in itertools.pairwise(times))
        assert times[-1] < END
        assert row.status == statuses[-1].value
        assert row.stage_reached == highest_stage(statuses).value
        if Status.DISCUSSING in statuses:  # SQL implies MQL
            assert Status.AWAITING_MANAGER in statuses
        if statuses[-1].is_terminal:
            assert row.closed_at == times[-1]
        else:
            assert pd.isna(row.closed_at)


def test_won_leads_have_a_deal_and_every_outcome_occurs(frame: pd.DataFrame) -> None:
    won = (frame["status"] == "won").to_numpy()
    assert (won == (stage_ranks(frame) == Stage.WON.rank)).all()
    assert (frame["deal_value"].notna().to_numpy() == won).all()
    assert (frame["deal_value"].dropna() > 0).all()
    assert set(frame.loc[won, "deal_currency"]) <= {"RUB", "USD", "EUR", "KZT"}
    assert frame.loc[~won, "deal_currency"].isna().all()
    statuses = frame["status"].value_counts(normalize=True)
    for outcome in ("partner", "other_department", "disqualified", "lost", "won"):
        assert statuses[outcome] > 0.01, outcome
    lost_at = frame.loc[frame["status"] == "lost", "stage_reached"]
    assert {"lead", "mql", "sql", "sal"} <= set(lost_at)


def test_old_leads_are_settled_and_new_ones_may_be_open(frame: pd.DataFrame) -> None:
    age = END - frame["arrived_at"]
    terminal = frame["status"].isin(TERMINAL)
    assert terminal[age > pd.Timedelta(days=90)].mean() > 0.95
    assert terminal[age < pd.Timedelta(days=14)].mean() < 0.8


def test_the_sdr_reacts_within_minutes_in_business_hours(frame: pd.DataFrame) -> None:
    touched = [
        (row.arrived_at, pd.Timestamp(history[1]["at"]))
        for row, history in zip(frame.itertuples(), histories(frame), strict=True)
        if len(history) > 1 and history[1]["status"] == "sdr_qualifying"
    ]
    arrived = pd.Series([a for a, _ in touched])
    delay = pd.Series([b - a for a, b in touched])
    assert (delay > pd.Timedelta(0)).all()
    local = arrived + pd.Timedelta(hours=3)
    office = (local.dt.day_of_week < 5) & local.dt.hour.between(9, 17)
    assert delay[office].median() < pd.Timedelta(minutes=60)
    assert delay[~office].median() > pd.Timedelta(hours=4)  # night and weekend requests wait
