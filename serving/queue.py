"""The SDR queue's order: score times SLA urgency (pure functions, documented in docs/serving.md).

``priority = probability * urgency``, where the urgency depends on how much of the SLA
window has passed (``t`` = minutes since the clock started, ``S`` = the SLA in minutes):

* before the deadline: ``urgency = 1 + (t / S) ** 2`` (1 on arrival, 2 at the deadline,
  rising fastest just before it), so a lead about to breach moves up among leads of
  comparable score;
* after the deadline: ``urgency = 1 + exp(-(t - S) / (4 S))``, decaying back towards 1:
  the moment has passed, and a backlog of old breached leads must not bury fresh good
  ones that can still be answered in time.

Minutes are the SLA's (:class:`Sla`): with working hours configured they are working minutes,
so a lead that arrived just before closing is pressing just before closing and again at
the next opening, not after a weekend of wall-clock time.

A lead whose scoring was interrupted (no score yet) ranks as if its probability were 1,
so that a person looks at it first. Ties go to the earlier deadline, then the lower id.

The queue may be ordered by expected value instead (:class:`QueueOrder`): then
``priority = rank value * urgency``, the rank value being the lead's expected value (the
outlook's ``P(won within 180 days) x E[deal value | won]``); a lead without one (unscored,
or no outlook in service) ranks with 0, after every lead with one. The exploration boost
puts a lead in front in both orders (``EXPLORED_VALUE`` is above any expected value).

The top of a long queue is found without ranking all of it: :func:`top_ranked` and
:func:`position_of` run Fagin's threshold algorithm over three sorted reads the store
answers with indexed queries (:class:`Access`), and give exactly what ranking every lead
would.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from features.sla import WorkingHours

#: Urgency at the deadline (the maximum).
PEAK_URGENCY = 2.0
#: After the deadline the extra urgency decays with this many SLA windows as time constant.
DECAY_WINDOWS = 4.0
UNSCORED_PROBABILITY = 1.0


@dataclass(frozen=True)
class Sla:
    """The SLA the queue ranks with: ``minutes`` to react, counted on ``hours`` (the
    installation's working hours; by default every minute counts)."""

    minutes: float
    hours: WorkingHours = field(default_factory=WorkingHours.always)

    def deadline(self, start: datetime) -> datetime:
        """When a lead arriving at ``start`` must have been answered."""
        return self.hours.deadline(start, self.minutes)

    def minutes_left(self, deadline: datetime, now: datetime) -> float:
        """SLA minutes from ``now`` to ``deadline``; negative: SLA minutes since it passed."""
        if self.hours.round_the_clock:
            return (deadline - now).total_seconds() / 60.0
        if deadline >= now:
            return self.hours.working_minutes(now, deadline)
        return -self.hours.working_minutes(deadline, now)


class QueueOrder(StrEnum):
    """What the queue ranks with, times the urgency."""

    PROBABILITY = "probability"
    EXPECTED_VALUE = "expected_value"


#: The rank value of a lead without an expected value: after every lead with one.
NO_VALUE = 0.0


#: The rank value of a lead holding the exploration boost: above any expected value, as the
#: boost's probability 1 is above any probability.
EXPLORED_VALUE = 1e15


def rank_value(expected_value: float | None, *, explored: bool = False) -> float:
    """What a lead ranks with in the expected-value order (the boost puts it in front)."""
    if explored:
        return EXPLORED_VALUE
    return NO_VALUE if expected_value is None else max(float(expected_value), NO_VALUE)


class Queued(Protocol):
    """What ranking needs of a queued lead: a :class:`QueueEntry`, or its :class:`QueueKey`."""

    @property
    def lead_id(self) -> int: ...

    @property
    def rank_score(self) -> float:
        """What the lead ranks with in the queue's order (times the urgency)."""
        ...

    @property
    def sla_deadline(self) -> datetime: ...


class QueueKey(NamedTuple):
    """Only what ranking needs (what the store's sorted reads return; a tuple, cheap to
    make by the thousand)."""

    lead_id: int
    rank_score: float  # the rank probability, or the rank value in the expected-value order
    sla_deadline: datetime


@dataclass(frozen=True)
class QueueEntry:
    """What the queue needs to know about one waiting lead."""

    lead_id: int
    external_id: str
    channel: str
    arrived_at: datetime
    sla_deadline: datetime
    probability: float | None
    tier: str | None
    status: str
    claimed_by: str | None
    explored: bool = False
    rank_value: float = NO_VALUE
    outlook: dict[str, Any] | None = None  # as the store keeps it (serving.scores.ScoreOutlook)
    order: QueueOrder = QueueOrder.PROBABILITY

    @property
    def rank_probability(self) -> float:
        return rank_probability(self.probability, explored=self.explored)

    @property
    def rank_score(self) -> float:
        if self.order is QueueOrder.EXPECTED_VALUE:
            return self.rank_value
        return self.rank_probability


@dataclass(frozen=True)
class RankedEntry:
    entry: QueueEntry
    priority: float
    urgency: float
    minutes_left: float  # SLA minutes (negative: overdue)
    breached: bool  # the deadline has passed (also when no working minute has since)

    @property
    def minutes_overdue(self) -> float:
        return max(0.0, -self.minutes_left)


def urgency(minutes_left: float, sla_minutes: float) -> float:
    """How pressing a lead is given the minutes left until its deadline (negative: late)."""
    elapsed = sla_minutes - minutes_left
    if minutes_left >= 0:
        fraction = max(0.0, elapsed / sla_minutes)
        return 1.0 + (PEAK_URGENCY - 1.0) * fraction**2
    overdue = elapsed - sla_minutes
    return 1.0 + (PEAK_URGENCY - 1.0) * math.exp(-overdue / (DECAY_WINDOWS * sla_minutes))


@dataclass(frozen=True)
class Exploration:
    """One arriving lead's exploration draw: whether it got the boost, and the chance it had
    (the propensity the retraining report weights by)."""

    explored: bool
    propensity: float


def draw_exploration(share: float, draw: float) -> Exploration:
    """The boost for a uniform ``draw`` on [0, 1): given with probability ``share`` (the
    policy ``training.feedback.explored`` simulates, one lead at a time)."""
    return Exploration(explored=draw < share, propensity=share)


def rank_probability(probability: float | None, *, explored: bool = False) -> float:
    """The probability a lead ranks with: its score, or 1 while it has none or while it holds
    the exploration boost (a random few arrivals go to the front whatever their score, so
    the leads SDRs would skip get labels too: docs/serving.md, "Exploration")."""
    return UNSCORED_PROBABILITY if probability is None or explored else probability


def priority(lead: Queued, now: datetime, sla: Sla) -> tuple[float, float, float]:
    """(priority, urgency, SLA minutes left) of a queued lead."""
    minutes_left = sla.minutes_left(lead.sla_deadline, now)
    pressing = urgency(minutes_left, sla.minutes)
    return lead.rank_score * pressing, pressing, minutes_left


def rank_entry(entry: QueueEntry, now: datetime, sla: Sla) -> RankedEntry:
    return RankedEntry(entry, *priority(entry, now, sla), breached=entry.sla_deadline < now)


#: Queue order: highest priority first, ties to the earlier deadline, then the lower id.
OrderKey = tuple[float, datetime, int]


def order_key(lead: Queued, now: datetime, sla: Sla) -> OrderKey:
    return (-priority(lead, now, sla)[0], lead.sla_deadline, lead.lead_id)


def rank(entries: Iterable[QueueEntry], now: datetime, sla: Sla) -> list[RankedEntry]:
    """Entries in priority order (highest first)."""
    ranked = [rank_entry(entry, now, sla) for entry in entries]
    return sorted(ranked, key=lambda r: (-r.priority, r.entry.sla_deadline, r.entry.lead_id))


# --- the top of the queue without ranking all of it (Fagin's threshold algorithm) --------
#
# priority = p x u, with p the rank score (probability or value) and u the urgency, which
# depends only on the deadline and is unimodal in it: 2 at deadline == now, falling
# (weakly) as the deadline moves away on either side. So three sorted accesses, each an
# indexed query, bound the priority of every lead not read yet: by p (descending), and by
# deadline from now into the future (ascending) and into the past (descending). Reading
# them batch by batch and ranking each lead read, the search may stop as soon as its n-th
# best priority is above that bound: nothing unread can enter the top n, and the result
# equals ``rank(...)[:n]``.


class Access(StrEnum):
    """The three sorted reads of the queue (each an indexed, keyset-paginated query)."""

    #: rank score (the rank probability, or the rank value) descending, then id descending
    PROBABILITY = "probability"
    #: deadline at or after now, ascending (then id ascending): urgency falls along it
    UPCOMING = "upcoming"
    #: deadline before now, descending (then id descending): urgency falls along it
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Read:
    """Up to ``limit`` queued leads of ``access`` that come after ``after`` in its order (from
    its start when None)."""

    access: Access
    after: Queued | None
    limit: int


#: Answers one round of reads (one query on the store, the tests from a list): for each
#: read, its leads in the access's order.
Reader = Callable[[Sequence[Read]], Mapping[Access, Sequence[Queued]]]

#: The urgency sides: where on the deadline axis a lead is.
_SIDES = (Access.UPCOMING, Access.OVERDUE)
#: Relative slack on the bound, so that a last-bit rounding of exp() can never end a search
#: early (it only makes the search read a little more, never changes the result).
_SLACK = 1e-9
#: Rows per access read in the first round: BATCH_PER_LEAD per lead asked for, at least
#: FIRST_BATCH (a round is a database round trip: a few large rounds beat many small ones);
#: then twice as many each round, at most MAX_BATCH.
BATCH_PER_LEAD = 3
FIRST_BATCH = 64
GROWTH = 2
MAX_BATCH = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def access_key(access: Access, lead: Queued) -> tuple[Any, ...]:
    """The sort key of ``access``'s order (ascending)."""
    if access is Access.PROBABILITY:
        return (-lead.rank_score, -lead.lead_id)
    if access is Access.UPCOMING:
        return (lead.sla_deadline, lead.lead_id)
    return (_EPOCH - lead.sla_deadline, -lead.lead_id)


def _lists(access: Access, lead: Queued, now: datetime) -> bool:
    if access is Access.PROBABILITY:
        return True
    return (lead.sla_deadline >= now) is (access is Access.UPCOMING)


def read_entries(entries: Iterable[Queued], now: datetime) -> Reader:
    """The three accesses over leads in memory: the reference the store's SQL follows."""
    queued = list(entries)
    orders = {
        access: sorted(
            (lead for lead in queued if _lists(access, lead, now)),
            key=partial(access_key, access),
        )
        for access in Access
    }

    def one(access: Access, after: Queued | None, limit: int) -> list[Queued]:
        listed = orders[access]
        start = 0
        if after is not None:
            start = bisect.bisect_right(
                listed, access_key(access, after), key=partial(access_key, access)
            )
        return listed[start : start + limit]

    def read(reads: Sequence[Read]) -> dict[Access, list[Queued]]:
        return {r.access: one(r.access, r.after, r.limit) for r in reads}

    return read


@dataclass
class ThresholdSearch:
    """Bookkeeping of one search: what has been read, and a bound on what has not.

    Pure: the caller reads the batches (``next_reads``, ``cursor``) and hands them to
    ``add``; ``bound`` is the highest priority any lead not read yet can have.
    """

    now: datetime
    sla: Sla
    seen: dict[int, tuple[OrderKey, Queued]] = field(default_factory=dict)
    last: dict[Access, Queued] = field(default_factory=dict)
    exhausted: set[Access] = field(default_factory=set)

    def add(self, access: Access, batch: Sequence[Queued], asked: int) -> None:
        """Record one batch of ``access`` (fewer than ``asked`` rows: the access is done)."""
        for lead in batch:
            if lead.lead_id not in self.seen:
                self.seen[lead.lead_id] = (order_key(lead, self.now, self.sla), lead)
        if batch:
            self.last[access] = batch[-1]
        if len(batch) < asked:
            self.exhausted.add(access)

    def cursor(self, access: Access) -> Queued | None:
        return self.last.get(access)

    @property
    def complete(self) -> bool:
        """Everything has been read (every lead is in the probability access)."""
        return Access.PROBABILITY in self.exhausted or all(
            side in self.exhausted for side in _SIDES
        )

    def _side_bound(self, side: Access) -> float:
        """The highest urgency of a lead this side has not listed yet."""
        if side in self.exhausted:
            return 0.0
        last = self.last.get(side)
        if last is None:
            return PEAK_URGENCY
        return priority(last, self.now, self.sla)[1]

    @property
    def bound(self) -> float:
        """No lead not read yet has a higher priority than this."""
        if self.complete:
            return 0.0
        last = self.last.get(Access.PROBABILITY)
        probability = math.inf if last is None else last.rank_score
        urgency_bound = max(self._side_bound(side) for side in _SIDES)
        return probability * urgency_bound * (1.0 + _SLACK)

    def next_reads(self) -> list[Access]:
        """What to read next: the probabilities, and the side(s) whose bound is the highest
        (reading the other side could not lower the bound)."""
        reads = [] if Access.PROBABILITY in self.exhausted else [Access.PROBABILITY]
        open_sides = [side for side in _SIDES if side not in self.exhausted]
        if open_sides:
            highest = max(self._side_bound(side) for side in open_sides)
            reads += [side for side in open_sides if self._side_bound(side) == highest]
        return reads

    def best(self, n: int) -> list[tuple[OrderKey, Queued]]:
        """The n best leads read so far, in queue order, with their order keys."""
        return heapq.nsmallest(n, self.seen.values(), key=itemgetter(0))


def _search(read: Reader, search: ThresholdSearch, done: Callable[[], bool], batch: int) -> None:
    while not (search.complete or done()):
        reads = [Read(access, search.cursor(access), batch) for access in search.next_reads()]
        got = read(reads)
        for access in (r.access for r in reads):
            search.add(access, got[access], batch)
        batch = min(batch * GROWTH, MAX_BATCH)


def _first_batch(n: int) -> int:
    return max(BATCH_PER_LEAD * n, FIRST_BATCH)


def top_ranked(
    read: Reader, n: int, now: datetime, sla: Sla, *, batch: int | None = None
) -> list[Queued]:
    """The first ``n`` leads of the queue ``read`` gives, in order: exactly those of
    ``rank(all)[:n]``, reading only as many rows as the threshold needs (a few times n per
    access on most queues, in a few rounds). ``batch``: rows per access in the first round
    (then doubling)."""
    if n <= 0:
        return []
    search = ThresholdSearch(now, sla)

    def done() -> bool:
        best = search.best(n)
        return len(best) == n and -best[-1][0][0] > search.bound

    _search(read, search, done, batch or _first_batch(n))
    return [lead for _, lead in search.best(n)]


def position_of(
    read: Reader,
    lead: Queued,
    depth: int,
    now: datetime,
    sla: Sla,
    *,
    batch: int | None = None,
    probability_at_depth: float | None = None,
) -> int | None:
    """``lead``'s 1-based place in the queue ``read`` gives (it must be in it) when that is
    at most ``depth``, else None: exact, reading at most what the top ``depth`` needs.

    ``probability_at_depth``: the rank score of the ``depth``-th lead of the
    probability access, when the caller knows it (one index lookup). Urgency is at least 1,
    so when it is above the lead's priority, ``depth`` leads are ahead: None, nothing read.
    """
    target = order_key(lead, now, sla)
    if probability_at_depth is not None and probability_at_depth > -target[0]:
        return None
    search = ThresholdSearch(now, sla)

    def ahead() -> int:
        return sum(
            1 for key, seen in search.seen.values() if seen.lead_id != lead.lead_id and key < target
        )

    def done() -> bool:
        return ahead() >= depth or search.bound < -target[0]

    # For the same reason the first ``depth`` probabilities settle most other leads.
    first = batch or depth
    got = read([Read(Access.PROBABILITY, None, first)])
    search.add(Access.PROBABILITY, got[Access.PROBABILITY], first)
    _search(read, search, done, batch or max(depth, FIRST_BATCH))
    before = ahead()
    return before + 1 if before < depth else None
