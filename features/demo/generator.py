"""Generating the demo data set: the steps of the story in order, with one random stream each.

1. **Arrival.** Arrival fields and the request texts (``arrivals``, ``messages``,
   ``contacts``).
2. **Qualification.** The SDR's BANT answers and the service questionnaire given the
   arrival context (``answers``).
3. **Truth.** The exact probabilities of SQL and of a deal (``truth``), and the arrival
   oracle over redraws of the answers.
4. **Outcome.** SQL and won drawn from the truth; status histories cut at the export time
   (``outcomes``); when the converting leads reach SQL and the deal (``timing``, its own
   stream, drawn last so that no earlier column changed).

The frame (``frame``) and the ground-truth document (``ground_truth``) come last. The
story's tables are data files, read by ``stories``; ``docs/demo-data.md`` tells the story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from features.demo.answers import Qualification, context, draw_qualified
from features.demo.arrivals import Arrival, draw_arrival
from features.demo.config import DEFAULTS, STEPS
from features.demo.contacts import contacts
from features.demo.frame import conversion_columns, lead_frame
from features.demo.ground_truth import ground_truth
from features.demo.messages import messages
from features.demo.outcomes import (
    History,
    deal_values,
    expected_deal_value,
    history_columns,
    outcomes,
)
from features.demo.sampling import window
from features.demo.tables import tables
from features.demo.timing import draw_timing
from features.demo.truth import arrival_oracle, truth
from features.questionnaire import load_catalog
from features.spec import load_spec

ProgressCallback = Callable[[str], None]


def no_progress(_: str) -> None:
    return None


class _Streams(NamedTuple):
    """One random stream per step of the story, spawned from the seed in this order."""

    arrival: np.random.Generator
    text: np.random.Generator
    qualified: np.random.Generator
    oracle: np.random.Generator
    outcome: np.random.Generator
    contacts: np.random.Generator
    timing: np.random.Generator  # the 7th (timing) came later


def _streams(seed: int) -> _Streams:
    """The story's seven streams for ``seed``: a new stream goes last so none other changes."""
    return _Streams(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)))


def _conversion(
    rng: np.random.Generator,
    arrival: Arrival,
    qualified: Qualification,
    history: History,
    oracle: dict[str, np.ndarray],
) -> dict[str, pd.Series]:
    """The conversion clock and value truth (``frame.conversion_columns``), drawn from
    ``rng`` alone; ``oracle`` holds the probabilities of ever converting."""
    return conversion_columns(
        draw_timing(rng, arrival, history.sql_ever, history.won_ever),
        p_sql={"full": oracle["sql"], "arrival": oracle["sql_arrival"]},
        p_won={"full": oracle["won"], "arrival": oracle["won_arrival"]},
        deal_value=expected_deal_value(arrival, qualified),
    )


def generate_leads(
    n: int,
    seed: int,
    end: date | None = None,
    months: int = DEFAULTS.months,
    *,
    progress: ProgressCallback | None = None,
    timing: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``n`` synthetic leads arriving over ``months`` months up to ``end``, and the ground truth.

    Deterministic for a given ``(n, seed, end, months)``. ``progress`` is called with each
    of ``STEPS[:-1]`` as it starts. ``timing`` adds the conversion clock and value truth
    (``frame.conversion_columns``) after every other column, from a stream of its own: the
    other columns are the same with it or without it.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 lead, got {n}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    step = progress or no_progress
    start, end = window(end or DEFAULTS.end, months)
    t = tables(load_spec("demo"))
    rng = _streams(seed)
    step(STEPS[0])
    arrival = draw_arrival(rng.arrival, t, start, end, n)
    text = messages(rng.text, arrival)
    lengths = pc.utf8_length(text).fill_null(0).to_numpy()
    arrival = replace(arrival, message_length=lengths.astype(np.int64))
    texts = {**contacts(rng.contacts, arrival), "message": text}
    step(STEPS[1])
    qualified = draw_qualified(rng.qualified, context(arrival), t)
    exact = truth(arrival, qualified, t)
    step(STEPS[2])
    p_sql_arrival, p_won_arrival = arrival_oracle(rng.oracle, arrival, t, DEFAULTS.arrival_redraws)
    step(STEPS[3])
    cutoff = int((np.datetime64(end, "D") + 1).astype("datetime64[s]").astype(np.int64))
    history = outcomes(rng.outcome, arrival, qualified, exact, cutoff)
    deal = deal_values(rng.outcome, arrival, qualified, history.won, t)
    step(STEPS[4])
    oracle = {
        "sql": exact.p_sql,
        "won": exact.p_won,
        "sql_arrival": p_sql_arrival,
        "won_arrival": p_won_arrival,
    }
    catalog = load_catalog()
    columns = history_columns(history)
    conversion = _conversion(rng.timing, arrival, qualified, history, oracle) if timing else None
    frame = lead_frame(arrival, qualified, t, catalog, texts, columns, deal, oracle, conversion)
    step(STEPS[5])
    facts = ground_truth(
        n=n, seed=seed, start=start, end=end, months=months, t=t, a=arrival, q=qualified,
        frame=frame,
    )  # fmt: skip
    return frame, facts
