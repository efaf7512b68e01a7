"""Leads at the boundaries of settling: closed at exactly as_of, won a second after it,
open at exactly the maturity boundary or one second younger, arriving later, reaching SQL
only after as_of. Shared by the label and settle tests (the ``cases`` fixture)."""

from __future__ import annotations

import json
from datetime import UTC, date
from typing import Any

import pandas as pd

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import load_spec

AS_OF = pd.Timestamp("2026-06-01", tz=UTC)
CUTOFF = AS_OF - pd.Timedelta(days=90)  # 2026-03-03: open leads from then on are too young
SECOND = pd.Timedelta(seconds=1)


def history(*changes: tuple[str, pd.Timestamp]) -> str:
    return json.dumps([{"status": s, "at": at.isoformat()} for s, at in changes])


def case(
    arrived: pd.Timestamp, changes: list[tuple[str, pd.Timestamp]], stage: str
) -> dict[str, Any]:
    status, at = changes[-1]
    closed = status in {"won", "lost", "disqualified", "partner", "other_department"}
    return {
        "arrived_at": arrived,
        "status": status,
        "stage_reached": stage,
        "status_history": history(*changes),
        "closed_at": at if closed else pd.NaT,
    }


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


CASES: dict[str, dict[str, Any]] = {
    # closed at exactly as_of: counts
    "closed_at_as_of": case(
        day("2026-05-20"),
        [("new", day("2026-05-20")), ("sdr_qualifying", day("2026-05-21")), ("lost", AS_OF)],
        "lead",
    ),
    # won a second after as_of: at as_of it was an SQL, still open
    "won_after": case(
        day("2026-05-20"),
        [
            ("new", day("2026-05-20")),
            ("sdr_qualifying", day("2026-05-21")),
            ("awaiting_manager", day("2026-05-25")),
            ("discussing", day("2026-05-30")),
            ("won", AS_OF + SECOND),
        ],
        "won",
    ),
    # open, arrived exactly at the maturity boundary: counts, not converted
    "mature_exactly": case(
        CUTOFF, [("new", CUTOFF), ("sdr_qualifying", CUTOFF + pd.Timedelta(days=1))], "lead"
    ),
    # open, one second younger: left out
    "young_by_a_second": case(CUTOFF + SECOND, [("new", CUTOFF + SECOND)], "lead"),
    # arrived after as_of: left out
    "future": case(AS_OF + SECOND, [("new", AS_OF + SECOND)], "lead"),
    # old and open; it reached SQL only after as_of: as of then an MQL, not converted
    "sql_later": case(
        day("2026-02-01"),
        [
            ("new", day("2026-02-01")),
            ("sdr_qualifying", day("2026-02-02")),
            ("awaiting_manager", day("2026-02-05")),
            ("discussing", day("2026-06-10")),
            ("proposal", day("2026-06-20")),
        ],
        "sal",
    ),
    # won before as_of
    "won_before": case(
        day("2026-04-01"),
        [
            ("new", day("2026-04-01")),
            ("sdr_qualifying", day("2026-04-01 10:00")),
            ("discussing", day("2026-04-10")),
            ("won", day("2026-05-10")),
        ],
        "won",
    ),
}


def case_frame() -> pd.DataFrame:
    """Real demo rows (every spec column) with the outcomes of CASES written over them."""
    frame, _truth = generate_leads(n=len(CASES), seed=1, end=date(2026, 6, 30), months=6)
    frame["external_id"] = list(CASES)
    for column in ("arrived_at", "status", "stage_reached", "status_history", "closed_at"):
        values = [row[column] for row in CASES.values()]
        frame[column] = pd.Series(values, dtype=frame[column].dtype)
    return frame


def labels_of(frame: pd.DataFrame, target: str) -> dict[str, int]:
    """Each case's label for ``target`` once the frame is validated by the demo spec."""
    data = prepare_frame(load_spec("demo"), frame, source="cases")
    return dict(zip(data.ids, data.targets[target].tolist(), strict=True))
