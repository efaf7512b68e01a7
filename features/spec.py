"""Dataset specs: how a CRM export (CSV/Parquet) maps onto leadscore's roles.

A spec is a YAML file. Nothing in leadscore hard-codes a data set's column names: a new
CRM export needs only a new spec. Shipped specs live in ``features/specs/``:
``demo.yaml``, ``x_education.yaml``, ``olist.yaml``, ``bank_marketing.yaml`` and
``crm_sales.yaml``. Besides roles, targets, features and the split, a spec says how its CSV
is read (``read``), which rows count (``rows``), which lookup tables are joined on
(``joins``) and which columns hold a won deal (``deal``, :mod:`features.deal`);
docs/specs.md has every key with an example. Errors name the file and line.

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
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from features.deal import DealSection
from features.funnel import Stage
from features.labels import FeatureLabels, copy_labels, explained_with_problems
from features.rates import CurrencyCode, Rate, RatesError, read_rates, yaml_document
from features.spec_sources import Join, ReadOptions, RowCondition, SpecSection


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


class FeatureSpec(FeatureLabels, SpecSection):
    """One feature: its column, type, ``known_at``, type options and display labels."""

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
    rates: dict[CurrencyCode, Rate] | None = Field(
        default=None, description="currency -> units of base_currency per unit"
    )
    rates_file: str | None = Field(
        default=None,
        description="a dated rates file (YAML, relative to the spec) instead of `rates`: "
        "load_spec reads it into rates, rates_date and base_currency",
    )
    rates_date: date | None = Field(
        default=None, description="the day of the rates (from rates_file, or given inline)"
    )
    base_currency: CurrencyCode = Field(
        default="RUB", description="the currency the model learns amounts in"
    )
    # datetime
    parts: list[DatePart] = Field(default_factory=lambda: list(DEFAULT_DATE_PARTS))
    # text
    keywords: dict[str, list[str]] | None = Field(
        default=None, description="flag name -> words that raise it (any language)"
    )
    hash_features: int = Field(default=0, ge=0, le=1024)
    # numeric / monotone direction where the domain is clear
    monotone: Literal[-1, 0, 1] = 0
    missing_values: list[str] = Field(
        default_factory=list,
        description="markers that mean missing in this column only (on top of the spec's)",
    )

    @model_validator(mode="after")
    def _type_options(self) -> FeatureSpec:
        if self.type is FeatureType.ORDINAL and not self.order:
            raise ValueError(f"feature '{self.column}': type ordinal needs 'order'")
        money = self.type is FeatureType.MONEY
        if money and self.currency_column and not (self.rates or self.rates_file):
            raise ValueError(
                f"feature '{self.column}': currency_column needs 'rates' or 'rates_file'"
            )
        if self.bracket_column and not self.bracket_values:
            raise ValueError(f"feature '{self.column}': bracket_column needs 'bracket_values'")
        return self

    @property
    def input_columns(self) -> list[str]:
        """Every raw column this feature reads."""
        extra = [c for c in (self.currency_column, self.bracket_column) if c]
        return [self.column, *extra]


class StatusTarget(SpecSection):
    """Positive when the lead reached ``reach`` (statuses mapped to stages)."""

    kind: Literal["status"]
    column: str
    reach: Stage
    stage_map: dict[str, Stage] = Field(
        description="status value -> the furthest stage a lead in it has reached"
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="open statuses: rows holding one are left out of the data set",
    )


class OutcomeTarget(SpecSection):
    """A status column read as an outcome: ``positive`` statuses against ``negative`` ones
    (every other status when ``negative`` is not given); ``ignore`` lists open statuses,
    whose rows are left out (e.g. a pipeline's open stages when only closed deals count)."""

    kind: Literal["status"]
    column: str
    positive: list[str] = Field(min_length=1)
    negative: list[str] | None = Field(
        default=None, description="default: every status neither positive nor ignored"
    )
    ignore: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> OutcomeTarget:
        lists = {"positive": self.positive, "negative": self.negative or [], "ignore": self.ignore}
        seen: dict[str, str] = {}
        for name, values in lists.items():
            for value in values:
                if value in seen:
                    raise ValueError(f"status '{value}' is in both {seen[value]} and {name}")
                seen[value] = name
        return self


DEFAULT_POSITIVE: tuple[str | int | bool, ...] = (1, True, "1", "true")
#: Values a binary target reads as negative when the spec lists none (lower-cased, stripped).
DEFAULT_NEGATIVE: tuple[str | int | bool, ...] = ("0", "false", "no", "нет")


class BinaryTarget(SpecSection):
    """Positive when ``column`` holds one of ``positive`` (e.g. a 0/1 column)."""

    kind: Literal["binary"]
    column: str
    positive: list[str | int | bool] = Field(default_factory=lambda: list(DEFAULT_POSITIVE))
    negative: list[str | int | bool] = Field(default_factory=lambda: list(DEFAULT_NEGATIVE))
    ignore: list[str] = Field(
        default_factory=list, description="values whose rows are left out of the data set"
    )


class MembershipTarget(SpecSection):
    """Positive when the lead's id appears in ``key`` of another file (e.g. closed deals)."""

    kind: Literal["membership"]
    path: str = Field(description="file with the positives, relative to the data file")
    key: str = Field(description="column of that file holding lead ids")
    time_column: str | None = Field(
        default=None, description="when the lead became positive (e.g. won_date)"
    )


ColumnTarget = StatusTarget | OutcomeTarget | BinaryTarget


def _target_tag(value: Any) -> str | None:
    """Which target model a spec entry is: a status target with ``positive`` is an outcome."""
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind == "status" and "positive" in value and "stage_map" not in value:
            return "outcome"
        return kind if isinstance(kind, str) else None
    if isinstance(value, OutcomeTarget):
        return "outcome"
    return getattr(value, "kind", None)


Target = Annotated[
    Annotated[StatusTarget, Tag("status")]
    | Annotated[OutcomeTarget, Tag("outcome")]
    | Annotated[BinaryTarget, Tag("binary")]
    | Annotated[MembershipTarget, Tag("membership")],
    Discriminator(
        _target_tag,
        custom_error_type="target_kind",
        custom_error_message=(
            "kind must be status (with reach + stage_map, or positive [+ negative]), "
            "binary or membership"
        ),
    ),
]


class DroppedColumn(SpecSection):
    column: str = Field(description="a column name, or a prefix ending in '*'")
    reason: str

    def matches(self, name: str) -> bool:
        if self.column.endswith("*"):
            return name.startswith(self.column[:-1])
        return name == self.column


class TimeSplit(SpecSection):
    """Out-of-time: train before ``test_start``, test from it (to ``test_end`` if given)."""

    kind: Literal["time"]
    test_start: date | None = Field(
        default=None, description="default: the start of the last `test_months` months"
    )
    test_end: date | None = None
    test_months: int = Field(default=3, ge=1)


class KFoldSplit(SpecSection):
    """Stratified k-fold for data with no time column (the report says so)."""

    kind: Literal["stratified_kfold"]
    folds: int = Field(default=5, ge=2, le=20)
    seed: int = 0


class OrderedSplit(SpecSection):
    """By row order (a file ordered in time without a date column): the first rows train,
    the last ``test_share`` of them test. ``by`` sorts the rows by a numeric sequence
    column first (e.g. a CRM's running number)."""

    kind: Literal["ordered"]
    test_share: float = Field(default=0.2, gt=0, lt=1)
    by: str | None = Field(default=None, description="numeric column giving the row order")


class BacktestSplit(SpecSection):
    """A backtest over row order (or time order when the spec has a time column):
    ``windows`` consecutive test windows of ``test_share`` of the rows each, at the end of
    the data. ``expanding`` trains on every row before a window, ``rolling`` on the
    ``train_share`` of rows just before it."""

    kind: Literal["rolling", "expanding"]
    windows: int = Field(default=4, ge=2, le=50)
    test_share: float = Field(default=0.05, gt=0, lt=1, description="rows per test window")
    train_share: float | None = Field(
        default=None, gt=0, lt=1, description="rolling: rows trained on before each window"
    )
    by: str | None = Field(default=None, description="numeric column giving the row order")

    @model_validator(mode="after")
    def _fits(self) -> BacktestSplit:
        if self.windows * self.test_share >= 1:
            raise ValueError(
                f"{self.windows} windows of test_share {self.test_share} leave no training rows"
            )
        if self.kind == "rolling" and self.train_share is None:
            raise ValueError("split kind 'rolling' needs train_share (rows before each window)")
        if self.kind == "expanding" and self.train_share is not None:
            raise ValueError("train_share is for kind 'rolling'; 'expanding' uses every row")
        if self.train_share is not None and self.train_share > 1 - self.windows * self.test_share:
            raise ValueError("train_share is longer than the rows before the first window")
        return self


Split = Annotated[
    TimeSplit | KFoldSplit | OrderedSplit | BacktestSplit, Field(discriminator="kind")
]


class TrainingSection(SpecSection):
    """Model settings that belong to a data set (found by validation, kept with its spec)."""

    params: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="LightGBM parameters over leadscore's defaults"
    )
    trials: int = Field(default=0, ge=0, le=200, description="Optuna trials (0: none)")
    accept_baseline: bool = Field(
        default=False,
        description=(
            "when a baseline beats LightGBM, `leadscore train` registers it as champion "
            "(as --accept-baseline does); otherwise it is only `candidate`"
        ),
    )
    chain: bool = Field(
        default=True,
        description=(
            "fit a later funnel target (won) as P(earlier target) x P(this | earlier): "
            "the earlier stage has several times more positives to learn from"
        ),
    )


#: The channel of every lead when the spec names no channel column.
ONE_CHANNEL = "all"


class DatasetSpec(SpecSection):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    data: str | None = Field(default=None, description="default data file, relative to the spec")
    format: Literal["csv", "parquet", "xlsx"] | None = Field(
        default=None, description="default: from the file's extension"
    )
    read: ReadOptions = Field(default_factory=ReadOptions)
    id_column: str | None = Field(
        default=None, description="unique CRM id; none: the row's line number is the id"
    )
    time_column: str | None = None
    time_format: str | None = Field(default=None, description="strftime format, if not ISO")
    channel_column: str | None = Field(
        default=None, description=f"marketing channel; none: one channel, '{ONE_CHANNEL}'"
    )
    campaign_column: str | None = None
    missing_values: list[str] = Field(default_factory=lambda: [""])
    rows: list[RowCondition] = Field(
        default_factory=list, description="conditions a row must meet to be used (all of them)"
    )
    joins: list[Join] = Field(default_factory=list)
    drop: list[DroppedColumn] = Field(default_factory=list)
    deal: DealSection = Field(default_factory=DealSection)
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
        inputs = {c for f in self.features for c in f.input_columns}
        for column in [c for c in self.deal.columns if c in inputs]:
            problems.append(f"deal column '{column}' cannot also be a feature (leakage)")
        problems += explained_with_problems([(f.column, f) for f in self.features])
        if isinstance(self.split, TimeSplit) and self.time_column is None:
            problems.append("split kind 'time' needs time_column")
        by = getattr(self.split, "by", None)
        if by is not None and self.time_column is not None:
            problems.append(
                f"split 'by: {by}' orders rows, but the rows are already in time order "
                f"('{self.time_column}'); leave out one of them"
            )
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


def upgraded(spec: DatasetSpec) -> DatasetSpec:
    """A spec unpickled from an older leadscore (inside a stored model) with every field
    added since at its default: pickles restore only the attributes they stored."""
    if _complete(spec):
        return spec
    before_labels = any("label" not in f.__dict__ for f in spec.__dict__.get("features", []))
    dumped = spec.model_dump(warnings=False)
    fresh = DatasetSpec.model_validate(dumped)
    fresh = fresh.model_copy(update={"source_path": spec.__dict__.get("source_path")})
    return _labels_from_file(fresh) if before_labels else fresh


def _labels_from_file(spec: DatasetSpec) -> DatasetSpec:
    """A spec from before labels with the labels of its file (or the shipped spec of its
    name); unchanged when neither can be read."""
    found = spec.source_path if spec.source_path and spec.source_path.exists() else None
    name = found or (spec.name if spec.name in SHIPPED_SPECS else None)
    if name is None:
        return spec
    try:
        source = load_spec(name)
    except SpecError:
        return spec
    return spec.model_copy(update={"features": copy_labels(spec.features, source.features)})


def _complete(model: BaseModel) -> bool:
    if set(type(model).model_fields) - set(model.__dict__):
        return False
    children: list[object] = []
    for value in model.__dict__.values():
        children += (
            value
            if isinstance(value, list)
            else list(value.values())
            if isinstance(value, dict)
            else [value]
        )
    return all(_complete(c) for c in children if isinstance(c, BaseModel))


class SpecError(ValueError):
    """A spec file that cannot be used; the message names the file and every problem."""


SHIPPED_SPECS = ("demo", "x_education", "olist", "bank_marketing", "crm_sales")


def load_spec(path_or_name: str | Path) -> DatasetSpec:
    """Read and validate a spec from a YAML path, or a shipped spec by name.

    Every problem is reported with the line of the spec file it is on.
    """
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in SHIPPED_SPECS:
        traversable = resources.files("features").joinpath(f"specs/{path_or_name}.yaml")
        path = Path(str(traversable))
    if not path.exists():
        shipped = ", ".join(SHIPPED_SPECS)
        raise SpecError(f"{path}: no such spec file (shipped specs by name: {shipped})")
    text = path.read_text(encoding="utf-8")
    raw = yaml_document(text, path, SpecError)
    root = yaml.compose(text)
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of spec fields at the top level")
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        lines = [_error_line(path, root, err["loc"], err["msg"]) for err in exc.errors()]
        raise SpecError(f"{path}: invalid spec:\n" + "\n".join(lines)) from exc
    features, problems = _with_rates_files(spec.features, path, root)
    if problems:
        raise SpecError(f"{path}: invalid spec:\n" + "\n".join(problems))
    return spec.model_copy(update={"source_path": path.resolve(), "features": features})


def _with_rates_files(
    features: list[FeatureSpec], path: Path, root: yaml.Node | None
) -> tuple[list[FeatureSpec], list[str]]:
    """The features with each ``rates_file`` read (relative to the spec) into ``rates``,
    ``rates_date`` and ``base_currency``: the rates a model is trained with travel inside
    it. Problems come back as the spec's error lines."""
    out: list[FeatureSpec] = []
    problems: list[str] = []
    for i, feature in enumerate(features):
        if feature.rates_file is None:
            out.append(feature)
            continue
        loc = ("features", i, "rates_file")
        try:
            if feature.rates is not None:
                raise RatesError("give rates or rates_file, not both")
            rates = read_rates(path.parent / feature.rates_file)
            if "base_currency" in feature.model_fields_set and feature.base_currency != rates.base:
                raise RatesError(
                    f"base_currency is {feature.base_currency} but {feature.rates_file} has "
                    f"base {rates.base}"
                )
        except RatesError as exc:
            problems.append(_error_line(path, root, loc, str(exc)))
            continue
        update = {"rates": rates.table(), "rates_date": rates.date, "base_currency": rates.base}
        out.append(feature.model_copy(update=update))
    return out, problems


def _error_line(path: Path, root: yaml.Node | None, loc: tuple[int | str, ...], msg: str) -> str:
    """``  file:line: a.b.c: message`` for one validation error."""
    where = ".".join(str(p) for p in loc) or "(spec)"
    line = _line_of(root, loc)
    at = f"{path}:{line}: " if line is not None else ""
    return f"  {at}{where}: {msg}"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the path ``loc`` (parts that are not
    keys of the file, such as the tag pydantic adds for a union member, are passed over)."""
    if node is None:
        return None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if str(k.value) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        if child is not None:
            node = child
    return int(node.start_mark.line) + 1
