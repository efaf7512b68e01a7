"""The drivers per channel and campaign on demo data, against the generator's ground truth.

The ground-truth test trains on 30,000 leads (small channels need that many for the model
to learn what is special about them) and runs alone, so pytest-xdist workers do not both
pay for it; every other test shares a small model on 6,000 leads (the package's conftest).
"""

from __future__ import annotations

from features.spec import load_spec
from tests.training.channels.demo_model import make_demo
from training.channels.funnel import TOO_FEW
from training.channels.leads import (
    NO_CAMPAIGN,
    leads_from_records,
)
from training.channels.report import ChannelReport, build_channel_report

TRUTH_ROWS = 30_000


def _top(report: ChannelReport, channel: str, k: int = 3) -> list[str]:
    mine = report.drivers[report.drivers["channel"] == channel]
    return list(mine.loc[mine["rank"] <= k, "field"])


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
    frame, truth, model = make_demo(TRUTH_ROWS, seed=11)
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
