"""The outlook checked out of time, the way the models' headline metrics are.

A second outlook is fitted on the data *as it stood* ``CHECK_LAG_DAYS`` before the export's
end: the leads that had arrived by then, each followed only up to then (a conversion after
it is not known yet, so the lead is censored there). It is measured on the leads of the next
``CHECK_WINDOW_DAYS`` days, each followed to the export's end: at least 150 days, so every
horizon up to 180 days has leads whose status at that horizon is known. Leads still open
at a horizon are handled by inverse probability of censoring weights
(``training.survival.horizons.horizon_labels``): AUC and ECE per chance are weighted, and a
lead censored before the horizon counts 0. The deal-value model is measured by the MAPE of
its median on the window's won deals, against the training deals' median value; the revenue
model (value x LT, where the spec names a lifetime column) the same way.

Pure functions of an :class:`training.outlook.OutlookData`; the runner logs the figures to
MLflow (``oot_auc_sql_30d``, ...) and writes them in the run's notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.funnel import Stage
from features.spec import DatasetSpec
from training.outlook import (
    OutlookData,
    OutlookOptions,
    OutlookUnavailableError,
    fit_on,
    horizon_key,
    rows_of,
    sampled,
    won_deals,
)
from training.retraining.gates import ece_noise
from training.survival.expand import FollowUp
from training.survival.horizons import horizon_labels
from training.survival.metrics import weighted_ece
from training.value import ValueModel, mape

#: The check's fit date: this many days before the export's end.
CHECK_LAG_DAYS = 210
#: The check measures the leads arriving in this many days after its fit date.
CHECK_WINDOW_DAYS = 60
#: Fewer window leads than this give no check (the figures would be noise).
MIN_CHECK_LEADS = 200
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ChanceCheck:
    """One chance (``sql_30d``) on the window's leads, weighted for censoring."""

    name: str
    leads: int  # window leads whose status at the horizon is known (weight > 0)
    auc: float | None  # None: one class only among them
    ece: float
    rate: float  # the weighted share that converted within the horizon
    mean_p: float  # the weighted mean predicted chance
    noise: float = 0.0  # the ECE sampling alone gives on these leads (retraining's gates)


@dataclass(frozen=True)
class OutlookCheck:
    fitted_to: pd.Timestamp
    window_end: pd.Timestamp
    fit_leads: int
    window_leads: int
    chances: tuple[ChanceCheck, ...]
    value_mape: float | None = None  # the value model's median on the window's won deals
    baseline_mape: float | None = None  # the training deals' median value on the same
    revenue_mape: float | None = None  # the same of value x LT (None: no lifetime column)
    revenue_baseline_mape: float | None = None

    def metrics(self) -> dict[str, float]:
        """As MLflow keeps them: ``oot_auc_<chance>``, ``oot_ece_<chance>``, ``oot_value_mape``."""
        out: dict[str, float] = {}
        for c in self.chances:
            if c.auc is not None:
                out[f"oot_auc_{c.name}"] = c.auc
            out[f"oot_ece_{c.name}"] = c.ece
        if self.value_mape is not None and self.baseline_mape is not None:
            out["oot_value_mape"] = self.value_mape
            out["oot_value_mape_baseline"] = self.baseline_mape
        if self.revenue_mape is not None and self.revenue_baseline_mape is not None:
            out["oot_revenue_mape"] = self.revenue_mape
            out["oot_revenue_mape_baseline"] = self.revenue_baseline_mape
        return out

    def lines(self) -> list[str]:
        """The check as the run's notes say it."""
        head = (
            f"out of time: fitted on the {self.fit_leads} leads of up to "
            f"{self.fitted_to:%Y-%m-%d} as they stood then, measured on the {self.window_leads} "
            f"leads of up to {self.window_end:%Y-%m-%d} followed to the export's end"
        )
        rows = [
            f"  {c.name}: AUC {'n/a' if c.auc is None else f'{c.auc:.3f}'}, ECE {c.ece:.4f} "
            f"(predicted {c.mean_p:.3f}, observed {c.rate:.3f}, {c.leads} leads known)"
            for c in self.chances
        ]
        if self.value_mape is not None and self.baseline_mape is not None:
            rows.append(
                f"  deal value: MAPE {self.value_mape:.3f} "
                f"(the training deals' median: {self.baseline_mape:.3f})"
            )
        if self.revenue_mape is not None and self.revenue_baseline_mape is not None:
            rows.append(
                f"  revenue over LT: MAPE {self.revenue_mape:.3f} "
                f"(the training deals' median: {self.revenue_baseline_mape:.3f})"
            )
        return [head, *rows]


def followed_to(f: FollowUp, limit: np.ndarray) -> FollowUp:
    """``f`` as it stood ``limit`` days after each lead's arrival: a later event is not
    known yet (the lead is censored at ``limit``)."""
    seen = f.event & (f.days <= limit)
    return FollowUp(days=np.where(seen, f.days, np.minimum(f.days, limit)), event=seen)


def window_rows(
    arrived: pd.Series, as_of: pd.Timestamp
) -> tuple[pd.Timestamp, np.ndarray, np.ndarray]:
    """The check's fit date, the rows that had arrived by it, and the window's rows."""
    fitted_to = as_of - CHECK_LAG_DAYS * _DAY
    at = pd.DatetimeIndex(arrived)
    before = np.flatnonzero(np.asarray(at < fitted_to))
    window = np.flatnonzero(
        np.asarray((at >= fitted_to) & (at < fitted_to + CHECK_WINDOW_DAYS * _DAY))
    )
    return fitted_to, before, window


def chance_check(name: str, f: FollowUp, horizon: int, p: np.ndarray) -> ChanceCheck:
    """``p`` = P(event within ``horizon``) against the window's follow-up ``f``."""
    labels = horizon_labels(f, horizon)
    known = labels.weight > 0
    y, w, q = labels.y[known], labels.weight[known], p[known]
    auc = float(roc_auc_score(y, q, sample_weight=w)) if len(np.unique(y)) == 2 else None
    total = float(w.sum())
    return ChanceCheck(
        name=name,
        leads=int(known.sum()),
        auc=auc,
        ece=weighted_ece(y, q, w),
        rate=float((w * y).sum() / total) if total > 0 else float("nan"),
        mean_p=float((w * q).sum() / total) if total > 0 else float("nan"),
        noise=ece_noise(q),
    )


def as_it_stood(d: OutlookData, rows: np.ndarray, when: pd.Timestamp) -> OutlookData:
    """The leads ``rows`` of ``d`` as the export would have shown them at ``when``."""
    kept = rows_of(d, rows)
    limit = np.asarray((when - pd.DatetimeIndex(kept.arrived)) / _DAY, dtype=float)
    follow = {stage: followed_to(f, limit) for stage, f in kept.follow.items()}
    won = follow[Stage.WON].event
    revenue = None if kept.revenue is None else np.where(won, kept.revenue, np.nan)
    return OutlookData(
        kept.frame, follow, np.where(won, kept.values, np.nan), won, kept.arrived, when,
        kept.currency, revenue,
    )  # fmt: skip


def check_outlook(spec: DatasetSpec, every: OutlookData, options: OutlookOptions) -> OutlookCheck:
    """The out-of-time check of an outlook fitted with ``options`` (module docstring);
    :class:`OutlookUnavailableError` says why when the data cannot give one."""
    fitted_to, before, window = window_rows(every.arrived, every.as_of)
    if len(window) < MIN_CHECK_LEADS:
        raise OutlookUnavailableError(
            f"{len(window)} leads arrived in the {CHECK_WINDOW_DAYS} days from "
            f"{fitted_to:%Y-%m-%d} (the check needs {MIN_CHECK_LEADS}, and "
            f"{CHECK_LAG_DAYS + CHECK_WINDOW_DAYS} days of history or more)"
        )
    past = sampled(as_it_stood(every, before, fitted_to), options.max_leads, options.seed)
    outlook = fit_on(spec, past, options)
    test = rows_of(every, window)
    chances: list[ChanceCheck] = []
    for stage_name, model in sorted(outlook.conversion.items()):
        stage = Stage(stage_name)
        for days, p in model.predict(test.frame).items():
            chances.append(chance_check(horizon_key(stage, days), test.follow[stage], days, p))
    value_mape, baseline = _mapes(outlook.value, test, past, test.values, past.values)
    revenue_mape = revenue_baseline = None
    if test.revenue is not None and past.revenue is not None:
        revenue_mape, revenue_baseline = _mapes(
            outlook.revenue, test, past, test.revenue, past.revenue
        )
    return OutlookCheck(
        fitted_to=fitted_to,
        window_end=fitted_to + CHECK_WINDOW_DAYS * _DAY,
        fit_leads=len(past.frame),
        window_leads=len(window),
        chances=tuple(chances),
        value_mape=value_mape,
        baseline_mape=baseline,
        revenue_mape=revenue_mape,
        revenue_baseline_mape=revenue_baseline,
    )


def _mapes(
    model: ValueModel | None,
    test: OutlookData,
    past: OutlookData,
    actual: np.ndarray,
    before: np.ndarray,
) -> tuple[float | None, float | None]:
    """The MAPE of ``model``'s median on the window's won deals' ``actual`` amounts (value,
    or value x LT), and that of the training deals' median (``before``) on the same; None
    without a model or won deals."""
    won, fitted = won_deals(test, actual), won_deals(past, before)
    if model is None or not len(won) or not len(fitted):
        return None, None
    real = actual[won]
    median = float(np.median(before[fitted]))
    return mape(real, model.median(test.frame.iloc[won])), mape(real, np.full(len(won), median))
