"""The evaluation window: the last complete months, moved back past unsettled ones."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.training.retraining.cases import day
from training.retraining.labels import label_settled
from training.retraining.window import choose_window, evaluation_window


def test_evaluation_window_is_the_last_complete_months() -> None:
    june = evaluation_window("2026-07-01")
    assert (june.start, june.end, june.label) == (day("2026-06-01"), day("2026-07-01"), "2026-06")
    assert evaluation_window(day("2026-07-31 23:59:59")).label == "2026-06"
    assert evaluation_window(date(2026, 1, 15), months=3).label == "2025-10..2025-12"
    with pytest.raises(ValueError, match="at least 1 month"):
        evaluation_window("2026-07-01", months=0)


def test_window_moves_back_past_months_that_have_not_settled() -> None:
    """June: half its leads still open; May: 95% closed. May judges the models."""
    rows = []
    for month, closed in (("2026-05", 95), ("2026-06", 50)):
        for i in range(100):
            arrived = day(f"{month}-10") + pd.Timedelta(hours=i)
            done = i < closed
            rows.append(
                {
                    "arrived_at": arrived,
                    "status": "lost" if done else "sdr_qualifying",
                    "closed_at": arrived + pd.Timedelta(days=2) if done else pd.NaT,
                }
            )
    settled = label_settled(pd.DataFrame(rows), "2026-07-02", 90)
    choice = choose_window(settled)
    assert choice.window.label == "2026-05"
    assert (choice.leads, choice.settled) == (100, 95)
    assert choice.skipped == [("2026-06", 0.5)]
    assert "2026-06 50%" in choice.summary()
    assert choose_window(settled, min_settled_share=0.5).window.label == "2026-06"
