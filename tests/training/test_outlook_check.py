"""The outlook's out-of-time check: the data as it stood at the check's date, the window,
the censoring-weighted measures against a known case, and a real check on demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.dataset import LeadData
from training.outlook import OutlookOptions, OutlookUnavailableError, outlook_data, rows_of
from training.outlook_check import (
    CHECK_LAG_DAYS,
    CHECK_WINDOW_DAYS,
    chance_check,
    check_outlook,
    followed_to,
    window_rows,
)
from training.survival.expand import FollowUp

END = pd.Timestamp("2026-11-01", tz="UTC")


def test_the_follow_up_as_it_stood_keeps_events_up_to_the_limit_and_censors_later_ones() -> None:
    f = FollowUp(
        days=np.array([3.0, 10.0, 10.0, 40.0, 2.0]),
        event=np.array([True, True, False, True, False]),
    )
    cut = followed_to(f, np.array([3.0, 9.999, 20.0, 30.0, 50.0]))
    assert list(cut.event) == [True, False, False, False, False]  # an event at the limit is known
    assert list(cut.days) == [3.0, 9.999, 10.0, 30.0, 2.0]  # followed no longer than it was


def test_the_window_starts_at_the_check_date_and_lasts_its_days() -> None:
    days_before = np.array([300, CHECK_LAG_DAYS + 1, CHECK_LAG_DAYS, CHECK_LAG_DAYS - 59, 100, 1])
    arrived = pd.Series(END - pd.to_timedelta(days_before, unit="D"))
    fitted_to, before, window = window_rows(arrived, END)
    assert fitted_to == END - pd.Timedelta(days=CHECK_LAG_DAYS)
    assert list(before) == [0, 1]
    assert list(window) == [2, 3]  # from the check date, for CHECK_WINDOW_DAYS days
    assert CHECK_LAG_DAYS - CHECK_WINDOW_DAYS >= 150  # every window lead followed 150 days


def test_without_censoring_the_measures_are_the_plain_ones() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.6, 2_000)
    converts = rng.random(2_000) < p
    days = np.where(converts, rng.uniform(0, 30, 2_000), 200.0)  # everyone followed 200 days
    f = FollowUp(days=days, event=converts)
    check = chance_check("sql_30d", f, 30, p)
    assert check.leads == 2_000
    assert check.auc == pytest.approx(roc_auc_score(converts, p))
    assert check.rate == pytest.approx(converts.mean())
    assert check.mean_p == pytest.approx(p.mean())
    assert check.ece < 0.05  # p is the true chance


def test_a_lead_censored_before_the_horizon_counts_nothing() -> None:
    f = FollowUp(days=np.array([5.0, 100.0, 8.0]), event=np.array([True, False, False]))
    check = chance_check("sql_30d", f, 30, np.array([0.9, 0.1, 0.5]))
    assert check.leads == 2  # the third was followed 8 days only
    assert check.auc == 1.0


def test_a_real_check_measures_the_window_with_a_fit_that_never_saw_it(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    every = outlook_data(data, raw)
    check = check_outlook(data.spec, every, OutlookOptions(num_threads=1))
    _, before, window = window_rows(every.arrived, every.as_of)
    assert check.fit_leads == len(before)
    assert check.window_leads == len(window)
    assert check.fitted_to == every.as_of - pd.Timedelta(days=CHECK_LAG_DAYS)
    by_name = {c.name: c for c in check.chances}
    assert set(by_name) == {"sql_7d", "sql_30d", "sql_90d", "won_90d", "won_180d"}
    assert all(c.leads > 0 for c in check.chances)
    assert by_name["sql_30d"].auc is not None
    assert by_name["sql_30d"].auc > 0.6
    assert all(c.ece < 0.1 for c in check.chances)
    assert check.value_mape is not None
    assert check.baseline_mape is not None
    assert set(check.metrics()) >= {"oot_auc_sql_30d", "oot_ece_won_180d", "oot_value_mape"}
    assert check.lines()[0].startswith(f"out of time: fitted on the {len(before)} leads")


def test_too_short_a_history_gives_no_check(export: tuple[LeadData, pd.DataFrame]) -> None:
    data, raw = export
    every = outlook_data(data, raw)
    recent = np.flatnonzero(np.asarray(every.arrived >= every.as_of - pd.Timedelta(days=120)))
    with pytest.raises(OutlookUnavailableError, match="the check needs"):
        check_outlook(data.spec, rows_of(every, recent), OutlookOptions(num_threads=1))
