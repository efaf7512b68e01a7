"""The lead store as a data set: each lead's first response (claim or move), who made it,
and its SLA deadline, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi.testclient import TestClient

from serving.store.outcomes import first_response, store_frame
from tests.serving.conftest import PostLead, headers, sdr_headers


def test_the_first_claim_or_move_is_the_first_response(
    client: TestClient, post_lead: PostLead
) -> None:
    claimed = post_lead(minutes_ago=10)
    moved = post_lead(minutes_ago=40)
    waiting = post_lead(minutes_ago=5)
    assert client.post(f"/queue/{claimed['id']}/claim", headers=sdr_headers("sdr-1")).is_success
    path = f"/leads/{moved['id']}/status"
    moved_at = datetime.now(UTC) - timedelta(minutes=2)
    body = {"status": "sdr_qualifying", "at": moved_at.isoformat()}
    assert client.post(path, json=body, headers=sdr_headers("sdr-2")).is_success
    # a later claim of the moved lead is not its first response
    assert client.post(f"/queue/{moved['id']}/claim", headers=sdr_headers("sdr-3")).status_code in (
        200,
        409,
    )

    store = client.app.state.services.store  # type: ignore[attr-defined]
    frame = store_frame(store).set_index("external_id")
    first = frame.loc[claimed["external_id"]]
    assert first["first_responder"] == "sdr-1"
    assert first["first_response_at"] > pd.Timestamp(claimed["sla_deadline"]) - timedelta(
        minutes=30
    )
    second = frame.loc[moved["external_id"]]
    assert second["first_responder"] == "sdr-2"
    assert abs(second["first_response_at"] - pd.Timestamp(moved_at)) < timedelta(seconds=1)
    assert second["first_response_at"] > second["sla_deadline"]  # 38 minutes after arrival
    detail = client.get(f"/leads/{moved['id']}", headers=headers()).json()
    assert pd.Timestamp(detail["first_response_at"]) == second["first_response_at"]
    assert detail["sla_met"] is False
    in_time = client.get(f"/leads/{claimed['id']}", headers=headers()).json()
    assert in_time["sla_met"] is True
    third = frame.loc[waiting["external_id"]]
    assert pd.isna(third["first_response_at"])
    assert pd.isna(third["first_responder"])
    assert third["sla_deadline"] == pd.Timestamp(waiting["sla_deadline"])
    assert client.get(f"/leads/{waiting['id']}", headers=headers()).json()["claims"] == []


def test_first_response_takes_the_earliest() -> None:
    early, late = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert first_response((late, "a"), (early, "b")) == (early, "b")
    assert first_response(None, (late, "a")) == (late, "a")
    assert first_response(None, None) is None
