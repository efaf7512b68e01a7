"""Dataset specs: the shipped ones load; broken ones fail naming the file and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.spec import (
    SHIPPED_SPECS,
    BinaryTarget,
    DroppedColumn,
    FeatureType,
    KFoldSplit,
    KnownAt,
    MembershipTarget,
    SpecError,
    StatusTarget,
    TimeSplit,
    load_spec,
)
from tests.features.tiny_spec import TINY_SPEC_HEAD

SPEC_DIR = Path(__file__).parents[2] / "features" / "specs"


def _minimal() -> dict[str, Any]:
    return {
        **TINY_SPEC_HEAD,
        "targets": {"won": {"kind": "binary", "column": "won"}},
        "features": [
            {"column": "channel", "type": "categorical"},
            {"column": "budget", "type": "numeric", "stage": "qualified"},
        ],
        "split": {"kind": "time", "test_start": "2024-01-01"},
    }


def _write(tmp_path: Path, raw: dict[str, Any] | str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_shipped_specs_load_by_name(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.source_path is not None
    assert spec.source_path.name == f"{name}.yaml"
    assert spec.features_for(KnownAt.ARRIVAL)


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_shipped_specs_load_by_path(name: str) -> None:
    assert load_spec(SPEC_DIR / f"{name}.yaml").name == name


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_arrival_features_never_include_a_qualified_one(name: str) -> None:
    spec = load_spec(name)
    arrival = spec.features_for(KnownAt.ARRIVAL)
    assert all(f.known_at is KnownAt.ARRIVAL for f in arrival)
    assert spec.features_for(KnownAt.QUALIFIED) == spec.features
    qualified = {f.column for f in spec.features if f.known_at is KnownAt.QUALIFIED}
    assert not qualified & {f.column for f in arrival}


def test_demo_spec_has_both_stages() -> None:
    spec = load_spec("demo")
    assert spec.known_ats == [KnownAt.ARRIVAL, KnownAt.QUALIFIED]
    arrival = {f.column for f in spec.features_for(KnownAt.ARRIVAL)}
    assert "channel" in arrival
    assert "budget_amount" not in arrival
    assert {"sql", "won"} <= set(spec.targets)
    assert all(isinstance(t, StatusTarget) for t in spec.targets.values())


def test_x_education_spec_roles_and_leakage_drops() -> None:
    spec = load_spec("x_education")
    assert spec.id_column == "Prospect ID"
    assert spec.time_column is None
    assert spec.channel_column == "Lead Source"
    assert isinstance(spec.split, KFoldSplit)
    assert spec.split.folds == 5
    assert "Select" in spec.missing_values
    target = spec.targets["converted"]
    assert isinstance(target, BinaryTarget)
    assert target.column == "Converted"
    dropped = [
        "Tags",
        "Lead Quality",
        "Lead Profile",
        "Asymmetrique Activity Index",
        "Asymmetrique Profile Score",
        "Lead Number",
        "Magazine",
    ]
    for column in dropped:
        assert any(d.matches(column) for d in spec.drop), column
    # updated by the sales team's contact: never an arrival feature
    arrival = {f.column for f in spec.features_for(KnownAt.ARRIVAL)}
    qualified = {f.column for f in spec.features_for(KnownAt.QUALIFIED)}
    assert {"Last Activity", "Last Notable Activity"} <= qualified - arrival
    types = {f.column: f.type for f in spec.features}
    assert types["TotalVisits"] is FeatureType.NUMERIC
    assert types["Total Time Spent on Website"] is FeatureType.NUMERIC
    assert types["Page Views Per Visit"] is FeatureType.NUMERIC
    assert types["Do Not Email"] is FeatureType.BOOLEAN
    assert types["Lead Source"] is FeatureType.CATEGORICAL


def test_olist_spec_roles_split_and_target() -> None:
    spec = load_spec("olist")
    assert spec.time_column == "first_contact_date"
    assert isinstance(spec.split, TimeSplit)
    assert str(spec.split.test_start) == "2018-03-01"
    assert str(spec.split.test_end) == "2018-06-01"
    target = spec.targets["won"]
    assert isinstance(target, MembershipTarget)
    assert (target.path, target.key, target.time_column) == (
        "olist_closed_deals_dataset.csv",
        "mql_id",
        "won_date",
    )
    dates = next(f for f in spec.features if f.column == "first_contact_date")
    assert dates.parts == ["weekday"]
    assert {f.column for f in spec.features} == {"origin", "landing_page_id", "first_contact_date"}


@pytest.mark.parametrize("name", ["x_education", "olist"])
def test_real_data_specs_point_into_the_shared_data_folder(name: str) -> None:
    path = load_spec(name).data_path()
    assert path is not None
    assert path.parent.parent == SPEC_DIR.parents[2] / "shared" / "data"


def test_minimal_spec_loads_and_resolves_data_next_to_it(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, _minimal()))
    assert spec.data_path() == (tmp_path / "leads.csv").resolve()


def test_dropped_column_prefix_pattern() -> None:
    pattern = DroppedColumn(column="Asymmetrique*", reason="leakage")
    assert pattern.matches("Asymmetrique Activity Index")
    assert not pattern.matches("Lead Source")
    exact = DroppedColumn(column="Tags", reason="leakage")
    assert exact.matches("Tags")
    assert not exact.matches("Tags2")


def test_missing_spec_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: no such spec file"):
        load_spec(tmp_path / "nope.yaml")


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: tiny\nfeatures: [unclosed\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "- a\n- b\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        load_spec(path)


def _broken(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = _write(tmp_path, raw)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


def test_unknown_feature_type_names_the_feature(tmp_path: Path) -> None:
    raw = _minimal()
    raw["features"][1]["type"] = "vibes"
    message = _broken(tmp_path, raw)
    assert "features.1.type" in message
    assert "numeric" in message  # the allowed values are listed


def _dropped_budget(raw: dict[str, Any]) -> None:
    raw["drop"] = [{"column": "bud*", "reason": "filled by sales"}]


def _target_as_feature(raw: dict[str, Any]) -> None:
    raw["features"].append({"column": "won", "type": "boolean"})


def _no_time_column(raw: dict[str, Any]) -> None:
    raw["time_column"] = None


def _ordinal_without_order(raw: dict[str, Any]) -> None:
    raw["features"].append({"column": "size", "type": "ordinal"})


def _channel_twice(raw: dict[str, Any]) -> None:
    raw["features"].append({"column": "channel", "type": "categorical"})


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (_dropped_budget, ["feature column 'budget' is also dropped (filled by sales)"]),
        (_target_as_feature, ["target column 'won' cannot also be a feature"]),
        (_no_time_column, ["split kind 'time' needs time_column"]),
        (_ordinal_without_order, ["features.2", "feature 'size': type ordinal needs 'order'"]),
        (_channel_twice, ["feature column 'channel' is listed twice"]),
    ],
    ids=[
        "feature also dropped",
        "target as feature",
        "time split without time column",
        "ordinal without order",
        "feature listed twice",
    ],
)
def test_an_inconsistent_spec_is_refused_naming_the_problem(
    tmp_path: Path, breaks: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    raw = _minimal()
    breaks(raw)
    message = _broken(tmp_path, raw)
    for words in expected:
        assert words in message


def test_unknown_spec_field_is_named(tmp_path: Path) -> None:
    raw = _minimal()
    raw["colour"] = "blue"
    assert "colour: Extra inputs are not permitted" in _broken(tmp_path, raw)


def test_unknown_target_kind_is_named(tmp_path: Path) -> None:
    raw = _minimal()
    raw["targets"]["won"]["kind"] = "magic"
    assert "targets.won" in _broken(tmp_path, raw)


def test_status_target_with_unknown_stage_is_named(tmp_path: Path) -> None:
    raw = _minimal()
    raw["targets"]["sql"] = {
        "kind": "status",
        "column": "status",
        "reach": "sql",
        "stage_map": {"new": "lead", "talking": "chatting"},
    }
    assert "targets.sql.status.stage_map.talking" in _broken(tmp_path, raw)


def test_money_with_currency_needs_rates(tmp_path: Path) -> None:
    raw = _minimal()
    raw["features"].append({"column": "deal", "type": "money", "currency_column": "cur"})
    assert "currency_column needs 'rates'" in _broken(tmp_path, raw)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    raw = _minimal()
    raw["features"][0]["type"] = "vibes"
    raw["features"][1]["stage"] = "someday"
    message = _broken(tmp_path, raw)
    assert "features.0.type" in message
    assert "features.1.stage" in message
