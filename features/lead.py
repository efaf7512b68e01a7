"""The lead as the service receives it: source data, BANT answers, questionnaire, history.

``lead_to_record`` flattens a lead into the one flat row shape that data sets, the
feature pipeline, the demo generator and the API all share (see ``RECORD_COLUMNS``).
Personal data (e-mail, phone, names) is kept on the lead but only ever reaches a model
through derived signals computed by the feature pipeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.funnel import Stage, Status, highest_stage
from features.questionnaire import QuestionnaireAnswers


class ContactType(StrEnum):
    FORM = "form"
    CHAT = "chat"
    CALL = "call"
    EMAIL = "email"
    CRM = "crm"
    OTHER = "other"


class CompanySize(StrEnum):
    MICRO = "1-10"
    SMALL = "11-50"
    MEDIUM = "51-200"
    LARGE = "201-1000"
    ENTERPRISE = "1000+"


class BudgetBracket(StrEnum):
    """Marketing budget brackets per month, in RUB (the source practice's currency)."""

    UNDER_100K = "lt_100k"
    FROM_100K_TO_300K = "100k_300k"
    FROM_300K_TO_1M = "300k_1m"
    FROM_1M_TO_3M = "1m_3m"
    OVER_3M = "gt_3m"


class NeedFit(StrEnum):
    """Does the requested service fit what we do?"""

    STRONG = "strong"
    PARTIAL = "partial"
    NONE = "none"


class Timeframe(StrEnum):
    NOW = "now"
    WITHIN_3_MONTHS = "lt_3m"
    WITHIN_6_MONTHS = "3_6m"
    LATER = "gt_6m"
    UNKNOWN = "unknown"


#: The largest amount of money a lead may carry (deal value, budget), in any currency: the
#: store keeps amounts to the cent in 18 digits.
MAX_AMOUNT = 1e12


def _as_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive values are taken as UTC); ValueError when UTC has no such
    time (e.g. 0001-01-01T00:00:00+05:00, 9999-12-31T23:30:00-01:00)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Money(_Model):
    amount: float = Field(
        ge=0, le=MAX_AMOUNT, description="Amount in `currency` (at most 10^12; kept to the cent)"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. RUB, USD")

    @field_validator("amount")
    @classmethod
    def _to_the_cent(cls, value: float) -> float:
        return round(value, 2)


class SourceData(_Model):
    """What is known the moment a request arrives."""

    channel: ShortText = Field(description="Marketing channel, e.g. paid_search, referral")
    utm_source: ShortText | None = None
    utm_medium: ShortText | None = None
    utm_campaign: ShortText | None = None
    landing_page: ShortText | None = None
    contact_type: ContactType = ContactType.FORM
    region: ShortText | None = None
    company_name: ShortText | None = None
    company_industry: ShortText | None = None
    company_size: CompanySize | None = None
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    contact_name: ShortText | None = None
    message: str | None = Field(default=None, max_length=20_000)
    first_touch_at: datetime | None = Field(
        default=None, description="First recorded touch by this visitor, if tracked"
    )

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.count("@") != 1 or "." not in value.split("@")[1]:
            raise ValueError("expected an e-mail address like name@company.com")
        return value.lower()

    @field_validator("first_touch_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)


class Budget(_Model):
    """Either an amount with its currency, or a bracket (or both)."""

    amount: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    bracket: BudgetBracket | None = None

    @model_validator(mode="after")
    def _amount_needs_currency(self) -> Self:
        if self.amount is not None and self.currency is None:
            raise ValueError("budget.amount needs budget.currency (ISO code such as RUB)")
        if self.amount is None and self.bracket is None:
            raise ValueError("give budget.amount with budget.currency, or budget.bracket")
        return self


class BANTAnswers(_Model):
    """The SDR's qualification answers. Every field may be unknown (None)."""

    budget: Budget | None = None
    authority_role: ShortText | None = Field(default=None, description="e.g. CEO, marketer")
    is_decision_maker: bool | None = None
    need_service: ShortText | None = Field(
        default=None, description="The service line requested (seo, ppc, smm, web, ...)"
    )
    need_fit: NeedFit | None = None
    timeframe: Timeframe | None = None


class StatusChange(_Model):
    status: Status
    at: datetime
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class Lead(_Model):
    """One inbound request with everything recorded about it so far."""

    external_id: str = Field(min_length=1, max_length=128, description="The CRM's id")
    arrived_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When the request arrived; default: when the service received it",
    )
    source: SourceData
    bant: BANTAnswers | None = None
    questionnaire: QuestionnaireAnswers | None = None
    status_history: list[StatusChange] = Field(default_factory=list)
    deal_value: Money | None = None

    @field_validator("arrived_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        times = [change.at for change in self.status_history]
        if times != sorted(times):
            raise ValueError("status_history must be in time order")
        if self.deal_value is not None and self.status is not Status.WON:
            raise ValueError("deal_value is only recorded for a won lead")
        return self

    def received(self, now: datetime) -> Lead:
        """This lead, arriving at ``now`` when the sender did not say when it arrived."""
        if "arrived_at" in self.model_fields_set:
            return self
        return self.model_copy(update={"arrived_at": _as_utc(now)})

    @property
    def status(self) -> Status:
        return self.status_history[-1].status if self.status_history else Status.NEW

    @property
    def stage_reached(self) -> Stage:
        return highest_stage([change.status for change in self.status_history])


#: Source columns of the flat record, known on arrival.
SOURCE_COLUMNS: tuple[str, ...] = (
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_page",
    "contact_type",
    "region",
    "company_industry",
    "company_size",
    "email",
    "phone",
    "message",
    "first_touch_at",
)
#: BANT columns of the flat record, known after qualification.
BANT_COLUMNS: tuple[str, ...] = (
    "budget_amount",
    "budget_currency",
    "budget_bracket",
    "authority_role",
    "is_decision_maker",
    "need_service",
    "need_fit",
    "timeframe",
)
#: Prefix of questionnaire answer columns (``q_<question key>``).
QUESTION_PREFIX = "q_"
RECORD_COLUMNS: tuple[str, ...] = ("external_id", "arrived_at", *SOURCE_COLUMNS, *BANT_COLUMNS)


def _value(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def lead_to_record(lead: Lead) -> dict[str, Any]:
    """Flatten a lead into the shared row shape (company and contact names are left out)."""
    source = lead.source
    record: dict[str, Any] = {
        "external_id": lead.external_id,
        "arrived_at": lead.arrived_at,
        **{column: _value(getattr(source, column)) for column in SOURCE_COLUMNS},
    }
    bant = lead.bant or BANTAnswers()
    budget = bant.budget
    record.update(
        budget_amount=budget.amount if budget else None,
        budget_currency=budget.currency if budget else None,
        budget_bracket=_value(budget.bracket) if budget and budget.bracket else None,
        authority_role=bant.authority_role,
        is_decision_maker=bant.is_decision_maker,
        need_service=bant.need_service,
        need_fit=_value(bant.need_fit),
        timeframe=_value(bant.timeframe),
    )
    if lead.questionnaire is not None:
        for key, answer in lead.questionnaire.answers.items():
            record[QUESTION_PREFIX + key] = answer
    return record
