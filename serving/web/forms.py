"""The qualification form: its fields from the questionnaire catalog (BANT + the service's
own questions), the submitted form as the API's request body, and the API's 422 field
list as messages beside the fields.

Every input is named by the field path the API's errors use (``bant.budget.amount``,
``questionnaire.answers.site_age_years``), so an error finds its field by name. Pure
functions: the route does the I/O. Labels, legends and choices are in the page's language
(a ``Translator`` of the pages' catalog, English without one); the shipped questionnaire's
question texts are message ids of that catalog too (a question it lacks stays as written).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from features.i18n import N_, Translator
from features.lead import BudgetBracket, NeedFit, Timeframe
from features.questionnaire import Question, QuestionCatalog, QuestionType
from serving.api.texts import serving_words

YES, NO = "yes", "no"
CURRENCIES = ("RUB", "USD", "EUR", "KZT")

CHOICE_LABELS: dict[str, str] = {
    YES: N_("yes"),
    NO: N_("no"),
    "lt_100k": N_("under 100k"),
    "100k_300k": N_("100k-300k"),
    "300k_1m": N_("300k-1m"),
    "1m_3m": N_("1m-3m"),
    "gt_3m": N_("over 3m"),
    "now": N_("now"),
    "lt_3m": N_("within 3 months"),
    "3_6m": N_("in 3-6 months"),
    "gt_6m": N_("later than 6 months"),
    "unknown": N_("unknown"),
    "strong": N_("strong"),
    "partial": N_("partial"),
    "none": N_("none"),
    "new": N_("new"),
    "existing": N_("existing"),
    "local": N_("local"),
    "national": N_("national"),
    "international": N_("international"),
}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # number | select | text
    value: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    error: str | None = None

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass(frozen=True)
class Fieldset:
    legend: str
    path: str
    fields: list[FormField]
    error: str | None = None


@dataclass(frozen=True)
class QualificationForm:
    service: str
    services: list[str]
    fieldsets: list[Fieldset]
    other_errors: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.other_errors) or any(
            fieldset.error or any(f.error for f in fieldset.fields) for fieldset in self.fieldsets
        )


def _choices(values: Iterable[str], said: Translator) -> tuple[tuple[str, str], ...]:
    """(value, label) pairs; a value without a label is shown as it is (a service, a code)."""
    return tuple(
        (value, said.gettext(CHOICE_LABELS[value]) if value in CHOICE_LABELS else value)
        for value in values
    )


def _enum_choices(enum: type[StrEnum], said: Translator) -> tuple[tuple[str, str], ...]:
    return _choices((member.value for member in enum), said)


def _question_field(question: Question, said: Translator) -> FormField:
    name = f"questionnaire.answers.{question.key}"
    text = said.gettext(question.text)
    if question.type is QuestionType.NUMBER:
        return FormField(name, text, "number", minimum=question.minimum, maximum=question.maximum)
    if question.type is QuestionType.BOOLEAN:
        return FormField(name, text, "select", choices=_choices((YES, NO), said))
    if question.type is QuestionType.CHOICE:
        return FormField(name, text, "select", choices=_choices(question.choices or [], said))
    return FormField(name, text, "text")


def _bant_fieldsets(services: Sequence[str], said: Translator) -> list[Fieldset]:
    _ = said.gettext
    return [
        Fieldset(
            _("Budget (an amount with its currency, or a bracket)"),
            "bant.budget",
            [
                FormField("bant.budget.amount", _("Monthly budget"), "number", minimum=0),
                FormField(
                    "bant.budget.currency",
                    _("Currency"),
                    "select",
                    "RUB",
                    _choices(CURRENCIES, said),
                ),
                FormField(
                    "bant.budget.bracket",
                    _("or a bracket (RUB per month)"),
                    "select",
                    choices=_enum_choices(BudgetBracket, said),
                ),
            ],
        ),
        Fieldset(
            _("Authority, need, timing"),
            "bant",
            [
                FormField("bant.authority_role", _("Contact's role (e.g. CEO, marketer)"), "text"),
                FormField(
                    "bant.is_decision_maker",
                    _("Decision maker?"),
                    "select",
                    choices=_choices((YES, NO), said),
                ),
                FormField(
                    "bant.need_service",
                    _("Service needed"),
                    "select",
                    choices=_choices(services, said),
                ),
                FormField(
                    "bant.need_fit",
                    _("Fit with what we do"),
                    "select",
                    choices=_enum_choices(NeedFit, said),
                ),
                FormField(
                    "bant.timeframe",
                    _("When do they want to start?"),
                    "select",
                    choices=_enum_choices(Timeframe, said),
                ),
            ],
        ),
    ]


def choose_service(catalog: QuestionCatalog, *candidates: object) -> str:
    """The first candidate that is a service of the catalog, else the catalog's first."""
    services = sorted(catalog.services)
    for candidate in candidates:
        if isinstance(candidate, str) and candidate in catalog.services:
            return candidate
    return services[0] if services else ""


def qualification_form(
    catalog: QuestionCatalog,
    service: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    translate: Translator | None = None,
) -> QualificationForm:
    """The form for ``service`` with the values given and each error beside its field, in
    ``translate``'s language."""
    said = translate or serving_words(None)
    services = sorted(catalog.services)
    questions = [_question_field(q, said) for q in catalog.questions_for(service).values()]
    legend = said.gettext(N_("Questions for {service}")).format(service=service)
    fieldsets = [
        *_bant_fieldsets(services, said),
        Fieldset(legend, "questionnaire", questions),
    ]
    placed: set[str] = set()
    filled: list[Fieldset] = []
    for fieldset in fieldsets:
        fields = []
        for form_field in fieldset.fields:
            value = values.get(form_field.name, form_field.value)
            error = errors.get(form_field.name)
            placed.add(form_field.name)
            fields.append(_with(form_field, value, error))
        own_error = errors.get(fieldset.path) if fieldset.path != "bant" else None
        if own_error:
            placed.add(fieldset.path)
        filled.append(Fieldset(fieldset.legend, fieldset.path, fields, own_error))
    other = [f"{path}: {message}" for path, message in errors.items() if path not in placed]
    return QualificationForm(service, services, filled, other)


def _with(form_field: FormField, value: str, error: str | None) -> FormField:
    return FormField(
        form_field.name,
        form_field.label,
        form_field.kind,
        value,
        form_field.choices,
        form_field.minimum,
        form_field.maximum,
        error,
    )


# ------------------------------------------------------------------------------ reading


def _number(text: str) -> float | int | str:
    """A number as typed; text that is not one stays text (validation then says so)."""
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _answer(question: Question, text: str) -> Any:
    if question.type is QuestionType.NUMBER:
        return _number(text)
    if question.type is QuestionType.BOOLEAN:
        return {YES: True, NO: False}.get(text, text)
    return text


def _flag(text: str) -> bool | str:
    return {YES: True, NO: False}.get(text, text)


def request_body(catalog: QuestionCatalog, form: Mapping[str, str]) -> dict[str, Any]:
    """The submitted form as the body ``PUT /leads/{id}/qualification`` takes; blank
    fields are left out (unknown)."""
    given = {name: value.strip() for name, value in form.items() if value.strip()}
    budget: dict[str, Any] = {}
    if "bant.budget.amount" in given:
        budget["amount"] = _number(given["bant.budget.amount"])
        budget["currency"] = given.get("bant.budget.currency")
    if "bant.budget.bracket" in given:
        budget["bracket"] = given["bant.budget.bracket"]
    bant: dict[str, Any] = {"budget": budget} if budget else {}
    for key in ("authority_role", "need_service", "need_fit", "timeframe"):
        if f"bant.{key}" in given:
            bant[key] = given[f"bant.{key}"]
    if "bant.is_decision_maker" in given:
        bant["is_decision_maker"] = _flag(given["bant.is_decision_maker"])
    service = given.get("questionnaire.service", "")
    questions = catalog.questions_for(service)
    prefix = "questionnaire.answers."
    answers: dict[str, Any] = {}
    for name, text in given.items():
        if name.startswith(prefix):
            key = name.removeprefix(prefix)
            question = questions.get(key)
            answers[key] = _answer(question, text) if question else text
    return {"bant": bant, "questionnaire": {"service": service, "answers": answers}}


def form_values(bant: Mapping[str, Any], questionnaire: Mapping[str, Any] | None) -> dict[str, str]:
    """A stored qualification as the form's values (to edit it again)."""
    values: dict[str, str] = {}

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return YES if value else NO
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    for key, value in bant.items():
        if key == "budget" and isinstance(value, Mapping):
            for part, amount in value.items():
                values[f"bant.budget.{part}"] = text(amount)
        else:
            values[f"bant.{key}"] = text(value)
    for key, value in ((questionnaire or {}).get("answers") or {}).items():
        values[f"questionnaire.answers.{key}"] = text(value)
    return values


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The API's 422 ``errors`` list as {field path: message} (the first per field)."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(str(error.get("field", "")), str(error.get("message", "invalid")))
    return found
