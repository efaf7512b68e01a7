"""The ground-truth document written beside the data: rates, oracle quality and drivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.demo.answers import Qualification
from features.demo.arrivals import Arrival
from features.demo.config import GENERATOR_VERSION
from features.demo.drivers import (
    DriverStats,
    add_driver,
    categories,
    driver_list,
    driver_stats,
    encodings,
)
from features.demo.tables import Tables
from features.demo.truth import (
    arrival_terms,
    qualified_terms,
    won_arrival_terms,
    won_qualified_terms,
)
from features.funnel import Stage


def ground_truth(
    *,
    n: int,
    seed: int,
    start: date,
    end: date,
    months: int,
    t: Tables,
    a: Arrival,
    q: Qualification,
    frame: pd.DataFrame,
) -> dict[str, Any]:
    """What the generator knows: the settings, rates, oracle AUCs and drivers per channel."""
    sql_stats = _drivers(a, q, t, (*arrival_terms(a, t), *qualified_terms(a.channel, q, t)))
    won_stats = _drivers(a, q, t, (*won_arrival_terms(a, t), *won_qualified_terms(q, t)))
    rank = frame["stage_reached"].map({s.value: s.rank for s in Stage}).to_numpy()
    sql = rank >= Stage.SQL.rank
    won = rank >= Stage.WON.rank
    p = {k: frame[k].to_numpy() for k in frame.columns if k.startswith("true_p_")}
    return {
        "generator": "leadscore.features.demo",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "n": n,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "months": months,
        "currency_rates_to_rub": t.rates,
        "strength": (
            "mean absolute centred contribution to the SQL log-odds (the mean |SHAP| of the "
            "true additive-per-channel model), per spec column"
        ),
        "rates": {
            "sql": _mean(p["true_p_sql"], None),
            "won": _mean(p["true_p_won"], None),
            "realised_sql": _mean(sql, None),
            "realised_won": _mean(won, None),
        },
        "oracle_auc": {
            "sql_qualified": _auc(sql, p["true_p_sql"]),
            "sql_arrival": _auc(sql, p["true_p_sql_arrival"]),
            "won_qualified": _auc(won, p["true_p_won"]),
            "won_arrival": _auc(won, p["true_p_won_arrival"]),
        },
        "channels": dict(_channels(t, a, sql_stats, sql, won, p)),
        "global_drivers": driver_list(
            sql_stats.overall, sql_stats.overall_direction, sql_stats.overall_extremes
        ),
        "won_given_sql_drivers": driver_list(
            won_stats.overall, won_stats.overall_direction, won_stats.overall_extremes
        ),
    }


def _drivers(
    a: Arrival, q: Qualification, t: Tables, terms: tuple[tuple[str, np.ndarray], ...]
) -> DriverStats:
    stats = driver_stats(a.channel)
    encoded = encodings(a, q)
    labelled = categories(a, q, t)
    for column, value in terms:
        add_driver(stats, column, value, encoded.get(column), labelled.get(column))
    return stats


def _channels(
    t: Tables,
    a: Arrival,
    stats: DriverStats,
    sql: np.ndarray,
    won: np.ndarray,
    p: dict[str, np.ndarray],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each channel's entry: its leads, rates, intercept, drivers and oracle AUC."""
    n = len(a.at)
    for i, channel in enumerate(t.story.channels):
        rows = a.channel == i
        leads = int(rows.sum())
        strengths = {c: float(v[i]) for c, v in stats.per_channel.items()}
        directions = {c: v[i] for c, v in stats.direction.items()}
        extremes = {c: v[i] for c, v in stats.extremes.items()}
        yield (
            channel.name,
            {
                "leads": leads,
                "share": round(leads / n, 4),
                "base_sql_rate": _mean(p["true_p_sql"], rows),
                "base_won_rate": _mean(p["true_p_won"], rows),
                "realised_sql_rate": _mean(sql, rows),
                "realised_won_rate": _mean(won, rows),
                "sql_intercept_log_odds": channel.sql_intercept,
                "dominant_drivers": list(channel.dominant_drivers),
                "drivers": driver_list(strengths, directions, extremes),
                "sql_auc": _auc(sql[rows], p["true_p_sql"][rows]),
            },
        )


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC via ranks (ties averaged); None when only one class is present."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _mean(values: np.ndarray, rows: np.ndarray | None) -> float | None:
    chosen = values if rows is None else values[rows]
    return round(float(np.mean(chosen)), 4) if len(chosen) else None
