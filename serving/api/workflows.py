"""What happens to a lead: arrival, qualification, status changes, the queue.

The endpoints are thin; these functions do the work with the store, a model snapshot and
the scorer. The order is always: store what was received (commit), then score, then store
the scores: a model failure or a crash while scoring never loses a lead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from features.coerce import text_of
from features.funnel import Status
from features.lead import SOURCE_COLUMNS as LEAD_SOURCE_COLUMNS
from features.lead import BANTAnswers, Lead, SourceData, lead_to_record
from features.questionnaire import QuestionnaireAnswers, QuestionnaireError, validate_answers
from serving.api import texts
from serving.api.auth import ApiKey, Role
from serving.api.deps import Services
from serving.api.errors import ApiError, invalid, invalid_many
from serving.api.schemas import (
    ClaimOut,
    LeadDetail,
    LeadScored,
    ModelRef,
    OutlookOut,
    QualificationEntry,
    QualificationOut,
    QueueItem,
    QueueOut,
    ReasonOut,
    ScoreOut,
    StatusChangeOut,
    StatusRequest,
    TrendOut,
)
from serving.modelset import ModelSet
from serving.queue import QueueOrder, RankedEntry, draw_exploration, rank_entry
from serving.scores import ScoreOutlook, Trend, trend
from serving.scoring import suggest_route
from serving.store.leads import LeadClosedError, NewLead, Store
from serving.store.queue_reads import QueueFilter, queue_entry
from serving.store.tables import LeadRow, ScoreRow

log = logging.getLogger(__name__)

#: Record columns known on arrival: all an arrival score may look at.
ARRIVAL_COLUMNS: tuple[str, ...] = ("external_id", "arrived_at", *LEAD_SOURCE_COLUMNS)
#: POST /leads says where a new lead stands when it is among this many unclaimed leads.
QUEUE_POSITION_DEPTH = 100


# ------------------------------------------------------------------------------ helpers


def jsonable(value: Any) -> Any:
    """Record values as JSON can hold them (timestamps as ISO text, NaN as null)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def arrival_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """Only what was known on arrival (a lead posted with answers is still scored fairly)."""
    return {column: record.get(column) for column in ARRIVAL_COLUMNS}


def questionnaire_errors(error: QuestionnaireError) -> ApiError:
    return invalid_many(
        [
            {"field": path, "location": "body", "message": message, "input": None}
            for path, message in error.problems.items()
        ]
    )


def _check_questionnaire(services: Services, answers: QuestionnaireAnswers | None) -> None:
    if answers is None:
        return
    try:
        validate_answers(services.catalog, answers)
    except QuestionnaireError as error:
        raise questionnaire_errors(error) from error


def count_unseen(
    services: Services, models: ModelSet, known_at: str, record: Mapping[str, Any]
) -> None:
    """Count category values the serving model never saw in training (best effort)."""
    served = models.get(known_at, services.scorer.queue_target)
    featurizer = getattr(served.model, "featurizer", None) if served else None
    categories = getattr(featurizer, "categories_", None)
    if not isinstance(categories, Mapping):
        return
    for column, known in categories.items():
        if column not in record:
            continue
        value = text_of(record.get(column))
        if value is not None and value not in known:
            services.metrics.unseen.labels(column).inc()


# ------------------------------------------------------------------------------ views


def score_trends(rows: Sequence[ScoreRow]) -> dict[int, Trend]:
    """Each score's trend against the lead's previous score of the same target (the rows in
    the order they were scored; a target's first score has none)."""
    last: dict[str, float] = {}
    trends: dict[int, Trend] = {}
    for row in rows:
        if row.target in last:
            trends[row.id] = trend(last[row.target], row.probability)
        last[row.target] = row.probability
    return trends


def outlook_out(stored: Mapping[str, Any] | None) -> OutlookOut | None:
    """An outlook as the store keeps it (``scores.outlook``, ``leads.outlook``), answered."""
    if not stored:
        return None
    kept = ScoreOutlook.from_json(dict(stored))
    model = ModelRef(name=kept.model_name, version=kept.model_version)
    return OutlookOut(**kept.outlook.as_dict(), likely_within_7d=kept.likely_soon, model=model)


def score_out(row: ScoreRow, trends: Mapping[int, Trend] | None = None) -> ScoreOut:
    found = (trends or {}).get(row.id)
    return ScoreOut(
        outlook=outlook_out(row.outlook),
        trend=None if found is None else TrendOut.model_validate(found, from_attributes=True),
        stage=row.kind,
        target=row.target,
        probability=row.probability,
        tier=row.tier,
        reasons=[ReasonOut.model_validate(reason) for reason in row.reasons],
        model=ModelRef(name=row.model_name, version=row.model_version),
        is_fallback=row.is_fallback,
        fallback_reason=row.fallback_reason,
        scored_at=row.scored_at,
    )


def latest_scores(rows: Sequence[ScoreRow], known_at: str | None = None) -> list[ScoreRow]:
    """The newest score of each (known_at, target), in the order first scored."""
    latest: dict[tuple[str, str], ScoreRow] = {}
    for row in rows:
        if known_at is None or row.kind == known_at:
            latest[(row.kind, row.target)] = row
    return list(latest.values())


def first_response_at(row: LeadRow) -> datetime | None:
    """When an SDR first answered the lead: its first claim or first move out of ``new``."""
    moments = [claim.claimed_at for claim in row.claims]
    moments += [change.at for change in row.history if change.status != Status.NEW.value]
    return min(moments, default=None)


def lead_detail(row: LeadRow, locale: str | None = None) -> LeadDetail:
    """The lead as the API shows it; its labels in ``locale`` (default English)."""
    deal = None
    if row.deal_value is not None and row.deal_currency is not None:
        deal = {"amount": row.deal_value, "currency": row.deal_currency}
    status = Status(row.status)
    trends = score_trends(row.scores)
    answered = first_response_at(row)
    return LeadDetail.model_validate(
        {
            "id": row.id,
            "external_id": row.external_id,
            "arrived_at": row.arrived_at,
            "channel": row.channel,
            "status": status,
            "status_label": status.label(locale),
            "status_label_ru": status.label_ru,
            "stage_reached": row.stage_reached,
            "in_queue": row.in_queue,
            "claimed_by": row.claimed_by,
            "probability": row.probability,
            "tier": row.tier,
            "route": row.route,
            "sla_deadline": row.sla_deadline,
            "first_response_at": answered,
            "sla_met": None if answered is None else answered <= row.sla_deadline,
            "qualified_at": row.qualified_at,
            "deal_value": deal,
            "outlook": outlook_out(row.outlook),
            "source": row.source,
            "record": row.record,
            "history": [
                StatusChangeOut(
                    status=Status(change.status),
                    label=Status(change.status).label(locale),
                    label_ru=Status(change.status).label_ru,
                    at=change.at,
                    note=change.note,
                    changed_by=change.changed_by,
                )
                for change in row.history
            ],
            "scores": [score_out(score, trends) for score in row.scores],
            "qualifications": [QualificationEntry.model_validate(q) for q in row.qualifications],
            "claims": [ClaimOut.model_validate(claim) for claim in row.claims],
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def queue_item(ranked: RankedEntry) -> QueueItem:
    entry = asdict(ranked.entry)
    for internal in ("rank_value", "order"):
        entry.pop(internal)
    return QueueItem(
        **{**entry, "outlook": outlook_out(ranked.entry.outlook)},
        priority=round(ranked.priority, 6),
        urgency=round(ranked.urgency, 6),
        minutes_left=round(ranked.minutes_left, 2),
        breached=ranked.breached,
        minutes_overdue=round(ranked.minutes_overdue, 2),
    )


# ------------------------------------------------------------------------------ arrival


def _new_lead(services: Services, lead: Lead, record: dict[str, Any], by: str) -> NewLead:
    history = [(change.status, change.at, change.note) for change in lead.status_history]
    if not history:
        history = [(Status.NEW, lead.arrived_at, None)]
    qualification = None
    if lead.bant is not None or lead.questionnaire is not None:
        qualification = (
            (lead.bant or BANTAnswers()).model_dump(mode="json"),
            lead.questionnaire.model_dump(mode="json") if lead.questionnaire else None,
        )
    return NewLead(
        external_id=lead.external_id,
        arrived_at=lead.arrived_at,
        channel=lead.source.channel,
        source=lead.source.model_dump(mode="json"),
        record=jsonable(record),
        history=history,
        deal_value=lead.deal_value.amount if lead.deal_value else None,
        deal_currency=lead.deal_value.currency if lead.deal_value else None,
        sla_deadline=services.sla.deadline(lead.arrived_at),
        created_by=by,
        qualification=qualification,
    )


def _score_and_store(
    services: Services,
    store: Store,
    models: ModelSet,
    lead_id: int,
    known_at: str,
    record: Mapping[str, Any],
    *,
    only_if_unscored: bool,
    route_it: bool,
    draws: bool = False,
) -> None:
    """Score ``record`` at ``known_at`` and store the scores; an arrival scored as it
    arrives (``draws``) carries the queue's exploration draw, which the retrain's feedback
    check reads. A lead the sweeper scores late has none: until then it ranked as unscored,
    not by a draw, and an imported history never arrived in the queue."""
    # the feature-layer reads first, then one call down into the model
    count_unseen(services, models, known_at, record)
    scores = services.scorer.score_lead(models, known_at, record)
    route = None
    if route_it and scores:
        settings = services.settings
        route = suggest_route(scores[0].probability, settings.route_sales, settings.route_partner)
    exploration = None
    if known_at == "arrival" and draws:
        exploration = draw_exploration(services.settings.exploration_share, services.draw())
    store.add_scores(
        lead_id,
        scores,
        services.clock(),
        services.scorer.queue_target,
        only_if_unscored=only_if_unscored,
        route=route,
        exploration=exploration,
    )


def queue_position(services: Services, store: Store, lead_id: int) -> int | None:
    """The lead's place among the unclaimed queued leads when it is among the first
    QUEUE_POSITION_DEPTH of them, else None (the cost is bounded by that depth)."""
    now = services.clock()
    return store.queue_position(lead_id, now, services.sla, QUEUE_POSITION_DEPTH)


def _scored(row: LeadRow, known_at: str) -> bool:
    return any(score.kind == known_at for score in row.scores)


def _primary(scores: Sequence[ScoreRow], target: str) -> ScoreRow | None:
    return next((s for s in reversed(scores) if s.target == target), None)


def receive_lead(
    services: Services, store: Store, models: ModelSet, lead: Lead, caller: ApiKey
) -> LeadScored:
    """Store a lead (idempotent on external_id), score it on arrival, queue it."""
    _check_questionnaire(services, lead.questionnaire)
    now = services.clock()
    lead = lead.received(now)
    record = lead_to_record(lead)
    new = _new_lead(services, lead, record, caller.name)
    lead_id, created = store.add_lead(new, now)
    services.metrics.leads.labels("stored" if created else "repeat").inc()
    # a lead stored now has no scores yet: only a repeat is read before scoring
    stored = None if created else store.lead(lead_id)
    if stored is None or not _scored(stored, "arrival"):
        # first time, or a repeat of a lead whose scoring was interrupted
        scoring_record = record if stored is None else stored.record
        _score_and_store(
            services,
            store,
            models,
            lead_id,
            "arrival",
            arrival_view(scoring_record),
            only_if_unscored=True,
            route_it=False,
            draws=True,
        )
        answered = new.qualification is not None if stored is None else stored.qualifications
        if answered and (stored is None or not _scored(stored, "qualified")):
            _score_answers(services, store, models, lead_id, scoring_record)
        stored = None
    if stored is None:
        row, position = store.scored_lead(
            lead_id, services.clock(), services.sla, QUEUE_POSITION_DEPTH
        )
    else:
        row = stored
        position = queue_position(services, store, row.id) if row.in_queue else None
    arrival = latest_scores(row.scores, "arrival")
    primary = _primary(arrival, services.scorer.queue_target)
    return LeadScored(
        id=row.id,
        external_id=row.external_id,
        created=created,
        status=Status(row.status),
        probability=primary.probability if primary else None,
        tier=primary.tier if primary else None,
        reasons=score_out(primary).reasons if primary else [],
        model=ModelRef(name=primary.model_name, version=primary.model_version) if primary else None,
        is_fallback=primary.is_fallback if primary else None,
        sla_deadline=row.sla_deadline,
        in_queue=row.in_queue,
        queue_position=position,
        scores=[score_out(score) for score in arrival],
        outlook=outlook_out(primary.outlook) if primary else None,
    )


def _score_answers(
    services: Services, store: Store, models: ModelSet, lead_id: int, record: Mapping[str, Any]
) -> None:
    """The qualified score (and route) of a lead stored with its answers."""
    _score_and_store(
        services, store, models, lead_id, "qualified", record, only_if_unscored=True, route_it=True
    )


#: Answers younger than this are left to the request that stored them: it scores them
#: itself, a moment later (the sweeper scoring them too would write a second score).
ANSWERS_GRACE = timedelta(seconds=60)


def rescore_unscored(services: Services, store: Store, models: ModelSet, limit: int = 1000) -> int:
    """Score up to ``limit`` stored leads whose scoring was interrupted (e.g. by a crash or
    an outage): the arrival score of those without one, queued or not, and the qualified
    score of those stored with answers (answered over :data:`ANSWERS_GRACE` ago) but not
    scored on them; returns how many leads."""
    done = 0
    answered_before = services.clock() - ANSWERS_GRACE
    for row in store.unscored_leads(limit, answered_before):
        try:
            stored = store.lead(row.id)
            if not _scored(stored, "arrival"):
                _score_and_store(
                    services,
                    store,
                    models,
                    row.id,
                    "arrival",
                    arrival_view(row.record),
                    only_if_unscored=True,
                    route_it=False,
                )
            if stored.qualifications and not _scored(stored, "qualified"):
                _score_answers(services, store, models, row.id, stored.record)
            done += 1
        except Exception:
            log.exception("could not score stored lead %s", row.id)
    return done


# ------------------------------------------------------------------------------ qualification


def qualify_lead(
    services: Services,
    store: Store,
    models: ModelSet,
    lead_id: int,
    bant: BANTAnswers,
    questionnaire: QuestionnaireAnswers | None,
    caller: ApiKey,
) -> QualificationOut:
    """Store the answers, rescore with the qualified models, suggest a route."""
    _check_questionnaire(services, questionnaire)
    row = store.lead(lead_id)
    if Status(row.status).is_terminal:
        raise LeadClosedError(lead_id, row.status)
    lead = Lead(
        external_id=row.external_id,
        arrived_at=row.arrived_at,
        source=SourceData.model_validate(row.source),
        bant=bant,
        questionnaire=questionnaire,
    )
    record = lead_to_record(lead)
    store.qualify(
        lead_id,
        bant.model_dump(mode="json"),
        questionnaire.model_dump(mode="json") if questionnaire else None,
        jsonable(record),
        caller.name,
        services.clock(),
    )
    _score_and_store(
        services, store, models, lead_id, "qualified", record, only_if_unscored=False, route_it=True
    )
    row = store.lead(lead_id)
    qualified = latest_scores(row.scores, "qualified")
    trends = score_trends(row.scores)
    primary = _primary(qualified, services.scorer.queue_target)
    assert primary is not None
    assert row.route is not None
    return QualificationOut(
        id=row.id,
        external_id=row.external_id,
        status=Status(row.status),
        route=row.route,
        probability=primary.probability,
        tier=primary.tier,
        reasons=score_out(primary).reasons,
        model=ModelRef(name=primary.model_name, version=primary.model_version),
        is_fallback=primary.is_fallback,
        scores=[score_out(score, trends) for score in qualified],
        trend=score_out(primary, trends).trend,
    )


# ------------------------------------------------------------------------------ status


def change_status(
    services: Services, store: Store, lead_id: int, body: StatusRequest, caller: ApiKey
) -> LeadDetail:
    if body.status is Status.WON and body.deal_value is None:
        raise invalid("deal_value", texts.WON_NEEDS_DEAL.format())
    if body.status is not Status.WON and body.deal_value is not None:
        raise invalid("deal_value", texts.DEAL_ONLY_WON, None)
    deal = (body.deal_value.amount, body.deal_value.currency) if body.deal_value else None
    # "now" is read by the store once it holds the lead's lock (see Store.change_status)
    store.change_status(lead_id, body.status, body.at, body.note, deal, caller.name, services.clock)
    return lead_detail(store.lead(lead_id))


# ------------------------------------------------------------------------------ queue


def queue_view(
    services: Services,
    store: Store,
    channel: str | None,
    tier: str | None,
    unclaimed: bool,
    limit: int,
    order: QueueOrder | None = None,
) -> QueueOut:
    """The top of the queue in ``order`` (None: the installation's ``queue_order``)."""
    now = services.clock()
    chosen = order or QueueOrder(services.settings.queue_order)
    which = QueueFilter(channel=channel, tier=tier, unclaimed=unclaimed, order=chosen)
    page = store.queue_top(now, services.sla, limit, which)
    return QueueOut(
        items=[queue_item(item) for item in page.items],
        total=page.total,
        breached=page.breached,
        generated_at=now,
    )


def claim_next(
    services: Services, store: Store, caller: ApiKey, order: QueueOrder | None = None
) -> tuple[LeadRow, QueueItem]:
    """``caller`` takes the top unclaimed lead of the queue in ``order`` (None: the
    installation's ``queue_order``), the lead the list shows first; 404 when none waits."""
    now = services.clock()
    sla = services.sla
    chosen = order or QueueOrder(services.settings.queue_order)
    lead_id = store.claim_next(caller.name, now, sla, chosen)
    if lead_id is None:
        services.metrics.claims.labels("empty").inc()
        raise ApiError(404, texts.NOTHING_TO_CLAIM)
    services.metrics.claims.labels("claimed").inc()
    row = store.lead(lead_id)
    return row, queue_item(rank_entry(queue_entry(row), now, sla))


def claim(
    services: Services, store: Store, lead_id: int, caller: ApiKey
) -> tuple[LeadRow, QueueItem]:
    """``caller`` takes this lead (picked from the list, not the next one); a repeat by the
    same SDR answers the same. 409 when another SDR holds it or it left the queue."""
    now = services.clock()
    claimed = store.claim(lead_id, caller.name, now)
    services.metrics.claims.labels("claimed" if claimed else "repeat").inc()
    row = store.lead(lead_id)
    return row, queue_item(rank_entry(queue_entry(row), now, services.sla))


def release(store: Store, services: Services, lead_id: int, caller: ApiKey) -> tuple[str, bool]:
    holder = store.release(
        lead_id, caller.name, services.clock(), any_holder=caller.role is Role.ADMIN
    )
    return holder, store.lead(lead_id).in_queue


def fallback_names(models: ModelSet, queue_target: str) -> list[str]:
    """Models of the queue target that are not loaded: the fallback rule scores for them."""
    return [
        name
        for (known_at, target), name in models.names.items()
        if target == queue_target and models.get(known_at, target) is None
    ]
