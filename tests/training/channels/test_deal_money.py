"""Deal values in the channel review in the display currency: converted with the demo spec's
dated rates (features/specs/rates.yaml, 90 RUB per USD on 30 Nov 2026) and the rates' date
said, on the HTML page in both languages; without a display currency (or one the rates
cannot convert into) in the base currency, RUB."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.demo import generate_leads
from features.spec import load_spec
from training.channels.cells import cell_text
from training.channels.funnel import ALL_LEADS
from training.channels.leads import Period, leads_from_records
from training.channels.page import render_html
from training.channels.report import ChannelReport
from training.channels.review import ReviewOptions, StoreLeads, channel_review

USD_RATE = 90.0


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    leads, _truth = generate_leads(n=3_000, seed=5)
    return leads


def _review(frame: pd.DataFrame, currency: str | None, locale: str = "en") -> ChannelReport:
    options = ReviewOptions(Period("all"), locale=locale, currency=currency)
    return channel_review(StoreLeads(frame, load_spec("demo")), None, options)


def _all_leads_average(report: ChannelReport) -> float:
    funnel = report.funnel_channel
    return float(funnel.loc[funnel["channel"] == ALL_LEADS, "avg_deal_value"].iloc[0])


def test_a_review_in_usd_shows_dollars_and_the_rates_date(frame: pd.DataFrame) -> None:
    report = _review(frame, "USD")
    average_rub = _all_leads_average(report)
    assert average_rub > 10_000  # the table keeps the base currency (the CSV files too)
    dollars = f"≈ ${average_rub / USD_RATE:,.0f}"
    assert cell_text("avg_deal_value", average_rub, "en", report.money) == dollars
    assert "deal values in USD, converted from RUB at the rates of 30 Nov 2026" in report.notes
    page = render_html(report)
    assert f"<td class=''>{dollars}</td>" in page
    assert "at the rates of 30 Nov 2026" in page
    assert not re.search(r"<td class=''>[\d,]+ ?₽", page)


def test_the_russian_page_says_the_rates_date_in_russian(frame: pd.DataFrame) -> None:
    report = _review(frame, "USD", locale="ru")
    assert "суммы сделок в USD, пересчитаны из RUB по курсам на 30 ноября 2026" in " ".join(
        report.notes
    )
    page = render_html(report)
    assert re.search(r"<td class=''>≈ [\d,]+\sтыс\.\s\$</td>", page)  # "≈ 103,4 тыс. $"


@pytest.mark.parametrize("currency", [None, "RUB", "JPY"])
def test_without_a_convertible_display_currency_deals_stay_in_rubles(
    frame: pd.DataFrame, currency: str | None
) -> None:
    report = _review(frame, currency)
    assert not report.money.converted
    assert not any("converted from" in note for note in report.notes)
    text = cell_text("avg_deal_value", 250_000.0, "en", report.money)
    assert text == "RUB\u00a0250,000"
    assert cell_text("avg_deal_value", 250_000.0, "ru", report.money) == "250\u00a0тыс.\u00a0₽"


def test_a_spec_without_rates_keeps_the_amounts_as_they_are(frame: pd.DataFrame) -> None:
    report = channel_review(StoreLeads(frame), None, ReviewOptions(currency="USD"))
    assert report.money.currency == "RUB"
    leads = leads_from_records(frame)
    assert leads.deal_rates is None
    assert np.isfinite(_all_leads_average(report))
