"""How the channel review writes deal values: in the installation's display currency
(``LEADSCORE_DISPLAY_CURRENCY``) when the spec's dated rates can convert into it, else in
the base currency the deal values are held in, as the reasons write money
(``Phrasebook.money``: "300 тыс. ₽", "$50,000"). A converted amount reads "≈ $5,000" and
the report says from which currency and at the rates of which day (:meth:`DealMoney.note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from features.i18n import N_, Phrasebook
from features.i18n.fields import display_currency
from features.spec import FeatureSpec
from training.channels.words import report_words

_CONVERTED_ON = N_("deal values in {currency}, converted from {base} at the rates of {date}")
_CONVERTED = N_("deal values in {currency}, converted from {base}")


@dataclass(frozen=True)
class DealMoney:
    """Deal values held in ``base``, shown in ``currency``: ``rate`` units of ``base`` per
    unit of ``currency``, the rates of ``on`` (None: undated)."""

    base: str = "RUB"
    currency: str = "RUB"
    rate: float = 1.0
    on: date | None = None

    @classmethod
    def of(cls, feature: FeatureSpec | None, wanted: str | None, base: str = "RUB") -> DealMoney:
        """Deal values in ``wanted`` when ``feature`` (the spec's money feature, whose
        rates convert deal values into its base) has a rate for it; else in the base."""
        if feature is None:
            return cls(base, base)
        shown = display_currency(feature, wanted)
        rate = 1.0 if shown == feature.base_currency else (feature.rates or {})[shown]
        return cls(feature.base_currency, shown, rate, feature.rates_date)

    @property
    def converted(self) -> bool:
        return self.currency != self.base

    def text(self, amount: float, locale: str | None = "en") -> str:
        """``amount`` (in the base) as people of ``locale`` read it, in the shown currency."""
        book = Phrasebook(report_words(locale).locale, currency=self.currency)
        shown = book.money(amount / self.rate, self.currency)
        return f"≈ {shown}" if self.converted else shown

    def note(self, locale: str | None = "en") -> str | None:
        """What a converted report says about its deal values (None: not converted)."""
        if not self.converted:
            return None
        said = report_words(locale)
        values = {"currency": self.currency, "base": self.base}
        if self.on is None:
            return said.gettext(_CONVERTED).format(**values)
        day = Phrasebook(said.locale).day(self.on)
        return said.gettext(_CONVERTED_ON).format(**values, date=day)
