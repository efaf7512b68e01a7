"""First response against the SLA per channel and per SDR, on a hand-made frame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from training.channels.sla import ALL, response_table

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _lead(
    arrived_min_ago: float, answered_after: float | None, by: str | None
) -> dict[str, object]:
    arrived = NOW - timedelta(minutes=arrived_min_ago)
    return {
        "arrived_at": arrived,
        "sla_deadline": arrived + timedelta(minutes=30),
        "first_response_at": None
        if answered_after is None
        else arrived + timedelta(minutes=answered_after),
        "first_responder": by,
    }


def test_in_time_late_and_waiting_per_channel_and_sdr() -> None:
    rows = [
        _lead(100, 10, "anna"),  # referral, in time
        _lead(100, 50, "boris"),  # referral, late
        _lead(60, None, None),  # referral, still waiting past its deadline
        _lead(10, None, None),  # display, waiting, still in time
        _lead(100, 20, "anna"),  # display, in time
    ]
    frame = pd.DataFrame(rows)
    channels = np.array(["referral", "referral", "referral", "display", "display"], dtype=object)
    by_channel = response_table(frame, channels, NOW).set_index("channel")
    assert list(by_channel.index) == [ALL, "display", "referral"]
    referral = by_channel.loc["referral"]
    assert (referral["leads"], referral["answered"], referral["in_time"], referral["late"]) == (
        3,
        2,
        1,
        1,
    )
    assert referral["waiting_overdue"] == 1
    assert referral["met_rate"] == pytest.approx(1 / 3)
    assert referral["median_answer_minutes"] == pytest.approx(30.0)
    display = by_channel.loc["display"]
    assert (display["in_time"], display["waiting_overdue"], display["met_rate"]) == (1, 0, 1.0)
    assert by_channel.loc[ALL, "leads"] == 5
    assert by_channel.loc[ALL, "in_time"] == 2

    by_sdr = response_table(frame, channels, NOW, by="sdr").set_index("sdr")
    assert list(by_sdr.index) == ["anna", "boris"]
    assert (by_sdr.loc["anna", "answered"], by_sdr.loc["anna", "met_rate"]) == (2, 1.0)
    assert (by_sdr.loc["boris", "late"], by_sdr.loc["boris", "met_rate"]) == (1, 0.0)


def test_an_export_without_the_slas_columns_gives_empty_tables() -> None:
    frame = pd.DataFrame({"arrived_at": [NOW], "channel": ["web"]})
    table = response_table(frame, np.array(["web"], dtype=object), NOW)
    assert table.empty
    assert "met_rate" in table.columns
