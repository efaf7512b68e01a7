"""The store's queue reads (the threshold algorithm's sorted accesses in SQL) and its status
changes under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from features.funnel import SUCCESS_PATH, Status
from serving.queue import Access, QueueEntry, Read, Reader, Sla, rank, read_entries, top_ranked
from serving.scores import Score
from serving.store.leads import NewLead, Store
from serving.store.queue_reads import QueueFilter, queue_reader
from tests.serving.conftest import PostLead, headers

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SLA_MINUTES = 30.0
SLA = Sla(SLA_MINUTES)
#: Minutes left drawn from a small set too, so that deadlines tie (then the id decides);
#: 0.0 puts a deadline exactly at "now", the boundary of the two deadline accesses.
MINUTES_LEFT = [-3000.0, -600.0, -30.0, -1.0, 0.0, 0.0, 5.0, 29.0, 30.0, 45.0]
PROBABILITIES = [None, 0.05, 0.3, 0.5, 0.5, 0.9]
FILTERS = [
    QueueFilter(),
    QueueFilter(unclaimed=True),
    QueueFilter(channel="referral"),
    QueueFilter(tier="B", unclaimed=True),
]
LEADS = 80


def _score(probability: float) -> Score:
    tier = "A" if probability >= 0.5 else "B" if probability >= 0.25 else "C"
    return Score("arrival", "sql", probability, tier, [], "test-model", "1")


def _new_lead(i: int, minutes_left: float, channel: str) -> NewLead:
    deadline = NOW + timedelta(minutes=minutes_left)
    arrived = deadline - timedelta(minutes=SLA_MINUTES)
    return NewLead(
        external_id=f"q-{i}",
        arrived_at=arrived,
        channel=channel,
        source={"channel": channel},
        record={"external_id": f"q-{i}", "channel": channel},
        history=[(Status.NEW, arrived, None)],
        deal_value=None,
        deal_currency=None,
        sla_deadline=deadline,
        created_by="sdr-0",
    )


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A queue with ties in probability and deadline, unscored and claimed leads, and one
    lead that left the queue."""
    rng = random.Random(16)
    opened = Store.open(database_url)
    try:
        for i in range(LEADS):
            left = rng.choice(MINUTES_LEFT) if i % 2 else rng.uniform(-5000, 60)
            probability = rng.choice(PROBABILITIES) if i % 3 else rng.random()
            lead_id, _ = opened.add_lead(_new_lead(i, left, rng.choice(["referral", "seo"])), NOW)
            if probability is not None:
                opened.add_scores(lead_id, [_score(probability)], NOW, "sql")
        for sdr in ("sdr-1", "sdr-2", "sdr-3"):
            assert opened.claim_next(sdr, NOW, SLA) is not None
        gone = opened.queue_entries()[0].lead_id
        opened.change_status(gone, Status.DISQUALIFIED, None, None, None, "sdr-0", lambda: NOW)
        yield opened
    finally:
        opened.close()


def _entries(store: Store, which: QueueFilter) -> list[QueueEntry]:
    return store.queue_entries(which.channel, which.tier, which.unclaimed)


def _paged(read: Reader, access: Access, size: int) -> list[int]:
    ids: list[int] = []
    after = None
    while batch := read([Read(access, after, size)])[access]:
        ids += [entry.lead_id for entry in batch]
        after = batch[-1]
    return ids


def test_each_sorted_access_pages_through_in_the_reference_order(store: Store) -> None:
    for which in FILTERS:
        entries = _entries(store, which)
        assert len(entries) > 10, which
        reference = read_entries(entries, NOW)
        with store.snapshot() as session:
            read = queue_reader(session, which, NOW)
            for access in Access:
                assert _paged(read, access, 7) == _paged(reference, access, 1000), (which, access)
        upcoming = set(_paged(reference, Access.UPCOMING, 1000))
        overdue = set(_paged(reference, Access.OVERDUE, 1000))
        assert upcoming | overdue == {entry.lead_id for entry in entries}
        assert not upcoming & overdue


def test_top_positions_and_claims_follow_the_full_ranking(store: Store) -> None:
    for which in FILTERS:
        entries = _entries(store, which)
        ranked = rank(entries, NOW, SLA)
        for n in (1, 5, 17, len(entries) + 5):
            page = store.queue_top(NOW, SLA, n, which)
            assert page.items == ranked[:n], (which, n)
            assert page.total == len(entries)
            assert page.breached == sum(1 for item in ranked if item.breached)
            with store.snapshot() as session:
                read = queue_reader(session, which, NOW)
                top = top_ranked(read, n, NOW, SLA, batch=2)  # many pages
                assert [key.lead_id for key in top] == [r.entry.lead_id for r in ranked[:n]]
    depth = 25
    unclaimed = rank(_entries(store, QueueFilter(unclaimed=True)), NOW, SLA)
    for place, item in enumerate(unclaimed, start=1):
        expected = place if place <= depth else None
        assert store.queue_position(item.entry.lead_id, NOW, SLA, depth) == expected
        assert store.scored_lead(item.entry.lead_id, NOW, SLA, depth)[1] == expected
    claimed = next(e for e in store.queue_entries() if e.claimed_by is not None)
    assert store.queue_position(claimed.lead_id, NOW, SLA, depth) is None
    assert store.scored_lead(claimed.lead_id, NOW, SLA, depth)[1] is None
    # claims hand the unclaimed leads out in exactly this order
    handed = []
    while (lead_id := store.claim_next("sdr-9", NOW, SLA)) is not None:
        handed.append(lead_id)
    assert handed == [item.entry.lead_id for item in unclaimed]


# --- status changes dated "now" under concurrency (issue 16, item 10) ------------------------


def test_concurrent_forward_moves_are_never_dated_before_each_other(
    client: TestClient, post_lead: PostLead
) -> None:
    """Each lead gets every forward move at once from several threads. The funnel refuses
    those that became backward (409 "cannot move"); none may be refused as dated before a
    change that took the lead's lock first. A clock that is slow to return (as a thread
    pre-empted right after reading the time) makes that race likely when "now" is read
    before the lock."""
    leads = [post_lead()["id"] for _ in range(8)]
    services = client.app.state.services  # type: ignore[attr-defined]
    pause = random.Random(10)
    lock = threading.Lock()

    def slow_clock() -> datetime:
        now = datetime.now(UTC)
        with lock:
            delay = pause.uniform(0, 0.03)
        time.sleep(delay)
        return now

    services.clock = slow_clock
    moves = [status.value for status in SUCCESS_PATH[1:-1]]  # sdr_qualifying .. contract

    def move(job: tuple[int, str]) -> tuple[int, int, str]:
        lead_id, status = job
        response = client.post(
            f"/leads/{lead_id}/status", json={"status": status}, headers=headers()
        )
        return lead_id, response.status_code, response.json().get("detail", "")

    jobs = [(lead_id, status) for lead_id in leads for status in moves]
    with ThreadPoolExecutor(max_workers=len(moves)) as pool:
        results = list(pool.map(move, jobs))
    dated_before = [r for r in results if "before the lead's last recorded change" in r[2]]
    assert dated_before == []
    assert {code for _, code, _ in results} <= {200, 409}
    assert all("cannot move a lead" in detail for _, code, detail in results if code == 409)
    for lead_id in leads:
        history = client.get(f"/leads/{lead_id}", headers=headers()).json()["history"]
        moved = [change for change in history if change["status"] != "new"]
        assert moved, lead_id
        assert [c["at"] for c in history] == sorted(c["at"] for c in history)
