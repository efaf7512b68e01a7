"""Marketing's channel review: what drives conversion in each channel, and each funnel.

Everything here is a pure computation on a trained :class:`~training.model.LeadModel` and
the leads of a period (:class:`ReportLeads`); reading the leads (lead store, data file) and
writing the report (``training.channels.page``) happen at the edges.

**Drivers.** The model's own per-lead contributions (LightGBM ``pred_contrib``: exact
TreeSHAP values in log-odds, summed per source field by ``LeadModel.source_contributions``)
are averaged over each channel's own leads, and over each campaign's where it has enough
leads. Per field and group: mean |SHAP|, mean signed SHAP, and the *spread*: the mean
absolute deviation of the field's contribution from its mean in the group. Drivers are
ranked by spread: it is what separates good from bad leads *inside* the channel, while a
contribution every lead of the channel shares (the channel field itself, a campaign all its
leads carry) sets the channel's level and shows up in the mean signed SHAP instead. The same
numbers over all leads are the global picture each channel is compared with.

**Direction in plain words.** For a field, the leads of the group are split by the value of
the field's output column that explains most of its contribution (categories; a numeric
column's distinct values or quintiles; "not given"), and the field's mean contribution per
value says which values raise or lower the chance, e.g. "higher budget_amount (RUB) raises
the chance of SQL" or "need_fit = strong raises the chance of SQL, need_fit = none lowers it".

**Funnel.** Leads, MQL, SQL, SAL, won (reached at least that stage), stage-to-stage rates,
average deal value, and mean predicted vs actual conversion over decided leads (reached the
target or closed), per channel, per campaign and per month.

**Too few leads to judge.** A group below ``Thresholds.min_leads`` leads or
``min_conversions`` conversions is reported as such: its counts are shown, its rates,
calibration and drivers are not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_text
from features.dataset import LeadData
from features.funnel import Stage, Status
from features.spec import DatasetSpec, FeatureSpec, FeatureType, StatusTarget
from training.model import LeadModel

TOO_FEW = "too few leads to judge"
#: Label of leads without a campaign.
NO_CAMPAIGN = "(none)"
#: Label of the all-leads group in tables.
ALL_LEADS = "(all leads)"
#: Funnel stages after ``lead``, in order.
FUNNEL_STAGES: tuple[str, ...] = tuple(s.value for s in Stage if s is not Stage.LEAD)
#: A numeric output with at most this many distinct values is described value by value.
MAX_DISTINCT = 6
#: Numeric outputs with more distinct values are split into this many quantile bins.
BINS = 5
#: Values held by less than this share of a group's leads are not named in phrases.
MIN_VALUE_SHARE = 0.03
#: |correlation| between bin order and mean contribution that reads as a trend.
TREND = 0.6
#: Phrase of a field with one value for every lead of a group.
SAME_VALUE = "the same for every lead here: it sets the level (mean_shap), not who converts"
_OUTCOME_WORDS = {
    "sql": "the chance of SQL",
    "sal": "the chance of SAL",
    "mql": "the chance of MQL",
    "won": "the chance of a deal",
    "converted": "the chance of conversion",
}


# --------------------------------------------------------------------------- inputs


class ReportError(ValueError):
    """A report that cannot be made as asked (a bad period, a model for another funnel ...)."""


class NoLeadsError(ReportError):
    """No leads arrived in the period asked for."""


@dataclass(frozen=True)
class Thresholds:
    """Below either minimum a group is reported as "too few leads to judge"."""

    min_leads: int = 100
    min_conversions: int = 10

    def verdict(self, leads: int, conversions: int) -> str:
        """Empty when the group can be judged, else why not (in words)."""
        if leads >= self.min_leads and conversions >= self.min_conversions:
            return ""
        return (
            f"{TOO_FEW} ({leads} leads, {conversions} conversions; "
            f"needs {self.min_leads} and {self.min_conversions})"
        )


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
    ``deal_currency`` (NaN when there is none).
    """

    frame: pd.DataFrame
    channels: np.ndarray
    campaigns: np.ndarray | None
    times: pd.DatetimeIndex | None
    stages: dict[str, np.ndarray]
    closed: np.ndarray | None = None
    deal_value: np.ndarray | None = None
    deal_currency: str | None = None
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


def money_rates(spec: DatasetSpec | None) -> tuple[str, dict[str, float]]:
    """(base currency, currency -> rate) from the spec's first money feature with rates."""
    for feature in spec.features if spec is not None else []:
        if feature.type is FeatureType.MONEY and feature.rates:
            return feature.base_currency, {k.upper(): v for k, v in feature.rates.items()}
    return "RUB", {"RUB": 1.0}


def _deal_values(
    values: Any, currencies: Any, base: str, rates: Mapping[str, float]
) -> tuple[np.ndarray, int]:
    """Deal values in ``base`` (NaN where none or the currency has no rate); (values, dropped)."""
    amount = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    amount_array = amount.to_numpy(dtype=float, na_value=np.nan)
    if currencies is None:
        return amount_array, 0
    codes = _labels(currencies, base)
    rate = np.array([rates.get(code.upper(), np.nan) for code in codes], dtype=float)
    converted = amount_array * rate
    dropped = int(np.sum(~np.isnan(amount_array) & np.isnan(rate)))
    return converted, dropped


def leads_from_records(
    frame: pd.DataFrame,
    *,
    spec: DatasetSpec | None = None,
    channel_column: str = "channel",
    campaign_column: str | None = "utm_campaign",
    time_column: str = "arrived_at",
    source: str = "",
) -> ReportLeads:
    """Leads in the lead-store shape: flat records plus ``stage_reached``, ``status``,
    ``deal_value`` and ``deal_currency`` (the demo data and the lead store look like this)."""
    required = [channel_column, time_column, "stage_reached"]
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise ReportError(f"the leads have no column {', '.join(absent)} (needed for the report)")
    frame = frame.reset_index(drop=True)
    times = pd.DatetimeIndex(pd.to_datetime(frame[time_column], utc=True, format="ISO8601"))
    base, rates = money_rates(spec)
    notes: list[str] = []
    deal: np.ndarray | None = None
    if "deal_value" in frame.columns:
        currencies = frame["deal_currency"] if "deal_currency" in frame.columns else None
        deal, dropped = _deal_values(frame["deal_value"], currencies, base, rates)
        if dropped:
            notes.append(f"{dropped} deal value(s) in a currency without a rate are left out")
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
    outcome columns the spec drops (``stage_reached``, ``status``, ``deal_value``,
    ``deal_currency``); they are matched to the data by the id column."""
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
        if "deal_value" in aligned.columns:
            currency, rates = money_rates(data.spec)
            currencies = aligned["deal_currency"] if "deal_currency" in aligned.columns else None
            deal, dropped = _deal_values(aligned["deal_value"], currencies, currency, rates)
            if dropped:
                notes.append(f"{dropped} deal value(s) in a currency without a rate are left out")
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
        source=data.source,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- funnel


def outcome_words(target: str) -> str:
    return _OUTCOME_WORDS.get(target, f"the chance of {target.replace('_', ' ')}")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else math.nan


@dataclass(frozen=True)
class _FunnelInputs:
    stages: dict[str, np.ndarray]
    target: str
    decided: np.ndarray
    closed: np.ndarray | None
    deal_value: np.ndarray | None
    predicted: np.ndarray | None


def _funnel_row(inputs: _FunnelInputs, rows: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    stages = inputs.stages
    leads = len(rows)
    row: dict[str, Any] = {"leads": leads}
    counts = {name: int(reached[rows].sum()) for name, reached in stages.items()}
    row.update(counts)
    if inputs.closed is not None:
        row["open"] = int((~inputs.closed[rows]).sum())
    conversions = counts[inputs.target]
    verdict = thresholds.verdict(leads, conversions)
    judged = verdict == ""
    previous, previous_count = "lead", leads
    for name, count in counts.items():
        row[f"{previous}_to_{name}"] = _ratio(count, previous_count) if judged else math.nan
        previous, previous_count = name, count
    last = list(stages)[-1]
    if len(stages) > 1:
        row[f"lead_to_{last}"] = _ratio(counts[last], leads) if judged else math.nan
    if inputs.deal_value is not None:
        values = inputs.deal_value[rows]
        values = values[~np.isnan(values)]
        row["deals_valued"] = len(values)
        row["avg_deal_value"] = float(values.mean()) if judged and len(values) else math.nan
    decided = inputs.decided[rows]
    row["decided"] = int(decided.sum())
    actual = stages[inputs.target][rows][decided]
    row["actual_rate"] = float(actual.mean()) if judged and len(actual) else math.nan
    if inputs.predicted is not None:
        predicted = inputs.predicted[rows][decided]
        row["mean_predicted"] = float(predicted.mean()) if judged and len(predicted) else math.nan
        row["calibration_gap"] = row["mean_predicted"] - row["actual_rate"]
    row["verdict"] = verdict or "ok"
    return row


def _grouped(keys: dict[str, np.ndarray]) -> list[tuple[tuple[str, ...], np.ndarray]]:
    frame = pd.DataFrame(keys)
    groups = frame.groupby(list(keys), sort=True).indices
    return [
        ((key,) if isinstance(key, str) else tuple(key), np.asarray(rows))
        for key, rows in groups.items()
    ]


def funnel_table(
    leads: ReportLeads,
    by: Sequence[str],
    target: str,
    thresholds: Thresholds,
    predicted: np.ndarray | None = None,
) -> pd.DataFrame:
    """One funnel row per group; ``by`` is a subset of channel, campaign, month (in order).

    ``target`` is the stage whose conversion is judged and compared with ``predicted``.
    Rows by channel start with the all-leads total.
    """
    if target not in leads.stages:
        raise ReportError(f"target '{target}' is not a funnel stage ({', '.join(leads.stages)})")
    decided = leads.stages[target].copy()
    if leads.closed is not None:
        decided |= leads.closed
    else:
        decided[:] = True
    inputs = _FunnelInputs(leads.stages, target, decided, leads.closed, leads.deal_value, predicted)
    keys: dict[str, np.ndarray] = {}
    for name in by:
        if name == "channel":
            keys[name] = leads.channels
        elif name == "campaign":
            if leads.campaigns is None:
                return pd.DataFrame()
            keys[name] = leads.campaigns
        elif name == "month":
            if leads.times is None:
                return pd.DataFrame()
            keys[name] = np.asarray(leads.times.strftime("%Y-%m"), dtype=str)
        else:
            raise ValueError(f"unknown grouping '{name}'; use channel, campaign or month")
    rows: list[dict[str, Any]] = []
    if list(by) == ["channel"]:
        rows.append(
            {"channel": ALL_LEADS, **_funnel_row(inputs, np.arange(len(leads)), thresholds)}
        )
    if list(by) == ["channel", "month"]:  # the month's total over every channel
        for (month,), positions in _grouped({"month": keys["month"]}):
            total = _funnel_row(inputs, positions, thresholds)
            rows.append({"channel": ALL_LEADS, "month": month, **total})
    for key, positions in _grouped(keys):
        rows.append(
            {**dict(zip(by, key, strict=True)), **_funnel_row(inputs, positions, thresholds)}
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- drivers


@dataclass(frozen=True)
class _ValueGroups:
    """The leads of a group split by one output column's value (code -1: not given)."""

    codes: np.ndarray
    labels: list[str]
    ordered: bool
    binned: bool
    what: str


def _number(value: float) -> str:
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


class _Describer:
    """Plain words for the values of a model's output columns."""

    def __init__(self, model: LeadModel) -> None:
        featurizer = model.featurizer
        self.names: list[str] = list(featurizer.get_feature_names_out())
        self.sources: list[str] = list(featurizer.feature_sources_)
        self.categorical = set(featurizer.categorical_indices_)
        self.categories: dict[str, list[str]] = dict(featurizer.categories_)
        self.features: dict[str, FeatureSpec] = {f.column: f for f in featurizer.spec.features}

    def what(self, j: int) -> str:
        """The quantity a numeric output column measures."""
        name, source = self.names[j], self.sources[j]
        feature = self.features[source]
        if name == source:
            return source
        if feature.type is FeatureType.MONEY:
            return f"{source} ({feature.base_currency})"
        suffix = name.removeprefix(source + "_")
        words = {"chars": "length", "words": "word count", "days_before": "days before arrival"}
        return f"{source} {words.get(suffix, suffix.replace('_', ' '))}"

    def value(self, j: int, value: float) -> str:
        """A few-valued numeric output's value in words."""
        name, source = self.names[j], self.sources[j]
        feature = self.features[source]
        if feature.type is FeatureType.BOOLEAN:
            return f"{source} = {'yes' if value else 'no'}"
        if feature.type is FeatureType.ORDINAL and feature.order:
            index = int(value)
            if 0 <= index < len(feature.order) and index == value:
                return f"{source} = {feature.order[index]}"
        if feature.type is FeatureType.PHONE:
            return f"{source} given" if value else f"no {source}"
        if "_kw_" in name:
            word = name.split("_kw_", 1)[1]
            return f"{source} mentions {word}" if value else f"{source} without '{word}'"
        return f"{self.what(j)} = {_number(value)}"

    def groups(self, j: int, values: np.ndarray) -> _ValueGroups:
        name, source = self.names[j], self.sources[j]
        known = ~np.isnan(values)
        if j in self.categorical:
            labels = self.categories.get(name, [])
            words = [
                f"{source} not given"
                if label == "missing"
                else f"{source} = {label}"
                if name == source
                else f"{name} = {label}"
                for label in labels
            ]
            codes = np.where(known, np.nan_to_num(values, nan=-1.0), -1).astype(np.int64)
            codes = np.where(codes < len(words), codes, -1)
            return _ValueGroups(codes, words, ordered=False, binned=False, what=source)
        distinct = np.unique(values[known])
        codes = np.full(len(values), -1, dtype=np.int64)
        if len(distinct) <= MAX_DISTINCT:
            codes[known] = np.searchsorted(distinct, values[known])
            labels = [self.value(j, float(v)) for v in distinct]
            return _ValueGroups(codes, labels, ordered=True, binned=False, what=self.what(j))
        edges = np.unique(np.quantile(values[known], np.linspace(0, 1, BINS + 1)[1:-1]))
        codes[known] = np.searchsorted(edges, values[known], side="right")
        what = self.what(j)
        labels = [f"{what} < {_number(edges[0])}"]
        labels += [f"{what} {_number(a)}–{_number(b)}" for a, b in pairwise(edges)]
        labels.append(f"{what} ≥ {_number(edges[-1])}")
        return _ValueGroups(codes, labels, ordered=True, binned=True, what=what)


def _group_means(
    codes: np.ndarray, contrib: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group codes, weight per group, weighted mean contribution per group)."""
    shifted = codes + 1  # -1 (not given) -> 0
    size = int(shifted.max()) + 1 if len(shifted) else 1
    weight = np.bincount(shifted, weights=weights, minlength=size)
    total = np.bincount(shifted, weights=weights * contrib, minlength=size)
    present = np.flatnonzero(weight > 0)
    return present - 1, weight[present], total[present] / weight[present]


def _explained_share(codes: np.ndarray, contrib: np.ndarray, weights: np.ndarray) -> float:
    """Share of the contribution's variance explained by the value groups (eta squared)."""
    mean = float(np.average(contrib, weights=weights))
    total = float(np.sum(weights * (contrib - mean) ** 2))
    if total <= 1e-12:
        return 0.0
    _, weight, means = _group_means(codes, contrib, weights)
    return float(np.sum(weight * (means - mean) ** 2) / total)


@dataclass(frozen=True)
class Direction:
    sign: str  # "+" higher values / the named values raise the chance, "-" lower it
    phrase: str


def _weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.sum(w * (x - mx) * (y - my))
    sx, sy = np.sqrt(np.sum(w * (x - mx) ** 2)), np.sqrt(np.sum(w * (y - my) ** 2))
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else 0.0


def describe_direction(
    source: str,
    groups: _ValueGroups,
    contrib: np.ndarray,
    weights: np.ndarray,
    outcome: str,
) -> Direction:
    """Which values of ``source`` raise or lower the chance, in words."""
    codes, weight, means = _group_means(groups.codes, contrib, weights)
    overall = float(np.average(contrib, weights=weights))
    shown = weight / weight.sum() >= MIN_VALUE_SHARE
    codes, weight, means = codes[shown], weight[shown], means[shown]
    if len(codes) < 2:
        return Direction("+", "")

    def label(code: int) -> str:
        return f"{source} not given" if code < 0 else groups.labels[code]

    known = codes >= 0
    sign = "+"
    if groups.ordered and known.sum() >= 2:
        r = _weighted_corr(codes[known].astype(float), means[known], weight[known])
        sign = "+" if r >= 0 else "-"
        if groups.binned and known.sum() >= 3 and abs(r) >= TREND:
            verb = "raises" if r >= 0 else "lowers"
            phrase = f"higher {groups.what} {verb} {outcome}"
            if not known.all():
                missing = float(means[~known][0])
                spread = float(np.max(np.abs(means[known] - overall)))
                if abs(missing - overall) >= 0.5 * spread:
                    effect = "raises" if missing > overall else "lowers"
                    phrase += f"; {source} not given {effect} it"
            return Direction(sign, phrase)
    else:
        up, down = float(means.max() - overall), float(overall - means.min())
        sign = "+" if up >= down else "-"
    best, worst = int(codes[np.argmax(means)]), int(codes[np.argmin(means)])
    return Direction(sign, f"{label(best)} raises {outcome}, {label(worst)} lowers it")


@dataclass(frozen=True)
class _Explained:
    """SHAP of the explained leads: ``rows`` (positions in the report's leads, sorted),
    their feature matrix and contributions per source field."""

    rows: np.ndarray
    matrix: np.ndarray
    fields: list[str]
    contrib: np.ndarray

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Positions in the explained set of report rows ``rows`` (all explained)."""
        return np.searchsorted(self.rows, rows)


def _sample(members: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return members if len(members) <= cap else np.sort(rng.choice(members, cap, replace=False))


@dataclass(frozen=True)
class _Samples:
    """Rows explained per channel (weighted back to the channel's size) and per campaign."""

    channel_rows: np.ndarray
    channel_weights: np.ndarray
    campaign_rows: dict[tuple[str, str], np.ndarray]

    def union(self) -> np.ndarray:
        return np.unique(np.concatenate([self.channel_rows, *self.campaign_rows.values()]))


def _samples(
    leads: ReportLeads, campaigns: Sequence[tuple[str, str]], cap: int, seed: int
) -> _Samples:
    """Up to ``cap`` leads of each channel and of each campaign in ``campaigns``."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for channel in np.unique(leads.channels):
        members = np.flatnonzero(leads.channels == channel)
        taken = _sample(members, cap, rng)
        rows.append(taken)
        weights.append(np.full(len(taken), len(members) / len(taken)))
    chosen: dict[tuple[str, str], np.ndarray] = {}
    if leads.campaigns is not None:
        for channel, campaign in campaigns:
            cell = (leads.channels == channel) & (leads.campaigns == campaign)
            chosen[(channel, campaign)] = _sample(np.flatnonzero(cell), cap, rng)
    order = np.argsort(np.concatenate(rows), kind="stable")
    return _Samples(np.concatenate(rows)[order], np.concatenate(weights)[order], chosen)


def _explain(model: LeadModel, leads: ReportLeads, rows: np.ndarray) -> _Explained:
    matrix = model.transform(leads.frame.iloc[rows])
    fields, contrib = model.source_contributions(matrix)
    return _Explained(rows, matrix, fields, contrib)


def _driver_rows(
    explained: _Explained,
    members: np.ndarray,
    weights: np.ndarray,
    describer: _Describer,
    outcome: str,
) -> pd.DataFrame:
    """Per source field over the explained leads at ``members`` (positions in ``explained``),
    each counted with its weight. Fields holding one value for every lead of the group (the
    channel inside a channel) rank last: they set the group's level, not who converts."""
    contrib = explained.contrib[members]
    mean = np.average(contrib, axis=0, weights=weights)
    table = pd.DataFrame(
        {
            "field": explained.fields,
            "mean_abs_shap": np.average(np.abs(contrib), axis=0, weights=weights),
            "mean_shap": mean,
            "spread": np.average(np.abs(contrib - mean), axis=0, weights=weights),
        }
    )
    outputs: dict[str, list[int]] = {}
    for j, source in enumerate(describer.sources):
        outputs.setdefault(source, []).append(j)
    values = explained.matrix[members]
    signs, phrases, varies = [], [], []
    for k, source in enumerate(explained.fields):
        candidates = [describer.groups(j, values[:, j]) for j in outputs[source]]
        varied = any(len(np.unique(g.codes)) > 1 for g in candidates)
        direction = Direction("+", "" if varied else SAME_VALUE)
        if varied and table.at[k, "spread"] > 1e-9:
            best = max(
                candidates,
                key=lambda g: _explained_share(g.codes, contrib[:, k], weights),
            )
            direction = describe_direction(source, best, contrib[:, k], weights, outcome)
        signs.append(direction.sign)
        phrases.append(direction.phrase)
        varies.append(varied)
    table["direction"] = signs
    table["phrase"] = phrases
    table["varies"] = varies
    order = table.sort_values(["varies", "spread"], ascending=[False, False], kind="stable")
    order["rank"] = np.arange(1, len(order) + 1)
    columns = [
        "field",
        "mean_abs_shap",
        "mean_shap",
        "spread",
        "rank",
        "varies",
        "direction",
        "phrase",
    ]
    return order[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    known_at: str
    target: str
    kind: str


@dataclass
class ChannelReport:
    """Every table of the channel review (see the module docstring)."""

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
    notes: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

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
            "outcome": outcome_words(self.target),
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


def _model_frame(model: LeadModel, leads: ReportLeads) -> tuple[ReportLeads, list[str]]:
    """The leads with every column the model reads (absent ones as missing)."""
    absent = [c for c in model.input_columns if c not in leads.frame.columns]
    if not absent:
        return leads, []
    frame = leads.frame.copy()
    for column in absent:
        frame[column] = None
    return replace(leads, frame=frame), absent


def _vs_global(top: pd.DataFrame, global_rank: Mapping[str, int]) -> str:
    return "; ".join(
        f"{row.field} #{row.rank} here, #{global_rank.get(row.field, '?')} overall"
        for row in top.itertuples()
    )


def _summary(
    funnel: pd.DataFrame,
    drivers: pd.DataFrame,
    global_drivers: pd.DataFrame,
    target: str,
    top: int,
    channel_field: str | None,
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
    global_rank = dict(zip(global_drivers["field"], global_drivers["rank"], strict=True))
    global_top = set(global_drivers.loc[global_drivers["rank"] <= top, "field"]) - {channel_field}
    tops, versus, specific, less = [], [], [], []
    for channel in summary["channel"]:
        if channel == ALL_LEADS:
            mine = global_drivers[global_drivers["rank"] <= top]
            mine = mine[mine["varies"]] if "varies" in mine else mine
            tops.append(" | ".join(p for p in mine.get("phrase", []) if p))
            versus.append("")
            specific.append("")
            less.append("")
            continue
        own = drivers[drivers["channel"] == channel]
        mine = own[(own["rank"] <= top) & own["varies"].astype(bool)]
        wider = set(own.loc[own["rank"] <= 2 * top, "field"])
        tops.append(" | ".join(p for p in mine["phrase"] if p))
        versus.append(_vs_global(mine, global_rank) if len(mine) else "")
        specific.append(", ".join(f for f in mine["field"] if f not in global_top))
        less.append(", ".join(sorted(global_top - wider)) if len(mine) else "")
    summary["top_drivers"] = tops
    summary["vs_global"] = versus
    summary["specific_to_channel"] = specific
    summary["matters_less_here"] = less
    return summary


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
) -> ChannelReport:
    """The channel review of the leads of ``period`` (see the module docstring).

    ``predicted`` (aligned with ``leads``, before the period is applied) replaces the
    model's probabilities, e.g. out-of-fold predictions; without a model only the funnel
    is reported. ``explain_per_group`` caps the leads explained per channel x campaign
    (more are sampled, and weighted back to their group's size).
    """
    period = period or Period("all")
    thresholds = thresholds or Thresholds()
    notes = list(leads.notes)
    mask = period.mask(leads.times)
    if mask is not None:
        leads = leads.select(mask)
        predicted = None if predicted is None else predicted[mask]
    if len(leads) == 0:
        raise NoLeadsError(f"no leads arrived in the period '{period.label}'")
    target = list(leads.stages)[-1]
    info = None
    if model is not None:
        if model.target not in leads.stages:
            raise ReportError(
                f"the model predicts '{model.target}', which is not a stage of these leads "
                f"({', '.join(leads.stages)})"
            )
        target = model.target
        leads, absent = _model_frame(model, leads)
        if absent:
            notes.append(f"the leads have no {', '.join(absent)}: read as not given")
        if predicted is None:
            predicted = model.predict_proba(leads.frame)
        info = ModelInfo(
            model_name or f"{model.dataset}-{model.known_at}-{model.target}",
            model_version or "-",
            model.known_at,
            model.target,
            model.kind,
        )
    if leads.closed is not None and (~leads.closed).any():
        notes.append(
            f"{int((~leads.closed).sum())} of {len(leads)} leads are still open; rates count "
            "what they reached so far, predicted vs actual only decided leads"
        )
    funnel_channel = funnel_table(leads, ["channel"], target, thresholds, predicted)
    funnel_campaign = funnel_table(leads, ["channel", "campaign"], target, thresholds, predicted)
    funnel_month = funnel_table(leads, ["channel", "month"], target, thresholds, predicted)
    empty = pd.DataFrame(columns=["field", "rank"])
    global_drivers, drivers, campaign_drivers = empty, pd.DataFrame(), pd.DataFrame()
    if model is not None:
        global_drivers, drivers, campaign_drivers = _all_drivers(
            model, leads, funnel_channel, funnel_campaign, explain_per_group, seed
        )
        notes.append(
            "drivers are ranked by spread: how much a field's contribution varies between the "
            "leads of the group (mean |SHAP - group mean SHAP|, log-odds)"
        )
    else:
        notes.append("no model: only the funnel is reported (no drivers, no predictions)")
    channel_field = model.featurizer.spec.channel_column if model is not None else None
    summary = _summary(
        funnel_channel,
        drivers
        if len(drivers)
        else pd.DataFrame(columns=["channel", "rank", "field", "phrase", "varies"]),
        global_drivers,
        target,
        top,
        channel_field,
    )
    return ChannelReport(
        title=title or "Channel review",
        source=leads.source,
        period=period,
        target=target,
        thresholds=thresholds,
        model=info,
        explained_per_group=explain_per_group,
        summary=summary,
        global_drivers=global_drivers,
        drivers=drivers,
        campaign_drivers=campaign_drivers,
        funnel_channel=funnel_channel,
        funnel_campaign=funnel_campaign,
        funnel_month=funnel_month,
        notes=notes,
    )


def _judged(funnel: pd.DataFrame, keys: Sequence[str]) -> set[tuple[str, ...]]:
    if funnel.empty:
        return set()
    ok = funnel[funnel["verdict"] == "ok"]
    return {tuple(str(v) for v in row) for row in ok[list(keys)].itertuples(index=False)}


def _all_drivers(
    model: LeadModel,
    leads: ReportLeads,
    funnel_channel: pd.DataFrame,
    funnel_campaign: pd.DataFrame,
    cap: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    campaigns = sorted(_judged(funnel_campaign, ["channel", "campaign"]))
    samples = _samples(leads, [(c[0], c[1]) for c in campaigns], cap, seed)
    explained = _explain(model, leads, samples.union())
    describer = _Describer(model)
    outcome = outcome_words(model.target)
    sampled = explained.at(samples.channel_rows)
    weights = samples.channel_weights
    global_drivers = _driver_rows(explained, sampled, weights, describer, outcome)
    global_rank = dict(zip(global_drivers["field"], global_drivers["rank"], strict=True))
    global_spread = dict(zip(global_drivers["field"], global_drivers["spread"], strict=True))
    channels = leads.channels[samples.channel_rows]
    tables: list[pd.DataFrame] = []
    for (channel,) in sorted(_judged(funnel_channel, ["channel"]) - {(ALL_LEADS,)}):
        mine = channels == channel
        table = _driver_rows(explained, sampled[mine], weights[mine], describer, outcome)
        tables.append(_keyed(table, {"channel": channel}, int(mine.sum())))
    campaign_tables: list[pd.DataFrame] = []
    for (channel, campaign), rows in samples.campaign_rows.items():
        ones = np.ones(len(rows))
        table = _driver_rows(explained, explained.at(rows), ones, describer, outcome)
        keys = {"channel": channel, "campaign": campaign}
        campaign_tables.append(_keyed(table, keys, len(rows)))
    drivers = _compare(tables, global_rank, global_spread)
    campaign_drivers = _compare(campaign_tables, global_rank, global_spread)
    return global_drivers, drivers, campaign_drivers


def _keyed(table: pd.DataFrame, keys: dict[str, str], explained: int) -> pd.DataFrame:
    for position, (name, value) in enumerate(keys.items()):
        table.insert(position, name, value)
    table.insert(len(keys), "explained", explained)
    return table


def _compare(
    tables: list[pd.DataFrame], global_rank: Mapping[str, int], global_spread: Mapping[str, float]
) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame()
    out = pd.concat(tables, ignore_index=True)
    out["global_rank"] = out["field"].map(global_rank)
    out["global_spread"] = out["field"].map(global_spread)
    return out
