"""The retrain's feedback-loop check on a lead frame that carries the queue's arrival draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from training.feedback import live_propensity
from training.retraining.exploration import live_check
from training.retraining.settle import subset_data


@pytest.fixture(scope="module")
def logged() -> pd.DataFrame:
    """Demo leads as the store would give them: an arrival score, a draw, a first response."""
    frame, _ = generate_leads(n=1_500, seed=11)
    rng = np.random.default_rng(0)
    score = rng.random(len(frame))
    frame["arrival_score_sql"] = score
    frame["explored"] = rng.random(len(frame)) < 0.1
    frame["propensity"] = 0.1
    worked = (score > 0.6) | frame["explored"].to_numpy()
    frame["first_response_at"] = pd.Series(frame["arrived_at"]).where(worked)
    frame.loc[:99, ["arrival_score_sql", "propensity"]] = np.nan  # scored before logging began
    return frame


def test_the_check_weights_the_worked_leads_by_their_logged_draws(logged: pd.DataFrame) -> None:
    spec = load_spec("demo")
    data = prepare_frame(spec, logged)
    check = live_check(logged, spec.id_column, data, "sql")
    assert check is not None
    by_id = logged.set_index(logged[spec.id_column].astype(str))
    rows = by_id.loc[data.ids]
    has_draw = rows["propensity"].notna().to_numpy()
    assert check.leads == int(has_draw.sum()) == len(data) - 100
    assert check.worked == int(rows["first_response_at"].notna().to_numpy()[has_draw].sum())
    assert check.explored == int(rows["explored"].to_numpy()[has_draw].sum())
    assert check.naive is not None
    assert check.ipw is not None
    # the weights follow the rule: a lead worked on its own score counts once, an
    # exploration pick below the cut-off stands for 1 / 0.1 leads
    p = live_propensity(
        rows["arrival_score_sql"].to_numpy()[has_draw],
        rows["first_response_at"].notna().to_numpy()[has_draw],
        rows["explored"].to_numpy()[has_draw],
        np.full(int(has_draw.sum()), 0.1),
        pd.DatetimeIndex(data.times).strftime("%Y-%m").to_numpy()[has_draw],
    )
    assert set(np.round(p, 6)) <= {0.1, 1.0}


def test_no_logged_draws_means_no_check(logged: pd.DataFrame) -> None:
    spec = load_spec("demo")
    export = logged.drop(columns=["arrival_score_sql", "explored", "propensity"])
    data = prepare_frame(spec, export)
    assert live_check(export, spec.id_column, data, "sql") is None
    assert live_check(logged, None, data, "sql") is None
    assert live_check(logged, spec.id_column, data, "won") is None  # no live won score


def test_the_check_of_row_positions_is_the_check_of_their_data_set(logged: pd.DataFrame) -> None:
    spec = load_spec("demo")
    data = prepare_frame(spec, logged)
    rows = np.flatnonzero(np.arange(len(data)) % 4 != 1)
    shared = live_check(logged, spec.id_column, data, "sql", rows)
    alone = live_check(logged, spec.id_column, subset_data(data, rows), "sql")
    assert shared is not None
    assert shared == alone
