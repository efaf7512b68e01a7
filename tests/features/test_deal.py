"""The spec's deal section: defaults, custom names, the one reader in the base currency, a
named column missing from the data, and a deal column refused as a feature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from features.checks import unused_columns
from features.dataset import DatasetError, read_raw
from features.deal import DealColumnError, as_stored, deal_values, money_rates
from features.spec import DatasetSpec, SpecError, load_spec
from tests.features.tiny_spec import TINY_SPEC_HEAD


def _raw(deal: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        **TINY_SPEC_HEAD,
        "targets": {"won": {"kind": "binary", "column": "won"}},
        "features": [{"column": "channel", "type": "categorical"}],
        **extra,
    }
    if deal is not None:
        raw["deal"] = deal
    return raw


def _spec(tmp_path: Path, raw: dict[str, Any]) -> DatasetSpec:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def _refused(tmp_path: Path, raw: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, raw)
    return str(caught.value)


def test_without_a_deal_section_a_spec_reads_deal_value_in_deal_currency(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _raw())
    assert spec.deal.columns == ["deal_value", "deal_currency"]
    assert spec.deal.named() == {}
    assert load_spec("demo").deal == spec.deal  # the demo spec needs no section
    frame = pd.DataFrame({"deal_value": [100.0, None], "deal_currency": ["rub", None]})
    deals = deal_values(frame, spec)
    assert deals.found
    assert deals.currency == "RUB"
    assert deals.lifetime is None
    assert deals.values[0] == 100.0
    assert np.isnan(deals.values[1])
    # a frame without them (an export of leads only) has no deal values, and that is no error
    bare = deal_values(pd.DataFrame({"channel": ["seo"]}), spec)
    assert not bare.found
    assert np.isnan(bare.values).all()


def test_custom_columns_are_read_and_converted_with_the_spec_s_rates(tmp_path: Path) -> None:
    budget = {
        "column": "budget",
        "type": "money",
        "known_at": "qualified",
        "currency_column": "budget_currency",
        "rates": {"RUB": 1.0, "USD": 90.0},
    }
    deal = {"value_column": "amount", "currency_column": "cur", "lifetime_column": "months"}
    raw = _raw(deal)
    raw["features"].append(budget)
    spec = _spec(tmp_path, raw)
    assert spec.deal.columns == ["amount", "cur", "months"]
    frame = pd.DataFrame(
        {
            "amount": [10.0, "2000", None, 5.0],
            "cur": ["usd", None, "RUB", "EUR"],
            "months": [12, 3, None, 2],
        }
    )
    deals = deal_values(frame, spec)
    assert deals.currency == "RUB"
    assert deals.values[:2].tolist() == [900.0, 2000.0]  # no currency: the base
    assert np.isnan(deals.values[2:]).all()
    assert deals.dropped == 1
    assert deals.lifetime is not None
    assert deals.lifetime[:2].tolist() == [12.0, 3.0]
    assert deals.revenue is not None
    assert deals.revenue[:2].tolist() == [10_800.0, 6000.0]


def test_one_currency_for_every_deal_is_the_base_without_money_rates(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _raw({"value_column": "close_value", "currency": "usd"}))
    assert spec.deal.currency == "USD"
    assert spec.deal.columns == ["close_value", "deal_currency"]
    assert money_rates(spec) == ("USD", {"USD": 1.0})
    deals = deal_values(pd.DataFrame({"close_value": [1054, 0, -5]}), spec)
    assert deals.currency == "USD"
    assert deals.values[0] == 1054.0
    assert np.isnan(deals.values[1:]).all()  # a lost deal's 0 is no deal


def test_a_blank_or_absent_currency_is_the_section_s_currency(tmp_path: Path) -> None:
    raw = _raw({"value_column": "v", "currency_column": "c", "currency": "USD"})
    spec = _spec(tmp_path, raw)
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0], "c": ["USD", None, " "]})
    assert deal_values(frame, spec).values.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(DealColumnError, match=r"deal\.currency_column"):
        deal_values(frame.drop(columns=["c"]), spec)  # named, so it must be there
    eur = deal_values(pd.DataFrame({"v": [1.0], "c": ["EUR"]}), spec)
    assert eur.dropped == 1  # no rate from EUR to the base, USD


def test_the_lead_store_s_deals_are_read_with_the_default_names(tmp_path: Path) -> None:
    deal = {"value_column": "close_value", "currency": "USD", "lifetime_column": "months"}
    stored = as_stored(_spec(tmp_path, _raw(deal)))
    assert stored.deal.columns == ["deal_value", "deal_currency"]
    assert stored.deal.currency == "USD"
    frame = pd.DataFrame({"deal_value": [5.0], "deal_currency": ["USD"]})
    deals = deal_values(frame, stored)
    assert deals.currency == "USD"
    assert deals.values.tolist() == [5.0]
    assert deals.lifetime is None


def test_the_shipped_crm_spec_reads_close_value_in_usd_and_never_as_a_feature() -> None:
    spec = load_spec("crm_sales")
    assert spec.deal.value_column == "close_value"
    assert spec.deal.currency == "USD"
    assert spec.deal.closed_at_column == "close_date"
    inputs = {c for f in spec.features for c in f.input_columns}
    assert "close_value" not in inputs
    assert not any(d.matches("close_value") for d in spec.drop)
    assert "close_value" not in unused_columns(["close_value", "stray"], spec)


def test_a_deal_s_close_time_is_when_it_was_won_and_a_row_without_a_deal_has_none(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, _raw({"value_column": "close_value", "closed_at_column": "closed"}))
    assert spec.deal.named()["closed_at_column"] == "closed"
    frame = pd.DataFrame(
        {
            "close_value": [500.0, 0.0, 300.0, None],  # Maven: a lost deal's value is 0
            "closed": ["2017-03-01", "2017-03-02", None, "2017-03-04"],
        }
    )
    won_at = deal_values(frame, spec).won_at
    assert won_at is not None
    assert won_at[0] == pd.Timestamp("2017-03-01", tz="UTC")
    assert won_at[1:].isna().all()  # lost (0), no close time, no deal
    assert deal_values(frame, _spec(tmp_path, _raw({"value_column": "close_value"}))).won_at is None
    # named, it must be in the data
    with pytest.raises(DealColumnError, match=r"'closed' \(deal.closed_at_column\)"):
        deal_values(frame.drop(columns=["closed"]), spec)


def test_a_named_column_missing_from_the_data_is_said_with_the_spec(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _raw({"value_column": "close_value", "lifetime_column": "months"}))
    with pytest.raises(DealColumnError) as caught:
        deal_values(pd.DataFrame({"close_value": [1.0]}), spec)
    message = str(caught.value)
    assert str(tmp_path / "spec.yaml") in message
    assert "'months' (deal.lifetime_column)" in message
    assert "close_value" not in message


def test_a_deal_column_is_refused_as_a_feature(tmp_path: Path) -> None:
    raw = _raw({"value_column": "close_value"})
    raw["features"].append({"column": "close_value", "type": "numeric"})
    message = _refused(tmp_path, raw)
    assert "deal column 'close_value' cannot also be a feature (leakage)" in message
    # the default columns too: deal_value is an outcome wherever it is
    default = _raw()
    default["features"].append({"column": "deal_value", "type": "numeric"})
    assert "deal column 'deal_value'" in _refused(tmp_path, default)


@pytest.mark.parametrize(
    ("deal", "said"),
    [
        ({"value_column": "v", "currency": "DOLLAR"}, "ISO 4217"),
        ({"value_column": "v", "lifetime": "months"}, "deal.lifetime"),
        ({"value_column": ""}, "deal.value_column"),
    ],
)
def test_a_bad_deal_section_is_refused_with_its_key(
    tmp_path: Path, deal: dict[str, Any], said: str
) -> None:
    message = _refused(tmp_path, _raw(deal))
    assert message.startswith(str(tmp_path / "spec.yaml"))
    assert said in message


def _deal_file(tmp_path: Path, deals: str, **section: Any) -> tuple[DatasetSpec, Path]:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,arrived,channel\na,2024-01-01,seo\nb,2024-01-02,ads\nc,2024-01-03,seo\n")
    (tmp_path / "won.csv").write_text(deals, encoding="utf-8")
    deal = {"path": "won.csv", "key": "lead", "closed_at_column": "won_at", **section}
    return _spec(tmp_path, _raw(deal)), leads


def test_a_file_of_deals_is_matched_to_the_leads_by_its_key(tmp_path: Path) -> None:
    deals = "lead,won_at,deal_value\nc,2024-02-10,700\na,2024-01-20,\nz,2024-03-01,5\n"
    spec, leads = _deal_file(tmp_path, deals)
    raw = read_raw(leads, spec)
    assert list(raw["id"]) == ["a", "b", "c"]  # the leads' rows, in their order
    assert "lead" not in raw.columns  # the key matched, not copied
    got = deal_values(raw, spec)
    assert got.won_at is not None
    assert np.isnan(got.values[[0, 1]]).all()
    assert got.values[2] == 700.0
    # with a value column, a deal without a value is no win ('a'); 'b' has no deal at all
    assert list(got.won_at.isna()) == [True, True, False]
    # a file of won deals without values: every lead in it was won when it closed
    spec, leads = _deal_file(tmp_path, "lead,won_at\nc,2024-02-10\na,2024-01-20\n")
    won_at = deal_values(read_raw(leads, spec), spec).won_at
    assert won_at is not None
    assert list(won_at.isna()) == [False, True, False]
    assert won_at[0] == pd.Timestamp("2024-01-20", tz="UTC")


@pytest.mark.parametrize(
    ("deals", "expected"),
    [
        ("opp,won_at\na,2024-02-01\n", "has no column 'lead' (deal.key)"),
        ("lead,closed\na,2024-02-01\n", "'won_at' (deal.closed_at_column), not in the data"),
        ("lead,won_at\na,2024-02-01\na,2024-02-02\n", "1 lead id(s) have more than one deal"),
        ("lead,won_at,arrived\na,2024-02-01,x\n", "both have arrived"),
    ],
)
def test_a_file_of_deals_that_does_not_fit_is_said_with_its_name(
    tmp_path: Path, deals: str, expected: str
) -> None:
    section = {"value_column": "arrived"} if "arrived" in deals else {}
    spec, leads = _deal_file(tmp_path, deals, **section)
    with pytest.raises(DatasetError) as caught:
        read_raw(leads, spec)
    message = str(caught.value.problems[0])
    assert str(tmp_path / "won.csv") in message
    assert expected in message


def test_a_file_of_deals_needs_its_key(tmp_path: Path) -> None:
    message = _refused(tmp_path, _raw({"path": "won.csv"}))
    assert "path and key go together" in message
