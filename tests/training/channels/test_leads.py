"""The leads of a report: periods of whole months, and leads of a loaded data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import load_dataset, prepare_frame
from features.deal import DealSection
from features.spec import load_spec
from tests.training.channels.demo_model import Demo
from training.channels.funnel import ALL_LEADS
from training.channels.leads import (
    NoLeadsError,
    Period,
    ReportError,
    leads_from_data,
    leads_from_records,
)
from training.channels.report import build_channel_report


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


def test_deal_values_come_from_the_columns_the_spec_s_deal_section_names(
    demo: Demo,
) -> None:
    frame, _truth, _model = demo
    demo_spec = load_spec("demo")
    deal = DealSection(value_column="amount", currency_column="amount_currency")
    spec = demo_spec.model_copy(update={"deal": deal})
    renamed = frame.head(800).rename(
        columns={"deal_value": "amount", "deal_currency": "amount_currency"}
    )
    custom = leads_from_records(renamed, spec=spec)
    usual = leads_from_records(frame.head(800), spec=demo_spec)
    assert custom.deal_value is not None
    assert usual.deal_value is not None
    assert np.isfinite(custom.deal_value).sum() > 10
    np.testing.assert_array_equal(custom.deal_value, usual.deal_value)
    assert custom.deal_currency == "RUB"
    with pytest.raises(ReportError, match=r"'amount' \(deal.value_column\)"):
        leads_from_records(frame.head(800), spec=spec)


def test_the_crm_review_values_only_its_won_deals_in_usd() -> None:
    spec = load_spec("crm_sales")
    path = spec.data_path()
    if path is None or not path.is_file():
        pytest.skip(f"../shared/data not present: {path} (real-data tests need it)")
    data = load_dataset(spec, path)
    leads = leads_from_data(data, pd.read_csv(path))
    assert leads.deal_currency == "USD"
    assert leads.deal_value is not None
    valued = np.isfinite(leads.deal_value)
    np.testing.assert_array_equal(valued, data.targets["won"].astype(bool))  # lost: 0, no deal
