"""The deal a won lead became: the spec's ``deal:`` section (which columns of an export hold
the deal's value, its currency and the client's lifetime) and :func:`deal_values`, those
columns of a frame read into the spec's base currency.

::

    deal: {value_column: close_value, currency: USD}     # no currency column: USD
    deal: {value_column: amount, currency_column: amount_currency, lifetime_column: months}
    deal: {value_column: close_value, currency: USD, closed_at_column: close_date}
    deal: {path: closed_deals.csv, key: mql_id, closed_at_column: won_date}

Without the section a spec reads ``deal_value`` in ``deal_currency`` (the demo data and the
lead store, which holds every export's deals so: :func:`as_stored`), and a frame without
them has no deal values. A column the section names itself must be in the data
(:class:`DealColumnError` says which). The deal's columns are outcomes, known only once a
lead is won: a spec refuses one as a feature (``features.spec``).

Where an export has no status history, ``closed_at_column`` names when each deal closed: a
row with a deal (a value above 0; every row of a separate file of deals, ``path``, matched to
the leads by its ``key`` column: :func:`join_deals`) was won then, which gives the outlook
its time to won.

Amounts are converted with the rates of the spec's first money feature with rates; a spec
without one counts in the deal's own ``currency`` (else RUB) and converts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from features.coerce import as_object_array, to_datetime_utc, to_text
from features.rates import CurrencyCode
from features.spec_sources import SpecSection

if TYPE_CHECKING:
    from features.spec import DatasetSpec, FeatureSpec

DEFAULT_VALUE_COLUMN = "deal_value"
DEFAULT_CURRENCY_COLUMN = "deal_currency"
#: The base currency of a spec with neither a money feature with rates nor a deal currency.
DEFAULT_BASE = "RUB"


class DealSection(SpecSection):
    """The columns of a won deal: its value, its currency (a column; ``currency`` where it is
    blank or absent) and the client's lifetime in billing periods (optional)."""

    value_column: str = Field(default=DEFAULT_VALUE_COLUMN, min_length=1)
    currency_column: str = Field(default=DEFAULT_CURRENCY_COLUMN, min_length=1)
    currency: CurrencyCode | None = Field(
        default=None,
        description="the deal's currency where the currency column is blank or absent (every "
        "deal's, in an export without one); the base when the spec has no money rates",
    )
    lifetime_column: str | None = Field(
        default=None,
        min_length=1,
        description="billing periods a won client stays (LT): gives the expected revenue",
    )
    closed_at_column: str | None = Field(
        default=None,
        min_length=1,
        description="when the deal closed: a row with a deal was won then (the outlook's time "
        "to won, for an export without a status history)",
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        description="a file of deals, relative to the data file (e.g. a closed-deals export), "
        "its rows matched to the leads by ``key``; default: the data file's own columns",
    )
    key: str | None = Field(
        default=None, min_length=1, description="the column of ``path`` holding lead ids"
    )

    @model_validator(mode="after")
    def _path_with_key(self) -> DealSection:
        if (self.path is None) != (self.key is None):
            raise ValueError("path and key go together: the file of deals and its lead-id column")
        return self

    @property
    def columns(self) -> list[str]:
        """Every column the section reads (defaults included)."""
        named = (
            self.value_column, self.currency_column, self.lifetime_column, self.closed_at_column
        )  # fmt: skip
        return [c for c in named if c is not None]

    def named(self) -> dict[str, str]:
        """The columns the spec names itself (key -> column): the data must have them."""
        keys = ("value_column", "currency_column", "lifetime_column", "closed_at_column")
        return {k: c for k in keys if k in self.model_fields_set and (c := getattr(self, k))}


class DealColumnError(ValueError):
    """A column the spec's deal section names is not in the data."""


@dataclass(frozen=True)
class DealValues:
    """A frame's deals: ``values`` in ``currency`` (NaN where no deal or no rate), the
    number ``dropped`` for a currency without a rate, ``lifetime`` in billing periods
    (NaN where none; None when the spec names no lifetime column) and ``won_at``, when each
    deal was won (NaT where no deal or no time; None when the spec names no close time).
    ``found``: the frame has the value column."""

    values: np.ndarray
    currency: str
    dropped: int = 0
    lifetime: np.ndarray | None = None
    found: bool = True
    won_at: pd.DatetimeIndex | None = None

    @property
    def revenue(self) -> np.ndarray | None:
        """The value over the client's lifetime (value x LT; None: no lifetime column)."""
        return None if self.lifetime is None else self.values * self.lifetime


def as_stored(spec: DatasetSpec) -> DatasetSpec:
    """``spec`` reading deals as the lead store holds them (``deal_value`` in
    ``deal_currency``, whatever the export called them: the import wrote them so), its
    ``currency`` kept; the store keeps no lifetime."""
    return spec.model_copy(update={"deal": DealSection(currency=spec.deal.currency)})


def money_feature(spec: DatasetSpec | None) -> FeatureSpec | None:
    """The spec's first money feature with rates (None: it has none)."""
    for feature in spec.features if spec is not None else []:
        if feature.type == "money" and feature.rates:
            return feature
    return None


def money_rates(spec: DatasetSpec | None) -> tuple[str, dict[str, float]]:
    """(base currency, currency -> rate): those of the spec's first money feature with
    rates, else the deal's own currency (or RUB) at 1."""
    feature = money_feature(spec)
    if feature is not None and feature.rates is not None:
        return feature.base_currency, {k.upper(): v for k, v in feature.rates.items()}
    base = (spec.deal.currency if spec is not None else None) or DEFAULT_BASE
    return base, {base: 1.0}


def _numbers(values: pd.Series) -> np.ndarray:
    amounts = pd.to_numeric(pd.Series(as_object_array(values)), errors="coerce")
    return amounts.to_numpy(dtype=float, na_value=np.nan)


def missing_columns(spec: DatasetSpec | None, columns: list[str]) -> str | None:
    """What is wrong when a column the spec's deal section names is not among ``columns``
    (the spec and each column with its key said); None when nothing is."""
    section = spec.deal if spec is not None else DealSection()
    absent = {k: c for k, c in section.named().items() if c not in columns}
    if not absent:
        return None
    where = f"{spec.source_path or spec.name}" if spec is not None else "the spec"
    names = ", ".join(f"'{c}' (deal.{k})" for k, c in absent.items())
    return f"{where}: the deal section names {names}, not in the data"


def _rates_of(currencies: pd.Series, rates: dict[str, float], blank: str) -> np.ndarray:
    """Each row's rate from its currency code (``blank``'s where none is given): worked out
    once per distinct code, as an export holds a handful of currencies in many rows."""
    positions, distinct = pd.factorize(currencies, use_na_sentinel=True)
    codes = [
        blank if text is None or not text.strip() else text.strip().upper()
        for text in to_text(as_object_array(pd.Series(distinct)))
    ]
    table = np.array([rates.get(code, np.nan) for code in [*codes, blank]], dtype=float)
    return table[positions]  # position -1 (missing) reads the last entry: blank's rate


def deal_values(frame: pd.DataFrame, spec: DatasetSpec | None) -> DealValues:
    """``frame``'s deal values in the spec's base currency, read as its deal section says
    (the default section when ``spec`` is None; a value of 0 or below is no deal);
    :class:`DealColumnError` when a column the section names is not in ``frame``."""
    section = spec.deal if spec is not None else DealSection()
    columns = [str(c) for c in frame.columns]
    problem = missing_columns(spec, columns)
    if problem is not None:
        raise DealColumnError(problem)
    base, rates = money_rates(spec)
    if section.value_column not in columns:
        nothing = np.full(len(frame), np.nan)
        return DealValues(nothing, base, found=False, won_at=_won_at(frame, section, nothing))
    amount = _numbers(frame[section.value_column])
    amount = np.where(amount > 0, amount, np.nan)  # 0 is no deal (Maven's lost deals say 0)
    blank = section.currency or base
    if section.currency_column in columns:
        rate = _rates_of(frame[section.currency_column], rates, blank)
    else:
        rate = np.full(len(frame), rates.get(blank, np.nan))
    dropped = int(np.sum(~np.isnan(amount) & np.isnan(rate)))
    lifetime = None
    if section.lifetime_column is not None:
        lifetime = _numbers(frame[section.lifetime_column])
    return DealValues(
        amount * rate, base, dropped, lifetime, won_at=_won_at(frame, section, amount)
    )


def _won_at(
    frame: pd.DataFrame, section: DealSection, amount: np.ndarray
) -> pd.DatetimeIndex | None:
    """When each deal was won: its close time where the row has a deal (a value above 0, or
    any close time where the frame has no value column, as in a file of won deals)."""
    if section.closed_at_column is None:
        return None
    closed = to_datetime_utc(as_object_array(frame[section.closed_at_column]))
    return closed.where(~np.isnan(amount)) if section.value_column in frame.columns else closed


def _ids(values: pd.Series) -> pd.Index:
    return pd.Index(to_text(as_object_array(values)))


def join_deals(frame: pd.DataFrame, deals: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``frame`` (the leads) with the deal section's columns of ``deals`` (a separate file,
    one row per won lead) matched by the spec's id column to the file's ``key``: missing
    where a lead has no deal. :class:`DealColumnError` says what does not fit."""
    section, id_column = spec.deal, spec.id_column
    if section.key is None:
        return frame
    if id_column is None or id_column not in frame.columns:
        raise DealColumnError("the deals of deal.path are matched by the spec's id_column")
    if section.key not in deals.columns:
        raise DealColumnError(f"the file of deals has no column '{section.key}' (deal.key)")
    problem = missing_columns(spec, [str(c) for c in deals.columns])
    if problem is not None:
        raise DealColumnError(problem)
    taken = [c for c in section.columns if c in deals.columns and c != section.key]
    clash = [c for c in taken if c in frame.columns]
    if clash:
        raise DealColumnError(
            f"the data and its file of deals both have {', '.join(clash)}: rename one"
        )
    keyed = deals[taken].set_axis(_ids(deals[section.key]), axis=0)
    repeated = keyed.index[keyed.index.duplicated()].unique()
    if len(repeated):
        raise DealColumnError(
            f"{len(repeated)} lead id(s) have more than one deal in the file (e.g. "
            f"'{repeated[0]}'): one deal per lead"
        )
    matched = keyed.reindex(_ids(frame[id_column]))
    return frame.assign(**{c: matched[c].to_numpy() for c in taken})
