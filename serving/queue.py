"""The SDR queue's order: score times SLA urgency (pure functions, documented in docs/serving.md).

``priority = probability * urgency``, where the urgency depends on how much of the SLA
window has passed (``t`` = minutes since the clock started, ``S`` = the SLA in minutes):

* before the deadline: ``urgency = 1 + (t / S) ** 2`` (1 on arrival, 2 at the deadline,
  rising fastest just before it), so a lead about to breach moves up among leads of
  comparable score;
* after the deadline: ``urgency = 1 + exp(-(t - S) / (4 S))``, decaying back towards 1:
  the moment has passed, and a backlog of old breached leads must not bury fresh good
  ones that can still be answered in time.

A lead whose scoring was interrupted (no score yet) ranks as if its probability were 1,
so that a person looks at it first. Ties go to the earlier deadline, then the lower id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

#: Urgency at the deadline (the maximum).
PEAK_URGENCY = 2.0
#: After the deadline the extra urgency decays with this many SLA windows as time constant.
DECAY_WINDOWS = 4.0
UNSCORED_PROBABILITY = 1.0


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


@dataclass(frozen=True)
class RankedEntry:
    entry: QueueEntry
    priority: float
    urgency: float
    minutes_left: float

    @property
    def breached(self) -> bool:
        return self.minutes_left < 0

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


def rank_entry(entry: QueueEntry, now: datetime, sla_minutes: float) -> RankedEntry:
    minutes_left = (entry.sla_deadline - now).total_seconds() / 60.0
    pressing = urgency(minutes_left, sla_minutes)
    probability = UNSCORED_PROBABILITY if entry.probability is None else entry.probability
    return RankedEntry(entry, probability * pressing, pressing, minutes_left)


def rank(entries: Iterable[QueueEntry], now: datetime, sla_minutes: float) -> list[RankedEntry]:
    """Entries in priority order (highest first)."""
    ranked = [rank_entry(entry, now, sla_minutes) for entry in entries]
    return sorted(ranked, key=lambda r: (-r.priority, r.entry.sla_deadline, r.entry.lead_id))
