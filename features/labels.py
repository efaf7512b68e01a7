"""Display labels a spec gives its features: the words people read instead of column names.

A feature may carry ``label`` (``{ru: ..., en: ...}``), ``value_labels`` (raw value ->
label), a ``unit``, ``missing`` (what to say when the answer is absent, as an action:
"budget not asked yet") and ``explained_with`` (the feature whose reason it joins).
``FeatureLabels`` holds those keys and ``features.spec.FeatureSpec`` inherits them. A
feature without a label reads as ``readable_default`` of its column (``utm_campaign`` ->
"UTM campaign"), never as the raw name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The languages labels and reason phrases come in; the first is the default.
LANGUAGES: tuple[str, ...] = ("en", "ru")

#: Words that read as capitals in a default label.
ACRONYMS = frozenset(
    {"utm", "id", "url", "crm", "sql", "mql", "sal", "kpi", "seo", "smm", "ppc", "cpc", "b2b"}
)
#: Column-name prefixes and suffixes that carry no meaning for a reader.
_PREFIXES = ("q_", "is_")
_SUFFIXES = ("_at", "_id")


class LocalText(BaseModel):
    """One text in each language (at least one of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str | None = Field(default=None, min_length=1)
    ru: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _some_language(self) -> LocalText:
        if self.en is None and self.ru is None:
            raise ValueError("a label needs a text in at least one language (en, ru)")
        return self

    def text(self, language: str) -> str | None:
        """The text in ``language``; Russian falls back to English (English words are read
        in a Russian team, Cyrillic ones are not read in an English one); else None."""
        if language == "ru":
            return self.ru or self.en
        return self.en


def _local(value: object) -> object:
    """A plain string label means the same words in every language."""
    return {"en": value, "ru": value} if isinstance(value, str) else value


class FeatureLabels(BaseModel):
    """The display keys of one spec feature (all optional)."""

    label: LocalText | None = Field(default=None, description="the field's name for people")
    value_labels: dict[str, LocalText] | None = Field(
        default=None, description="raw value -> its name for people"
    )
    unit: LocalText | None = Field(default=None, description="shown after a number")
    missing: LocalText | None = Field(
        default=None, description="what to say when the answer is absent, as an action"
    )
    explained_with: str | None = Field(
        default=None,
        description="the feature whose reason this one joins: one reason per source field "
        "(an e-mail's domain joins the e-mail)",
    )

    @field_validator("label", "unit", "missing", mode="before")
    @classmethod
    def _text_or_languages(cls, value: object) -> object:
        return _local(value)

    @field_validator("value_labels", mode="before")
    @classmethod
    def _values(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(key): _local(text) for key, text in value.items()}
        return value


def readable_default(column: str) -> str:
    """A column name as words: ``utm_campaign`` -> "UTM campaign", ``TotalVisits`` ->
    "Total visits", ``q_has_analytics`` -> "Has analytics"."""
    name = column.strip()
    for prefix in _PREFIXES:
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = [w for w in re.split(r"[\s_\-.]+", spaced) if w]
    if not words:
        return column
    shown = [w.upper() if w.lower() in ACRONYMS else w.lower() for w in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(shown)


def field_label(labels: FeatureLabels, column: str, language: str) -> str:
    """The field's label in ``language``, else its readable default."""
    own = getattr(labels, "label", None)  # absent on specs pickled before labels
    found = own.text(language) if own is not None else None
    return found or readable_default(column)


def value_label(labels: FeatureLabels, value: str, language: str) -> str:
    """A raw value's label in ``language``, else the value itself (it is data, not a name)."""
    table = getattr(labels, "value_labels", None) or {}
    found = table.get(value)
    if found is None:
        folded = {key.casefold(): text for key, text in table.items()}
        found = folded.get(value.casefold())
    text = found.text(language) if found is not None else None
    return text or value


def unit_of(labels: FeatureLabels, language: str) -> str | None:
    own = getattr(labels, "unit", None)
    return own.text(language) if own is not None else None  # no unit rather than a foreign one


def missing_of(labels: FeatureLabels, language: str) -> str | None:
    own = getattr(labels, "missing", None)
    return own.text(language) if own is not None else None


def unlabelled(features: Iterable[tuple[str, FeatureLabels]]) -> list[str]:
    """The columns (of ``(column, labels)`` pairs) that have no ``label``."""
    return [column for column, labels in features if getattr(labels, "label", None) is None]


#: The spec keys this module owns.
LABEL_KEYS: tuple[str, ...] = ("label", "value_labels", "unit", "missing", "explained_with")

Labelled = TypeVar("Labelled", bound=FeatureLabels)


def copy_labels(features: Sequence[Labelled], labelled: Iterable[FeatureLabels]) -> list[Labelled]:
    """``features`` with the labels of the same column (and type) in ``labelled``: how a
    spec pickled before labels (inside an older model) gets the words of its spec file."""
    source = {(getattr(f, "column", None), getattr(f, "type", None)): f for f in labelled}
    out = []
    for feature in features:
        found = source.get((getattr(feature, "column", None), getattr(feature, "type", None)))
        if found is None:
            out.append(feature)
        else:
            out.append(feature.model_copy(update={k: getattr(found, k) for k in LABEL_KEYS}))
    return out


def reason_field(labels: FeatureLabels, column: str, present: Iterable[str]) -> str:
    """The source field a feature's reason is told under: its ``explained_with`` when that
    feature is among ``present`` (the model's fields), else its own column."""
    joins = getattr(labels, "explained_with", None)
    return joins if joins is not None and joins in set(present) else column


def explained_with_problems(features: Sequence[tuple[str, FeatureLabels]]) -> list[str]:
    """What is wrong with the ``explained_with`` keys of ``(column, labels)`` pairs."""
    joins = {c: getattr(f, "explained_with", None) for c, f in features}
    problems = []
    for column, target in joins.items():
        if target is None:
            continue
        if target == column or target not in joins:
            problems.append(f"feature '{column}': explained_with '{target}' is not another feature")
        elif joins[target] is not None:
            problems.append(
                f"feature '{column}': explained_with '{target}', which itself joins "
                f"'{joins[target]}'; name '{joins[target]}' directly"
            )
    return problems
