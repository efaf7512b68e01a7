"""The source sections of a dataset spec: how its file is read (``read:``), which rows
count (``rows:``) and which lookup tables are joined on (``joins:``).

:mod:`features.spec` holds the spec as a whole; :mod:`features.rows` and
:mod:`features.joins` apply these sections to the data.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator


class SpecSection(BaseModel):
    """A part of a spec: unknown keys are errors (a typo is never silently ignored)."""

    model_config = ConfigDict(extra="forbid")


_SEPARATOR_WORDS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


class ReadOptions(SpecSection):
    """How a CSV file is read. ``sep`` is detected from the first lines when not given."""

    sep: str | None = Field(default=None, description="one character, or tab/comma/semicolon")
    encoding: str = "utf-8-sig"
    decimal: str = Field(default=".", min_length=1, max_length=1)
    thousands: str | None = Field(default=None, min_length=1, max_length=1)

    @field_validator("sep")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _SEPARATOR_WORDS.get(value.lower(), value)
        if len(value) != 1:
            raise ValueError(f"sep must be one character (or tab, comma, semicolon), not {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, cp1252, latin-1)") from None
        return value

    @model_validator(mode="after")
    def _marks_differ(self) -> ReadOptions:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("decimal and thousands must be different characters")
        if self.sep is not None and self.sep == self.decimal:
            raise ValueError("sep and decimal must be different characters")
        return self


RowOperator = Literal["in", "not in", "missing", "not missing", "==", "!=", ">", ">=", "<", "<="]
_IN = re.compile(r"^(?P<column>.+?)\s+(?P<op>not in|in)\s+(?P<rest>\[.*\])$", re.DOTALL)
_MISSING = re.compile(r"^(?P<column>.+?)\s+(?P<op>is missing|not missing|missing)$")
_COMPARE = re.compile(r"^(?P<column>.+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>.+)$")


class RowCondition(SpecSection):
    """One condition of ``rows:``, written ``column in [a, b]``, ``column not in [...]``,
    ``column not missing``, ``column missing`` or ``column >= 10`` (``== != > >= < <=``;
    numbers compare as numbers, ISO dates as dates, other values as text)."""

    column: str = Field(min_length=1)
    op: RowOperator
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_condition(value)

    def __str__(self) -> str:
        if self.op in ("in", "not in"):
            return f"{self.column} {self.op} [{', '.join(self.values)}]"
        if self.op in ("missing", "not missing"):
            return f"{self.column} {self.op}"
        return f"{self.column} {self.op} {self.values[0]}"


def parse_condition(text: str) -> dict[str, Any]:
    """``"deal_stage in [Won, Lost]"`` -> ``{column, op, values}``; ValueError if unreadable."""
    expected = (
        "expected 'COLUMN in [a, b]', 'COLUMN not in [...]', 'COLUMN not missing', "
        "'COLUMN missing' or 'COLUMN >= VALUE' (== != > >= < <=)"
    )
    text = text.strip()
    if match := _IN.match(text):
        try:
            values = yaml.safe_load(match["rest"])
        except yaml.YAMLError:
            values = None
        if not isinstance(values, list) or not values:
            raise ValueError(f"row condition {text!r}: '{match['op']}' needs a list like [a, b]")
        return {"column": match["column"], "op": match["op"], "values": [str(v) for v in values]}
    if match := _MISSING.match(text):
        op = "missing" if match["op"] == "is missing" else match["op"]
        return {"column": match["column"], "op": op, "values": []}
    if match := _COMPARE.match(text):
        value = match["value"].strip().strip("'\"")
        return {"column": match["column"].strip(), "op": match["op"], "values": [value]}
    raise ValueError(f"cannot read row condition {text!r}; {expected}")


class Join(SpecSection):
    """A lookup table joined onto the data: its columns (named ``prefix`` + column) become
    available to features. ``on`` is the key column (the same name in both files), a list
    of them, or a mapping data column -> lookup column. A key present in the data but
    absent from the lookup is reported (match rate in check-data); with ``how: inner`` those
    rows are left out. A key repeated in the lookup is an error."""

    path: str = Field(
        validation_alias=AliasChoices("path", "file"),
        description="the lookup file, relative to the data file",
    )
    on: str | list[str] | dict[str, str]
    how: Literal["left", "inner"] = "left"
    unmatched: Literal["warn", "error"] = Field(
        default="warn", description="a key the lookup lacks: a warning, or an error"
    )
    prefix: str = ""
    columns: list[str] | None = Field(default=None, description="default: every other column")
    format: Literal["csv", "parquet", "xlsx"] | None = None
    read: ReadOptions = Field(default_factory=ReadOptions)

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare ``on:`` key as the boolean true: take it as ``on``."""
        if isinstance(value, dict) and True in value and "on" not in value:
            value = {("on" if k is True else k): v for k, v in value.items()}
        return value

    @field_validator("on")
    @classmethod
    def _some_key(cls, value: str | list[str] | dict[str, str]) -> str | list[str] | dict[str, str]:
        if not value:
            raise ValueError("on needs at least one key column")
        return value

    @property
    def keys(self) -> list[tuple[str, str]]:
        """(data column, lookup column) pairs."""
        if isinstance(self.on, str):
            return [(self.on, self.on)]
        if isinstance(self.on, list):
            return [(k, k) for k in self.on]
        return list(self.on.items())

    def output_name(self, lookup_column: str) -> str:
        return f"{self.prefix}{lookup_column}"
