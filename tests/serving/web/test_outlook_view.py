"""What the lead page makes of an outlook's money (pure): the expected revenue over the
client's lifetime is shown only when the outlook gives one, in the page's language."""

from __future__ import annotations

from typing import Any

from features.i18n import Phrasebook
from serving.api.schemas import ModelRef, OutlookOut
from serving.api.texts import serving_words
from serving.web.outlooks import outlook_view
from training.channels.money import DealMoney


def _outlook(**money: Any) -> OutlookOut:
    return OutlookOut(
        within={"sql_7d": 0.2, "won_180d": 0.1},
        likely_within_7d=False,
        value_if_won=1000.0,
        value_low=500.0,
        value_high=2000.0,
        expected_value=100.0,
        currency="USD",
        model=ModelRef(name="leadscore-crm_sales-arrival-outlook", version="1"),
        **money,
    )


def test_the_expected_revenue_is_shown_only_where_the_data_gives_a_lifetime() -> None:
    money = DealMoney("USD", "USD")
    plain = outlook_view(_outlook(), money, serving_words("en"))
    assert plain.expected_value == Phrasebook("en").money(100.0, "USD")
    assert plain.expected_revenue is None
    over_lt = _outlook(revenue_if_won=12_000.0, expected_revenue=1200.0)
    shown = outlook_view(over_lt, money, serving_words("en"))
    assert shown.expected_revenue == Phrasebook("en").money(1200.0, "USD")
    assert "180 days" in shown.expected_revenue_hint
    assert "lifetime" in shown.expected_revenue_hint
    russian = outlook_view(over_lt, money, serving_words("ru"))
    assert "срок жизни клиента" in russian.expected_revenue_hint
