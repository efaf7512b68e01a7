"""The queue's priority formula (pure): urgency peaks at the SLA deadline, then decays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving.queue import PEAK_URGENCY, QueueEntry, rank, urgency

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SLA = 30.0


def entry(lead_id: int, probability: float | None, minutes_left: float) -> QueueEntry:
    deadline = NOW + timedelta(minutes=minutes_left)
    return QueueEntry(
        lead_id=lead_id,
        external_id=f"x{lead_id}",
        channel="seo",
        arrived_at=deadline - timedelta(minutes=SLA),
        sla_deadline=deadline,
        probability=probability,
        tier=None,
        status="new",
        claimed_by=None,
    )


def test_urgency_rises_to_the_deadline_then_decays() -> None:
    before = [urgency(left, SLA) for left in (30, 20, 10, 5, 0)]
    assert before[0] == 1.0
    assert before == sorted(before)
    assert before[-1] == pytest.approx(PEAK_URGENCY)
    after = [urgency(-late, SLA) for late in (0, 30, 120, 600)]
    assert after == sorted(after, reverse=True)
    assert 1.0 < after[-1] < 1.01
    # an imported lead that arrived "in the future" is not less urgent than a fresh one
    assert urgency(45, SLA) == 1.0


def test_near_breach_beats_a_comparable_fresh_lead_but_not_a_much_better_one() -> None:
    ranked = rank([entry(1, 0.40, 29), entry(2, 0.35, 3), entry(3, 0.9, 29)], NOW, SLA)
    assert [r.entry.lead_id for r in ranked] == [3, 2, 1]
    late = ranked[1]
    assert not late.breached
    assert late.minutes_left == pytest.approx(3)


def test_breach_flags_and_unscored_leads_first() -> None:
    ranked = rank([entry(1, 0.5, -12.5), entry(2, None, 20), entry(3, 0.5, -12.5)], NOW, SLA)
    assert ranked[0].entry.lead_id == 2
    assert [r.entry.lead_id for r in ranked[1:]] == [1, 3]  # ties: deadline, then id
    assert ranked[1].breached
    assert ranked[1].minutes_overdue == pytest.approx(12.5)
    assert ranked[0].minutes_overdue == 0.0
