"""The leads a channel review is made of, and the period they are chosen by.

:class:`ReportLeads` holds what the model reads plus each lead's channel, campaign, arrival
time and outcomes: the funnel stages it reached, whether its outcome is final, its deal
value in the spec's base currency (``features.deal``). It is made from flat lead-store records
(:func:`leads_from_records`) or from a data set loaded with its spec (:func:`leads_from_data`).
:class:`Period` picks whole months of arrival. :class:`ReportError` (and
:class:`NoLeadsError`) say that a report cannot be made as asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_text
from features.dataset import LeadData
from features.deal import DealColumnError, deal_values, money_feature
from features.funnel import Stage, Status
from features.spec import DatasetSpec, FeatureSpec, StatusTarget

#: Label of leads without a campaign.
NO_CAMPAIGN = "(none)"
#: Funnel stages after ``lead``, in order.
FUNNEL_STAGES: tuple[str, ...] = tuple(s.value for s in Stage if s is not Stage.LEAD)
#: The note on deal values left out for want of a currency rate.
_DEAL_DROPPED = "{} deal value(s) in a currency without a rate are left out"


class ReportError(ValueError):
    """A report that cannot be made as asked (a bad period, a model for another funnel ...)."""


class NoLeadsError(ReportError):
    """No leads arrived in the period asked for."""


@dataclass(frozen=True)
class Period:
    """Leads that arrived in ``[start, end)``; both None: every lead."""

    label: str
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    @classmethod
    def parse(cls, text: str | None) -> Period:
        """``None``/``all``, ``YYYY-MM`` or ``YYYY-MM..YYYY-MM`` (whole months, UTC)."""
        if text is None or text.strip().lower() in ("", "all"):
            return cls("all")
        first, _, last = text.strip().partition("..")
        start = _month(first, text)
        end = _month(last or first, text) + pd.DateOffset(months=1)
        if end <= start:
            raise ReportError(f"period '{text}': the last month is before the first")
        return cls(text.strip(), start, end)

    @property
    def slug(self) -> str:
        """The label as a folder or artifact name: ``2026-07_to_2026-09``."""
        return self.label.replace("..", "_to_")

    def mask(self, times: pd.DatetimeIndex | None) -> np.ndarray | None:
        """Rows in the period (None: every row, as the period is all)."""
        if self.start is None or self.end is None:
            return None
        if times is None:
            raise ReportError(
                f"period '{self.label}': the leads have no arrival time to select a period by"
            )
        return np.asarray((times >= self.start) & (times < self.end))


def _month(text: str, whole: str) -> pd.Timestamp:
    try:
        stamp = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        raise ReportError(
            f"period '{whole}': expected a month YYYY-MM or a range YYYY-MM..YYYY-MM"
        ) from None
    return pd.Timestamp(stamp, tz=UTC)


@dataclass(frozen=True)
class ReportLeads:
    """The leads of a report: what the model reads, plus channel, campaign, time, outcomes.

    ``stages`` maps each funnel stage (in order) to whether a lead reached it; ``closed``
    says whose outcome is final (None: every lead's is); ``deal_value`` is in
    ``deal_currency`` (NaN when there is none), converted into it with the rates of
    ``deal_rates`` (the spec's money feature; None: the spec has none with rates).
    """

    frame: pd.DataFrame
    channels: np.ndarray
    campaigns: np.ndarray | None
    times: pd.DatetimeIndex | None
    stages: dict[str, np.ndarray]
    closed: np.ndarray | None = None
    deal_value: np.ndarray | None = None
    deal_currency: str | None = None
    deal_rates: FeatureSpec | None = None
    source: str = ""
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.channels)

    def select(self, rows: np.ndarray) -> ReportLeads:
        """The leads at ``rows`` (positions or a boolean mask)."""
        take = np.flatnonzero(rows) if rows.dtype == bool else rows

        def sub(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[take]

        return replace(
            self,
            frame=self.frame.iloc[take].reset_index(drop=True),
            channels=self.channels[take],
            campaigns=sub(self.campaigns),
            times=None if self.times is None else self.times[take],
            stages={name: reached[take] for name, reached in self.stages.items()},
            closed=sub(self.closed),
            deal_value=sub(self.deal_value),
        )

    def in_period(self, period: Period) -> ReportLeads:
        mask = period.mask(self.times)
        return self if mask is None else self.select(mask)


def _labels(values: Any, missing: str) -> np.ndarray:
    """Values as text labels, ``missing`` where a value is missing."""
    text = to_text(as_object_array(values))
    out = np.where(pd.isna(text), missing, text)
    return out.astype(str)


def _stage_ladder(stage_reached: Any) -> dict[str, np.ndarray]:
    text = _labels(stage_reached, Stage.LEAD.value)
    ranks = {stage.value: stage.rank for stage in Stage}
    unknown = sorted(set(text) - set(ranks))
    if unknown:
        raise ReportError(
            f"stage_reached holds unknown stages {', '.join(unknown)}; "
            f"expected one of {', '.join(ranks)}"
        )
    rank = np.fromiter((ranks[v] for v in text), dtype=np.int64, count=len(text))
    return {name: rank >= Stage(name).rank for name in FUNNEL_STAGES}


def _closed(status: Any) -> np.ndarray:
    text = _labels(status, Status.NEW.value)
    terminal = {s.value for s in Status if s.is_terminal}
    return np.fromiter((v in terminal for v in text), dtype=bool, count=len(text))


def _deals(
    frame: pd.DataFrame, spec: DatasetSpec | None
) -> tuple[np.ndarray | None, str, list[str]]:
    """The frame's deal values in the spec's base currency: (values or None, base, notes)."""
    try:
        deals = deal_values(frame, spec)
    except DealColumnError as error:
        raise ReportError(str(error)) from None
    if not deals.found:
        return None, deals.currency, []
    notes = [_DEAL_DROPPED.format(deals.dropped)] if deals.dropped else []
    return deals.values, deals.currency, notes


def leads_from_records(
    frame: pd.DataFrame,
    *,
    spec: DatasetSpec | None = None,
    channel_column: str = "channel",
    campaign_column: str | None = "utm_campaign",
    time_column: str = "arrived_at",
    source: str = "",
) -> ReportLeads:
    """Leads in the lead-store shape: flat records plus ``stage_reached``, ``status`` and the
    deal's columns as the spec's ``deal:`` section names them (by default ``deal_value`` and
    ``deal_currency``: the demo data and the lead store look like this)."""
    required = [channel_column, time_column, "stage_reached"]
    absent = [c for c in required if c not in frame.columns]
    if absent and len(frame) == 0:
        # an empty read of the lead store has no columns at all: nothing is missing but leads
        raise NoLeadsError("no leads arrived in the period asked for")
    if absent:
        raise ReportError(f"the leads have no column {', '.join(absent)} (needed for the report)")
    frame = frame.reset_index(drop=True)
    times = pd.DatetimeIndex(pd.to_datetime(frame[time_column], utc=True, format="ISO8601"))
    deal, base, notes = _deals(frame, spec)
    campaigns = None
    if campaign_column is not None and campaign_column in frame.columns:
        campaigns = _labels(frame[campaign_column], NO_CAMPAIGN)
    return ReportLeads(
        frame=frame,
        channels=_labels(frame[channel_column], "unknown"),
        campaigns=campaigns,
        times=times,
        stages=_stage_ladder(frame["stage_reached"]),
        closed=_closed(frame["status"]) if "status" in frame.columns else None,
        deal_value=deal,
        deal_currency=base if deal is not None else None,
        deal_rates=money_feature(spec),
        source=source,
        notes=tuple(notes),
    )


def _target_stages(data: LeadData) -> dict[str, np.ndarray]:
    """The spec's targets as funnel stages, widest first (status targets by their stage)."""

    def order(item: tuple[str, np.ndarray]) -> tuple[int, int]:
        target = data.spec.targets[item[0]]
        rank = target.reach.rank if isinstance(target, StatusTarget) else len(Stage)
        return rank, -int(item[1].sum())

    return {name: reached.astype(bool) for name, reached in sorted(data.targets.items(), key=order)}


def leads_from_data(data: LeadData, extra: pd.DataFrame | None = None) -> ReportLeads:
    """Leads of a loaded data set. ``extra`` (the raw file, any row order) may add the
    outcome columns the spec drops (``stage_reached``, ``status``, the deal's columns its
    ``deal:`` section names); they are matched to the data by the id column."""
    stages = _target_stages(data)
    closed = deal = None
    currency = None
    notes: list[str] = []
    if extra is not None and data.spec.id_column in extra.columns:
        ids = _labels(extra[data.spec.id_column], "")
        aligned = extra.set_axis(ids, axis=0).reindex(data.ids)
        if "stage_reached" in aligned.columns:
            stages = _stage_ladder(aligned["stage_reached"])
        if "status" in aligned.columns:
            closed = _closed(aligned["status"])
        deal, base, notes = _deals(aligned, data.spec)
        currency = base if deal is not None else None
    campaigns = None if data.campaigns is None else _labels(data.campaigns, NO_CAMPAIGN)
    return ReportLeads(
        frame=data.frame,
        channels=np.asarray(data.channels, dtype=str),
        campaigns=campaigns,
        times=data.times,
        stages=stages,
        closed=closed,
        deal_value=deal,
        deal_currency=currency,
        deal_rates=money_feature(data.spec),
        source=data.source,
        notes=tuple(notes),
    )
