"""The background jobs on the real app and store: the sweeper scores leads an arrival left
unscored (queued or not), outlives a database failure logging it once, checkpoints SQLite's
WAL, and stops with the app."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.api.workflows import ANSWERS_GRACE
from serving.app import create_app
from serving.background import Periodic
from serving.modelset import MemoryLoader
from serving.scores import Score
from serving.settings import ServingSettings
from serving.store.leads import NewLead, Store
from serving.store.tables import make_engine
from tests.serving.conftest import headers, interrupted_lead, make_lead

SWEEP = 0.2  # seconds between sweeps in these tests


@pytest.fixture
def sweeping(settings: ServingSettings) -> ServingSettings:
    return settings.model_copy(update={"sweep_seconds": SWEEP, "sweep_batch": 50})


def _store_behind_the_app(settings: ServingSettings, *leads: NewLead) -> list[int]:
    """Store leads the way a crashed arrival did: through the Store, never scored."""
    store = Store.open(settings.store_url)
    try:
        return [store.add_lead(lead, datetime.now(UTC))[0] for lead in leads]
    finally:
        store.close()


def _wait_for(check: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until ``check()`` held, or None when it did not within ``seconds``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            return None
        time.sleep(0.02)
    return time.monotonic() - started


def _scores(client: TestClient, lead_id: int, stage: str) -> list[dict[str, object]]:
    detail = client.get(f"/leads/{lead_id}", headers=headers()).json()
    return [score for score in detail["scores"] if score["stage"] == stage]


def _arrival_scores(client: TestClient, lead_id: int) -> list[dict[str, object]]:
    return _scores(client, lead_id, "arrival")


def _sweeper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "leadscore-lead-sweep"]


def test_a_lead_left_unscored_is_scored_within_one_sweep(sweeping: ServingSettings) -> None:
    with TestClient(create_app(sweeping, loader=MemoryLoader())) as client:
        assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
        queued, qualified = _store_behind_the_app(
            sweeping,
            interrupted_lead(f"cut-{uuid.uuid4().hex[:8]}"),
            interrupted_lead(f"cut-bant-{uuid.uuid4().hex[:8]}", qualified=True),
        )
        # no request scores these leads: only the sweeper can (it may already have, a sweep
        # runs every 0.2 s); on a loaded machine a sweep can take a few intervals. The
        # answered lead's qualified score is stored after its arrival score: wait for both
        waited = _wait_for(
            lambda: (
                all(_arrival_scores(client, i) for i in (queued, qualified))
                and bool(_scores(client, qualified, "qualified"))
            ),
            SWEEP * 50,
        )
        assert waited is not None, "the sweeper did not score the stored leads"
        queue = client.get("/queue", headers=headers()).json()["items"]
        entry = next(item for item in queue if item["lead_id"] == queued)
        assert entry["probability"] is not None
        assert qualified not in {item["lead_id"] for item in queue}  # answered: not queued
        assert len(_arrival_scores(client, qualified)) == 1
        answered = client.get(f"/leads/{qualified}", headers=headers()).json()
        assert [s["stage"] for s in answered["scores"]].count("qualified") == 1  # and its answers
        assert answered["route"] is not None
        time.sleep(SWEEP * 2)  # later sweeps leave scored leads alone
        assert len(_arrival_scores(client, queued)) == 1
        assert len(_sweeper_threads()) == 1
    assert _sweeper_threads() == [], "the sweeper outlived the app"


def test_a_failing_sweep_is_logged_once_and_the_next_one_retries(
    sweeping: ServingSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """The lead table disappears under the running service (its database fails every
    query on it), then comes back: one error, one recovery line, and the lead stored in
    the meantime is scored by the first sweep that works."""
    caplog.set_level(logging.INFO, logger="serving.background")
    engine = make_engine(sweeping.store_url)
    try:
        with TestClient(create_app(sweeping, loader=MemoryLoader())) as client:
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE leads RENAME TO leads_away"))
            time.sleep(SWEEP * 6)
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE leads_away RENAME TO leads"))
            (lead_id,) = _store_behind_the_app(sweeping, interrupted_lead("during-outage"))
            assert _wait_for(lambda: bool(_arrival_scores(client, lead_id)), SWEEP * 10)
    finally:
        engine.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "serving.background"]
    failed = [m for m in messages if m.startswith("lead sweep failed")]
    recovered = [m for m in messages if m.startswith("lead sweep works again")]
    assert len(failed) == 1, messages
    assert len(recovered) == 1, messages
    attempts = int(recovered[0].split("(")[1].split()[0])
    assert attempts >= 3, recovered


def test_the_sweeper_checkpoints_the_sqlite_wal(
    sweeping: ServingSettings, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("checkpointing is SQLite's write-ahead log; a no-op on PostgreSQL")
    wal = Path(sweeping.store_url.removeprefix("sqlite:///") + "-wal")
    often = sweeping.model_copy(update={"checkpoint_seconds": SWEEP})
    with TestClient(create_app(often, loader=MemoryLoader())) as client:
        grown = 0  # a checkpoint may truncate it between two posts: watch it after each
        for _ in range(20):
            assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
            grown = max(grown, wal.stat().st_size)
        assert grown > 0
        assert _wait_for(lambda: wal.stat().st_size == 0, SWEEP * 10) is not None
        assert client.get("/queue", headers=headers()).json()["total"] >= 20


def test_a_job_retries_sooner_after_a_failure_and_stops_at_once() -> None:
    outcomes = iter([ValueError("down"), ValueError("down"), None])
    runs: list[float] = []

    def job() -> None:
        runs.append(time.monotonic())
        error = next(outcomes, None)
        if error is not None:
            raise error

    periodic = Periodic("probe", job, every=0, retry_every=0.05)
    periodic.start()
    assert periodic.first_done.wait(2)
    assert _wait_for(lambda: len(runs) == 3, 2) is not None
    time.sleep(0.2)
    assert len(runs) == 3, "every=0: no run after the first success"
    assert periodic.outage.failing is False
    assert periodic.stop()

    slow = Periodic("slow", lambda: None, every=60)
    slow.start()
    assert slow.first_done.wait(2)
    started = time.monotonic()
    assert slow.stop()
    assert time.monotonic() - started < 1, "stop waits for no interval"


def test_answers_whose_scoring_was_cut_short_are_scored_once_past_the_grace(
    sweeping: ServingSettings,
) -> None:
    """A lead scored on arrival whose answers were stored but not scored (the qualify
    request died between the two) gets its qualified score from a sweep once the answers
    are older than the grace; answers just stored are left to their own request."""
    store = Store.open(sweeping.store_url)
    answered = datetime.now(UTC) - ANSWERS_GRACE - timedelta(seconds=5)
    try:
        cut, fresh = (
            store.add_lead(interrupted_lead(f"{name}-{uuid.uuid4().hex[:6]}", qualified=True), at)[
                0
            ]
            for name, at in (("cut", answered), ("fresh", datetime.now(UTC)))
        )
        for lead_id in (cut, fresh):
            arrival = Score("arrival", "sql", 0.4, "B", [], "test-model", "1")
            store.add_scores(lead_id, [arrival], answered, "sql")
        assert [row.id for row in store.unscored_leads(10)] == []  # arrival scores alone
        before = datetime.now(UTC) - ANSWERS_GRACE
        assert [row.id for row in store.unscored_leads(10, before)] == [cut]
    finally:
        store.close()
    with TestClient(create_app(sweeping, loader=MemoryLoader())) as client:
        # the sweep that scores the cut lead's answers also passes the fresh lead by
        waited = _wait_for(lambda: bool(_scores(client, cut, "qualified")), SWEEP * 50)
        assert waited is not None, "the sweeper did not score the stored answers"
        cut_detail = client.get(f"/leads/{cut}", headers=headers()).json()
        fresh_detail = client.get(f"/leads/{fresh}", headers=headers()).json()
    stages = [s["stage"] for s in cut_detail["scores"]]
    assert stages.count("arrival") == 1
    assert stages.count("qualified") == 1
    assert cut_detail["route"] is not None  # the qualified score suggests a route
    assert [s["stage"] for s in fresh_detail["scores"]] == ["arrival"]


def test_queued_leads_are_swept_before_a_history_left_unscored(settings: ServingSettings) -> None:
    history = [
        interrupted_lead(f"old-{i}-{uuid.uuid4().hex[:6]}", qualified=True) for i in range(3)
    ]
    *old, live = _store_behind_the_app(
        settings, *history, interrupted_lead(f"live-{uuid.uuid4().hex[:6]}")
    )
    store = Store.open(settings.store_url)
    try:
        first = store.unscored_leads(limit=1)
        assert [row.id for row in first] == [live]  # stored last, swept first: it is queued
        assert [row.id for row in store.unscored_leads(limit=10)] == [live, *old]
    finally:
        store.close()
