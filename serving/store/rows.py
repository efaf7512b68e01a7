"""The lead store's rows as built from what came in: a lead's facts and its new row's columns,
its status changes, qualification answers and scores (pure: no session). The ``Store`` that
writes them is in ``leads.py``; the history import (``imports.py``) builds its lead rows here
too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from features.funnel import Status, highest_stage
from serving.queue import Exploration, rank_probability
from serving.scores import Score
from serving.store.tables import QualificationRow, ScoreRow, StatusChangeRow


@dataclass(frozen=True)
class LeadFacts:
    """What the store keeps of any lead as it came in (from the API, a CRM or an import)."""

    external_id: str
    arrived_at: datetime
    channel: str
    source: dict[str, Any]
    record: dict[str, Any]


def lead_columns(
    lead: LeadFacts,
    statuses: list[Status],
    deal: tuple[float | None, str | None],
    *,
    sla_deadline: datetime,
    in_queue: bool,
    qualified_at: datetime | None,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """A new lead's row: its status and furthest stage from ``statuses`` (oldest first),
    unclaimed and unscored (ranked as unscored), created by ``by`` at ``now``."""
    return {
        "external_id": lead.external_id,
        "arrived_at": lead.arrived_at,
        "channel": lead.channel,
        "source": lead.source,
        "record": lead.record,
        "status": statuses[-1].value,
        "stage_reached": highest_stage(statuses).value,
        "deal_value": deal[0],
        "deal_currency": deal[1],
        "sla_deadline": sla_deadline,
        "in_queue": in_queue,
        "claimed_by": None,
        "probability": None,
        "rank_probability": rank_probability(None),
        "tier": None,
        "route": None,
        "qualified_at": qualified_at,
        "created_by": by,
        "created_at": now,
        "updated_at": now,
    }


def status_change_row(
    lead_id: int, status: Status, at: datetime, note: str | None, by: str, now: datetime
) -> StatusChangeRow:
    """The history row of a move to ``status`` dated ``at``, recorded by ``by`` at ``now``."""
    return StatusChangeRow(
        lead_id=lead_id, status=status.value, at=at, note=note, changed_by=by, recorded_at=now
    )


def qualification_row(
    lead_id: int,
    bant: dict[str, Any],
    questionnaire: dict[str, Any] | None,
    by: str,
    now: datetime,
) -> QualificationRow:
    """The row of qualification answers given by ``by`` at ``now`` (no route yet)."""
    return QualificationRow(
        lead_id=lead_id,
        bant=bant,
        questionnaire=questionnaire,
        route=None,
        qualified_by=by,
        qualified_at=now,
    )


def score_row(
    lead_id: int, score: Score, now: datetime, exploration: Exploration | None
) -> ScoreRow:
    """The row of one score of a lead made at ``now``, with the arrival draw (``exploration``)
    it was made under, if any."""
    return ScoreRow(
        lead_id=lead_id,
        kind=score.known_at,
        target=score.target,
        probability=score.probability,
        tier=score.tier,
        reasons=[reason.as_json() for reason in score.reasons],
        model_name=score.model_name,
        model_version=score.model_version,
        is_fallback=score.is_fallback,
        fallback_reason=score.fallback_reason,
        scored_at=now,
        explored=None if exploration is None else exploration.explored,
        propensity=None if exploration is None else exploration.propensity,
        outlook=None if score.outlook is None else score.outlook.as_json(),
        expected_value=None if score.outlook is None else score.outlook.outlook.expected_value,
    )
