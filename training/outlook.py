"""A lead's outlook: when it is likely to convert, and what it is worth.

The outlook of one moment (``known_at``) is the conversion-time models of the funnel stages
SQL and won (``training.survival.conversion``: calibrated P(stage reached within h days))
and the deal-value model (``training.value``: E[value | won] with a 10-90% range, in the
spec's base currency). A lead's expected value is ``P(won within 180 days) x E[value |
won]`` (``EXPECTED_VALUE_HORIZON``): a chance the data can calibrate, where "won ever"
could not be checked against any follow-up.

The event times come the way a real CRM export has them: the moment the lead's status
history first reaches the stage (a status of ``features.funnel`` whose stage is that one or
later); a lead that has not reached it is followed until the export's end (the latest
moment the export records: an arrival or a status change) and censored there. Deal values
are the won deals' values in the base currency, from the columns the spec's ``deal:``
section names (``features.deal``). Where it names the client's lifetime (LT, billing
periods), a second value model of the same kind fits the won deals' value x LT, and a lead's
expected revenue is ``P(won within 180 days) x E[value x LT | won]``. :func:`fit_outlook`
raises :class:`OutlookUnavailableError` when an export lacks these columns or events.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_text
from features.dataset import LeadData
from features.deal import DealColumnError, deal_values
from features.funnel import Stage, Status
from features.pipeline.columns import Inputs
from features.spec import DatasetSpec
from training.survival.conversion import ConversionModel, fit_conversion
from training.survival.expand import FollowUp, follow_up
from training.survival.hazard import HazardOptions
from training.value import ValueModel, ValueOptions, fit_value_model

#: The word an outlook stands in for a target in registered names (``leadscore-arrival-outlook``).
OUTLOOK = "outlook"
#: Days within which each stage's chance is given.
HORIZONS: dict[Stage, tuple[int, ...]] = {Stage.SQL: (7, 30, 90), Stage.WON: (90, 180)}
#: The horizon of P(won) in the expected value.
EXPECTED_VALUE_HORIZON = 180
#: Won deals with a value the deal-value model needs at least.
MIN_WON_DEALS = 20
#: The export's columns the outlook reads beyond the spec's features.
HISTORY_COLUMN = "status_history"


class OutlookUnavailableError(ValueError):
    """The data cannot give an outlook (no status history, no events, too few won deals)."""


def horizon_key(stage: Stage | str, days: int) -> str:
    """The name of one chance in an outlook: ``sql_7d`` is P(SQL within 7 days)."""
    return f"{Stage(stage).value}_{days}d"


@dataclass(frozen=True)
class LeadOutlook:
    """One lead's outlook: chances per horizon (``horizon_key`` -> probability), the deal
    value if won with its range, the expected value and, where the data gives the client's
    lifetime, the revenue over it if won and the expected revenue; all money in ``currency``."""

    within: dict[str, float]
    currency: str
    value_if_won: float | None = None
    value_low: float | None = None
    value_high: float | None = None
    expected_value: float | None = None
    revenue_if_won: float | None = None
    expected_revenue: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "within": dict(self.within),
            "currency": self.currency,
            "value_if_won": self.value_if_won,
            "value_low": self.value_low,
            "value_high": self.value_high,
            "expected_value": self.expected_value,
            "revenue_if_won": self.revenue_if_won,
            "expected_revenue": self.expected_revenue,
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> LeadOutlook:
        return cls(
            within={str(k): float(v) for k, v in dict(stored.get("within") or {}).items()},
            currency=str(stored.get("currency") or ""),
            value_if_won=_optional(stored.get("value_if_won")),
            value_low=_optional(stored.get("value_low")),
            value_high=_optional(stored.get("value_high")),
            expected_value=_optional(stored.get("expected_value")),
            revenue_if_won=_optional(stored.get("revenue_if_won")),
            expected_revenue=_optional(stored.get("expected_revenue")),
        )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Outlook:
    """The served outlook of one moment: conversion models per stage, the value model and
    the revenue model (value x LT; None when the data gives no client lifetime)."""

    dataset: str
    known_at: str
    currency: str
    conversion: dict[str, ConversionModel]  # stage value -> model
    value: ValueModel | None = None
    notes: list[str] = field(default_factory=list)
    target: str = OUTLOOK
    revenue: ValueModel | None = None

    def predict(self, records: Inputs) -> list[LeadOutlook]:
        """Every lead's outlook (raw rows or flat records, as a ``LeadModel`` scores)."""
        frame = records if isinstance(records, pd.DataFrame) else list(records)
        n = len(frame)  # records stay records: the featurizer reads them without a frame
        chances: dict[str, np.ndarray] = {}
        for stage, model in sorted(self.conversion.items()):
            for days, p in model.predict(frame).items():
                chances[horizon_key(stage, days)] = p
        nan = np.full(n, np.nan)
        if self.value is not None:
            mean, ranges = self.value.expected_and_range(frame)
            low, high = (ranges[q] for q in sorted(ranges)) if len(ranges) == 2 else (nan, nan)
        else:
            mean, low, high = nan, nan, nan
        won = chances.get(horizon_key(Stage.WON, EXPECTED_VALUE_HORIZON), nan)
        ev = won * mean
        revenue = nan if self.revenue is None else self.revenue.expected(frame)
        er = won * revenue
        return [
            LeadOutlook(
                within={key: float(p[i]) for key, p in chances.items()},
                currency=self.currency,
                value_if_won=_finite(float(mean[i])),
                value_low=_finite(float(low[i])),
                value_high=_finite(float(high[i])),
                expected_value=_finite(float(ev[i])),
                revenue_if_won=_finite(float(revenue[i])),
                expected_revenue=_finite(float(er[i])),
            )
            for i in range(n)
        ]


# --------------------------------------------------------------------------- the data


def _changes(raw: Any) -> list[tuple[str, pd.Timestamp]]:
    """A status history (JSON text or a list of ``{"status", "at"}``) as (status, UTC time)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw == "":
        return []
    items = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(item["status"]), pd.Timestamp(item["at"]).tz_convert("UTC")) for item in items]


def _stage_of(status: str) -> Stage | None:
    try:
        return Status(status).stage
    except ValueError:  # a status outside leadscore's funnel reaches no stage
        return None


def first_reached(raw_history: Any, stage: Stage) -> pd.Timestamp | None:
    """When the history first reaches ``stage`` (or a later one); None if it never does."""
    times = [
        at
        for status, at in _changes(raw_history)
        if (reached := _stage_of(status)) is not None and reached.rank >= stage.rank
    ]
    return min(times) if times else None


@dataclass(frozen=True)
class OutlookData:
    """What an outlook is fitted on, aligned with the data set's rows."""

    frame: pd.DataFrame
    follow: dict[Stage, FollowUp]
    values: np.ndarray  # deal value in the base currency (nan: no won deal)
    won: np.ndarray  # bool: reached won by the export's end
    arrived: pd.Series  # arrival times (UTC), by position
    as_of: pd.Timestamp
    currency: str
    revenue: np.ndarray | None = None  # value x LT (nan: none); None: no lifetime column


def _aligned(data: LeadData, raw: pd.DataFrame) -> pd.DataFrame:
    id_column = data.spec.id_column
    if id_column is None or id_column not in raw.columns:
        raise OutlookUnavailableError("the export has no id column to match its events by")
    ids = to_text(as_object_array(raw[id_column]))
    return raw.set_axis(ids, axis=0).reindex(np.asarray(data.ids, dtype=object))


@dataclass(frozen=True)
class Events:
    """When each lead first reached each stage the export tells of (NaT: not by its end),
    and the latest moment the export records beyond the arrivals (None: none)."""

    reached: dict[Stage, pd.Series]
    last: pd.Timestamp | None


def history_events(history: list[Any]) -> Events:
    """The events of a status history: every funnel stage, first reached."""
    changed = [at for raw_history in history for _status, at in _changes(raw_history)]
    reached = {
        stage: pd.Series([first_reached(h, stage) for h in history], dtype="datetime64[ns, UTC]")
        for stage in HORIZONS
    }
    return Events(reached, max(changed) if changed else None)


def closing_events(won_at: pd.DatetimeIndex) -> Events:
    """The events of deals' close times (an export without a status history): won only, as
    nothing says when a won deal became an SQL."""
    won = pd.Series(won_at, dtype="datetime64[ns, UTC]").reset_index(drop=True)
    last = won.max()
    return Events({Stage.WON: won}, None if pd.isna(last) else pd.Timestamp(last))


def _events(aligned: pd.DataFrame, won_at: pd.DatetimeIndex | None) -> Events:
    """The status history's events, else the deals' close times'."""
    if HISTORY_COLUMN in aligned.columns:
        return history_events(aligned[HISTORY_COLUMN].tolist())
    if won_at is not None:
        return closing_events(won_at)
    raise OutlookUnavailableError(
        f"the export has no {HISTORY_COLUMN} column, and the spec's deal section names no "
        "closed_at_column"
    )


def outlook_data(data: LeadData, raw: pd.DataFrame) -> OutlookData:
    """Event times from the status history of ``raw`` (the export as read, any row order),
    else from its deals' close times (``deal: closed_at_column``), follow-up to the export's
    end, and the won deals' values in the base currency."""
    if data.times is None:
        raise OutlookUnavailableError("the data set has no arrival time to follow leads from")
    aligned = _aligned(data, raw)
    arrived = pd.Series(data.times.tz_convert("UTC"))
    try:
        deals = deal_values(aligned.reset_index(drop=True), data.spec)
    except DealColumnError as error:
        raise OutlookUnavailableError(str(error)) from None
    events = _events(aligned, deals.won_at)
    as_of = max(arrived.max(), events.last) if events.last is not None else arrived.max()
    follow = {
        stage: follow_up(arrived, reached.where(reached >= arrived), as_of)
        for stage, reached in events.reached.items()
    }
    if Stage.WON not in follow:
        raise OutlookUnavailableError("the export tells no time to won")
    won = follow[Stage.WON].event
    when = pd.Timestamp(as_of)
    return OutlookData(
        data.frame, follow, deals.values, won, arrived, when, deals.currency, deals.revenue
    )


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class OutlookOptions:
    known_at: str = "arrival"
    seed: int = 0
    num_threads: int = 1
    max_leads: int = 0  # fit on a random sample of at most this many leads (0: every lead)


def rows_of(d: OutlookData, rows: np.ndarray) -> OutlookData:
    """The leads at positions ``rows`` of ``d`` (in that order), followed to the same end."""
    return OutlookData(
        frame=d.frame.iloc[rows].reset_index(drop=True),
        follow={stage: FollowUp(f.days[rows], f.event[rows]) for stage, f in d.follow.items()},
        values=d.values[rows],
        won=d.won[rows],
        arrived=d.arrived.iloc[rows].reset_index(drop=True),
        as_of=d.as_of,
        currency=d.currency,
        revenue=None if d.revenue is None else d.revenue[rows],
    )


def sampled(d: OutlookData, max_leads: int, seed: int) -> OutlookData:
    """``d`` cut to a seeded random sample of ``max_leads`` leads (in their order), followed
    to the same export end; ``d`` itself when it has no more (or ``max_leads`` is 0). A
    random sample keeps the censoring as it is: no period of arrival is favoured."""
    n = len(d.frame)
    if max_leads <= 0 or n <= max_leads:
        return d
    return rows_of(d, np.sort(np.random.default_rng(seed).choice(n, size=max_leads, replace=False)))


def won_deals(d: OutlookData, amounts: np.ndarray | None = None) -> np.ndarray:
    """Positions of the won deals with a positive ``amounts`` (default: their value): the
    rows of the value model (and, with the revenue over LT, of the revenue model)."""
    amount = d.values if amounts is None else amounts
    return np.flatnonzero(d.won & np.isfinite(amount) & (amount > 0))


def fit_outlook(
    data: LeadData, raw: pd.DataFrame, options: OutlookOptions | None = None
) -> Outlook:
    """The outlook of ``options.known_at`` on ``data``, with ``raw`` the export as read
    (for the status history and deal values the spec drops)."""
    return fit_from(data.spec, outlook_data(data, raw), options or OutlookOptions())


def fit_from(spec: DatasetSpec, every: OutlookData, opts: OutlookOptions) -> Outlook:
    """The outlook fitted on ``every`` lead, or on a sample of ``opts.max_leads`` (said)."""
    d = sampled(every, opts.max_leads, opts.seed)
    outlook = fit_on(spec, d, opts)
    if d is not every:
        outlook.notes.insert(0, f"fitted on a random {len(d.frame)} of {len(every.frame)} leads")
    return outlook


def fit_on(spec: DatasetSpec, d: OutlookData, opts: OutlookOptions) -> Outlook:
    """The outlook fitted on every lead of ``d``."""
    hazard = HazardOptions(known_at=opts.known_at, seed=opts.seed, num_threads=opts.num_threads)
    conversion: dict[str, ConversionModel] = {}
    notes: list[str] = []
    for stage, horizons in HORIZONS.items():
        if stage not in d.follow:
            notes.append(f"the export tells no times of {stage.value}: no {stage.value} horizons")
            continue
        if not d.follow[stage].event.any():
            notes.append(f"no lead reached {stage.value}: no {stage.value} horizons")
            continue
        conversion[stage.value] = fit_conversion(spec, d.frame, d.follow[stage], horizons, hazard)
    if not conversion:
        raise OutlookUnavailableError("no lead reached SQL or won in the export's events")
    value = _value_model(spec, d, d.values, opts, notes, ("value", "a value"))
    revenue = None
    if d.revenue is not None:
        said = ("revenue", "a value and a lifetime")
        revenue = _value_model(spec, d, d.revenue, opts, notes, said)
    return Outlook(spec.name, opts.known_at, d.currency, conversion, value, notes, revenue=revenue)


def _value_model(
    spec: DatasetSpec,
    d: OutlookData,
    amounts: np.ndarray,
    opts: OutlookOptions,
    notes: list[str],
    said: tuple[str, str],
) -> ValueModel | None:
    """The value model of the won deals' ``amounts`` (value, or value x LT); None, with a
    note, when fewer than ``MIN_WON_DEALS`` have them (``said``: the model's name and what
    its deals need, for the note)."""
    model, what = said
    deals = won_deals(d, amounts)
    if len(deals) < MIN_WON_DEALS:
        notes.append(f"{len(deals)} won deals with {what} (< {MIN_WON_DEALS}): no {model} model")
        return None
    return fit_value_model(
        spec,
        d.frame.iloc[deals].reset_index(drop=True),
        amounts[deals],
        ValueOptions(known_at=opts.known_at, seed=opts.seed, num_threads=opts.num_threads),
    )


def chance_names(outlook: Outlook) -> Sequence[str]:
    """The chances an outlook gives, by name (``sql_7d``, ...)."""
    return [
        horizon_key(stage, days)
        for stage, model in sorted(outlook.conversion.items())
        for days in model.horizons
    ]
