"""The outlook's deals as the spec's deal section names them: the expected revenue over the
client's lifetime (LT) where the spec names a lifetime column, the Maven CRM export's
``close_value`` (USD) as the deal value, and its ``close_date`` as the time to won where the
export has no status history."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.dataset import LeadData, load_dataset, read_raw
from features.deal import DealSection
from features.funnel import Stage
from features.spec import load_spec
from training.outlook import (
    EXPECTED_VALUE_HORIZON,
    HISTORY_COLUMN,
    LeadOutlook,
    Outlook,
    OutlookOptions,
    OutlookUnavailableError,
    fit_outlook,
    horizon_key,
    outlook_data,
)
from training.outlook_check import check_outlook

SHARED_DATA = Path(__file__).parents[3] / "shared" / "data"
#: Billing periods every won client of the LT test stays.
LIFETIME = 12
WON_180 = horizon_key(Stage.WON, EXPECTED_VALUE_HORIZON)


def _with_lifetime(data: LeadData) -> LeadData:
    deal = DealSection(lifetime_column="months")
    return replace(data, spec=data.spec.model_copy(update={"deal": deal}))


@pytest.fixture(scope="module")
def lifetime_outlook(export: tuple[LeadData, pd.DataFrame]) -> Outlook:
    data, raw = export
    months = np.where(raw["deal_value"].notna(), LIFETIME, np.nan)
    opts = OutlookOptions(num_threads=1, max_leads=3_000)
    return fit_outlook(_with_lifetime(data), raw.assign(months=months), opts)


def test_the_expected_revenue_is_p_won_times_the_value_over_the_lifetime(
    lifetime_outlook: Outlook, export: tuple[LeadData, pd.DataFrame]
) -> None:
    data, _raw = export
    assert lifetime_outlook.revenue is not None
    got = lifetime_outlook.predict(data.frame.head(300))
    for one in got:
        assert one.value_if_won is not None
        assert one.revenue_if_won is not None
        # every client stays 12 periods: the log-scale model of value x LT is the value
        # model shifted by log 12, so its mean is 12 times the value's
        assert one.revenue_if_won == pytest.approx(LIFETIME * one.value_if_won, rel=1e-3)
        assert one.expected_revenue == pytest.approx(one.within[WON_180] * one.revenue_if_won)
    stored = LeadOutlook.from_dict(json.loads(json.dumps(got[0].as_dict())))
    assert stored == got[0]


def test_the_check_measures_the_revenue_model_as_the_value_model(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    months = np.where(raw["deal_value"].notna(), LIFETIME, np.nan)
    every = outlook_data(_with_lifetime(data), raw.assign(months=months))
    check = check_outlook(data.spec, every, OutlookOptions(num_threads=1, max_leads=3_000))
    assert check.value_mape is not None
    assert check.revenue_mape is not None
    # value x 12 has the value's relative errors, and the median baseline's
    assert check.revenue_mape == pytest.approx(check.value_mape, rel=1e-3)
    assert check.revenue_baseline_mape == pytest.approx(check.baseline_mape, rel=1e-6)
    assert "oot_revenue_mape" in check.metrics()
    assert any(line.startswith("  revenue over LT: MAPE") for line in check.lines())


def test_without_a_lifetime_column_there_is_no_expected_revenue(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    outlook = fit_outlook(data, raw, OutlookOptions(num_threads=1, max_leads=1_500))
    assert outlook.value is not None
    assert outlook.revenue is None
    one = outlook.predict(data.frame.head(5))[0]
    assert one.expected_value is not None
    assert one.revenue_if_won is None
    assert one.expected_revenue is None
    assert "revenue_if_won" in one.as_dict()  # said as null


def test_a_lifetime_column_missing_from_the_export_is_said(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    with pytest.raises(OutlookUnavailableError, match=r"'months' \(deal.lifetime_column\)"):
        fit_outlook(_with_lifetime(data), raw)


# ------------------------------------------------------------------ the Maven CRM export


@pytest.fixture(scope="module")
def crm_export() -> tuple[LeadData, pd.DataFrame]:
    """The Maven pipeline loaded through crm_sales.yaml, and its file with a status history
    made of what it records: engaged (new) on engage_date, won or lost on close_date."""
    spec = load_spec("crm_sales")
    path = spec.data_path()
    if path is None or not path.is_file() or not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present: {SHARED_DATA} (real-data tests need it)")
    raw = pd.read_csv(path)
    raw[HISTORY_COLUMN] = [
        json.dumps(_history(row.engage_date, row.close_date, row.deal_stage))
        for row in raw.itertuples()
    ]
    return load_dataset(spec, path), raw


def _history(engaged: object, closed: object, stage: object) -> list[dict[str, str]]:
    if not isinstance(engaged, str):
        return []
    changes = [{"status": "new", "at": f"{engaged}T09:00:00Z"}]
    if isinstance(closed, str) and stage in ("Won", "Lost"):
        changes.append({"status": str(stage).lower(), "at": f"{closed}T17:00:00Z"})
    return changes


def test_the_crm_outlook_prices_won_deals_from_close_value_in_usd(
    crm_export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = crm_export
    outlook = fit_outlook(data, raw, OutlookOptions(num_threads=1, max_leads=2_500))
    assert outlook.currency == "USD"
    assert outlook.value is not None  # fitted on close_value of the won deals
    won = raw[raw["deal_stage"] == "Won"]
    rows = data.frame.head(200)
    values = np.array([one.value_if_won for one in outlook.predict(rows)], dtype=float)
    assert (values >= won["close_value"].min() / 2).all()
    assert (values <= won["close_value"].max()).all()
    # the product sets the price: the value if won follows the product's median won deal (the
    # lost deals' close_value of 0 is no price, and the model never saw one)
    price = won.groupby("product")["close_value"].median()
    expected = rows["product"].map(price).to_numpy(dtype=float)
    assert pd.Series(values).corr(pd.Series(expected), method="spearman") > 0.9


def test_without_a_status_history_the_crm_outlook_takes_won_times_from_the_close_date(
    crm_export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = crm_export
    bare = raw.drop(columns=[HISTORY_COLUMN])  # the export as Maven delivers it
    closing = outlook_data(data, bare)
    history = outlook_data(data, raw)
    assert set(closing.follow) == {Stage.WON}  # nothing says when a deal became an SQL
    assert Stage.SQL in history.follow
    # the same deals are won, after the same days (the history's 09:00 and 17:00 aside)
    np.testing.assert_array_equal(closing.won, history.won)
    days = np.abs(closing.follow[Stage.WON].days - history.follow[Stage.WON].days)
    assert days.max() <= 1.0
    outlook = fit_outlook(data, bare, OutlookOptions(num_threads=1, max_leads=2_500))
    assert sorted(outlook.conversion) == ["won"]
    assert any("no times of sql" in note for note in outlook.notes)
    one = outlook.predict(data.frame.head(3))[0]
    assert set(one.within) == {horizon_key(Stage.WON, d) for d in (90, 180)}
    assert one.expected_value is not None


def test_an_export_without_a_history_or_a_close_time_says_both(
    crm_export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = crm_export
    spec = data.spec.model_copy(update={"deal": DealSection(value_column="close_value")})
    with pytest.raises(OutlookUnavailableError, match=r"status_history.*closed_at_column"):
        outlook_data(replace(data, spec=spec), raw.drop(columns=[HISTORY_COLUMN]))


def test_olist_s_closed_deals_file_gives_its_outlook_the_won_times() -> None:
    spec = load_spec("olist")
    path = spec.data_path()
    if path is None or not path.is_file():
        pytest.skip(f"../shared/data not present: {SHARED_DATA} (real-data tests need it)")
    data = load_dataset(spec, path)
    every = outlook_data(data, read_raw(path, spec))
    won = data.targets["won"].astype(bool)
    # the membership target and the deal section read the same file: the same won leads,
    # but for one deal its file says was won before the lead arrived (check-data warns)
    assert int(won.sum()) == 842
    assert int((every.won != won).sum()) == 1
    assert np.isnan(every.values).all()  # no value column: no deal values
    outlook = fit_outlook(data, read_raw(path, spec), OutlookOptions(num_threads=1))
    assert sorted(outlook.conversion) == ["won"]
    assert outlook.value is None
