"""Request and response bodies of the HTTP API (with OpenAPI examples)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.funnel import Status
from features.lead import BANTAnswers, Lead, Money
from features.questionnaire import QuestionnaireAnswers

#: When a score was made (`known_at`: arrival or qualified); the API calls the field `stage`.
KnownAtValue = Literal["arrival", "qualified"]
Target = Literal["sql", "won"]
Tier = Literal["A", "B", "C", "D"]
Route = Literal["sales", "partner", "disqualify"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


# ------------------------------------------------------------------------------ examples

LEAD_EXAMPLE: dict[str, Any] = {
    "external_id": "crm-10045",
    "arrived_at": "2026-03-02T09:41:00Z",
    "source": {
        "channel": "referral",
        "utm_source": "partner_site",
        "utm_campaign": "spring_seo",
        "contact_type": "form",
        "region": "Moscow",
        "company_name": "Acme LLC",
        "company_industry": "retail",
        "company_size": "51-200",
        "email": "anna@acme.ru",
        "phone": "+7 495 000-00-00",
        "contact_name": "Anna",
        "message": "Нужно SEO для интернет-магазина, срочно, пришлите стоимость",
    },
}

QUALIFICATION_EXAMPLE: dict[str, Any] = {
    "bant": {
        "budget": {"amount": 600000, "currency": "RUB"},
        "authority_role": "CMO",
        "is_decision_maker": True,
        "need_service": "seo",
        "need_fit": "strong",
        "timeframe": "lt_3m",
    },
    "questionnaire": {
        "service": "seo",
        "answers": {
            "project_type": "existing",
            "promotion_region": "national",
            "site_age_years": 4,
            "has_analytics": True,
        },
    },
}

RECORD_EXAMPLE: dict[str, Any] = {
    "external_id": "row-1",
    "arrived_at": "2026-03-02T09:41:00Z",
    "channel": "paid_search",
    "contact_type": "form",
    "company_size": "11-50",
    "email": "ivan@example.com",
    "phone": "+7 900 000-00-00",
    "message": "price for SEO?",
}


# ------------------------------------------------------------------------------ requests


class ScoreRequest(_In):
    """Leads to score without storing them: full leads, or flat records (one of the two)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"records": [RECORD_EXAMPLE]}, {"leads": [LEAD_EXAMPLE]}]},
    )

    leads: list[Lead] | None = Field(default=None, description="leads as POST /leads takes")
    records: list[dict[str, Any]] | None = Field(
        default=None, description="flat records (features.lead.lead_to_record columns)"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.leads is None) == (self.records is None):
            raise ValueError("give exactly one of 'leads' or 'records'")
        if not (self.leads or self.records):
            raise ValueError("nothing to score: the list is empty")
        return self


class QualificationRequest(_In):
    """The SDR's qualification: BANT answers and the service questionnaire."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [QUALIFICATION_EXAMPLE]}
    )

    bant: BANTAnswers
    questionnaire: QuestionnaireAnswers | None = None


class StatusRequest(_In):
    """A move along the funnel; ``won`` needs ``deal_value``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "awaiting_manager", "note": "target; budget confirmed"},
                {"status": "won", "deal_value": {"amount": 1200000, "currency": "RUB"}},
            ]
        },
    )

    status: Status
    at: datetime | None = Field(default=None, description="when it happened (default: now)")
    deal_value: Money | None = None
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone, e.g. 2026-03-02T10:00:00Z")
        return value


# ------------------------------------------------------------------------------ responses


class ReasonOut(_Out):
    field: str = Field(description="the source field")
    phrase: str = Field(description="plain words, e.g. 'channel = referral'")
    direction: Literal["+", "-"]
    contribution: float = Field(description="log-odds (model) or points (fallback rule)")
    effect_pp: float | None = Field(
        default=None,
        description="the field's effect on this lead's probability, in percentage points; "
        "a lead's effects add up to its probability minus the average lead's "
        "(none on scores stored before effects were kept)",
    )


class ModelRef(_Out):
    name: str
    version: str = Field(description="registry version, or 'fallback' for the rule")


class TrendOut(_Out):
    """The move since the lead's previous score of the same target."""

    direction: Literal["improving", "steady", "declining"] = Field(
        description="steady within 2 percentage points"
    )
    change_points: float = Field(description="percentage points, signed")
    previous: float = Field(description="the previous probability")


class OutlookOut(_Out):
    """When the lead is likely to convert and what it is worth (docs/serving.md, "Outlook")."""

    within: dict[str, float] = Field(
        description="P(stage reached within the horizon), by name: sql_7d, sql_30d, sql_90d, "
        "won_90d, won_180d (calibrated at each horizon)"
    )
    likely_within_7d: bool = Field(description="P(SQL within 7 days) is at least 0.5")
    value_if_won: float | None = Field(description="E[deal value | won], in currency")
    value_low: float | None = Field(description="the deal value's 10% quantile if won")
    value_high: float | None = Field(description="the deal value's 90% quantile if won")
    expected_value: float | None = Field(
        description="P(won within 180 days) x value_if_won: what the expected-value queue "
        "order ranks with"
    )
    revenue_if_won: float | None = Field(
        default=None,
        description="E[deal value x LT | won]: the revenue over the client's lifetime (LT, "
        "billing periods) if won, in currency; null when the data set gives no lifetime",
    )
    expected_revenue: float | None = Field(
        default=None, description="P(won within 180 days) x revenue_if_won"
    )
    currency: str = Field(description="the data set's base currency")
    model: ModelRef


class ScoreOut(_Out):
    stage: KnownAtValue
    target: Target
    probability: float
    tier: Tier
    reasons: list[ReasonOut]
    model: ModelRef
    is_fallback: bool
    fallback_reason: str | None = None
    scored_at: datetime | None = None
    trend: TrendOut | None = Field(
        default=None, description="against the previous score of this target; none for the first"
    )
    outlook: OutlookOut | None = Field(
        default=None, description="the queue target's score only, when an outlook is in service"
    )


class LeadScored(_Out):
    """The answer to POST /leads (201 when stored now, 200 for a repeat)."""

    id: int
    external_id: str
    created: bool
    status: Status
    probability: float | None = Field(description="of the queue target (sql by default)")
    tier: Tier | None
    reasons: list[ReasonOut]
    model: ModelRef | None
    is_fallback: bool | None
    sla_deadline: datetime
    in_queue: bool
    queue_position: int | None = Field(
        description="place among the unclaimed queued leads, 1 = next to be claimed; exact "
        "within the first 100, None when further down or not queued"
    )
    scores: list[ScoreOut] = Field(description="every target scored (sql, and won if loaded)")
    outlook: OutlookOut | None = Field(
        default=None, description="the arrival outlook, when an outlook is in service"
    )


class QualificationOut(_Out):
    id: int
    external_id: str
    status: Status
    route: Route = Field(description="suggested: sales, partner, or disqualify")
    probability: float
    tier: Tier
    reasons: list[ReasonOut]
    model: ModelRef
    is_fallback: bool
    scores: list[ScoreOut]
    trend: TrendOut | None = Field(
        default=None, description="of the queue target's score against the one before it"
    )


class StatusChangeOut(_Out):
    status: Status
    label: str = Field(description="the status's name in the language asked (Accept-Language)")
    label_ru: str = Field(description="its Russian name (kept for older clients; see label)")
    at: datetime
    note: str | None
    changed_by: str


class QualificationEntry(_Out):
    bant: dict[str, Any]
    questionnaire: dict[str, Any] | None
    route: str | None
    qualified_by: str
    qualified_at: datetime


class MoneyOut(_Out):
    """An amount as stored (``Money`` is what the API accepts)."""

    amount: float
    currency: str


class ClaimOut(_Out):
    sdr: str
    claimed_at: datetime
    released_at: datetime | None
    release_reason: str | None


class LeadListItem(_Out):
    """A lead as GET /leads lists it: where it stands, without its documents and history."""

    id: int
    external_id: str
    arrived_at: datetime
    channel: str
    status: Status
    status_label: str = Field(
        description="the status's name in the language asked (Accept-Language: en, ru)"
    )
    status_label_ru: str = Field(description="its Russian name (kept for older clients)")
    stage_reached: str
    in_queue: bool
    claimed_by: str | None
    probability: float | None
    tier: Tier | None
    route: str | None
    sla_deadline: datetime
    qualified_at: datetime | None
    created_at: datetime


class LeadDetail(LeadListItem):
    """A lead with everything the store keeps of it: what GET /leads lists, plus its first
    response, documents, history, scores, answers and claims."""

    first_response_at: datetime | None = Field(
        description="the first claim or move out of new, whichever came first"
    )
    sla_met: bool | None = Field(
        description="first response before the SLA deadline; None while nobody has answered"
    )
    deal_value: MoneyOut | None
    outlook: OutlookOut | None = Field(
        default=None, description="the latest queue score's outlook (none without one)"
    )
    source: dict[str, Any]
    record: dict[str, Any]
    history: list[StatusChangeOut]
    scores: list[ScoreOut]
    qualifications: list[QualificationEntry]
    claims: list[ClaimOut]
    created_by: str
    updated_at: datetime


class QueueItem(_Out):
    lead_id: int
    external_id: str
    channel: str
    status: Status
    arrived_at: datetime
    sla_deadline: datetime
    probability: float | None = Field(description="None: scoring was interrupted")
    tier: Tier | None
    priority: float = Field(
        description="probability x urgency, or expected value x urgency in the "
        "expected-value order (see docs/serving.md)"
    )
    urgency: float
    minutes_left: float = Field(description="until the SLA deadline (negative: overdue)")
    breached: bool
    minutes_overdue: float
    claimed_by: str | None
    explored: bool = Field(
        description="an exploration pick: boosted to the front at random on arrival, whatever "
        "its score, so the model can be judged on the leads SDRs would skip"
    )
    outlook: OutlookOut | None = Field(
        default=None, description="the latest queue score's outlook (none without one)"
    )


class QueueOut(_Out):
    items: list[QueueItem]
    total: int = Field(description="leads matching the filters (before the limit)")
    breached: int = Field(description="of them past their SLA deadline")
    generated_at: datetime


class ClaimResult(_Out):
    claimed_by: str
    claimed_at: datetime
    queue_item: QueueItem
    lead: LeadDetail


class ReleaseResult(_Out):
    lead_id: int
    released_by: str
    previous_holder: str
    in_queue: bool


class BatchRow(_Out):
    index: int
    external_id: str | None
    probability: float
    tier: Tier
    reasons: list[ReasonOut] | None = None


class BatchOut(_Out):
    stage: KnownAtValue
    target: Target
    model: ModelRef
    is_fallback: bool
    fallback_reason: str | None
    rows: list[BatchRow]
    ignored_columns: list[str] = Field(description="columns that are not record columns")


class ModelsOut(_Out):
    models: dict[str, str | None] = Field(description="model name -> version in service")
    fallback: list[str] = Field(description="names scored with the fallback rule")
    loaded_at: datetime


class ErrorOut(BaseModel):
    """Every refusal: ``detail`` says what was expected; some add facts (``current`` and
    ``allowed`` for a refused funnel move, ``needs`` for a missing role)."""

    model_config = ConfigDict(extra="allow")

    detail: str


class FieldErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str = Field(description="the field path without its location, e.g. source.email")
    location: str = Field(description="body, query, path, header or cookie")
    message: str
    input: Any = Field(default=None, description="the offending value, when small and safe")


class InvalidRequestOut(BaseModel):
    """A 422: every field that was wrong (CSV and record errors add row, line, column)."""

    detail: str
    errors: list[FieldErrorOut]


class HealthOut(_Out):
    status: Literal["ok"]


class ReadyOut(_Out):
    status: Literal["ready", "degraded", "unavailable"]
    reason: str | None
    store: Literal["ok", "unreachable"]
    models: dict[str, str | None]


class LeadListOut(_Out):
    """One page of GET /leads, newest first; ``next_cursor`` fetches the next (null: last)."""

    items: list[LeadListItem]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
