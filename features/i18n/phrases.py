"""The phrase grammar of reasons, one small set of patterns per language.

A ``Phrasebook`` is one language, one time zone and optionally one display currency.
Every pattern is a gettext message (English id with ``{placeholders}``, translated in the
catalogs), filled only with labels and formatted values: yes/no, a value, a number with its
unit, money (compact in Russian, "300 тыс. ₽"; whole in English, "$50,000"), an amount
converted with the rates of a day ("≈ $50,000 at the rates of 30 Nov 2026"), brackets, the
time of day and weekday in the installation's time zone, days before or after, keyword
topics and "not asked yet".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_compact_currency, format_currency, format_decimal

from features.i18n.catalogs import N_, Translator, translator
from features.i18n.locales import resolve_locale
from features.rates import currency_code

#: How a rates date is written per language ("30 Nov 2026", "30 ноября 2026").
_DAY_FORMATS = {"en": "d MMM y", "ru": "d MMMM y"}
#: Whole amounts per language, the sign where the language puts it ("$3,333", "3 333 $").
_WHOLE_MONEY = {"en": "¤#,##0", "ru": "#,##0\u00a0¤"}
#: The language a message is written in (``features.text``'s codes), as a reason says it.
_LANGUAGE_NAMES = {
    "ru": N_("in Russian"),
    "en": N_("in English"),
    "mixed": N_("in Russian and English"),
}
_OTHER_LANGUAGE = N_("in another language")
#: An e-mail address's kind (``features.email``), as a reason says it.
_EMAIL_KINDS = {
    "corporate": N_("corporate e-mail"),
    "free_mail": N_("personal e-mail (free mail)"),
    "invalid": N_("e-mail looks invalid: check it on the call"),
}
_NO_EMAIL = N_("no e-mail: ask for a work address")


@dataclass(frozen=True)
class Phrasebook:
    """The patterns of one language (``locale``) with times in ``timezone`` (IANA name) and
    money in ``currency`` (ISO 4217; None: in the currency the model learned amounts in)."""

    locale: str = "en"
    timezone: str = "UTC"
    currency: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "locale", resolve_locale(self.locale))
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in the middle of a phrase
        if self.currency is not None:
            currency_code(self.currency)

    @cached_property
    def t(self) -> Translator:
        return translator(self.locale)

    # -- values

    def number(self, value: float) -> str:
        return format_decimal(round(value, 2), format="#,##0.##", locale=self.locale)

    def money(self, amount: float, currency: str) -> str:
        """An amount in ``currency`` as people of this language write it."""
        if self.locale == "ru" and abs(amount) >= 10_000:
            return format_compact_currency(amount, currency, locale="ru", fraction_digits=1)
        pattern = _WHOLE_MONEY.get(self.locale, "¤#,##0")
        text = format_currency(
            amount, currency, format=pattern, currency_digits=False, locale=self.locale
        )
        return text.replace(currency, currency + "\u00a0") if text.startswith(currency) else text

    def day(self, on: date) -> str:
        return format_date(on, _DAY_FORMATS.get(self.locale, "medium"), locale=self.locale)

    def topics(self, names: Sequence[str]) -> str:
        return format_list(list(names), locale=self.locale)

    # -- phrases

    def yes_no(self, label: str, flag: bool) -> str:
        pattern = self.t.gettext("{label}: yes") if flag else self.t.gettext("{label}: no")
        return pattern.format(label=label)

    def value(self, label: str, value: str) -> str:
        return self.t.gettext("{label}: {value}").format(label=label, value=value)

    def rare_value(self, label: str, value: str) -> str:
        return self.t.gettext("{label}: {value} (rare value)").format(label=label, value=value)

    def quantity(self, label: str, number: float, unit: str | None) -> str:
        if unit is None:
            return self.value(label, self.number(number))
        pattern = self.t.gettext("{label}: {number} {unit}")
        return pattern.format(label=label, number=self.number(number), unit=unit)

    def amount(self, label: str, amount: float, currency: str, bracket: bool) -> str:
        pattern = (
            self.t.gettext("{label}: about {amount} (bracket)")
            if bracket
            else self.t.gettext("{label}: {amount}")
        )
        return pattern.format(label=label, amount=self.money(amount, currency))

    def converted(
        self, label: str, amount: float, currency: str, on: date | None, bracket: bool
    ) -> str:
        """An amount converted into ``currency`` with the rates of ``on`` (when known)."""
        if bracket:
            pattern = (
                self.t.gettext("{label}: about {amount} (bracket) at the rates of {date}")
                if on
                else self.t.gettext("{label}: about {amount} (bracket)")
            )
        else:
            pattern = (
                self.t.gettext("{label}: ≈ {amount} at the rates of {date}")
                if on
                else self.t.gettext("{label}: ≈ {amount}")
            )
        shown = self.money(amount, currency)
        return pattern.format(label=label, amount=shown, date=self.day(on) if on else "")

    def unknown_currency(self, label: str) -> str:
        return self.t.gettext("{label}: amount in an unknown currency").format(label=label)

    def moment(self, label: str, micros: int, parts: Sequence[str]) -> str:
        """A timestamp's parts (hour, weekday, month, dayofyear) in the time zone."""
        stamp = datetime.fromtimestamp(micros / 1e6, tz=UTC).astimezone(ZoneInfo(self.timezone))
        words: list[str] = []
        for part in parts:
            if part == "hour":
                words.append(format_time(stamp, "HH:mm", locale=self.locale))
            elif part == "weekday":
                words.append(format_date(stamp, "EEEE", locale=self.locale))
            elif part == "month":
                words.append(format_date(stamp, "LLLL", locale=self.locale))
            else:
                words.append(format_date(stamp, "d MMMM", locale=self.locale))
        return self.value(label, ", ".join(words))

    def days(self, label: str, days: float) -> str:
        """Days from the field's moment to the lead's arrival (positive: before it)."""
        if abs(days) < 1:
            return self.t.gettext("{label}: the same day").format(label=label)
        whole = round(abs(days))
        pattern = (
            self.t.ngettext("{label}: {n} day before", "{label}: {n} days before", whole)
            if days > 0
            else self.t.ngettext("{label}: {n} day after", "{label}: {n} days after", whole)
        )
        return pattern.format(label=label, n=whole)

    def mentions(self, label: str, topics: Sequence[str]) -> str:
        pattern = self.t.gettext("{label} mentions {topics}")
        return pattern.format(label=label, topics=self.topics(topics))

    def words(self, label: str, count: int, language: str) -> str:
        pattern = self.t.ngettext(
            "{label}: {n} word, {language}", "{label}: {n} words, {language}", count
        )
        return pattern.format(label=label, n=count, language=self.language_name(language))

    def language_name(self, code: str) -> str:
        return self.t.gettext(_LANGUAGE_NAMES.get(code, _OTHER_LANGUAGE))

    def email(self, kind: str) -> str:
        return self.t.gettext(_EMAIL_KINDS.get(kind, _NO_EMAIL))

    def phone(self, given: bool) -> str:
        if given:
            return self.t.gettext("phone number given")
        return self.t.gettext("no phone number: ask for one")

    def not_asked(self, label: str) -> str:
        """A qualification answer that is missing, as the action it calls for."""
        return self.t.gettext("{label}: not asked yet").format(label=label)

    def not_given(self, label: str) -> str:
        """An arrival field that is missing, as the action it calls for."""
        return self.t.gettext("{label}: not given, ask on the call").format(label=label)
