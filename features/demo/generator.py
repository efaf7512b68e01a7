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
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from features.demo.answers import context, draw_qualified
from features.demo.arrivals import draw_arrival
from features.demo.config import DEFAULTS, STEPS
from features.demo.contacts import contacts
from features.demo.frame import conversion_columns, lead_frame
from features.demo.ground_truth import ground_truth
from features.demo.messages import messages
from features.demo.outcomes import deal_values, expected_deal_value, history_columns, outcomes
from features.demo.sampling import window
from features.demo.tables import tables
from features.demo.timing import draw_timing
from features.demo.truth import arrival_oracle, truth
from features.questionnaire import load_catalog
from features.spec import load_spec

ProgressCallback = Callable[[str], None]


def no_progress(_: str) -> None:
    return None


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
    streams = np.random.SeedSequence(seed).spawn(7)  # the 7th (timing) came later
    rng_arrival, rng_text, rng_qualified, rng_oracle, rng_outcome, rng_contacts, rng_timing = (
        np.random.default_rng(s) for s in streams
    )
    step(STEPS[0])
    arrival = draw_arrival(rng_arrival, t, start, end, n)
    text = messages(rng_text, arrival)
    lengths = pc.utf8_length(text).fill_null(0).to_numpy()
    arrival = replace(arrival, message_length=lengths.astype(np.int64))
    texts = {**contacts(rng_contacts, arrival), "message": text}
    step(STEPS[1])
    qualified = draw_qualified(rng_qualified, context(arrival), t)
    exact = truth(arrival, qualified, t)
    step(STEPS[2])
    p_sql_arrival, p_won_arrival = arrival_oracle(rng_oracle, arrival, t, DEFAULTS.arrival_redraws)
    step(STEPS[3])
    cutoff = int((np.datetime64(end, "D") + 1).astype("datetime64[s]").astype(np.int64))
    history = outcomes(rng_outcome, arrival, qualified, exact, cutoff)
    deal = deal_values(rng_outcome, arrival, qualified, history.won, t)
    step(STEPS[4])
    oracle = {
        "sql": exact.p_sql,
        "won": exact.p_won,
        "sql_arrival": p_sql_arrival,
        "won_arrival": p_won_arrival,
    }
    catalog = load_catalog()
    columns = history_columns(history)
    conversion = None
    if timing:
        conversion = conversion_columns(
            draw_timing(rng_timing, arrival, history.sql_ever, history.won_ever),
            p_sql={"full": exact.p_sql, "arrival": p_sql_arrival},
            p_won={"full": exact.p_won, "arrival": p_won_arrival},
            deal_value=expected_deal_value(arrival, qualified),
        )
    frame = lead_frame(arrival, qualified, t, catalog, texts, columns, deal, oracle, conversion)
    step(STEPS[5])
    facts = ground_truth(
        n=n, seed=seed, start=start, end=end, months=months, t=t, a=arrival, q=qualified,
        frame=frame,
    )  # fmt: skip
    return frame, facts
