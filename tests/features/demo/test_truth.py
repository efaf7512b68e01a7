"""The truth: outcomes drawn from it, realistic oracle quality, the designed effects."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from features.demo.stories import CHANNEL_NAMES
from features.funnel import Stage
from tests.features.demo.conftest import END, roc_auc, stage_ranks


def test_overall_rates_and_channel_quality(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    rank = stage_ranks(frame)
    assert 0.15 <= (rank >= Stage.SQL.rank).mean() <= 0.25
    assert 0.03 <= (rank >= Stage.WON.rank).mean() <= 0.08
    sql_rate = pd.Series(rank >= Stage.SQL.rank).groupby(frame["channel"].to_numpy()).mean()
    assert set(sql_rate.index) == set(CHANNEL_NAMES)
    assert sql_rate.max() - sql_rate.min() > 0.2
    assert sql_rate["referral"] > 2 * sql_rate["paid_search"] > 2 * sql_rate["display"]
    for name, channel in truth["channels"].items():
        assert channel["base_sql_rate"] == pytest.approx(sql_rate[name], abs=0.05), name


def test_outcomes_are_draws_from_the_truth(frame: pd.DataFrame) -> None:
    """On settled leads, the realised SQL rate matches true_p_sql in every quintile."""
    settled = frame[frame["arrived_at"] < END - pd.Timedelta(days=120)]
    sql = stage_ranks(settled) >= Stage.SQL.rank
    quintile = pd.qcut(settled["true_p_sql"], 5, labels=False).to_numpy()
    for q in range(5):
        rows = quintile == q
        expected = settled["true_p_sql"].to_numpy()[rows].mean()
        assert sql[rows].mean() == pytest.approx(expected, abs=0.03), q


def test_oracle_auc_is_realistic(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    sql = stage_ranks(frame) >= Stage.SQL.rank
    qualified = roc_auc(sql, frame["true_p_sql"].to_numpy())
    arrival = roc_auc(sql, frame["true_p_sql_arrival"].to_numpy())
    assert 0.75 <= qualified <= 0.9
    assert 0.65 <= arrival <= qualified - 0.04
    assert truth["oracle_auc"]["sql_qualified"] == pytest.approx(qualified, abs=1e-9)
    assert truth["oracle_auc"]["sql_arrival"] == pytest.approx(arrival, abs=1e-9)


def test_job_keywords_kill_conversion_in_social(frame: pd.DataFrame) -> None:
    social = frame[frame["channel"] == "social"]
    job = social["message"].fillna("").str.contains("вакансия|резюме|job|vacancy|internship")
    sql = stage_ranks(social) >= Stage.SQL.rank
    assert job.mean() > 0.05
    assert sql[job.to_numpy()].mean() < 0.25 * sql[~job.to_numpy()].mean()
    routed = social.loc[job, "status"].value_counts(normalize=True)
    assert routed.get("other_department", 0) > 0.5  # job seekers go to HR


def test_dominant_drivers_show_in_the_realised_outcomes(frame: pd.DataFrame) -> None:
    sql = pd.Series(stage_ranks(frame) >= Stage.SQL.rank, index=frame.index)
    for channel in ("events", "partner"):
        rows = frame["channel"] == channel
        by_dm = sql[rows].groupby(frame.loc[rows, "is_decision_maker"].astype(object)).mean()
        assert by_dm[True] > 2 * by_dm[False], channel
