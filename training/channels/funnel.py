"""The funnel tables of a channel review, and when a group has too few leads to judge.

Per channel, per campaign and per month: leads, MQL, SQL, SAL, won (reached at least that
stage), open leads, stage-to-stage rates, average deal value, and mean predicted vs actual
conversion over decided leads (reached the target or closed). A group below
``Thresholds.min_leads`` leads or ``min_conversions`` conversions is reported as too few
leads to judge: its counts are shown, its rates and calibration are not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.i18n import N_
from training.channels.leads import ReportError, ReportLeads
from training.channels.words import ALL_LEADS_LABEL, report_words

TOO_FEW = "too few leads to judge"
#: Label of the all-leads group in tables.
ALL_LEADS = ALL_LEADS_LABEL
_OUTCOME_WORDS = {
    "sql": N_("the chance of SQL"),
    "sal": N_("the chance of SAL"),
    "mql": N_("the chance of MQL"),
    "won": N_("the chance of a deal"),
    "converted": N_("the chance of conversion"),
}


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


def outcome_words(target: str, locale: str | None = "en") -> str:
    """The target as a chance in words: ``sql`` -> "the chance of SQL" ("шанс SQL")."""
    said = report_words(locale)
    if target in _OUTCOME_WORDS:
        return said.gettext(_OUTCOME_WORDS[target])
    return said.gettext(N_("the chance of {target}")).format(target=target.replace("_", " "))


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
    expected: np.ndarray | None = None  # each lead's expected value (nan: none)


def _rates(counts: dict[str, int], leads: int, judged: bool) -> dict[str, float]:
    """Stage-to-stage rates (and lead to the last stage); NaN when not judged."""
    rates: dict[str, float] = {}
    previous, previous_count = "lead", leads
    for name, count in counts.items():
        rates[f"{previous}_to_{name}"] = _ratio(count, previous_count) if judged else math.nan
        previous, previous_count = name, count
    last = list(counts)[-1]
    if len(counts) > 1:
        rates[f"lead_to_{last}"] = _ratio(counts[last], leads) if judged else math.nan
    return rates


def _mean(values: np.ndarray, judged: bool) -> float:
    return float(values.mean()) if judged and len(values) else math.nan


def _outcomes(inputs: _FunnelInputs, rows: np.ndarray, judged: bool) -> dict[str, Any]:
    """Deal values, decided leads and actual (vs mean predicted) conversion of ``rows``."""
    row: dict[str, Any] = {}
    if inputs.deal_value is not None:
        values = inputs.deal_value[rows]
        values = values[~np.isnan(values)]
        row["deals_valued"] = len(values)
        row["avg_deal_value"] = _mean(values, judged)
    if inputs.expected is not None:
        still_open = rows if inputs.closed is None else rows[~inputs.closed[rows]]
        row["expected_pipeline_value"] = float(np.nansum(inputs.expected[still_open]))
    decided = inputs.decided[rows]
    row["decided"] = int(decided.sum())
    row["actual_rate"] = _mean(inputs.stages[inputs.target][rows][decided], judged)
    if inputs.predicted is not None:
        row["mean_predicted"] = _mean(inputs.predicted[rows][decided], judged)
        row["calibration_gap"] = row["mean_predicted"] - row["actual_rate"]
    return row


def _funnel_row(inputs: _FunnelInputs, rows: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    leads = len(rows)
    counts = {name: int(reached[rows].sum()) for name, reached in inputs.stages.items()}
    row: dict[str, Any] = {"leads": leads, **counts}
    if inputs.closed is not None:
        row["open"] = int((~inputs.closed[rows]).sum())
    verdict = thresholds.verdict(leads, counts[inputs.target])
    judged = verdict == ""
    row.update(_rates(counts, leads, judged))
    row.update(_outcomes(inputs, rows, judged))
    row["verdict"] = verdict or "ok"
    return row


def _grouped(keys: dict[str, np.ndarray]) -> list[tuple[tuple[str, ...], np.ndarray]]:
    frame = pd.DataFrame(keys)
    groups = frame.groupby(list(keys), sort=True).indices
    return [
        ((key,) if isinstance(key, str) else tuple(key), np.asarray(rows))
        for key, rows in groups.items()
    ]


def _inputs(
    leads: ReportLeads,
    target: str,
    predicted: np.ndarray | None,
    expected: np.ndarray | None = None,
) -> _FunnelInputs:
    if target not in leads.stages:
        raise ReportError(f"target '{target}' is not a funnel stage ({', '.join(leads.stages)})")
    decided = leads.stages[target].copy()
    if leads.closed is not None:
        decided |= leads.closed
    else:
        decided[:] = True
    return _FunnelInputs(
        leads.stages, target, decided, leads.closed, leads.deal_value, predicted, expected
    )


def _keys(leads: ReportLeads, by: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The group key of every lead per grouping; None when the leads lack one."""
    keys: dict[str, np.ndarray] = {}
    for name in by:
        if name == "channel":
            keys[name] = leads.channels
        elif name == "campaign":
            if leads.campaigns is None:
                return None
            keys[name] = leads.campaigns
        elif name == "month":
            if leads.times is None:
                return None
            keys[name] = np.asarray(leads.times.strftime("%Y-%m"), dtype=str)
        else:
            raise ValueError(f"unknown grouping '{name}'; use channel, campaign or month")
    return keys


def funnel_table(
    leads: ReportLeads,
    by: Sequence[str],
    target: str,
    thresholds: Thresholds,
    predicted: np.ndarray | None = None,
    expected: np.ndarray | None = None,
) -> pd.DataFrame:
    """One funnel row per group; ``by`` is a subset of channel, campaign, month (in order).

    ``target`` is the stage whose conversion is judged and compared with ``predicted``;
    with ``expected`` (each lead's expected value), ``expected_pipeline_value`` sums it over
    the group's open leads. Rows by channel start with the all-leads total.
    """
    inputs = _inputs(leads, target, predicted, expected)
    keys = _keys(leads, by)
    if keys is None:
        return pd.DataFrame()
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
