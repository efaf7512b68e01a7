"""The generated leads as one frame: the codes turned into the spec's columns and types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.demo.answers import CHOICES, QUESTION_KEYS, Qualification
from features.demo.arrivals import Arrival
from features.demo.stories import (
    BRACKETS,
    CONTACTS,
    CURRENCIES,
    FITS,
    SERVICES,
    SIZES,
    TIMEFRAMES,
)
from features.demo.strings import concat, strings
from features.demo.tables import Tables
from features.demo.timing import Timing
from features.lead import QUESTION_PREFIX, RECORD_COLUMNS
from features.questionnaire import QuestionCatalog, QuestionType


def utc(seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """UTC timestamps of seconds since the epoch (NaT where ``missing``)."""
    stamps = pd.Series(seconds.astype("datetime64[s]").astype("datetime64[us]"))
    if missing is not None:
        stamps = stamps.mask(missing)
    return stamps.dt.tz_localize("UTC")


def _text(values: pa.Array) -> pd.Series:
    return pd.Series(values, dtype="str")


def _coded(codes: np.ndarray, names: Sequence[str | None]) -> pd.Series:
    """Category names of codes (-1 = missing) as a text column."""
    return _text(strings(names, codes.astype(np.int64)))


def _boolean(values: np.ndarray) -> pd.Series:
    """float codes (nan missing, 0/1) -> nullable boolean."""
    out = pd.array(np.where(np.isnan(values), False, values == 1), dtype="boolean")
    out[np.isnan(values)] = pd.NA
    return pd.Series(out)


def lead_frame(
    a: Arrival,
    q: Qualification,
    t: Tables,
    catalog: QuestionCatalog,
    texts: dict[str, pa.Array],
    history: dict[str, Any],
    deal: tuple[np.ndarray, np.ndarray],
    oracle: dict[str, np.ndarray],
    conversion: dict[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Every column, in the domain model's record order, then the truth, then the conversion
    timing and value columns (``conversion_columns``)."""
    columns = _arrival_columns(a, t, texts)
    columns.update(_answer_columns(q, t))
    columns.update(_question_columns(catalog, q))
    closed = history["closed_at"]
    columns.update(
        company_name=_text(texts["company_name"]),
        contact_name=_text(texts["contact_name"]),
        status=_text(history["status"]),
        stage_reached=_text(history["stage_reached"]),
        status_history=_text(history["status_history"]),
        closed_at=utc(np.where(closed < 0, 0, closed), closed < 0),
        deal_value=pd.Series(deal[0], dtype="float64"),
        deal_currency=_coded(deal[1], CURRENCIES),
        true_p_sql=pd.Series(oracle["sql"]),
        true_p_won=pd.Series(oracle["won"]),
        true_p_sql_arrival=pd.Series(oracle["sql_arrival"]),
        true_p_won_arrival=pd.Series(oracle["won_arrival"]),
    )
    columns.update(conversion or {})
    frame = pd.DataFrame(columns)
    expected = [*RECORD_COLUMNS, *(c for c in columns if c.startswith(QUESTION_PREFIX))]
    assert list(frame.columns[: len(expected)]) == expected, "column order drifted"
    return frame


def _arrival_columns(a: Arrival, t: Tables, texts: dict[str, pa.Array]) -> dict[str, Any]:
    n = len(a.at)
    s = t.story
    width = max(7, len(str(n)))
    ids = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    touch_seconds = a.at - np.nan_to_num(a.first_touch_days * 86_400.0).astype(np.int64)
    return {
        "external_id": _text(concat("D", pc.utf8_lpad(ids, width=width, padding="0"))),
        "arrived_at": utc(a.at),
        "channel": _coded(a.channel, s.channel_names),
        "utm_source": _coded(a.source, [src.name for _, src in t.sources]),
        "utm_medium": _coded(a.channel, [c.medium for c in s.channels]),
        "utm_campaign": _coded(a.campaign, [cp.name for _, cp in t.campaigns]),
        "landing_page": _coded(a.landing, [p.path for p in s.pages]),
        "contact_type": _coded(a.contact, CONTACTS),
        "region": _coded(a.region, [r.name for r in s.regions]),
        "company_industry": _coded(a.industry, [i.name for i in s.industries]),
        "company_size": _coded(a.size.astype(np.int64) - 1, SIZES),
        "email": _text(texts["email"]),
        "phone": _text(texts["phone"]),
        "message": _text(texts["message"]),
        "first_touch_at": utc(touch_seconds, np.isnan(a.first_touch_days)),
    }


def _answer_columns(q: Qualification, t: Tables) -> dict[str, Any]:
    dm = pd.array(q.dm.shape[0] * [pd.NA], dtype="boolean")
    dm[q.dm == 1] = True
    dm[q.dm == 0] = False
    return {
        "budget_amount": pd.Series(q.budget_amount, dtype="float64"),
        "budget_currency": _coded(q.currency, CURRENCIES),
        "budget_bracket": _coded(q.bracket, BRACKETS),
        "authority_role": _coded(q.role, [r.name for r in t.story.roles]),
        "is_decision_maker": pd.Series(dm),
        "need_service": _coded(q.service, SERVICES),
        "need_fit": _coded(q.fit, FITS),
        "timeframe": _coded(q.timeframe, TIMEFRAMES),
    }


def _question_columns(catalog: QuestionCatalog, q: Qualification) -> dict[str, pd.Series]:
    known = {k for keys in QUESTION_KEYS.values() for k in keys}
    questions = catalog.all_questions()
    if set(questions) != known:
        raise ValueError(
            "the questionnaire catalog's questions differ from the ones the demo generator "
            f"answers: catalog {sorted(questions)}, generator {sorted(known)}"
        )
    out: dict[str, pd.Series] = {}
    for key, question in questions.items():
        values = q.answers[key]
        if question.type is QuestionType.BOOLEAN:
            out[QUESTION_PREFIX + key] = _boolean(values)
        elif question.type is QuestionType.CHOICE:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            out[QUESTION_PREFIX + key] = _coded(codes, CHOICES[key])
        else:
            out[QUESTION_PREFIX + key] = pd.Series(values, dtype="float64")
    return out


def conversion_columns(
    timing: Timing,
    p_sql: dict[str, np.ndarray],
    p_won: dict[str, np.ndarray],
    deal_value: np.ndarray,
) -> dict[str, pd.Series]:
    """The conversion clock and value columns, added after every earlier column.

    ``true_days_to_sql`` / ``true_days_to_won``: the latent days from arrival (missing:
    never), also where they fall after the export's end (an export shows those leads open:
    censored); ``true_p_sql_<h>d`` / ``true_p_won_<h>d``: P(within h days) given every
    field, ``*_arrival`` given the arrival fields; ``true_deal_value``: E[value in RUB | won];
    ``true_expected_value``: P(won) x that. ``p_sql`` / ``p_won`` hold the probabilities of
    ever converting, keyed ``"full"`` and ``"arrival"``.
    """
    out: dict[str, pd.Series] = {}
    out["true_days_to_sql"] = pd.Series(timing.days_to_sql)
    out["true_days_to_won"] = pd.Series(timing.days_to_won)
    for target, ever, within in (
        ("sql", p_sql, timing.p_sql_within),
        ("won", p_won, timing.p_won_within),
    ):
        for h, share in within.items():
            out[f"true_p_{target}_{h}d"] = pd.Series(ever["full"] * share)
            out[f"true_p_{target}_{h}d_arrival"] = pd.Series(ever["arrival"] * share)
    out["true_deal_value"] = pd.Series(deal_value)
    out["true_expected_value"] = pd.Series(p_won["full"] * deal_value)
    return out
