"""Settled-outcome labels at the maturity boundaries, with and without a status history."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.training.retraining.cases import AS_OF, SECOND, labels_of
from training.retraining.labels import label_settled


def test_maturity_window_at_its_boundaries(cases: pd.DataFrame) -> None:
    sql = label_settled(cases, AS_OF, 90, reach="sql")
    assert labels_of(sql.frame, "sql") == {
        "closed_at_as_of": 0,
        "won_after": 1,  # an SQL stays an SQL: settled for this target
        "mature_exactly": 0,
        "sql_later": 0,  # no label from the future
        "won_before": 1,
    }
    assert (sql.closed, sql.reached, sql.matured, sql.too_young, sql.future) == (2, 1, 2, 1, 1)
    later = sql.frame.set_index("external_id").loc["sql_later"]
    assert (later["status"], later["stage_reached"]) == ("awaiting_manager", "mql")
    assert pd.isna(later["closed_at"])
    assert set(sql.open_frame["external_id"]) == {
        "won_after",
        "mature_exactly",
        "young_by_a_second",
        "sql_later",
    }

    won = label_settled(cases, AS_OF, 90, reach="won")
    assert labels_of(won.frame, "won") == {
        "closed_at_as_of": 0,
        "mature_exactly": 0,
        "sql_later": 0,
        "won_before": 1,
    }  # won_after is still open and young for a deal
    assert won.too_young == 2

    # a day later the lead closed at as_of + 1s counts as won
    assert (
        labels_of(label_settled(cases, AS_OF + SECOND, 90, reach="won").frame, "won")["won_after"]
        == 1
    )
    # a shorter maturity window takes the younger open lead in
    assert "young_by_a_second" in set(label_settled(cases, AS_OF, 89).frame["external_id"])


def test_without_a_history_leads_closed_later_are_left_out(cases: pd.DataFrame) -> None:
    settled = label_settled(cases.drop(columns=["status_history"]), AS_OF, 90, reach="won")
    assert "won_after" not in set(settled.frame["external_id"])
    assert any("closed after as_of" in note for note in settled.notes)
    assert {"closed_at_as_of", "won_before"} <= set(settled.frame["external_id"])


def test_label_settled_rejects_bad_input(cases: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="maturity_days"):
        label_settled(cases, AS_OF, -1)
    with pytest.raises(ValueError, match="no time column 'created'"):
        label_settled(cases, AS_OF, time_column="created")
