"""What the pages show of a lead's outlook (docs/pages.md, "The outlook"): its chances of
reaching SQL and a won deal within each horizon, "likely to convert within 7 days", and the
deal value if won with its 10-90% range, the expected value and (where the data set gives
the client's lifetime) the expected revenue over it, as money in the
installation's display currency when the data set's rates convert into it (the channel
review's ``DealMoney``: "300 тыс. ₽", "$50,000", "≈ $5,000").

The views are pure; :func:`page_money` reads the data set's spec once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from features.deal import money_feature
from features.i18n import N_, Translator
from serving.api.schemas import OutlookOut
from serving.reports import dataset_spec
from serving.settings import ServingSettings
from serving.web.views import sla_words
from training.channels.money import DealMoney
from training.outlook import EXPECTED_VALUE_HORIZON, HORIZONS, horizon_key

#: The stages an outlook gives chances for (``training.outlook.HORIZONS``), as the pages
#: name them.
STAGE_WORDS: dict[str, str] = {"sql": N_("SQL"), "won": N_("deal won")}
#: How the pages say the expected value is made.
EXPECTED_VALUE_HINT = N_("the chance of a won deal within {days} days × its value if won")
#: How the pages say the expected revenue over the client's lifetime is made.
EXPECTED_REVENUE_HINT = N_(
    "the chance of a won deal within {days} days × its value over the client's lifetime if won"
)


@dataclass(frozen=True)
class OutlookView:
    """An outlook as the lead page shows it: a table of chances (a row per stage, a column
    per horizon in days; None where the stage has no chance at that horizon) and money."""

    horizons: list[tuple[int, str]]  # (days, heading)
    rows: list[tuple[str, list[float | None]]]  # (stage label, chance per horizon)
    likely_soon: bool
    value_if_won: str | None
    value_range: tuple[str, str] | None
    expected_value: str | None
    expected_value_hint: str
    money_note: str | None
    expected_revenue: str | None = None  # None: the data set gives no client lifetime
    expected_revenue_hint: str = ""


def outlook_view(outlook: OutlookOut, money: DealMoney, translate: Translator) -> OutlookView:
    """``outlook`` in ``translate``'s language with its money as ``money`` writes it."""
    within = outlook.within
    given = [(stage, days) for stage, all_days in HORIZONS.items() for days in all_days]
    given = [(stage, days) for stage, days in given if horizon_key(stage, days) in within]
    days = sorted({day for _stage, day in given})
    heading = sla_words(translate)["days"]
    rows = [
        (
            translate.gettext(STAGE_WORDS[stage.value]),
            [within.get(horizon_key(stage, day)) for day in days],
        )
        for stage in dict.fromkeys(stage for stage, _day in given)
    ]

    def said(amount: float | None) -> str | None:
        return None if amount is None else money.text(amount, translate.locale)

    low, high = said(outlook.value_low), said(outlook.value_high)
    return OutlookView(
        horizons=[(day, heading.format(n=day)) for day in days],
        rows=rows,
        likely_soon=outlook.likely_within_7d,
        value_if_won=said(outlook.value_if_won),
        value_range=(low, high) if low is not None and high is not None else None,
        expected_value=said(outlook.expected_value),
        expected_value_hint=translate.gettext(EXPECTED_VALUE_HINT).format(
            days=EXPECTED_VALUE_HORIZON
        ),
        money_note=money.note(translate.locale),
        expected_revenue=said(outlook.expected_revenue),
        expected_revenue_hint=translate.gettext(EXPECTED_REVENUE_HINT).format(
            days=EXPECTED_VALUE_HORIZON
        ),
    )


def shown_outlook(
    outlook: OutlookOut | None, settings: ServingSettings, translate: Translator
) -> OutlookView | None:
    """What the lead page shows of ``outlook`` (None without one), money as
    :func:`page_money` writes it."""
    if outlook is None:
        return None
    return outlook_view(outlook, outlook_money(outlook, settings), translate)


def expected_value_text(
    outlook: OutlookOut | None, settings: ServingSettings, locale: str
) -> str | None:
    """The expected value as a queue row shows it (None without one)."""
    if outlook is None or outlook.expected_value is None:
        return None
    return outlook_money(outlook, settings).text(outlook.expected_value, locale)


def outlook_money(outlook: OutlookOut, settings: ServingSettings) -> DealMoney:
    return page_money(settings.dataset, settings.display_currency, outlook.currency)


@lru_cache(maxsize=16)
def page_money(dataset: str, display_currency: str | None, currency: str) -> DealMoney:
    """How the pages write amounts an outlook holds in ``currency``: in ``display_currency``
    when the spec of ``dataset`` has a rate for it, else as held."""
    feature = money_feature(dataset_spec(dataset))
    if feature is None or feature.base_currency != currency:
        return DealMoney(currency, currency)
    return DealMoney.of(feature, display_currency, currency)
