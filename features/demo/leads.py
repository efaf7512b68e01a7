"""One generated row (a frame row or a CSV row) back into a ``Lead``, the object the API gets."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features.funnel import Status
from features.lead import (
    QUESTION_PREFIX,
    BANTAnswers,
    Budget,
    ContactType,
    Lead,
    Money,
    SourceData,
    StatusChange,
)
from features.questionnaire import QuestionCatalog, QuestionnaireAnswers, QuestionType, load_catalog

Texts = dict[str, str | None]


def frame_row_to_lead(row: Mapping[str, Any], catalog: QuestionCatalog | None = None) -> Lead:
    """Re-assemble one generated row (a frame row or a CSV row) into a :class:`Lead`."""
    text = {key: _as_text(row.get(key)) for key in row}
    history = [
        StatusChange(status=Status(change["status"]), at=change["at"])
        for change in json.loads(text.get("status_history") or "[]")
    ]
    deal_amount = _as_float(row.get("deal_value"))
    deal = None
    if deal_amount is not None:
        deal = Money(amount=deal_amount, currency=text.get("deal_currency") or "RUB")
    return Lead(
        external_id=text["external_id"] or "",
        arrived_at=_as_datetime(row.get("arrived_at")),
        source=_source(row, text),
        bant=_bant(row, text),
        questionnaire=_questionnaire(row, text, catalog or _default_catalog()),
        status_history=history,
        deal_value=deal,
    )


def _source(row: Mapping[str, Any], text: Texts) -> SourceData:
    return SourceData(
        channel=text["channel"] or "",
        utm_source=text.get("utm_source"),
        utm_medium=text.get("utm_medium"),
        utm_campaign=text.get("utm_campaign"),
        landing_page=text.get("landing_page"),
        contact_type=ContactType(text.get("contact_type") or ContactType.FORM.value),
        region=text.get("region"),
        company_name=text.get("company_name"),
        company_industry=text.get("company_industry"),
        company_size=text.get("company_size"),
        email=text.get("email"),
        phone=text.get("phone"),
        contact_name=text.get("contact_name"),
        message=text.get("message"),
        first_touch_at=_as_datetime(row.get("first_touch_at")),
    )


def _bant(row: Mapping[str, Any], text: Texts) -> BANTAnswers | None:
    amount = _as_float(row.get("budget_amount"))
    bracket = text.get("budget_bracket")
    budget = None
    if amount is not None or bracket is not None:
        budget = Budget(amount=amount, currency=text.get("budget_currency"), bracket=bracket)
    values = {
        "authority_role": text.get("authority_role"),
        "is_decision_maker": _as_bool(row.get("is_decision_maker")),
        "need_service": text.get("need_service"),
        "need_fit": text.get("need_fit"),
        "timeframe": text.get("timeframe"),
    }
    if budget is None and all(v is None for v in values.values()):
        return None
    return BANTAnswers.model_validate({"budget": budget, **values})


def _questionnaire(
    row: Mapping[str, Any], text: Texts, catalog: QuestionCatalog
) -> QuestionnaireAnswers | None:
    service = text.get("need_service")
    if service is None:
        return None
    answers = {
        key: _answer(row.get(QUESTION_PREFIX + key), question.type)
        for key, question in catalog.questions_for(service).items()
    }
    answers = {key: value for key, value in answers.items() if value is not None}
    return QuestionnaireAnswers(service=service, answers=answers) if answers else None


@cache
def _default_catalog() -> QuestionCatalog:
    return load_catalog()


def _present(value: Any) -> Any:
    """The plain Python value, or None for every flavour of missing."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _as_datetime(value: Any) -> datetime | None:
    value = _present(value)
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def _as_bool(value: Any) -> bool | None:
    value = _present(value)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_float(value: Any) -> float | None:
    value = _present(value)
    return None if value is None else float(value)


def _as_text(value: Any) -> str | None:
    value = _present(value)
    return None if value is None else str(value)


def _answer(value: Any, kind: QuestionType) -> float | bool | str | None:
    if kind is QuestionType.BOOLEAN:
        return _as_bool(value)
    if kind is QuestionType.NUMBER:
        return _as_float(value)
    return _as_text(value)
