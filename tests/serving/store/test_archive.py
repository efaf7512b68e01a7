"""Retention on both stores: old closed leads move to the archive file with everything
hanging off them; open and recent leads stay; the file is never overwritten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.store.archive import ArchiveError, archivable, archive, read_archive
from tests.serving.conftest import PostLead, headers, sdr_headers

DAYS = 24 * 60


def test_old_closed_leads_move_to_the_file_and_nothing_else(
    client: TestClient, post_lead: PostLead, tmp_path: Path
) -> None:
    old_lost = post_lead(minutes_ago=400 * DAYS)
    old_won = post_lead(minutes_ago=300 * DAYS)
    old_open = post_lead(minutes_ago=350 * DAYS)
    recent_lost = post_lead(minutes_ago=10 * DAYS)
    assert client.post(f"/queue/{old_lost['id']}/claim", headers=sdr_headers("sdr-1")).is_success
    for lead, body in [
        (old_lost, {"status": "lost"}),
        (old_won, {"status": "won", "deal_value": {"amount": 250000, "currency": "RUB"}}),
        (recent_lost, {"status": "lost"}),
    ]:
        answer = client.post(f"/leads/{lead['id']}/status", json=body, headers=headers("admin"))
        assert answer.status_code == 200, answer.text

    store = client.app.state.services.store  # type: ignore[attr-defined]
    before = datetime.now(UTC) - timedelta(days=100)
    assert archivable(store, before) == 2
    out = tmp_path / "archive" / "old.jsonl.gz"
    told: list[int] = []
    assert archive(store, before, out, batch=1, progress=told.append) == 2
    assert told == [1, 2]

    for gone in (old_lost, old_won):
        assert client.get(f"/leads/{gone['id']}", headers=headers()).status_code == 404
    for kept in (old_open, recent_lost):
        assert client.get(f"/leads/{kept['id']}", headers=headers()).status_code == 200
    documents = {document["external_id"]: document for document in read_archive(out)}
    assert set(documents) == {old_lost["external_id"], old_won["external_id"]}
    lost = documents[old_lost["external_id"]]
    assert [change["status"] for change in lost["history"]] == ["new", "lost"]
    assert [claim["sdr"] for claim in lost["claims"]] == ["sdr-1"]
    assert [score["target"] for score in lost["scores"]][:1] == ["sql"]
    assert documents[old_won["external_id"]]["deal_value"] == 250000

    with pytest.raises(ArchiveError, match="never overwritten"):
        archive(store, before, out)
    assert archive(store, before, tmp_path / "again.jsonl.gz") == 0
