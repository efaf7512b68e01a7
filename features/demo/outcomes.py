"""Outcomes: the status history of each lead through the funnel, and the deal value.

One uniform number per lead decides how far it gets (won implies SQL implies MQL); the
history walks the funnel's successful path with realistic delays, ends off the path where
the lead is lost, handed over or disqualified, and is cut at the export time, so the newest
leads may still be open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.demo.answers import MONEY_STEP, SIZE_BUDGET_LOG10, Qualification
from features.demo.arrivals import Arrival
from features.demo.config import DEFAULTS
from features.demo.sampling import lognormal_seconds, nice_round, pick, sigmoid, weighted_choice
from features.demo.stories import story
from features.demo.strings import concat, strings
from features.demo.tables import Tables
from features.demo.truth import Truth
from features.funnel import SUCCESS_PATH, Stage, Status

#: History slots: the eight first statuses of the successful path, then the final status.
_SLOTS = len(SUCCESS_PATH)  # 9: the last slot holds won or an off-path outcome
_STATUS_LIST: tuple[Status, ...] = tuple(Status)
_STATUS_INDEX = {s: i for i, s in enumerate(_STATUS_LIST)}
_OPEN = -1
_LEAD_OUTCOMES = (Status.DISQUALIFIED, Status.PARTNER, Status.OTHER_DEPARTMENT, Status.LOST)
#: Status codes of _LEAD_OUTCOMES, then "stays open".
_OUTCOME_CODES = np.array([_STATUS_INDEX[s] for s in _LEAD_OUTCOMES] + [_OPEN])


@dataclass(frozen=True)
class History:
    present: np.ndarray  # (n, 9) bool: the slot is in the history (before the export time)
    times: np.ndarray  # (n, 9) int64 seconds
    final: np.ndarray  # (n,) status index of the last slot (-1: the lead stays open)
    won: np.ndarray  # bool: realised won (before the cut)
    sql_ever: np.ndarray  # bool: the lead reaches SQL at some time (before the cut or not)
    won_ever: np.ndarray  # bool: the lead is won at some time


def outcomes(
    rng: np.random.Generator, a: Arrival, q: Qualification, truth: Truth, cutoff: int
) -> History:
    """Each lead's history up to ``cutoff`` (seconds): how far it gets and when."""
    n = len(a.at)
    u = rng.random(n)
    won = u < truth.p_won  # p_won <= p_sql <= p_mql: one uniform keeps won => sql => mql
    sql = u < truth.p_sql
    mql = u < np.maximum(truth.p_sql, sigmoid(truth.z_sql + 1.3))
    last, final, spam = _path_ends(rng, a, q, won, sql, mql)
    slot = np.arange(_SLOTS)[None, :]
    present = slot[:, :-1] <= last[:, None]
    present[:, 1] &= ~spam
    skip_manager = (last >= 4) & (rng.random(n) < 0.15)
    present[:, 3] &= ~skip_manager
    present = np.concatenate([present, (final != _OPEN)[:, None]], axis=1)
    deltas = _delays(rng, a, won, last, final)
    times = a.at[:, None] + np.cumsum(np.where(present, deltas, 0), axis=1)
    present &= times < cutoff
    return History(
        present=present,
        times=times,
        final=final,
        won=won & present[:, 8],
        sql_ever=sql,
        won_ever=won,
    )


def _path_ends(
    rng: np.random.Generator,
    a: Arrival,
    q: Qualification,
    won: np.ndarray,
    sql: np.ndarray,
    mql: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last successful-path slot each lead reaches, how it ends, and the spam."""
    n = len(a.at)
    last = np.full(n, 1, dtype=np.int64)
    final = np.full(n, _OPEN, dtype=np.int64)
    sql_end = np.array([4, 6, 7])[pick(rng, [0.45, 0.4, 0.15], n)]
    last = np.where(sql, sql_end, last)
    last = np.where(won, 7, last)
    last = np.where(mql & ~sql, np.where(rng.random(n) < 0.75, 3, 2), last)
    spam = ~mql & (rng.random(n) < 0.03)
    last = np.where(spam, 0, last)

    sql_outcome = _OUTCOME_CODES[pick(rng, [0.05, 0.07, 0.0, 0.85, 0.03], n)]
    mql_outcome = _OUTCOME_CODES[pick(rng, [0.27, 0.1, 0.03, 0.55, 0.05], n)]
    lead_weights = _lead_outcome_weights(a, q, q.budget_rub < 150_000)
    lead_outcome = _OUTCOME_CODES[weighted_choice(rng, lead_weights)]
    final = np.where(won, _STATUS_INDEX[Status.WON], final)
    final = np.where(sql & ~won, sql_outcome, final)
    final = np.where(mql & ~sql, mql_outcome, final)
    final = np.where(~mql, lead_outcome, final)
    final = np.where(spam, _STATUS_INDEX[Status.DISQUALIFIED], final)
    return last, final, spam


def _lead_outcome_weights(a: Arrival, q: Qualification, small_budget: np.ndarray) -> np.ndarray:
    """Weights over (disqualified, partner, other_department, lost, open) for leads below MQL."""
    n = len(a.at)
    weights = np.tile(np.array([0.3, 0.2, 0.08, 0.35, 0.04]), (n, 1))
    weights[:, 1] += 0.3 * small_budget  # too small for us: hand it to a partner
    weights = np.where((q.fit == 0)[:, None], np.array([0.5, 0.35, 0.05, 0.1, 0.0]), weights)
    weights = np.where((~q.reached)[:, None], np.array([0.05, 0.0, 0.0, 0.9, 0.05]), weights)
    return np.where(a.job[:, None], np.array([0.1, 0.0, 0.85, 0.05, 0.0]), weights)


def _delays(
    rng: np.random.Generator, a: Arrival, won: np.ndarray, last: np.ndarray, final: np.ndarray
) -> np.ndarray:
    """(n, 9) seconds from each slot's predecessor (at least a minute; 0 for ``new``)."""
    n = len(a.at)
    deltas = np.zeros((n, _SLOTS))
    response = _sdr_delay(rng, a.at)
    deltas[:, 1] = response
    for k, (hours, sigma) in enumerate(
        ((3, 1.0), (5, 1.0), (48, 0.8), (144, 0.7), (72, 0.6), (192, 0.6)), start=2
    ):
        deltas[:, k] = lognormal_seconds(rng, hours, sigma, n)
    end_hours = np.select(
        [
            won,
            last == 0,
            (last == 1) & (final == _STATUS_INDEX[Status.LOST]),
            last == 1,
            last <= 3,
            last == 4,
        ],
        [168.0, 0.0, 120.0, 24.0, 96.0, 336.0],
        default=288.0,
    )
    end_sigma = np.where(last == 1, 1.0, 0.7)
    deltas[:, 8] = np.where(
        last == 0, response, end_hours * 3_600.0 * np.exp(rng.normal(0.0, 1.0, n) * end_sigma)
    )
    deltas = np.maximum(np.round(deltas), 60.0).astype(np.int64)
    deltas[:, 0] = 0
    return deltas


def _sdr_delay(rng: np.random.Generator, at: np.ndarray) -> np.ndarray:
    """Seconds until the SDR's first touch: minutes in business hours, else next morning."""
    n = len(at)
    local = at + DEFAULTS.local_utc_offset_hours * 3_600
    day = local // 86_400
    hour = (local % 86_400) // 3_600
    weekday = (day + 3) % 7
    open_now = (weekday < 5) & (hour >= 9) & (hour < 19)
    before_open = (weekday < 5) & (hour < 9)
    next_day = np.where(before_open, day, day + 1)
    next_weekday = (next_day + 3) % 7
    next_day = next_day + np.where(next_weekday == 5, 2, np.where(next_weekday == 6, 1, 0))
    opening = next_day * 86_400 + 9 * 3_600
    quick = lognormal_seconds(rng, 0.35, 0.9, n)
    waited = (opening - local) + lognormal_seconds(rng, 0.6, 0.8, n)
    return np.where(open_now, quick, waited)


def _iso_by_slot(times: np.ndarray, present: np.ndarray) -> list[pa.Array]:
    """ISO-8601 UTC strings of the present history entries, one Arrow array per slot."""
    flat = pa.array(times[present], type=pa.timestamp("s"))
    iso = concat(pc.replace_substring(pc.cast(flat, pa.string()), " ", "T"), "Z")
    position = np.full(times.shape, -1, dtype=np.int64)
    position[present] = np.arange(int(present.sum()))
    return [iso.take(pa.array(position[:, k], mask=position[:, k] < 0)) for k in range(_SLOTS)]


def history_columns(h: History) -> dict[str, Any]:
    """status, stage_reached, status_history (JSON), closed_at (seconds, -1 when open)."""
    n = len(h.final)
    names = [s.value for s in _STATUS_LIST]
    path_codes = np.array([_STATUS_LIST.index(s) for s in SUCCESS_PATH[:-1]])
    codes = np.concatenate([np.tile(path_codes, (n, 1)), h.final[:, None]], axis=1)
    codes = np.where(h.present, codes, 0)
    last_slot = _SLOTS - 1 - np.argmax(h.present[:, ::-1], axis=1)
    stage_rank = np.array([s.stage.rank if s.stage else 0 for s in _STATUS_LIST])[codes]
    stage_rank = np.where(h.present, stage_rank, 0).max(axis=1)
    pieces = [
        concat('{"status": "', strings(names, codes[:, k]), '", "at": "', iso, '"}')
        for k, iso in enumerate(_iso_by_slot(h.times, h.present))
    ]
    history = concat("[", concat(*pieces, sep=", ", skip_nulls=True), "]")
    closed = h.present[:, -1] & (h.final != _OPEN)
    return {
        "status": strings(names, codes[np.arange(n), last_slot]),
        "stage_reached": strings([s.value for s in Stage], stage_rank),
        "status_history": history,
        "closed_at": np.where(closed, h.times[:, -1], -1),
    }


#: Log-normal spread of a deal's value around its expected months of budget.
_DEAL_SIGMA = 0.5


def _monthly_rub(a: Arrival, q: Qualification) -> np.ndarray:
    """The monthly budget in RUB, else the company size's typical one."""
    return np.where(np.isnan(q.budget_rub), 10.0 ** SIZE_BUDGET_LOG10[a.size], q.budget_rub)


def deal_months(a: Arrival, q: Qualification) -> np.ndarray:
    """Months of budget a won deal is worth at the median: the service's ``deal_months``
    (share-weighted when none was stated) times the company size's ``deal_size_factor``
    (``data/answers.yaml``)."""
    s = story()
    months = np.array([v.deal_months for v in s.services])
    shares = np.array([v.share for v in s.services])
    unstated = float(months @ shares / shares.sum())
    by_service = np.where(q.service >= 0, months[np.maximum(q.service, 0)], unstated)
    return by_service * np.asarray(s.deal_size_factor)[a.size]


def expected_deal_value(a: Arrival, q: Qualification) -> np.ndarray:
    """E[deal value in RUB | won, every field]: the mean of ``deal_values``' draw (before
    rounding), for every lead, won or not."""
    return _monthly_rub(a, q) * deal_months(a, q) * math.exp(_DEAL_SIGMA**2 / 2)


def deal_values(
    rng: np.random.Generator, a: Arrival, q: Qualification, won: np.ndarray, t: Tables
) -> tuple[np.ndarray, np.ndarray]:
    """Deal value and currency code (-1 when not won): months of budget (``deal_months``,
    log-normal around it), in its currency."""
    n = len(a.at)
    spread = np.exp(rng.normal(0.0, _DEAL_SIGMA, n))
    value_rub = _monthly_rub(a, q) * deal_months(a, q) * spread
    currency = np.where(q.currency > 0, q.currency, 0)
    value = nice_round(value_rub / t.currency_rates[currency], MONEY_STEP[currency])
    return np.where(won, value, np.nan), np.where(won, currency, -1)
