"""The truth: log-odds contributions per spec column, the exact probabilities, the oracles.

The log-odds of reaching SQL is a sum of per-column contributions whose weights depend on
the channel; the log-odds of a deal given SQL is its own sum. ``true_p_sql`` and
``true_p_won`` are these exact probabilities; the arrival oracle averages them over redraws
of the qualification answers given only the arrival fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from features.demo.answers import Context, Qualification, context, draw_qualified
from features.demo.arrivals import Arrival
from features.demo.config import DEFAULTS
from features.demo.sampling import sigmoid
from features.demo.tables import Tables
from features.lead import QUESTION_PREFIX

Terms = Iterator[tuple[str, np.ndarray]]


def local_clock(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local hour and weekday (Monday = 0) of UTC times in seconds."""
    local = seconds + DEFAULTS.local_utc_offset_hours * 3_600
    return (local // 3_600) % 24, (local // 86_400 + 3) % 7


def _budget_g(budget_rub: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.tanh((np.log10(budget_rub) - 5.4) / 0.5)
    return np.where(np.isnan(budget_rub), -1.0, g)


def _message_g(a: Arrival) -> np.ndarray:
    length = np.maximum(a.message_length, 1)
    detail = 0.4 * np.clip((np.log(length) - math.log(150.0)) / 0.8, -1.0, 1.0)
    text = detail + 0.35 * a.urgent + 0.25 * a.tender - 0.2 * a.price - 0.2 * a.english
    return np.where(a.has_message, text, -0.3)


def _first_touch_g(days: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        bump = np.exp(-(((np.log1p(days) - math.log1p(21.0)) / 0.9) ** 2)) - 0.3
    return np.where(np.isnan(days), -0.3, bump)


def arrival_terms(a: Arrival, t: Tables) -> Terms:
    """SQL log-odds contributions of the arrival fields, by spec column."""
    w = {term: weight[a.channel] for term, weight in t.weights.items()}
    values = t.story.effects.values
    hour, weekday = local_clock(a.at)
    niches = np.array([c.partner_niches for c in t.story.channels])[a.channel]
    yield "channel", t.intercept[a.channel]
    yield "utm_source", t.source_effect[a.source]
    yield "utm_campaign", w["utm_campaign"] * t.campaign_effect[a.campaign]
    yield "landing_page", w["landing_page"] * t.page_effect[a.landing]
    yield "contact_type", w["contact_type"] * np.array(values.contact_type)[a.contact]
    yield "region", t.region_effect[a.region]
    yield (
        "company_industry",
        np.where(niches, t.industry_partner_effect[a.industry], t.industry_effect[a.industry]),
    )
    yield "company_size", w["company_size"] * np.array(values.company_size)[a.size]
    yield "email", w["email"] * np.array(values.email)[a.email_kind]
    yield "phone", w["phone"] * np.array(values.phone)[a.phone.astype(np.int64)]
    yield "message", w["message"] * _message_g(a) - w["message_job"] * a.job
    off_hours = (hour < 9) | (hour >= 19)
    yield "arrived_at", -0.25 * off_hours - 0.2 * (weekday >= 5)
    yield "first_touch_at", w["first_touch_at"] * _first_touch_g(a.first_touch_days)


def _answer_terms(answers: Mapping[str, np.ndarray]) -> Terms:
    def code(key: str, effects: tuple[float, ...]) -> np.ndarray:
        values = answers[key]
        known = ~np.isnan(values)
        table = np.array(effects)
        return np.where(known, table[np.where(known, values, 0).astype(np.int64)], 0.0)

    def smooth(key: str, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        values = answers[key]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = fn(values)
        return np.where(np.isnan(values), 0.0, out)

    q = QUESTION_PREFIX
    yield q + "project_type", code("project_type", (-0.05, 0.1))
    yield q + "promotion_region", code("promotion_region", (-0.15, 0.15, 0.05))
    yield q + "site_age_years", smooth("site_age_years", lambda v: 0.12 * np.tanh((v - 3) / 3))
    yield q + "has_analytics", code("has_analytics", (-0.15, 0.25))
    yield (
        q + "monthly_ad_spend",
        smooth("monthly_ad_spend", lambda v: 0.3 * np.tanh((np.log10(v + 1.0) - 5.0) / 0.6)),
    )
    yield q + "ad_platform", code("ad_platform", (0.1, 0.05, -0.05, -0.3))
    yield q + "followers_k", smooth("followers_k", lambda v: 0.12 * np.tanh(np.log10(v + 1) - 1))
    yield q + "has_content_team", code("has_content_team", (0.1, -0.2))
    yield q + "pages_count", smooth("pages_count", lambda v: 0.2 * np.tanh(np.log(v / 20.0)))
    yield q + "has_design", code("has_design", (-0.1, 0.3))


def qualified_terms(channel: np.ndarray, q: Qualification, t: Tables) -> Terms:
    """SQL log-odds contributions of the qualification answers, by spec column."""
    w = {term: weight[channel] for term, weight in t.weights.items()}
    penalty = t.story.effects.missing_penalty
    values = t.story.effects.values
    roles = t.story.roles
    services = t.story.services
    budget_missing = np.isnan(q.budget_rub)
    yield (
        "budget_amount",
        (w["budget_amount"] * _budget_g(q.budget_rub) + penalty.budget_amount * budget_missing),
    )
    role_effect = np.array([r.effect for r in roles])
    yield "authority_role", np.where(q.role >= 0, role_effect[q.role], -0.1)
    yield (
        "is_decision_maker",
        (
            w["is_decision_maker"] * np.array(values.is_decision_maker)[q.dm + 1]
            + penalty.is_decision_maker * (q.dm < 0)
        ),
    )
    service_effect = np.array([s.effect for s in services])
    yield "need_service", np.where(q.service >= 0, service_effect[q.service], -0.1)
    yield (
        "need_fit",
        (w["need_fit"] * np.array(values.need_fit)[q.fit + 1] + penalty.need_fit * (q.fit < 0)),
    )
    yield (
        "timeframe",
        (
            w["timeframe"] * np.array(values.timeframe)[q.timeframe + 1]
            + penalty.timeframe * (q.timeframe < 0)
        ),
    )
    yield from _answer_terms(q.answers)


def won_arrival_terms(a: Arrival, t: Tables) -> Terms:
    """Arrival fields' contributions to the log-odds of a deal given SQL."""
    yield "channel", t.won_intercept[a.channel]
    yield "company_size", 0.25 * np.array(t.story.effects.values.company_size)[a.size]
    yield "message", 0.25 * a.urgent - 0.5 * a.tender - 0.3 * a.price


def won_qualified_terms(q: Qualification, t: Tables) -> Terms:
    """Qualification answers' contributions to the log-odds of a deal given SQL."""
    values = t.story.effects.values
    yield "budget_amount", 0.9 * _budget_g(q.budget_rub)
    yield "is_decision_maker", 0.5 * np.array(values.is_decision_maker)[q.dm + 1]
    yield "timeframe", 0.4 * np.array(values.timeframe)[q.timeframe + 1]
    yield "need_fit", 0.3 * (q.fit == 2) - 0.3 * (q.fit == 0)
    design = q.answers["has_design"]
    yield QUESTION_PREFIX + "has_design", np.where(np.isnan(design), 0.0, 0.25 * (design == 1))


def _sum_terms(terms: Terms, n: int) -> np.ndarray:
    total = np.zeros(n)
    for _, value in terms:
        total = total + value
    return total


@dataclass(frozen=True)
class Truth:
    z_sql: np.ndarray  # SQL log-odds given every field
    p_sql: np.ndarray
    p_won: np.ndarray


def truth(a: Arrival, q: Qualification, t: Tables) -> Truth:
    """The exact probabilities of SQL and of a deal, given every field."""
    n = len(a.at)
    z_sql = _sum_terms(arrival_terms(a, t), n) + _sum_terms(qualified_terms(a.channel, q, t), n)
    z_won = _sum_terms(won_arrival_terms(a, t), n) + _sum_terms(won_qualified_terms(q, t), n)
    p_sql = sigmoid(z_sql)
    return Truth(z_sql=z_sql, p_sql=p_sql, p_won=p_sql * sigmoid(z_won))


def arrival_oracle(
    rng: np.random.Generator, a: Arrival, t: Tables, redraws: int, chunk: int = 32_768
) -> tuple[np.ndarray, np.ndarray]:
    """E[P(SQL)] and E[P(won)] over ``redraws`` redraws of the qualification answers.

    The answers depend on the arrival fields only through their context, and their log-odds
    contributions only on the channel (which is part of it). So answers are redrawn once per
    distinct context, and each lead averages ``sigmoid(its arrival log-odds + a redraw)``
    over its context's redraws: the same Monte Carlo estimate as redrawing per lead.
    """
    n = len(a.at)
    ctx = context(a)
    _, first, inverse = np.unique(ctx.key(), return_index=True, return_inverse=True)
    q_sql, q_won = _redrawn_terms(rng, ctx.take(first), t, redraws)
    z_arrival = _sum_terms(arrival_terms(a, t), n)
    w_arrival = _sum_terms(won_arrival_terms(a, t), n)
    p_sql = np.empty(n)
    p_won = np.empty(n)
    for lo in range(0, n, chunk):
        rows = slice(lo, min(lo + chunk, n))
        idx = inverse[rows]
        ps = sigmoid(z_arrival[rows, None] + q_sql[idx])
        p_sql[rows] = ps.mean(axis=1)
        p_won[rows] = (ps * sigmoid(w_arrival[rows, None] + q_won[idx])).mean(axis=1)
    return p_sql, p_won


def _redrawn_terms(
    rng: np.random.Generator, contexts: Context, t: Tables, redraws: int
) -> tuple[np.ndarray, np.ndarray]:
    """The answers' SQL and deal log-odds, (context, redraw), for each distinct context."""
    m = len(contexts.channel)
    q_sql = np.empty((redraws, m))
    q_won = np.empty((redraws, m))
    block = max(1, 1_000_000 // m)  # redraws per batch: about a million draws at a time
    for r0 in range(0, redraws, block):
        count = min(block, redraws - r0)
        tiled = contexts.take(np.tile(np.arange(m), count))
        q = draw_qualified(rng, tiled, t)
        sql_terms = qualified_terms(tiled.channel, q, t)
        q_sql[r0 : r0 + count] = _sum_terms(sql_terms, m * count).reshape(count, m)
        q_won[r0 : r0 + count] = _sum_terms(won_qualified_terms(q, t), m * count).reshape(count, m)
    return q_sql.T.copy(), q_won.T.copy()
