"""Dataset specs: how a CRM export (CSV/Parquet) maps onto leadscore's roles.

A spec is a YAML file. Nothing in leadscore hard-codes a data set's column names: a new
CRM export needs only a new spec. Shipped specs live in ``features/specs/``:
``demo.yaml``, ``x_education.yaml`` and ``olist.yaml``.

Example (abridged)::

    name: demo
    data: data/demo/leads.parquet
    id_column: external_id
    time_column: arrived_at
    channel_column: channel
    campaign_column: utm_campaign
    missing_values: ["", "Select"]
    drop:
      - {column: stage_reached, reason: outcome}
    targets:
      sql: {kind: status, column: status, reach: sql, stage_map: {...}}
      won: {kind: binary, column: won, positive: [true]}
    features:
      - {column: channel, type: categorical, known_at: arrival}
      - {column: budget_amount, type: money, known_at: qualified, currency_column: budget_currency}
    split: {kind: time, test_start: 2018-03-01}
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.funnel import Stage


class KnownAt(StrEnum):
    """When a field becomes known. An ``arrival`` model may only use ``arrival`` fields."""

    ARRIVAL = "arrival"
    QUALIFIED = "qualified"

    def includes(self, other: KnownAt) -> bool:
        """Whether a model scoring at this moment may use a field known at ``other``."""
        return _KNOWN_AT_ORDER.index(other) <= _KNOWN_AT_ORDER.index(self)


_KNOWN_AT_ORDER = (KnownAt.ARRIVAL, KnownAt.QUALIFIED)


class FeatureType(StrEnum):
    CATEGORICAL = "categorical"  # fixed category list, rare/unseen -> "other"
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    ORDINAL = "ordinal"  # ordered categories -> rank
    MONEY = "money"  # amount + currency (and/or a bracket) -> amount in base currency
    DATETIME = "datetime"  # -> hour, weekday, month (parts chosen in the spec)
    SINCE = "since"  # a timestamp -> days between it and the time column
    EMAIL = "email"  # -> domain kind: corporate / free mail / missing; never the address
    PHONE = "phone"  # -> phone present; never the number
    TEXT = "text"  # free text -> length, language, keyword flags, hashed tokens


DatePart = Literal["hour", "weekday", "month", "dayofyear"]
DEFAULT_DATE_PARTS: tuple[DatePart, ...] = ("hour", "weekday", "month")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureSpec(_Spec):
    column: str = Field(min_length=1)
    type: FeatureType
    known_at: KnownAt = Field(
        default=KnownAt.ARRIVAL,
        validation_alias=AliasChoices("known_at", "stage"),
        description="when the field becomes known (`stage` is the older spelling)",
    )
    description: str | None = None
    # categorical
    min_count: int = Field(default=20, ge=1, description="rarer values become 'other'")
    max_categories: int = Field(default=200, ge=2)
    # ordinal
    order: list[str] | None = None
    # money
    currency_column: str | None = None
    bracket_column: str | None = None
    bracket_values: dict[str, float] | None = Field(
        default=None, description="bracket -> representative amount in base_currency"
    )
    rates: dict[str, float] | None = Field(
        default=None, description="currency -> units of base_currency per unit"
    )
    base_currency: str = "RUB"
    # datetime
    parts: list[DatePart] = Field(default_factory=lambda: list(DEFAULT_DATE_PARTS))
    # text
    keywords: dict[str, list[str]] | None = Field(
        default=None, description="flag name -> words that raise it (any language)"
    )
    hash_features: int = Field(default=0, ge=0, le=1024)
    # numeric / monotone direction where the domain is clear
    monotone: Literal[-1, 0, 1] = 0

    @model_validator(mode="after")
    def _type_options(self) -> FeatureSpec:
        if self.type is FeatureType.ORDINAL and not self.order:
            raise ValueError(f"feature '{self.column}': type ordinal needs 'order'")
        if self.type is FeatureType.MONEY and self.currency_column and not self.rates:
            raise ValueError(f"feature '{self.column}': currency_column needs 'rates'")
        if self.bracket_column and not self.bracket_values:
            raise ValueError(f"feature '{self.column}': bracket_column needs 'bracket_values'")
        return self

    @property
    def input_columns(self) -> list[str]:
        """Every raw column this feature reads."""
        extra = [c for c in (self.currency_column, self.bracket_column) if c]
        return [self.column, *extra]


class StatusTarget(_Spec):
    """Positive when the lead reached ``reach`` (statuses mapped to stages)."""

    kind: Literal["status"]
    column: str
    reach: Stage
    stage_map: dict[str, Stage] = Field(
        description="status value -> the furthest stage a lead in it has reached"
    )


DEFAULT_POSITIVE: tuple[str | int | bool, ...] = (1, True, "1", "true")


class BinaryTarget(_Spec):
    """Positive when ``column`` holds one of ``positive`` (e.g. a 0/1 column)."""

    kind: Literal["binary"]
    column: str
    positive: list[str | int | bool] = Field(default_factory=lambda: list(DEFAULT_POSITIVE))


class MembershipTarget(_Spec):
    """Positive when the lead's id appears in ``key`` of another file (e.g. closed deals)."""

    kind: Literal["membership"]
    path: str = Field(description="file with the positives, relative to the data file")
    key: str = Field(description="column of that file holding lead ids")
    time_column: str | None = Field(
        default=None, description="when the lead became positive (e.g. won_date)"
    )


Target = Annotated[StatusTarget | BinaryTarget | MembershipTarget, Field(discriminator="kind")]


class DroppedColumn(_Spec):
    column: str = Field(description="a column name, or a prefix ending in '*'")
    reason: str

    def matches(self, name: str) -> bool:
        if self.column.endswith("*"):
            return name.startswith(self.column[:-1])
        return name == self.column


class TimeSplit(_Spec):
    """Out-of-time: train before ``test_start``, test from it (to ``test_end`` if given)."""

    kind: Literal["time"]
    test_start: date | None = Field(
        default=None, description="default: the start of the last `test_months` months"
    )
    test_end: date | None = None
    test_months: int = Field(default=3, ge=1)


class KFoldSplit(_Spec):
    """Stratified k-fold for data with no time column (the report says so)."""

    kind: Literal["stratified_kfold"]
    folds: int = Field(default=5, ge=2, le=20)
    seed: int = 0


Split = Annotated[TimeSplit | KFoldSplit, Field(discriminator="kind")]


class TrainingSection(_Spec):
    """Model settings that belong to a data set (found by validation, kept with its spec)."""

    params: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="LightGBM parameters over leadscore's defaults"
    )
    trials: int = Field(default=0, ge=0, le=200, description="Optuna trials (0: none)")
    chain: bool = Field(
        default=True,
        description=(
            "fit a later funnel target (won) as P(earlier target) x P(this | earlier): "
            "the earlier stage has several times more positives to learn from"
        ),
    )


class DatasetSpec(_Spec):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    data: str | None = Field(default=None, description="default data file, relative to the spec")
    format: Literal["csv", "parquet", "xlsx"] | None = Field(
        default=None, description="default: from the file's extension"
    )
    id_column: str
    time_column: str | None = None
    time_format: str | None = Field(default=None, description="strftime format, if not ISO")
    channel_column: str
    campaign_column: str | None = None
    missing_values: list[str] = Field(default_factory=lambda: [""])
    drop: list[DroppedColumn] = Field(default_factory=list)
    targets: dict[str, Target] = Field(min_length=1)
    features: list[FeatureSpec] = Field(min_length=1)
    split: Split = Field(default_factory=lambda: KFoldSplit(kind="stratified_kfold"))
    training: TrainingSection = Field(default_factory=TrainingSection)
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        problems: list[str] = []
        seen: set[str] = set()
        for feature in self.features:
            if feature.column in seen:
                problems.append(f"feature column '{feature.column}' is listed twice")
            seen.add(feature.column)
            for column in feature.input_columns:
                dropped = [d for d in self.drop if d.matches(column)]
                if dropped:
                    problems.append(
                        f"feature column '{column}' is also dropped ({dropped[0].reason})"
                    )
        target_columns = {
            t.column for t in self.targets.values() if not isinstance(t, MembershipTarget)
        }
        for column in sorted(target_columns & seen):
            problems.append(f"target column '{column}' cannot also be a feature (leakage)")
        if isinstance(self.split, TimeSplit) and self.time_column is None:
            problems.append("split kind 'time' needs time_column")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def features_for(self, known_at: KnownAt) -> list[FeatureSpec]:
        """Features a model scoring at ``known_at`` may use: never one known later."""
        return [f for f in self.features if known_at.includes(f.known_at)]

    @property
    def known_ats(self) -> list[KnownAt]:
        """Moments with at least one feature of their own (always includes arrival)."""
        present = {f.known_at for f in self.features}
        return [s for s in _KNOWN_AT_ORDER if s is KnownAt.ARRIVAL or s in present]

    def funnel_parent(self, target: str) -> str | None:
        """The status target one funnel step before ``target`` (``sql`` for ``won``), if any.

        Reaching a later stage implies reaching the earlier one, so P(won) factors as
        P(sql) x P(won | sql). Only status targets read from the same column qualify.
        """
        child = self.targets[target]
        if not isinstance(child, StatusTarget):
            return None
        earlier = [
            (other.reach.rank, name)
            for name, other in self.targets.items()
            if isinstance(other, StatusTarget)
            and other.column == child.column
            and other.stage_map == child.stage_map
            and other.reach.rank < child.reach.rank
        ]
        return max(earlier)[1] if earlier else None

    def data_path(self) -> Path | None:
        if self.data is None:
            return None
        base = self.source_path.parent if self.source_path else Path.cwd()
        return (base / self.data).resolve()


class SpecError(ValueError):
    """A spec file that cannot be used; the message names the file and every problem."""


SHIPPED_SPECS = ("demo", "x_education", "olist")


def load_spec(path_or_name: str | Path) -> DatasetSpec:
    """Read and validate a spec from a YAML path, or a shipped spec by name."""
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in SHIPPED_SPECS:
        traversable = resources.files("features").joinpath(f"specs/{path_or_name}.yaml")
        path = Path(str(traversable))
    if not path.exists():
        shipped = ", ".join(SHIPPED_SPECS)
        raise SpecError(f"{path}: no such spec file (shipped specs by name: {shipped})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of spec fields at the top level")
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(spec)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SpecError(f"{path}: invalid spec:\n" + "\n".join(lines)) from exc
    return spec.model_copy(update={"source_path": path.resolve()})
