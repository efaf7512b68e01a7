"""The queue's priority formula (pure): urgency peaks at the SLA deadline, then decays; the
top of the queue and a lead's place in it, read with the threshold algorithm, equal the full
ranking."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.sla import parse_working_hours
from serving.queue import (
    EXPLORED_VALUE,
    PEAK_URGENCY,
    Access,
    Queued,
    QueueEntry,
    QueueOrder,
    Read,
    Reader,
    Sla,
    draw_exploration,
    position_of,
    rank,
    rank_value,
    read_entries,
    top_ranked,
    urgency,
)
from training.feedback import explored

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SLA_MINUTES = 30.0
SLA = Sla(SLA_MINUTES)


def entry(lead_id: int, probability: float | None, minutes_left: float) -> QueueEntry:
    deadline = NOW + timedelta(minutes=minutes_left)
    return QueueEntry(
        lead_id=lead_id,
        external_id=f"x{lead_id}",
        channel="seo",
        arrived_at=deadline - timedelta(minutes=SLA_MINUTES),
        sla_deadline=deadline,
        probability=probability,
        tier=None,
        status="new",
        claimed_by=None,
    )


def test_urgency_rises_to_the_deadline_then_decays() -> None:
    before = [urgency(left, SLA_MINUTES) for left in (30, 20, 10, 5, 0)]
    assert before[0] == 1.0
    assert before == sorted(before)
    assert before[-1] == pytest.approx(PEAK_URGENCY)
    after = [urgency(-late, SLA_MINUTES) for late in (0, 30, 120, 600)]
    assert after == sorted(after, reverse=True)
    assert 1.0 < after[-1] < 1.01
    # an imported lead that arrived "in the future" is not less urgent than a fresh one
    assert urgency(45, SLA_MINUTES) == 1.0


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


# --- the threshold algorithm equals the full ranking -----------------------------------------

#: Probabilities and minutes left drawn from small sets too, so that ties are common.
PROBABILITIES = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.9, 1.0]),
    st.floats(0, 1, allow_nan=False),
)
MINUTES_LEFT = st.one_of(
    st.sampled_from([-600.0, -30.0, -1.0, 0.0, 1.0, 29.0, 30.0, 45.0]),
    st.floats(-300, 60, allow_nan=False),
    st.floats(-10_000, 120, allow_nan=False),
)
QUEUES = st.lists(st.tuples(PROBABILITIES, MINUTES_LEFT), max_size=200).map(
    lambda rows: [entry(i + 1, p, left) for i, (p, left) in enumerate(rows)]
)


#: Rows per access in the first round: small batches make many rounds of the search.
BATCHES = st.one_of(st.none(), st.integers(1, 8))


@settings(max_examples=400, deadline=None)
@given(queue=QUEUES, n=st.integers(1, 40), batch=BATCHES)
def test_top_ranked_equals_the_full_ranking(
    queue: list[QueueEntry], n: int, batch: int | None
) -> None:
    top = top_ranked(read_entries(queue, NOW), n, NOW, SLA, batch=batch)
    assert ids(top) == [r.entry.lead_id for r in rank(queue, NOW, SLA)[:n]]


@settings(max_examples=400, deadline=None)
@given(queue=QUEUES, depth=st.integers(1, 40), batch=BATCHES, data=st.data())
def test_position_of_equals_the_place_in_the_full_ranking(
    queue: list[QueueEntry], depth: int, batch: int | None, data: st.DataObject
) -> None:
    if not queue:
        return
    target = data.draw(st.sampled_from(queue))
    place = [r.entry.lead_id for r in rank(queue, NOW, SLA)].index(target.lead_id) + 1
    expected = place if place <= depth else None
    read = read_entries(queue, NOW)
    assert position_of(read, target, depth, NOW, SLA, batch=batch) == expected
    by_probability = sorted((lead.rank_probability for lead in queue), reverse=True)
    if depth <= len(queue):  # the shortcut a store takes with one index lookup
        at_depth = by_probability[depth - 1]
        found = position_of(read, target, depth, NOW, SLA, probability_at_depth=at_depth)
        assert found == expected


def ids(leads: Sequence[Queued]) -> list[int]:
    return [lead.lead_id for lead in leads]


@dataclass
class Tally:
    """What a search read: rows per access, and rounds (one query each on the store)."""

    rows: Counter[Access] = field(default_factory=Counter)
    rounds: int = 0


def counting(read: Reader) -> tuple[Reader, Tally]:
    tally = Tally()

    def counted(reads: Sequence[Read]) -> Mapping[Access, Sequence[Queued]]:
        got = read(reads)
        tally.rows.update({access: len(leads) for access, leads in got.items()})
        tally.rounds += 1
        return got

    return counted, tally


def backlog(size: int, seed: int = 7) -> list[QueueEntry]:
    """A queue like the load benchmark's: arrivals spread over five days, most breached."""
    rng = random.Random(seed)
    return [
        entry(i + 1, rng.betavariate(2, 5), SLA_MINUTES - rng.uniform(0, 5 * 24 * 60))
        for i in range(size)
    ]


def test_the_top_of_a_long_queue_reads_a_small_part_of_it() -> None:
    queue = backlog(20_000)
    read, tally = counting(read_entries(queue, NOW))
    assert ids(top_ranked(read, 50, NOW, SLA)) == [
        r.entry.lead_id for r in rank(queue, NOW, SLA)[:50]
    ]
    assert tally.rows.total() < 2_000
    assert tally.rounds <= 3
    read, tally = counting(read_entries(queue, NOW))
    fresh = entry(20_001, 0.3, SLA_MINUTES)
    assert position_of(read, fresh, 100, NOW, SLA) is None
    assert tally.rows.total() < 2_000
    assert tally.rounds == 1


def test_a_tie_at_the_bound_reads_on() -> None:
    """Zero priorities tie exactly with the bound: the search must read on to find the
    lead that wins the tie (same deadline, lower id), also one row at a time."""
    queue = [entry(1, 0.0, -600), entry(2, 0.0, -600)]
    read = read_entries(queue, NOW)
    assert ids(top_ranked(read, 1, NOW, SLA, batch=1)) == [1]
    assert position_of(read, queue[1], 1, NOW, SLA, batch=1) is None
    assert position_of(read, queue[1], 2, NOW, SLA, batch=1) == 2


def test_the_live_draw_follows_the_simulated_policy() -> None:
    draws = np.random.default_rng(1).random(2_000)
    live = np.array([draw_exploration(0.05, float(d)).explored for d in draws])
    np.testing.assert_array_equal(live, explored(draws, 0.05))
    assert draw_exploration(0.05, 0.5).propensity == 0.05


# --- the expected-value order: the same search, the rank value for the probability --------

VALUES = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 5e5]), st.floats(0, 1e7, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(PROBABILITIES, VALUES, MINUTES_LEFT), max_size=150),
    n=st.integers(1, 40),
    batch=BATCHES,
)
def test_the_expected_value_order_equals_a_brute_force_sort(
    rows: list[tuple[float | None, float | None, float]], n: int, batch: int | None
) -> None:
    queue = [
        replace(
            entry(i + 1, p, left),
            rank_value=rank_value(value),
            order=QueueOrder.EXPECTED_VALUE,
        )
        for i, (p, value, left) in enumerate(rows)
    ]
    values = {lead.lead_id: value for lead, (_p, value, _left) in zip(queue, rows, strict=True)}

    def brute(lead: QueueEntry) -> tuple[float, datetime, int]:
        minutes_left = (lead.sla_deadline - NOW).total_seconds() / 60
        value = values[lead.lead_id] or 0.0
        return (-value * urgency(minutes_left, SLA_MINUTES), lead.sla_deadline, lead.lead_id)

    expected = [lead.lead_id for lead in sorted(queue, key=brute)]
    top = top_ranked(read_entries(queue, NOW), n, NOW, SLA, batch=batch)
    assert ids(top) == expected[:n]
    # leads without an expected value come after every lead with a positive one
    valued = [i for i in expected if (values[i] or 0.0) > 0]
    assert expected[: len(valued)] == valued


# --- the SLA on working hours ---------------------------------------------------------------

OFFICE = Sla(
    SLA_MINUTES,
    parse_working_hours(
        {
            "time_zone": "Europe/Moscow",
            "hours": {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2026-12-31"],
        }
    ),
)
MOSCOW = ZoneInfo("Europe/Moscow")


def arrived(lead_id: int, probability: float, at: datetime) -> QueueEntry:
    """A lead arriving at ``at`` with its deadline on the office's clock."""
    return replace(entry(lead_id, probability, 0), arrived_at=at, sla_deadline=OFFICE.deadline(at))


def test_minutes_left_count_working_time_only() -> None:
    friday_close = datetime(2026, 12, 4, 17, 50, tzinfo=MOSCOW)  # a Friday
    lead = arrived(1, 0.3, friday_close)
    assert lead.sla_deadline == datetime(2026, 12, 7, 9, 20, tzinfo=MOSCOW)  # Monday
    just_before = datetime(2026, 12, 4, 17, 59, tzinfo=MOSCOW)
    assert OFFICE.minutes_left(lead.sla_deadline, just_before) == pytest.approx(21)
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=MOSCOW)
    assert OFFICE.minutes_left(lead.sla_deadline, saturday) == pytest.approx(20)
    late = datetime(2026, 12, 7, 10, 0, tzinfo=MOSCOW)
    assert OFFICE.minutes_left(lead.sla_deadline, late) == pytest.approx(-40)
    [ranked] = rank([lead], saturday, OFFICE)
    assert ranked.urgency == pytest.approx(urgency(20, SLA_MINUTES))  # not 2 days' worth
    assert not ranked.breached


def test_a_deadline_at_closing_is_breached_after_it_with_no_working_minute_since() -> None:
    at_closing = arrived(1, 0.3, datetime(2026, 12, 2, 17, 30, tzinfo=MOSCOW))
    assert at_closing.sla_deadline == datetime(2026, 12, 2, 18, 0, tzinfo=MOSCOW)
    evening = datetime(2026, 12, 2, 20, 0, tzinfo=MOSCOW)
    [ranked] = rank([at_closing], evening, OFFICE)
    assert ranked.minutes_left == 0.0
    assert ranked.breached
    assert ranked.urgency == PEAK_URGENCY  # still at the peak until the office opens


def test_over_the_weekend_the_lead_from_friday_evening_keeps_its_place() -> None:
    """On wall-clock minutes a lead due Monday looks relaxed all weekend and sinks below a
    slightly better weekend arrival; on the office's clock half its SLA is gone."""
    friday = arrived(1, 0.30, datetime(2026, 12, 4, 17, 45, tzinfo=MOSCOW))  # 15 min Monday
    weekend = arrived(2, 0.35, datetime(2026, 12, 5, 11, 0, tzinfo=MOSCOW))  # all 30 Monday
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=MOSCOW)
    queue = [weekend, friday]
    assert ids(top_ranked(read_entries(queue, saturday), 2, saturday, OFFICE)) == [1, 2]
    on_the_wall = Sla(SLA_MINUTES)  # the same deadlines, every minute counted
    assert [r.entry.lead_id for r in rank(queue, saturday, on_the_wall)] == [2, 1]
    assert rank([friday], saturday, OFFICE)[0].urgency == pytest.approx(1.25)


ARRIVALS = st.lists(
    st.tuples(PROBABILITIES, st.floats(0, 20 * 24 * 60, allow_nan=False)), max_size=120
)


@settings(max_examples=200, deadline=None)
@given(rows=ARRIVALS, n=st.integers(1, 30), batch=BATCHES, hours_after=st.floats(0, 24 * 14))
def test_top_ranked_equals_the_full_ranking_on_working_hours(
    rows: list[tuple[float | None, float]], n: int, batch: int | None, hours_after: float
) -> None:
    """Working minutes left are monotone in the deadline, so the threshold search stays
    exact: arrivals over twenty days (weekends, a holiday), any moment after."""
    start = datetime(2026, 12, 18, 8, 0, tzinfo=MOSCOW)
    queue = [
        replace(arrived(i + 1, 0.5, start + timedelta(minutes=minutes)), probability=p)
        for i, (p, minutes) in enumerate(rows)
    ]
    now = start + timedelta(hours=hours_after)
    top = top_ranked(read_entries(queue, now), n, now, OFFICE, batch=batch)
    assert ids(top) == [r.entry.lead_id for r in rank(queue, now, OFFICE)[:n]]


def test_the_boost_ranks_above_any_expected_value() -> None:
    assert rank_value(None, explored=True) == EXPLORED_VALUE
    assert rank_value(1e12, explored=True) > rank_value(1e14)
    assert rank_value(5.0) == 5.0
