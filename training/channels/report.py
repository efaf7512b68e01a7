"""The channel review as one object: every table, made from the leads and a trained model.

:func:`build_channel_report` is a pure computation on a trained :class:`LeadModel` (or none:
then only the funnel) and the leads of a period; it chooses the period's leads, joins the
model's predictions, builds the funnel tables (the funnel module) and the driver tables (the
drivers module), and sums each channel up against the global picture. :class:`ChannelReport`
holds the result and gives it as plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.i18n import N_
from training.channels.drivers import Drivers, explain_drivers
from training.channels.funnel import ALL_LEADS, Thresholds, funnel_table, outcome_words
from training.channels.leads import NoLeadsError, Period, ReportError, ReportLeads
from training.channels.money import DealMoney
from training.channels.sla import response_table
from training.channels.words import report_words
from training.model import LeadModel

if TYPE_CHECKING:
    from training.outlook import Outlook

#: The summary's stand-in for the driver table of a report without judged channels.
_NO_DRIVERS = ["channel", "rank", "field", "phrase", "varies"]
_RANKED_BY_SPREAD = N_(
    "drivers are ranked by spread: how much a field's contribution varies between the "
    "leads of the group (mean |SHAP - group mean SHAP|, log-odds)"
)
_NO_MODEL = N_("no model: only the funnel is reported (no drivers, no predictions)")
#: The title of a review that is given none.
DEFAULT_TITLE = N_("Channel review")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    known_at: str
    target: str
    kind: str


@dataclass
class ChannelReport:
    """Every table of the channel review (see the drivers and funnel modules)."""

    title: str
    source: str
    period: Period
    target: str
    thresholds: Thresholds
    model: ModelInfo | None
    explained_per_group: int
    summary: pd.DataFrame
    global_drivers: pd.DataFrame
    drivers: pd.DataFrame
    campaign_drivers: pd.DataFrame
    funnel_channel: pd.DataFrame
    funnel_campaign: pd.DataFrame
    funnel_month: pd.DataFrame
    #: first response against the SLA per channel and per SDR (empty for a CRM export)
    sla_channel: pd.DataFrame = field(default_factory=pd.DataFrame)
    sla_sdr: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the language of the report's phrases and notes (its tables keep machine values)
    locale: str = "en"
    #: how its deal values are written (the tables hold them in the base currency)
    money: DealMoney = field(default_factory=DealMoney)

    @property
    def lead_count(self) -> int:
        """How many leads of the period the report is about (its all-leads row)."""
        return int(self.funnel_channel["leads"].iloc[0])

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (the CSV files and the JSON ``tables``)."""
        return {
            "summary": self.summary,
            "global_drivers": self.global_drivers,
            "drivers": self.drivers,
            "campaign_drivers": self.campaign_drivers,
            "funnel_channel": self.funnel_channel,
            "funnel_campaign": self.funnel_campaign,
            "funnel_month": self.funnel_month,
            "sla_channel": self.sla_channel,
            "sla_sdr": self.sla_sdr,
        }

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: NaN becomes null, timestamps ISO text."""
        period = self.period
        return {
            "title": self.title,
            "source": self.source,
            "period": {
                "label": period.label,
                "start": None if period.start is None else period.start.isoformat(),
                "end": None if period.end is None else period.end.isoformat(),
            },
            "target": self.target,
            "outcome": outcome_words(self.target, self.locale),
            "thresholds": {
                "min_leads": self.thresholds.min_leads,
                "min_conversions": self.thresholds.min_conversions,
            },
            "model": None if self.model is None else vars(self.model).copy(),
            "explained_per_group": self.explained_per_group,
            "generated_at": self.generated_at.isoformat(),
            "notes": list(self.notes),
            "tables": {name: records(table) for name, table in self.tables().items()},
        }


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records (NaN -> None, numpy scalars -> Python)."""
    out: list[dict[str, Any]] = []
    for row in table.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _Scored:
    """The period's leads as the model reads them, its predictions, what it is judged on."""

    leads: ReportLeads
    predicted: np.ndarray | None
    target: str
    model: ModelInfo | None
    notes: list[str]


def _in_period(
    leads: ReportLeads, period: Period, predicted: np.ndarray | None
) -> tuple[ReportLeads, np.ndarray | None]:
    mask = period.mask(leads.times)
    if mask is not None:
        leads = leads.select(mask)
        predicted = None if predicted is None else predicted[mask]
    if len(leads) == 0:
        raise NoLeadsError(f"no leads arrived in the period '{period.label}'")
    return leads, predicted


def _model_frame(model: LeadModel, leads: ReportLeads) -> tuple[ReportLeads, list[str]]:
    """The leads with every column the model reads (absent ones as missing)."""
    absent = [c for c in model.input_columns if c not in leads.frame.columns]
    if not absent:
        return leads, []
    frame = leads.frame.copy()
    for column in absent:
        frame[column] = None
    return replace(leads, frame=frame), absent


def _scored(
    leads: ReportLeads,
    model: LeadModel | None,
    predicted: np.ndarray | None,
    name: str | None,
    version: str | None,
    locale: str = "en",
) -> _Scored:
    """The leads ready for the model (or as they are, without one) and its predictions."""
    if model is None:
        return _Scored(leads, predicted, list(leads.stages)[-1], None, [])
    if model.target not in leads.stages:
        raise ReportError(
            f"the model predicts '{model.target}', which is not a stage of these leads "
            f"({', '.join(leads.stages)})"
        )
    leads, absent = _model_frame(model, leads)
    absent_note = report_words(locale).gettext(N_("the leads have no {columns}: read as not given"))
    notes = [absent_note.format(columns=", ".join(absent))] if absent else []
    if predicted is None:
        predicted = model.predict_proba(leads.frame)
    info = ModelInfo(
        name or f"{model.dataset}-{model.known_at}-{model.target}",
        version or "-",
        model.known_at,
        model.target,
        model.kind,
    )
    return _Scored(leads, predicted, model.target, info, notes)


def _expected(outlook: Outlook | None, scored: _Scored, locale: str) -> np.ndarray | None:
    """Each lead's expected value from ``outlook`` (nan: none); None without an outlook or
    when it cannot read these leads (said in the scoring notes)."""
    if outlook is None:
        return None
    try:
        told = outlook.predict(scored.leads.frame)
    except Exception as error:  # an outlook that cannot read these leads leaves the funnel as is
        said = report_words(locale).gettext(N_("no expected pipeline value: {reason}"))
        scored.notes.append(said.format(reason=f"{type(error).__name__}: {error}"))
        return None
    values = [np.nan if o.expected_value is None else o.expected_value for o in told]
    return np.asarray(values, dtype=float)


def _funnels(
    scored: _Scored, thresholds: Thresholds, expected: np.ndarray | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The funnels by channel, by channel and campaign, by channel and month."""
    by_channel, by_campaign, by_month = (
        funnel_table(scored.leads, by, scored.target, thresholds, scored.predicted, expected)
        for by in (["channel"], ["channel", "campaign"], ["channel", "month"])
    )
    return by_channel, by_campaign, by_month


def _report_notes(
    leads: ReportLeads,
    scoring_notes: list[str],
    chosen: ReportLeads,
    money: DealMoney,
    drivers_note: str,
    locale: str,
) -> list[str]:
    """The report's notes: the leads', the scoring's, the open leads' of the period, the
    deal values' conversion (when there are deal values), the drivers'."""
    money_note = money.note(locale) if leads.deal_value is not None else None
    return [
        *leads.notes,
        *scoring_notes,
        *_open_note(chosen, locale),
        *([money_note] if money_note else []),
        drivers_note,
    ]


def _open_note(leads: ReportLeads, locale: str = "en") -> list[str]:
    if leads.closed is None or not (~leads.closed).any():
        return []
    note = report_words(locale).gettext(
        N_(
            "{open} of {leads} leads are still open; rates count what they reached so "
            "far, predicted vs actual only decided leads"
        )
    )
    return [note.format(open=int((~leads.closed).sum()), leads=len(leads))]


def _vs_global(top: pd.DataFrame, global_rank: Mapping[str, int], locale: str = "en") -> str:
    said = report_words(locale).gettext(N_("{field} #{rank} here, #{global_rank} overall"))
    return "; ".join(
        said.format(field=row.field, rank=row.rank, global_rank=global_rank.get(row.field, "?"))
        for row in top.itertuples()
    )


def _global_row(global_drivers: pd.DataFrame, top: int) -> tuple[str, str, str, str]:
    """The all-leads row of the summary: the global top drivers in words."""
    mine = global_drivers[global_drivers["rank"] <= top]
    mine = mine[mine["varies"]] if "varies" in mine else mine
    return " | ".join(p for p in mine.get("phrase", []) if p), "", "", ""


def _channel_row(
    own: pd.DataFrame,
    global_drivers: pd.DataFrame,
    top: int,
    global_top: set[str],
    locale: str = "en",
) -> tuple[str, str, str, str]:
    """A channel's top drivers in words, their global ranks, what is special to it."""
    global_rank = dict(zip(global_drivers["field"], global_drivers["rank"], strict=True))
    mine = own[(own["rank"] <= top) & own["varies"].astype(bool)]
    wider = set(own.loc[own["rank"] <= 2 * top, "field"])
    return (
        " | ".join(p for p in mine["phrase"] if p),
        _vs_global(mine, global_rank, locale) if len(mine) else "",
        ", ".join(f for f in mine["field"] if f not in global_top),
        ", ".join(sorted(global_top - wider)) if len(mine) else "",
    )


def _summary(
    funnel: pd.DataFrame,
    drivers: Drivers,
    target: str,
    top: int,
    channel_field: str | None,
    locale: str = "en",
) -> pd.DataFrame:
    """Per channel (and all leads): volume, conversion, calibration, top drivers vs global."""
    summary = pd.DataFrame(
        {
            "channel": funnel["channel"],
            "leads": funnel["leads"],
            "conversions": funnel[target],
            "conversion_rate": funnel["actual_rate"],
        }
    )
    if "mean_predicted" in funnel:
        summary["mean_predicted"] = funnel["mean_predicted"]
    summary["verdict"] = funnel["verdict"]
    overall = drivers.overall
    per_channel = drivers.channels if len(drivers.channels) else pd.DataFrame(columns=_NO_DRIVERS)
    global_top = set(overall.loc[overall["rank"] <= top, "field"]) - {channel_field}
    rows = [
        _global_row(overall, top)
        if channel == ALL_LEADS
        else _channel_row(
            per_channel[per_channel["channel"] == channel], overall, top, global_top, locale
        )
        for channel in summary["channel"]
    ]
    columns = ["top_drivers", "vs_global", "specific_to_channel", "matters_less_here"]
    for position, column in enumerate(columns):
        summary[column] = [row[position] for row in rows]
    return summary


def _drivers(
    model: LeadModel | None,
    scored: _Scored,
    funnels: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    explain_per_group: int,
    seed: int,
    locale: str = "en",
) -> tuple[Drivers, str]:
    """The driver tables (empty without a model) and the note that says how to read them."""
    said = report_words(locale)
    if model is None:
        empty = Drivers(pd.DataFrame(columns=["field", "rank"]), pd.DataFrame(), pd.DataFrame())
        return empty, said.gettext(_NO_MODEL)
    channel, campaign, _month = funnels
    found = explain_drivers(model, scored.leads, channel, campaign, explain_per_group, seed, locale)
    return found, said.gettext(_RANKED_BY_SPREAD)


def build_channel_report(
    leads: ReportLeads,
    model: LeadModel | None,
    *,
    period: Period | None = None,
    thresholds: Thresholds | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    predicted: np.ndarray | None = None,
    explain_per_group: int = 500,
    top: int = 3,
    seed: int = 0,
    title: str | None = None,
    locale: str = "en",
    currency: str | None = None,
    outlook: Outlook | None = None,
) -> ChannelReport:
    """The channel review of the leads of ``period`` (see the module docstring).

    ``predicted`` (aligned with ``leads``, before the period is applied) replaces the
    model's probabilities, e.g. out-of-fold predictions; without a model only the funnel
    is reported. ``explain_per_group`` caps the leads explained per channel x campaign
    (more are sampled, and weighted back to their group's size). ``locale`` is the
    language of the phrases and notes; the tables' machine values stay English. Deal
    values are written in ``currency`` (the display currency) when the leads' rates can
    convert into it, else in their base currency. With ``outlook`` the funnels carry each
    group's expected pipeline value (the open leads' expected values summed).
    """
    period = period or Period("all")
    thresholds = thresholds or Thresholds()
    chosen, predicted = _in_period(leads, period, predicted)
    scored = _scored(chosen, model, predicted, model_name, model_version, locale)
    funnels = _funnels(scored, thresholds, _expected(outlook, scored, locale))
    drivers, note = _drivers(model, scored, funnels, explain_per_group, seed, locale)
    channel_field = model.featurizer.spec.channel_column if model is not None else None
    money = DealMoney.of(leads.deal_rates, currency, leads.deal_currency or "RUB")
    now = datetime.now(UTC)
    return ChannelReport(
        generated_at=now,
        sla_channel=response_table(scored.leads.frame, scored.leads.channels, now),
        sla_sdr=response_table(scored.leads.frame, scored.leads.channels, now, by="sdr"),
        title=title or DEFAULT_TITLE,
        source=scored.leads.source,
        period=period,
        target=scored.target,
        thresholds=thresholds,
        model=scored.model,
        explained_per_group=explain_per_group,
        summary=_summary(funnels[0], drivers, scored.target, top, channel_field, locale),
        global_drivers=drivers.overall,
        drivers=drivers.channels,
        campaign_drivers=drivers.campaigns,
        funnel_channel=funnels[0],
        funnel_campaign=funnels[1],
        funnel_month=funnels[2],
        notes=_report_notes(leads, scored.notes, scored.leads, money, note, locale),
        locale=locale,
        money=money,
    )
