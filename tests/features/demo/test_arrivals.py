"""Arrivals: the calendar's rhythm and source data that look like real requests."""

from __future__ import annotations

import pandas as pd

from tests.features.demo.conftest import END


def test_arrivals_cover_the_window_with_seasonality(frame: pd.DataFrame) -> None:
    arrived = frame["arrived_at"]
    assert arrived.min() >= pd.Timestamp("2025-03-01", tz="UTC")
    assert arrived.max() < END
    assert arrived.dt.strftime("%Y-%m").nunique() == 20
    assert (arrived.max() - arrived.min()).days >= 18 * 30
    local = arrived + pd.Timedelta(hours=3)
    weekend = local.dt.day_of_week >= 5
    assert weekend.mean() < 0.15  # 2/7 = 0.29 if there were no weekly pattern
    office = local.dt.hour.between(9, 18)
    assert office.mean() > 0.6
    monthly = arrived.dt.month.value_counts()
    assert monthly[10] > 1.3 * monthly[7]  # autumn peak vs summer lull


def test_arrival_fields_look_like_real_requests(frame: pd.DataFrame) -> None:
    domain = frame["email"].dropna().str.split("@").str[1]
    free = domain.isin(["gmail.com", "mail.ru", "yandex.ru", "bk.ru", "list.ru", "inbox.ru"])
    assert 0.2 < free.mean() < 0.8
    assert 0.05 < frame["email"].isna().mean() < 0.3
    assert 0.1 < frame["phone"].isna().mean() < 0.5
    assert 0.15 < frame["first_touch_at"].notna().mean() < 0.6
    touched = frame.dropna(subset=["first_touch_at"])
    assert (touched["first_touch_at"] <= touched["arrived_at"]).all()
    assert frame["landing_page"].nunique() >= 20
    message = frame["message"].dropna()
    cyrillic = message.str.contains("[а-яё]", regex=True)
    assert 0.7 < cyrillic.mean() < 0.99
    paid = frame[frame["channel"] == "paid_search"]
    assert paid["utm_campaign"].nunique() >= 6
    assert paid["utm_campaign"].dropna().str.startswith("ps_").all()
    assert frame.loc[frame["channel"] == "direct", "utm_source"].isna().all()
