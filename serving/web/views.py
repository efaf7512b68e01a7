"""What the pages show, computed from the API's views (pure functions, no I/O).

The SLA pill, a queue row, the probability chart and the funnel moves a lead allows, in
the page's language (a ``Translator`` of the pages' catalog; English without one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from features.funnel import Status, allowed_next
from features.i18n import N_, Translator
from serving.api.schemas import QueueItem, ReasonOut, ScoreOut
from serving.api.texts import serving_words

#: Below this share of the SLA window left, the pill turns amber.
AMBER_SHARE = 1 / 3

#: The status a suggested route leads to.
ROUTE_MOVES: dict[str, Status] = {
    "sales": Status.AWAITING_MANAGER,
    "partner": Status.PARTNER,
    "disqualify": Status.DISQUALIFIED,
}


#: How the lead page says why a claim ended, by the store's reason.
CLAIM_ENDS: dict[str, str] = {
    "released": N_("released"),
    "qualified": N_("released at qualification"),
    "closed": N_("released when closed"),
    "moved on": N_("released when moved on"),
}

#: The moments a lead is scored at, as the pages name them.
MOMENT_WORDS: dict[str, str] = {"arrival": N_("arrival"), "qualified": N_("qualified")}


@dataclass(frozen=True)
class SlaPill:
    level: str  # ok | soon | overdue: a CSS class, and spoken by the text too
    text: str


#: The pill's words (static/app.js reads them from the queue list's data attributes).
SLA_WORDS: dict[str, str] = {
    "days": N_("{n} d"),
    "hours": N_("{n} h"),
    "minutes": N_("{n} min"),
    "overdue": N_("overdue {span}"),
    "left": N_("{span} left"),
    "moment": N_("<1 min left"),
}


def sla_words(translate: Translator | None = None) -> dict[str, str]:
    """The pill's words in ``translate``'s language, by role."""
    found = translate or serving_words(None)
    return {role: found.gettext(message) for role, message in SLA_WORDS.items()}


def span_words(minutes: float, translate: Translator | None = None) -> str:
    """A span as the pill says it: minutes, then whole hours from 2 h, days from 2 days
    (a lead that arrived out of working hours is due the next working morning)."""
    said = sla_words(translate)
    if minutes >= 2 * 24 * 60:
        return said["days"].format(n=int(minutes // (24 * 60)))
    if minutes >= 120:
        return said["hours"].format(n=int(minutes // 60))
    return said["minutes"].format(n=int(minutes))


def sla_pill(
    minutes_left: float, sla_minutes: float, translate: Translator | None = None
) -> SlaPill:
    """Green with time left, amber in the last third of the window, red once breached.
    (static/app.js says the same as the clock runs.)"""
    said = sla_words(translate)
    if minutes_left < 0:
        late = span_words(max(1, round(-minutes_left)), translate)
        return SlaPill("overdue", said["overdue"].format(span=late))
    if minutes_left < 1:
        text = said["moment"]
    else:
        text = said["left"].format(span=span_words(minutes_left, translate))
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
    items: Sequence[QueueItem],
    extras: Mapping[int, LeadExtras],
    sla_minutes: float,
    translate: Translator | None = None,
) -> list[QueueRow]:
    empty = LeadExtras(None, [])
    return [
        QueueRow(
            item=item,
            company=extras.get(item.lead_id, empty).company,
            reasons=extras.get(item.lead_id, empty).reasons,
            pill=sla_pill(item.minutes_left, sla_minutes, translate),
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
    translate: Translator | None = None,
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
        moment = (translate or serving_words(None)).gettext(
            MOMENT_WORDS.get(score.stage, score.stage)
        )
        label = f"{moment}: {score.probability:.0%}"
        points.append(ChartPoint(round(x, 1), round(y, 1), label, score.stage))
    polyline = " ".join(f"{point.x},{point.y}" for point in points)
    return ProbabilityChart(points, polyline, width, height, pad, pad_left)


@dataclass(frozen=True)
class Move:
    status: Status
    label: str
    suggested: bool
    needs_deal_value: bool


def moves(current: Status, route: str | None, translate: Translator | None = None) -> list[Move]:
    """The funnel moves allowed from ``current``, each named as the funnel names its status
    in ``translate``'s language; the suggested route's one first."""
    suggested = ROUTE_MOVES.get(route or "")
    locale = translate.locale if translate else None
    found = [
        Move(
            status=status,
            label=status.label(locale),
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


def status_choices(translate: Translator | None = None) -> list[tuple[str, str]]:
    """The sales view's status filter: open, closed, all, then each status (by its label
    in ``translate``'s language)."""
    said = translate or serving_words(None)
    fixed = [
        (OPEN, said.gettext(N_("open (not closed)"))),
        (CLOSED, said.gettext(N_("closed (any outcome)"))),
        (ALL, said.gettext(N_("every status"))),
    ]
    return fixed + [(s.value, s.label(said.locale)) for s in Status]
