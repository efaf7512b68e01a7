"""The channel review on demo data, against the generator's ground truth and direct counts.

The ground-truth test trains on 30,000 leads (small channels need that many for the model
to learn what is special about them) and runs alone, so pytest-xdist workers do not both
pay for it; every other test shares a small model on 6,000 leads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.funnel import Stage, Status
from features.spec import KnownAt, load_spec
from training.channels.analysis import (
    ALL_LEADS,
    NO_CAMPAIGN,
    TOO_FEW,
    ChannelReport,
    NoLeadsError,
    Period,
    ReportError,
    ReportLeads,
    Thresholds,
    build_channel_report,
    leads_from_data,
    leads_from_records,
)
from training.channels.page import HTML_NAME, log_report, write_report
from training.model import LeadModel
from training.settings import TrainingSettings
from training.trainer import TrainOptions, train_model

TRUTH_ROWS = 30_000
SMALL_ROWS = 6_000
RUB_RATES = {"RUB": 1.0, "USD": 90.0, "EUR": 98.0, "KZT": 0.19}
Demo = tuple[pd.DataFrame, dict[str, Any], LeadModel]


def _demo(rows: int, seed: int) -> Demo:
    """Generated leads, their ground truth, and a qualified-stage SQL model trained on them."""
    frame, truth = generate_leads(n=rows, seed=seed)
    data = prepare_frame(load_spec("demo"), frame, source=f"demo(n={rows}, seed={seed})")
    options = TrainOptions(
        known_at=KnownAt.QUALIFIED,
        target="sql",
        params={"learning_rate": 0.1},
        members=1,
        refit=False,
    )
    return frame, truth, train_model(data, options).model


@pytest.fixture(scope="module")
def demo() -> Demo:
    return _demo(SMALL_ROWS, seed=3)


@pytest.fixture(scope="module")
def report(demo: Demo) -> ChannelReport:
    frame, _truth, model = demo
    leads = leads_from_records(frame, spec=load_spec("demo"), source="demo")
    return build_channel_report(
        leads, model, model_name="demo-qualified-sql", model_version="1", explain_per_group=150
    )


def _top(report: ChannelReport, channel: str, k: int = 3) -> list[str]:
    mine = report.drivers[report.drivers["channel"] == channel]
    return list(mine.loc[mine["rank"] <= k, "field"])


# ----------------------------------------------------------------------------- ground truth


def test_the_report_ranks_each_channel_s_true_drivers_at_the_top() -> None:
    """The generator knows what drives each channel (mean |centred true contribution|: the
    SHAP of the true model, per channel). On 30,000 leads:

    * every channel's top 3 holds one of its two strongest true drivers, and the strongest
      itself in all channels but at most one (a driver the model can credit to a correlated
      field may slip: display leads without a phone are also the ones whose BANT answers
      go missing);
    * both true drivers are in the top 5 for all channels but at most two;
    * where the strongest true driver is ordered (more budget, a better fit ...), the
      report's direction agrees and its phrase says which values raise the chance;
    * the channels' top drivers differ from each other and from the global ranking.
    """
    frame, truth, model = _demo(TRUTH_ROWS, seed=11)
    leads = leads_from_records(frame, spec=load_spec("demo"))
    report = build_channel_report(leads, model, explain_per_group=250)
    missing_both, missing_strongest, missing_top5 = {}, {}, {}
    for channel, story in truth["channels"].items():
        strongest, second = (d["feature"] for d in story["drivers"][:2])
        top = _top(report, channel)
        if strongest not in top:
            missing_strongest[channel] = (strongest, top)
            if second not in top:
                missing_both[channel] = (strongest, second, top)
        if not {strongest, second} <= set(_top(report, channel, 5)):
            missing_top5[channel] = (strongest, second, _top(report, channel, 5))
    assert not missing_both, f"neither true driver in the report's top 3: {missing_both}"
    assert len(missing_strongest) <= 1, f"strongest true driver not in top 3: {missing_strongest}"
    assert len(missing_top5) <= 2, f"true drivers not in the top 5: {missing_top5}"

    ordered = {"budget_amount", "need_fit", "is_decision_maker", "timeframe", "phone"}
    checked = 0
    for channel, story in truth["channels"].items():
        true = story["drivers"][0]
        if true["feature"] not in ordered:
            continue
        mine = report.drivers[
            (report.drivers["channel"] == channel) & (report.drivers["field"] == true["feature"])
        ].iloc[0]
        assert mine["direction"] == true["direction"], (channel, mine["phrase"])
        assert "raises the chance of SQL" in mine["phrase"]
        checked += 1
    assert checked >= 3

    firsts = {channel: _top(report, channel, 1)[0] for channel in truth["channels"]}
    assert len(set(firsts.values())) >= 5, firsts
    assert (report.summary["specific_to_channel"].astype(str) != "").sum() >= 4


# ----------------------------------------------------------------------------- drivers


def test_importance_is_computed_on_each_channel_s_own_leads(report: ChannelReport) -> None:
    """Mean |SHAP| differs per channel (it is not the model-wide gain copied around), and
    the global ranking is over all leads."""
    pivot = report.drivers.pivot(index="field", columns="channel", values="mean_abs_shap")
    assert pivot.notna().all().all()
    assert (pivot.std(axis=1) > 0).sum() >= len(pivot) // 2
    assert report.global_drivers["rank"].tolist() == list(range(1, len(report.global_drivers) + 1))
    assert set(report.drivers["global_rank"]) <= set(report.global_drivers["rank"])


def test_a_field_with_one_value_in_the_group_ranks_last(report: ChannelReport) -> None:
    inside = report.drivers[report.drivers["field"] == "channel"]
    assert not inside["varies"].any()
    fields = report.drivers["field"].nunique()
    assert (inside["rank"] == fields).all()
    assert report.global_drivers.set_index("field").at["channel", "varies"]


def test_campaign_drivers_are_reported_where_campaigns_have_enough_leads(
    report: ChannelReport,
) -> None:
    funnel = report.funnel_campaign
    few = funnel[funnel["verdict"].str.startswith(TOO_FEW)]
    judged = funnel[funnel["verdict"] == "ok"]
    assert len(few) > 0
    assert len(judged) > 0
    shown = report.campaign_drivers[["channel", "campaign"]].drop_duplicates()
    assert few.merge(shown, on=["channel", "campaign"]).empty
    assert len(shown) == len(judged)
    inside = report.campaign_drivers[report.campaign_drivers["campaign"] != NO_CAMPAIGN]
    assert set(inside.loc[inside["field"] == "utm_campaign", "varies"]) == {False}


# ----------------------------------------------------------------------------- funnel


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


# ----------------------------------------------------------------------------- too few


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


def test_without_a_model_only_the_funnel_is_reported(
    demo: Demo,
) -> None:
    frame, _truth, _model = demo
    report = build_channel_report(leads_from_records(frame.head(2000)), None)
    assert report.target == "won"
    assert report.drivers.empty
    assert report.global_drivers.empty
    assert "mean_predicted" not in report.funnel_channel
    assert any("no model" in note for note in report.notes)


# ----------------------------------------------------------------------------- periods


def test_periods_select_whole_months_of_arrival(
    demo: Demo,
) -> None:
    frame, _truth, model = demo
    leads = leads_from_records(frame)
    october = Period.parse("2026-10")
    assert (october.start, october.end) == (
        pd.Timestamp("2026-10-01", tz="UTC"),
        pd.Timestamp("2026-11-01", tz="UTC"),
    )
    report = build_channel_report(leads, model, period=october, explain_per_group=50)
    in_october = (frame["arrived_at"] >= "2026-10-01") & (frame["arrived_at"] < "2026-11-01")
    assert report.funnel_channel.set_index("channel").at[ALL_LEADS, "leads"] == in_october.sum()
    quarter = Period.parse("2026-07..2026-09")
    assert quarter.end == pd.Timestamp("2026-10-01", tz="UTC")
    assert Period.parse(None).mask(leads.times) is None
    for bad in ("2026-13", "October", "2026-10..2026-01"):
        with pytest.raises(ReportError, match="period"):
            Period.parse(bad)
    with pytest.raises(NoLeadsError, match="no leads arrived in the period '2030-01'"):
        build_channel_report(leads, model, period=Period.parse("2030-01"))


def test_leads_from_a_loaded_data_set_use_its_targets_as_stages(
    demo: Demo,
) -> None:
    frame, _truth, _model = demo
    data = prepare_frame(load_spec("demo"), frame.head(1500))
    bare = leads_from_data(data)
    assert list(bare.stages) == ["sql", "won"]
    assert bare.closed is None
    assert bare.deal_value is None
    full = leads_from_data(data, frame.head(1500).sample(frac=1.0, random_state=0))
    assert list(full.stages) == ["mql", "sql", "sal", "won"]
    assert full.closed is not None
    assert full.deal_value is not None
    np.testing.assert_array_equal(full.stages["sql"], bare.stages["sql"].astype(bool))


def test_a_model_for_another_funnel_is_refused(
    demo: Demo,
) -> None:
    frame, _truth, model = demo
    leads = leads_from_records(frame.head(500))
    other = ReportLeads(
        frame=leads.frame,
        channels=leads.channels,
        campaigns=None,
        times=leads.times,
        stages={"converted": leads.stages["won"]},
    )
    with pytest.raises(ReportError, match="predicts 'sql', which is not a stage"):
        build_channel_report(other, model)


# ----------------------------------------------------------------------------- files


def test_report_files_are_self_contained_and_logged_to_mlflow(
    report: ChannelReport, tmp_path: Path
) -> None:
    files = write_report(report, tmp_path / "report")
    page = files.html.read_text(encoding="utf-8")
    assert files.html.name == HTML_NAME
    assert page.count("src='data:image/png;base64,") >= 5
    assert "http://" not in page
    assert "https://" not in page
    assert "paid_search" in page
    assert TOO_FEW in page
    for name, table in report.tables().items():
        read = pd.read_csv(files.csvs[name])
        assert len(read) == len(table), name
    assert json.loads(json.dumps(report.to_json()))["tables"]["summary"][0]["channel"] == ALL_LEADS

    settings = TrainingSettings(data_dir=tmp_path / "data")
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    settings.artifact_root.mkdir(parents=True)
    experiment = client.create_experiment("reports", settings.artifact_root.as_uri())
    run = client.create_run(experiment)
    uri = log_report(settings.tracking_uri, run.info.run_id, files.folder, "channel_report/all")
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "channel_report/all")}
    assert f"channel_report/all/{HTML_NAME}" in logged
    assert "channel_report/all/funnel_channel.csv" in logged
    assert uri.endswith("channel_report/all")
