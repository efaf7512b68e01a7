"""A small demo data set split as of a fit date: training leads followed to it, later leads."""

from __future__ import annotations

import pandas as pd
import pytest

from features.demo import generate_leads
from training.survival.expand import FollowUp, event_times, follow_up

AS_OF = pd.Timestamp("2026-04-01", tz="UTC")


@pytest.fixture(scope="package")
def leads() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training leads arrived before ``AS_OF``, the leads of the three months after)."""
    frame, _ = generate_leads(n=8_000, seed=21, timing=True)
    frame = frame.sort_values("arrived_at", kind="stable").reset_index(drop=True)
    train = frame[frame["arrived_at"] < AS_OF].reset_index(drop=True)
    later = frame[
        (frame["arrived_at"] >= AS_OF) & (frame["arrived_at"] < AS_OF + pd.DateOffset(months=3))
    ]
    return train, later.reset_index(drop=True)


def followed(frame: pd.DataFrame, target: str) -> FollowUp:
    """The leads as an export read at ``AS_OF`` shows them: later conversions still open."""
    at = event_times(frame["arrived_at"], frame[f"true_days_to_{target}"])
    return follow_up(frame["arrived_at"], at, AS_OF)
