"""Service-specific qualification questions.

Each service line (SEO, PPC, ...) asks its own questions, and the set changes over time,
so questions are data: a :class:`QuestionCatalog` loaded from YAML, with a default one
shipped in ``features/specs/questionnaires.yaml``. Answers arrive as
:class:`QuestionnaireAnswers` and are checked against the catalog with
:func:`validate_answers`, which names every offending question.
"""

from __future__ import annotations

import math
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Answer = float | int | bool | str | None

#: The bounds of a number answer whose question sets none: |answer| <= this.
NUMBER_LIMIT = 1e12
#: The longest text (or choice) answer, in characters.
MAX_TEXT_ANSWER = 2000


class QuestionType(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    TEXT = "text"


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
    text: str
    type: QuestionType
    choices: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None

    @model_validator(mode="after")
    def _choices_for_choice(self) -> Question:
        if self.type is QuestionType.CHOICE and not self.choices:
            raise ValueError(f"question '{self.key}' is a choice and needs 'choices'")
        return self

    def problem(self, answer: Answer) -> str | None:
        """What is wrong with ``answer`` (None when it is acceptable; None answers are)."""
        if answer is None:
            return None
        if self.type is QuestionType.BOOLEAN:
            return None if isinstance(answer, bool) else "expected true or false"
        if self.type is QuestionType.NUMBER:
            return self._number_problem(answer)
        if not isinstance(answer, str):
            return "expected text"
        if len(answer) > MAX_TEXT_ANSWER:
            return f"expected at most {MAX_TEXT_ANSWER} characters"
        if self.type is QuestionType.CHOICE and answer not in (self.choices or []):
            return "expected one of: " + ", ".join(self.choices or [])
        return None

    @property
    def bounds(self) -> tuple[float, float]:
        """(lowest, highest) acceptable number answer: the question's, else +-NUMBER_LIMIT."""
        low = -NUMBER_LIMIT if self.minimum is None else self.minimum
        high = NUMBER_LIMIT if self.maximum is None else self.maximum
        return low, high

    def _number_problem(self, answer: Answer) -> str | None:
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            return "expected a number"
        if isinstance(answer, float) and not math.isfinite(answer):
            return "expected a finite number"
        low, high = self.bounds  # compared exactly, also with integers of any size
        if answer < low:
            return f"expected a number >= {low:g}"
        if answer > high:
            return f"expected a number <= {high:g}"
        return None


class QuestionCatalog(BaseModel):
    """Questions per service line; ``common`` questions are asked for every service."""

    model_config = ConfigDict(extra="forbid")

    common: list[Question] = Field(default_factory=list)
    services: dict[str, list[Question]] = Field(default_factory=dict)

    def questions_for(self, service: str) -> dict[str, Question]:
        found = [*self.common, *self.services.get(service, [])]
        return {question.key: question for question in found}

    def all_questions(self) -> dict[str, Question]:
        everything = [*self.common, *(q for qs in self.services.values() for q in qs)]
        return {question.key: question for question in everything}


class QuestionnaireAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=60, description="Service line asked about")
    answers: dict[str, Answer] = Field(default_factory=dict)


class QuestionnaireError(ValueError):
    """Answers that do not fit the catalog; ``problems`` maps a field path to what was wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems.items()))


def validate_answers(catalog: QuestionCatalog, filled: QuestionnaireAnswers) -> None:
    """Raise :class:`QuestionnaireError` naming each bad or unknown answer."""
    if filled.service not in catalog.services:
        known = ", ".join(sorted(catalog.services))
        raise QuestionnaireError({"questionnaire.service": f"unknown service; expected {known}"})
    questions = catalog.questions_for(filled.service)
    problems: dict[str, str] = {}
    for key, answer in filled.answers.items():
        path = f"questionnaire.answers.{key}"
        question = questions.get(key)
        if question is None:
            problems[path] = (
                f"not a question for service '{filled.service}'; expected one of: "
                + ", ".join(sorted(questions))
            )
            continue
        message = question.problem(answer)
        if message:
            problems[path] = message
    if problems:
        raise QuestionnaireError(problems)


def load_catalog(path: Path | None = None) -> QuestionCatalog:
    """Read a catalog from YAML; without a path, the default shipped with leadscore."""
    if path is None:
        text = resources.files("features").joinpath("specs/questionnaires.yaml").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    return QuestionCatalog.model_validate(yaml.safe_load(text))
