"""What the pages show, computed from the API's views (pure functions, no I/O).

The SLA pill, a queue row, the probability chart and the funnel moves a lead allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from features.funnel import Status, allowed_next
from serving.api.schemas import QueueItem, ReasonOut, ScoreOut

#: Below this share of the SLA window left, the pill turns amber.
AMBER_SHARE = 1 / 3

#: The status a suggested route leads to.
ROUTE_MOVES: dict[str, Status] = {
    "sales": Status.AWAITING_MANAGER,
    "partner": Status.PARTNER,
    "disqualify": Status.DISQUALIFIED,
}


@dataclass(frozen=True)
class SlaPill:
    level: str  # ok | soon | overdue: a CSS class, and spoken by the text too
    text: str


def span_words(minutes: float) -> str:
    """A span as the pill says it: minutes, then whole hours from 2 h, days from 2 days
    (a lead that arrived out of working hours is due the next working morning)."""
    if minutes >= 2 * 24 * 60:
        return f"{int(minutes // (24 * 60))} d"
    if minutes >= 120:
        return f"{int(minutes // 60)} h"
    return f"{int(minutes)} min"


def sla_pill(minutes_left: float, sla_minutes: float) -> SlaPill:
    """Green with time left, amber in the last third of the window, red once breached.
    (static/app.js says the same as the clock runs.)"""
    if minutes_left < 0:
        return SlaPill("overdue", f"overdue {span_words(max(1, round(-minutes_left)))}")
    text = "<1 min left" if minutes_left < 1 else f"{span_words(minutes_left)} left"
    return SlaPill("soon" if minutes_left < sla_minutes * AMBER_SHARE else "ok", text)


@dataclass(frozen=True)
class QueueRow:
    item: QueueItem
    company: str | None
    reasons: list[ReasonOut]
    pill: SlaPill
    position: int


@dataclass(frozen=True)
class LeadExtras:
    """What the queue page shows beyond a queue item: the company and the top reasons."""

    company: str | None
    reasons: list[ReasonOut]


def queue_rows(
    items: Sequence[QueueItem], extras: Mapping[int, LeadExtras], sla_minutes: float
) -> list[QueueRow]:
    empty = LeadExtras(None, [])
    return [
        QueueRow(
            item=item,
            company=extras.get(item.lead_id, empty).company,
            reasons=extras.get(item.lead_id, empty).reasons,
            pill=sla_pill(item.minutes_left, sla_minutes),
            position=position,
        )
        for position, item in enumerate(items, start=1)
    ]


def only_breached(items: Sequence[QueueItem], breached: bool) -> list[QueueItem]:
    return [item for item in items if item.breached] if breached else list(items)


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str
    known_at: str


@dataclass(frozen=True)
class ProbabilityChart:
    """An inline SVG's geometry: points in a WIDTH x HEIGHT box, y = probability."""

    points: list[ChartPoint]
    polyline: str
    width: int = 320
    height: int = 120
    pad: int = 24
    #: room on the left for the axis labels
    pad_left: int = 40

    @property
    def gridlines(self) -> list[tuple[float, str]]:
        inner = self.height - 2 * self.pad
        return [(self.pad + inner * (1 - share), f"{share:.0%}") for share in (0, 0.5, 1)]


def probability_chart(
    scores: Sequence[ScoreOut],
    target: str,
    width: int = 320,
    height: int = 120,
    pad: int = 24,
    pad_left: int = 40,
) -> ProbabilityChart | None:
    """The probability of ``target`` over time, one point per score (None without scores)."""
    mine = [score for score in scores if score.target == target and score.scored_at]
    if not mine:
        return None
    times = [score.scored_at.timestamp() for score in mine if score.scored_at]
    first, span = min(times), (max(times) - min(times)) or 1.0
    inner_w, inner_h = width - pad - pad_left, height - 2 * pad
    points = []
    for score, at in zip(mine, times, strict=True):
        x = pad_left + inner_w * ((at - first) / span if len(mine) > 1 else 0.5)
        y = pad + inner_h * (1 - score.probability)
        label = f"{score.stage}: {score.probability:.0%}"
        points.append(ChartPoint(round(x, 1), round(y, 1), label, score.stage))
    polyline = " ".join(f"{point.x},{point.y}" for point in points)
    return ProbabilityChart(points, polyline, width, height, pad, pad_left)


@dataclass(frozen=True)
class Move:
    status: Status
    label: str
    suggested: bool
    needs_deal_value: bool


def moves(current: Status, route: str | None) -> list[Move]:
    """The funnel moves allowed from ``current``; the suggested route's one first."""
    suggested = ROUTE_MOVES.get(route or "")
    found = [
        Move(
            status=status,
            label=status.value.replace("_", " "),
            suggested=status is suggested,
            needs_deal_value=status is Status.WON,
        )
        for status in allowed_next(current)
    ]
    return sorted(found, key=lambda move: not move.suggested)


def source_rows(source: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The source data as (label, value) rows, empty fields left out."""
    return [
        (key.replace("_", " "), str(value))
        for key, value in source.items()
        if value not in (None, "")
    ]


@dataclass(frozen=True)
class LeadSummary:
    """One lead in a list (the sales view, a channel's leads): where it stands and its score."""

    lead_id: int
    external_id: str
    channel: str
    status: Status
    probability: float | None
    tier: str | None
    route: str | None
    arrived_at: datetime
    qualified_at: datetime | None
    company: str | None


#: The sales view's status filter: its choices and the statuses each one means.
OPEN, CLOSED, ALL = "open", "closed", "all"


@dataclass(frozen=True)
class SalesFilter:
    """What the sales view shows: a status choice (open, closed, all or one status), and
    optionally one channel and one tier."""

    status: str = OPEN
    channel: str | None = None
    tier: str | None = None

    @property
    def statuses(self) -> list[Status] | None:
        """The statuses shown (None: every status)."""
        if self.status == ALL:
            return None
        if self.status == OPEN:
            return [s for s in Status if not s.is_terminal]
        if self.status == CLOSED:
            return [s for s in Status if s.is_terminal]
        return [Status(self.status)]

    @property
    def query(self) -> str:
        pairs = {
            "status": self.status if self.status != OPEN else "",
            "channel": self.channel or "",
            "tier": self.tier or "",
        }
        return urlencode({key: value for key, value in pairs.items() if value})


def status_choices() -> list[tuple[str, str]]:
    """The sales view's status filter: open, closed, all, then each status."""
    fixed = [(OPEN, "open (not closed)"), (CLOSED, "closed"), (ALL, "every status")]
    return fixed + [(s.value, s.value.replace("_", " ")) for s in Status]
