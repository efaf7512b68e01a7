"""Drivers: how strongly, and which way, each spec column moves the truth, per channel.

A column's strength is its mean absolute centred contribution to the log-odds over a
channel's leads: exactly the mean |SHAP| of the true model, which is additive within a
channel. Its direction is read against a natural encoding of the column, or, for
categorical columns, from the side of its largest deviation (with the best and worst value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.demo.answers import CHOICES, Qualification
from features.demo.arrivals import Arrival
from features.demo.stories import CONTACTS, SERVICES, story
from features.demo.tables import Tables
from features.lead import QUESTION_PREFIX


def _channels() -> int:
    return len(story().channels)


def encodings(a: Arrival, q: Qualification) -> dict[str, np.ndarray]:
    """The number a column's direction is read against (nan: not counted).

    budget: log10 RUB; ordinals: their rank; email: corporate; phone and first touch:
    present; message: a job keyword; contact type: a call; industry: a partner niche.
    """

    def known(codes: np.ndarray, missing: int = -1) -> np.ndarray:
        return np.where(codes == missing, np.nan, codes.astype(np.float64))

    with np.errstate(divide="ignore", invalid="ignore"):
        log_budget = np.log10(q.budget_rub)
    encodings = {
        "budget_amount": log_budget,
        "is_decision_maker": known(q.dm),
        "need_fit": known(q.fit),
        "timeframe": np.where(q.timeframe >= 4, np.nan, known(q.timeframe)),
        "company_size": known(a.size, 0),
        "email": (a.email_kind == 2).astype(np.float64),
        "phone": a.phone.astype(np.float64),
        "message": a.job.astype(np.float64),
        "first_touch_at": (~np.isnan(a.first_touch_days)).astype(np.float64),
        "contact_type": (a.contact == CONTACTS.index("call")).astype(np.float64),
        "company_industry": np.isin(a.industry, story().partner_niches).astype(np.float64),
    }
    for key in (
        "site_age_years",
        "has_analytics",
        "monthly_ad_spend",
        "followers_k",
        "has_content_team",
        "pages_count",
        "has_design",
    ):
        encodings[QUESTION_PREFIX + key] = q.answers[key]
    return encodings


def categories(a: Arrival, q: Qualification, t: Tables) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Codes (-1 missing) and labels of the categorical columns, for best/worst values."""
    s = t.story
    answers = {
        QUESTION_PREFIX + key: (np.where(np.isnan(q.answers[key]), -1, q.answers[key]), list(c))
        for key, c in CHOICES.items()
    }
    return {
        "channel": (a.channel, list(s.channel_names)),
        "utm_source": (a.source, [src.name or "(none)" for _, src in t.sources]),
        "utm_campaign": (a.campaign, [cp.name for _, cp in t.campaigns]),
        "landing_page": (a.landing, [p.path for p in s.pages]),
        "contact_type": (a.contact, list(CONTACTS)),
        "region": (a.region, [r.name or "" for r in s.regions]),
        "company_industry": (a.industry, [i.name or "" for i in s.industries]),
        "authority_role": (q.role, [r.name for r in s.roles]),
        "need_service": (q.service, list(SERVICES)),
        **{k: (codes.astype(np.int64), labels) for k, (codes, labels) in answers.items()},
    }


@dataclass
class DriverStats:
    """Per-channel and global mean |centred contribution| (= mean |SHAP| of an additive model)."""

    channel: np.ndarray
    order: np.ndarray  # rows sorted by channel
    counts: np.ndarray
    per_channel: dict[str, np.ndarray] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    direction: dict[str, list[str]] = field(default_factory=dict)
    overall_direction: dict[str, str] = field(default_factory=dict)
    extremes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (best, worst)
    overall_extremes: dict[str, tuple[str, str]] = field(default_factory=dict)


def driver_stats(channel: np.ndarray) -> DriverStats:
    order = np.argsort(channel, kind="stable")
    return DriverStats(channel, order, np.bincount(channel, minlength=_channels()))


def _by_channel(channel: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.bincount(channel, weights=values, minlength=_channels())


def _covariance_sign(channel: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per channel: +1 where x and y rise together (rows with a known x), else -1."""
    known = ~np.isnan(x)
    ch, x, y = channel[known], x[known], y[known]
    count = np.maximum(np.bincount(ch, minlength=_channels()), 1)
    cov = _by_channel(ch, x * y) - _by_channel(ch, x) * _by_channel(ch, y) / count
    return np.where(cov >= 0, 1, -1)


def _extreme_sign(stats: DriverStats, centred: np.ndarray) -> np.ndarray:
    """Per channel: +1 when the largest deviation from the channel's mean is upwards."""
    ordered = centred[stats.order]
    starts = np.r_[0, np.cumsum(stats.counts)[:-1]]
    filled = stats.counts > 0
    high = np.zeros(_channels())
    low = np.zeros(_channels())
    high[filled] = np.maximum.reduceat(ordered, starts[filled])
    low[filled] = np.minimum.reduceat(ordered, starts[filled])
    return np.where(high >= -low, 1, -1)


def _best_worst(
    channel: np.ndarray, value: np.ndarray, codes: np.ndarray, labels: list[str]
) -> list[tuple[str, str]]:
    """Per channel: the values with the highest and lowest mean contribution."""
    width = len(labels) + 1  # the last slot: missing
    slot = channel.astype(np.int64) * width + np.where(codes >= 0, codes, len(labels))
    size = _channels() * width
    count = np.bincount(slot, minlength=size).reshape(_channels(), width)
    total = np.bincount(slot, weights=value, minlength=size).reshape(_channels(), width)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    names = [*labels, "(missing)"]
    out = []
    for i in range(_channels()):
        seen = count[i] > 0
        if not seen.any():
            out.append(("", ""))
            continue
        best = int(np.argmax(np.where(seen, mean[i], -np.inf)))
        worst = int(np.argmin(np.where(seen, mean[i], np.inf)))
        out.append((names[best], names[worst]))
    return out


def add_driver(
    stats: DriverStats,
    column: str,
    value: np.ndarray,
    encoding: np.ndarray | None,
    category: tuple[np.ndarray, list[str]] | None = None,
) -> None:
    """Record a column's strength and direction per channel and overall.

    Direction: '+' when the contribution rises with the column's encoding (see
    ``encodings``); for categorical columns, '+' when the largest deviation is upwards
    (a few values raise the odds) and '-' when it is downwards.
    """
    if column in stats.per_channel:
        raise ValueError(f"driver column '{column}' added twice")
    count = np.maximum(stats.counts, 1)
    centred = value - (_by_channel(stats.channel, value) / count)[stats.channel]
    stats.per_channel[column] = _by_channel(stats.channel, np.abs(centred)) / count
    overall = value - value.mean()
    stats.overall[column] = float(np.abs(overall).mean())
    if encoding is None:
        signs = _extreme_sign(stats, centred)
        everywhere = bool(overall.max() >= -overall.min())
    else:
        signs = _covariance_sign(stats.channel, encoding, value)
        zeros = np.zeros_like(stats.channel)
        everywhere = bool(_covariance_sign(zeros, encoding, value)[0] > 0)
    stats.direction[column] = ["+" if sign > 0 else "-" for sign in signs]
    stats.overall_direction[column] = "+" if everywhere else "-"
    if category is not None:
        codes, labels = category
        stats.extremes[column] = _best_worst(stats.channel, value, codes, labels)
        zeros = np.zeros_like(stats.channel)
        stats.overall_extremes[column] = _best_worst(zeros, value, codes, labels)[0]


def driver_list(
    strengths: Mapping[str, float],
    directions: Mapping[str, str],
    extremes: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """Drivers strongest first; categorical ones name their best and worst value."""
    ranked = sorted(
        ((c, s) for c, s in strengths.items() if s > 1e-9), key=lambda item: (-item[1], item[0])
    )
    out: list[dict[str, Any]] = []
    for column, strength in ranked:
        entry: dict[str, Any] = {
            "feature": column,
            "direction": directions[column],
            "strength": round(strength, 4),
        }
        if column in extremes:
            entry["best"], entry["worst"] = extremes[column]
        out.append(entry)
    return out
