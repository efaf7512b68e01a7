"""The BANT/source points rule: a transparent, model-free lead score.

It is what an experienced SDR team would write on a whiteboard, and leadscore uses it twice:
the scoring service falls back to it whenever no trained model is available (or a model
fails), and training reports it as the baseline every model must beat.

The rule reads only flat-record fields (a lead's flat record) and skips any that
are missing, so it works on arrival-only records (no BANT answers yet) and on CSV rows
whose values are still text. Points add up; a fixed logistic curve maps them to a
probability: ``p = 1 / (1 + exp(-(points - POINTS_AT_HALF) / POINTS_PER_LOGIT)``. The
curve is fixed (not fitted), so the numbers are a ranking aid, not a calibrated estimate.
The full table is documented in docs/serving.md.

``rule_points`` gives the table's lines as they applied; ``explain_rule`` gives the
reasons people read: one per source field (the message's keyword lines are one reason),
each with its effect in percentage points (the points scaled by one factor per lead so that
the effects add up to ``p - p0``, ``p0`` being the rule's probability at zero points), shown
from the threshold on, and phrased from the demo spec's labels (the rule reads the lead's
flat record, whose columns are the demo spec's) in the requested language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from features.coerce import bool_of, is_na, number_of
from features.email import EmailKind, email_kind
from features.i18n import Phrasebook
from features.i18n.fields import money_phrase
from features.labels import field_label, missing_of, value_label
from features.rates import read_rates
from features.reason import Reason
from features.spec import FeatureSpec, load_spec
from training.reasons import Wording, merged, scaled_effects

#: Points at which the rule gives probability 0.5, and points per unit of log-odds.
POINTS_AT_HALF = 70.0
POINTS_PER_LOGIT = 30.0

#: Channel quality: points per (normalised) channel name. Unknown channels score 0.
CHANNEL_POINTS: dict[str, float] = {
    "referral": 25,
    "partner": 20,
    "partners": 20,
    "event": 15,
    "events": 15,
    "direct": 10,
    "organic": 10,
    "organic_search": 10,
    "seo": 10,
    "email": 5,
    "e_mail": 5,
    "newsletter": 5,
    "paid_search": 5,
    "ppc": 5,
    "cpc": 5,
    "social": -5,
    "organic_social": -5,
    "paid_social": -5,
    "smm": -5,
    "display": -10,
    "banner": -10,
    "affiliate": -10,
    "cold": -15,
    "cold_call": -15,
    "cold_outreach": -15,
}

CORPORATE_EMAIL_POINTS = 10.0
FREE_EMAIL_POINTS = 0.0
NO_EMAIL_POINTS = -5.0
PHONE_POINTS = 5.0
CALL_POINTS = 5.0
NO_MESSAGE_POINTS = -5.0

#: Message keyword groups (any language): (points, phrase, words).
KEYWORD_POINTS: tuple[tuple[float, str, tuple[str, ...]], ...] = (
    (10, "message sounds urgent", ("срочно", "urgent", "asap", "сегодня", "today")),
    (5, "message asks about price", ("цена", "стоимость", "прайс", "price", "cost", "quote")),
    (10, "message mentions a tender", ("тендер", "tender", "rfp", "закупка")),
    (-30, "message is about a job, not a purchase", ("вакансия", "резюме", "job", "vacancy")),
)

#: The demo spec's keyword group of each message line (for its label).
KEYWORD_TOPICS: dict[str, str] = {
    "message sounds urgent": "urgent",
    "message asks about price": "price",
    "message mentions a tender": "tender",
    "message is about a job, not a purchase": "job",
}

COMPANY_SIZE_POINTS: dict[str, float] = {
    "1-10": -5,
    "11-50": 0,
    "51-200": 5,
    "201-1000": 10,
    "1000+": 10,
}

#: Budget brackets (RUB per month) and their representative amounts.
BUDGET_BRACKET_RUB: dict[str, float] = {
    "lt_100k": 60_000,
    "100k_300k": 200_000,
    "300k_1m": 600_000,
    "1m_3m": 1_800_000,
    "gt_3m": 4_500_000,
}


@lru_cache(maxsize=1)
def rub_per_unit() -> dict[str, float]:
    """Units of RUB per unit of currency, for budgets given as an amount: the demo spec's
    dated rates file (the one the demo's models are trained with)."""
    path = resources.files("features").joinpath("specs/rates.yaml")
    with resources.as_file(path) as file:
        rates = read_rates(file)
    return rates.table()


#: (lower bound in RUB, points): the highest bound not above the budget applies.
BUDGET_POINTS: tuple[tuple[float, float], ...] = (
    (0, -10),
    (100_000, 5),
    (300_000, 15),
    (1_000_000, 25),
)

DECISION_MAKER_POINTS = 15.0
NOT_DECISION_MAKER_POINTS = -10.0
NEED_FIT_POINTS: dict[str, float] = {"strong": 20, "partial": 5, "none": -40}
TIMEFRAME_POINTS: dict[str, float] = {
    "now": 15,
    "lt_3m": 10,
    "3_6m": 0,
    "gt_6m": -10,
    "unknown": 0,
}


def _present(value: Any) -> bool:
    if is_na(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    return str(value).strip() if _present(value) else None


def _key(value: Any) -> str | None:
    """A category value normalised for table look-up: lower case, separators as '_'."""
    text = _text(value)
    return re.sub(r"[\s\-/]+", "_", text.lower()) if text else None


def _number(value: Any) -> float | None:
    if not _present(value):
        return None
    number = number_of(value)
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool | None:
    if not _present(value):
        return None
    flag = bool_of(value)
    return None if math.isnan(flag) else flag == 1.0


def _channel_points(record: Mapping[str, Any]) -> list[Reason]:
    channel = _key(record.get("channel"))
    if channel is None or channel not in CHANNEL_POINTS:
        return []
    return [Reason("channel", f"channel = {channel}", CHANNEL_POINTS[channel])]


def _contact_points(record: Mapping[str, Any]) -> list[Reason]:
    found: list[Reason] = []
    kind = email_kind(_text(record.get("email")))
    if kind is EmailKind.MISSING or kind is EmailKind.INVALID:
        found.append(Reason("email", "no usable e-mail address", NO_EMAIL_POINTS))
    elif kind is EmailKind.CORPORATE:
        found.append(Reason("email", "corporate e-mail address", CORPORATE_EMAIL_POINTS))
    elif kind is EmailKind.FREE_MAIL:
        found.append(Reason("email", "personal e-mail address", FREE_EMAIL_POINTS))
    if _text(record.get("phone")) is not None:
        found.append(Reason("phone", "phone number given", PHONE_POINTS))
    if _key(record.get("contact_type")) == "call":
        found.append(Reason("contact_type", "called in", CALL_POINTS))
    size = _text(record.get("company_size"))
    if size in COMPANY_SIZE_POINTS:
        found.append(Reason("company_size", f"company size {size}", COMPANY_SIZE_POINTS[size]))
    return [point for point in found if point.contribution != 0]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _message_points(record: Mapping[str, Any]) -> list[Reason]:
    message = _text(record.get("message"))
    if message is None:
        return [Reason("message", "no message", NO_MESSAGE_POINTS)]
    words = _words(message)
    return [
        Reason("message", phrase, points)
        for points, phrase, keywords in KEYWORD_POINTS
        if words.intersection(keywords)
    ]


def budget_rub(record: Mapping[str, Any]) -> float | None:
    """The budget in RUB: the amount converted when its currency is known, else the bracket."""
    amount = _number(record.get("budget_amount"))
    currency = _text(record.get("budget_currency"))
    rates = rub_per_unit()
    if amount is not None and currency is not None and currency.upper() in rates:
        return amount * rates[currency.upper()]
    bracket = _text(record.get("budget_bracket"))
    return BUDGET_BRACKET_RUB.get(bracket) if bracket else None


def _rounded_rub(amount: float) -> str:
    if amount >= 1_000_000:
        return f"{amount / 1_000_000:.1f}m RUB".replace(".0m", "m")
    return f"{amount / 1000:.0f}k RUB"


def _bant_points(record: Mapping[str, Any]) -> list[Reason]:
    found: list[Reason] = []
    budget = budget_rub(record)
    if budget is not None:
        points = [p for bound, p in BUDGET_POINTS if budget >= bound][-1]
        found.append(Reason("budget_amount", f"budget ≈ {_rounded_rub(budget)}", points))
    decision_maker = _flag(record.get("is_decision_maker"))
    if decision_maker is True:
        found.append(
            Reason("is_decision_maker", "talking to a decision maker", DECISION_MAKER_POINTS)
        )
    elif decision_maker is False:
        found.append(
            Reason("is_decision_maker", "no decision maker yet", NOT_DECISION_MAKER_POINTS)
        )
    fit = _key(record.get("need_fit"))
    if fit in NEED_FIT_POINTS:
        found.append(Reason("need_fit", f"need fit = {fit}", NEED_FIT_POINTS[fit]))
    timeframe = _key(record.get("timeframe"))
    if timeframe in TIMEFRAME_POINTS and TIMEFRAME_POINTS[timeframe] != 0:
        found.append(Reason("timeframe", f"timeframe = {timeframe}", TIMEFRAME_POINTS[timeframe]))
    return found


def rule_points(record: Mapping[str, Any]) -> tuple[float, list[Reason]]:
    """Total points for one flat record, and every rule line that applied (table order)."""
    found = [
        *_channel_points(record),
        *_contact_points(record),
        *_message_points(record),
        *_bant_points(record),
    ]
    return float(sum(point.contribution for point in found)), found


def points_to_probability(points: float | np.ndarray) -> np.ndarray:
    """The rule's fixed logistic curve."""
    logit = (np.asarray(points, dtype=np.float64) - POINTS_AT_HALF) / POINTS_PER_LOGIT
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def rule_probability(records: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """The rule's probability for each record (float64, same order)."""
    points = np.fromiter((rule_points(record)[0] for record in records), dtype=np.float64)
    return points_to_probability(points)


def top_rule_points(points: Sequence[Reason], top_k: int) -> list[Reason]:
    """The ``top_k`` strongest positive and ``top_k`` strongest negative lines."""
    positive = sorted((p for p in points if p.contribution > 0), key=lambda p: -p.contribution)
    negative = sorted((p for p in points if p.contribution < 0), key=lambda p: p.contribution)
    return [*positive[:top_k], *negative[:top_k]]


# --------------------------------------------------------------------------- reasons


@lru_cache(maxsize=1)
def _labelled_fields() -> dict[str, FeatureSpec]:
    """The demo spec's features by column: the labels of the flat record's fields."""
    return {feature.column: feature for feature in load_spec("demo").features}


#: The rule's fields whose phrase is "label: value label" of the record's normalised value.
_VALUE_FIELDS = ("channel", "need_fit", "timeframe")


def _field_phrase(field: str, record: Mapping[str, Any], book: Phrasebook) -> tuple[str, bool]:
    """(words, missing) for one of the rule's fields of ``record``."""
    feature = _labelled_fields()[field]
    lang = book.locale
    label = field_label(feature, field, lang)
    if field in _VALUE_FIELDS:
        return book.value(label, value_label(feature, _key(record.get(field)) or "", lang)), False
    if field == "email":
        return _email_phrase(record, book)
    if field == "phone":
        return book.phone(True), False
    if field == "contact_type":
        return book.value(label, value_label(feature, "call", lang)), False
    if field == "company_size":
        return book.value(label, _text(record.get(field)) or ""), False
    if field == "message":
        return _message_phrase(feature, record, book)
    if field == "budget_amount":
        return _budget_phrase(feature, label, record, book)
    return book.yes_no(label, _flag(record.get(field)) is True), False  # is_decision_maker


def _email_phrase(record: Mapping[str, Any], book: Phrasebook) -> tuple[str, bool]:
    kind = email_kind(_text(record.get("email")))
    return book.email(kind.value), kind is EmailKind.MISSING


def _message_phrase(
    feature: FeatureSpec, record: Mapping[str, Any], book: Phrasebook
) -> tuple[str, bool]:
    message = _text(record.get("message"))
    label = field_label(feature, "message", book.locale)
    if message is None:
        return missing_of(feature, book.locale) or book.not_given(label), True
    words = _words(message)
    topics = [
        value_label(feature, KEYWORD_TOPICS[phrase], book.locale)
        for _points, phrase, keywords in KEYWORD_POINTS
        if words.intersection(keywords)
    ]
    return book.mentions(label, topics), False


def _budget_phrase(
    feature: FeatureSpec, label: str, record: Mapping[str, Any], book: Phrasebook
) -> tuple[str, bool]:
    """The budget in the phrasebook's currency: as given when the lead gave it in that
    currency, else converted from RUB with the demo spec's dated rates, their date shown."""
    amount = budget_rub(record)
    bracket = _number(record.get("budget_amount")) is None
    return money_phrase(feature, amount or 0.0, record, book, label, bracket), False


def explain_rule(record: Mapping[str, Any], wording: Wording = Wording()) -> list[Reason]:
    """The rule's reasons for one flat record: one per field, with effects in percentage
    points adding up to ``p - p0``, those ``wording`` shows; money in its currency (None:
    RUB)."""
    points, lines = rule_points(record)
    fields = merged(lines)
    if not fields:
        return []
    p = float(points_to_probability(points))
    p0 = float(points_to_probability(0.0))
    contributions = np.array([[reason.contribution for reason in fields]])
    slope = np.array([p * (1 - p) / POINTS_PER_LOGIT])
    effects = 100.0 * scaled_effects(contributions, np.array([p - p0]), slope)[0]
    candidates = [
        Reason(reason.field, reason.phrase, reason.contribution, float(effect))
        for reason, effect in zip(fields, effects, strict=True)
    ]
    book = wording.phrasebook()
    out = []
    for reason in wording.shown(candidates):
        words, missing = _field_phrase(reason.field, record, book)
        out.append(Reason(reason.field, words, reason.contribution, reason.effect_pp, missing))
    return out
