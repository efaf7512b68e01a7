"""The funnel tables on demo data against counts computed directly, and the groups with
too few leads (or conversions) to judge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.funnel import Stage, Status
from features.spec import load_spec
from tests.training.channels.demo_model import Demo
from training.channels.funnel import ALL_LEADS, TOO_FEW, Thresholds
from training.channels.leads import (
    NO_CAMPAIGN,
    leads_from_records,
)
from training.channels.report import ChannelReport, build_channel_report

RUB_RATES = {"RUB": 1.0, "USD": 90.0, "EUR": 98.0, "KZT": 0.19}


def _direct_counts(frame: pd.DataFrame) -> pd.DataFrame:
    rank = frame["stage_reached"].map({s.value: s.rank for s in Stage})
    terminal = {s.value for s in Status if s.is_terminal}
    rub = frame["deal_value"] * frame["deal_currency"].map(RUB_RATES)
    return pd.DataFrame(
        {
            "channel": frame["channel"],
            "leads": 1,
            "mql": rank >= Stage.MQL.rank,
            "sql": rank >= Stage.SQL.rank,
            "won": rank >= Stage.WON.rank,
            "open": ~frame["status"].isin(terminal),
            "deal_rub": rub,
        }
    )


def test_funnel_counts_equal_counts_computed_directly(demo: Demo, report: ChannelReport) -> None:
    frame, _truth, _model = demo
    direct = _direct_counts(frame)
    expected = direct.groupby("channel").agg(
        leads=("leads", "sum"),
        mql=("mql", "sum"),
        sql=("sql", "sum"),
        won=("won", "sum"),
        open=("open", "sum"),
        avg_deal_value=("deal_rub", "mean"),
    )
    funnel = report.funnel_channel.set_index("channel")
    for column in ("leads", "mql", "sql", "won", "open"):
        assert funnel.loc[expected.index, column].tolist() == expected[column].tolist(), column
    assert np.allclose(funnel.loc[expected.index, "avg_deal_value"], expected["avg_deal_value"])
    total = funnel.loc[ALL_LEADS]
    assert total["leads"] == len(frame)
    assert total["sql"] == int(direct["sql"].sum())
    assert total["lead_to_mql"] == pytest.approx(direct["mql"].mean())
    assert total["mql_to_sql"] == pytest.approx(direct["sql"].sum() / direct["mql"].sum())


def test_campaign_and_month_funnels_add_up(demo: Demo, report: ChannelReport) -> None:
    frame, _truth, _model = demo
    by_campaign = report.funnel_campaign.groupby("channel")[["leads", "sql"]].sum()
    by_channel = report.funnel_channel.set_index("channel").drop(ALL_LEADS)[["leads", "sql"]]
    pd.testing.assert_frame_equal(by_campaign, by_channel.loc[by_campaign.index])
    none = report.funnel_campaign[report.funnel_campaign["campaign"] == NO_CAMPAIGN]
    assert none["leads"].sum() == int(frame["utm_campaign"].isna().sum())
    months = report.funnel_month
    totals = months[months["channel"] == ALL_LEADS].set_index("month")["leads"]
    direct = frame["arrived_at"].dt.strftime("%Y-%m").value_counts().sort_index()
    assert totals.to_dict() == direct.to_dict()


def test_predicted_conversion_matches_actual_per_channel(report: ChannelReport) -> None:
    """In-sample on the training period the calibrated model tracks each channel's rate."""
    judged = report.funnel_channel[report.funnel_channel["verdict"] == "ok"]
    gaps = (judged["mean_predicted"] - judged["actual_rate"]).abs()
    assert gaps.max() < 0.06, judged[["channel", "mean_predicted", "actual_rate"]]
    assert report.funnel_channel["actual_rate"].between(0, 1).all()


def test_small_channels_are_too_few_to_judge(
    demo: Demo,
) -> None:
    frame, _truth, model = demo
    events = frame[frame["channel"] == "events"].head(40)
    paid = frame[frame["channel"] == "paid_search"].head(600)
    leads = leads_from_records(pd.concat([paid, events]), spec=load_spec("demo"))
    report = build_channel_report(leads, model, thresholds=Thresholds(100, 10))
    funnel = report.funnel_channel.set_index("channel")
    assert funnel.at["events", "verdict"].startswith(TOO_FEW)
    assert "40 leads" in funnel.at["events", "verdict"]
    assert funnel.at["events", "leads"] == 40  # counts are facts: always shown
    for column in ("lead_to_mql", "actual_rate", "mean_predicted", "avg_deal_value"):
        assert np.isnan(funnel.at["events", column]), column
    assert funnel.at["paid_search", "verdict"] == "ok"
    assert not np.isnan(funnel.at["paid_search", "lead_to_mql"])
    assert set(report.drivers["channel"]) == {"paid_search"}
    summary = report.summary.set_index("channel")
    assert summary.at["events", "top_drivers"] == ""
    assert summary.at["paid_search", "top_drivers"] != ""


def test_enough_leads_but_too_few_conversions_is_too_few_to_judge(
    demo: Demo,
) -> None:
    frame, _truth, model = demo
    display = frame[frame["channel"] == "display"]
    leads = leads_from_records(display.head(300), spec=load_spec("demo"))
    conversions = int(leads.stages["sql"].sum())
    strict = build_channel_report(leads, model, thresholds=Thresholds(100, conversions + 1))
    assert strict.funnel_channel.set_index("channel").at["display", "verdict"].startswith(TOO_FEW)
    assert strict.drivers.empty
    lenient = build_channel_report(leads, model, thresholds=Thresholds(100, conversions))
    assert lenient.funnel_channel.set_index("channel").at["display", "verdict"] == "ok"
