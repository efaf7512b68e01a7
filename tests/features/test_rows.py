"""`rows:` conditions and status targets with positive/negative/ignore: which rows a spec
uses, and the file lines problems name once rows are left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from features.dataset import DatasetError, load_dataset
from features.spec import DatasetSpec, SpecError, load_spec
from features.spec_sources import parse_condition

HEADER = "id,stage,amount,engaged,region"
ROWS = [
    "d1,Won,100,2024-01-05,north",  # line 2
    "d2,Lost,5,2024-01-06,south",  # line 3
    "d3,Engaging,50,,north",  # line 4: open, left out
    "d4,Won,abc,2024-01-08,north",  # line 5
    "d5,Lost,70,2024-02-01,",  # line 6
]


def _spec(tmp_path: Path, **changes: Any) -> DatasetSpec:
    raw: dict[str, Any] = {
        "name": "deals",
        "id_column": "id",
        "time_column": "engaged",
        "targets": {
            "won": {
                "kind": "status",
                "column": "stage",
                "positive": ["Won"],
                "negative": ["Lost"],
                "ignore": ["Engaging"],
            }
        },
        "features": [
            {"column": "amount", "type": "categorical"},
            {"column": "region", "type": "categorical"},
        ],
        "split": {"kind": "time", "test_start": "2024-01-07"},
        **changes,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_open_statuses_are_left_out_and_closed_ones_are_labels(tmp_path: Path) -> None:
    data = load_dataset(_spec(tmp_path), _csv(tmp_path, ROWS))
    assert list(data.ids) == ["d1", "d2", "d4", "d5"]  # d3's blank time is never read
    assert list(data.targets["won"]) == [1, 0, 1, 0]
    assert data.rows_read == 5
    assert [(r.rule, r.rows) for r in data.left_out] == [("target 'won' ignores Engaging", 1)]


def test_an_unknown_status_is_named_with_its_file_line(tmp_path: Path) -> None:
    rows = [*ROWS, "d6,Maybe,1,2024-02-02,north"]  # line 7
    with pytest.raises(DatasetError) as caught:
        load_dataset(_spec(tmp_path), _csv(tmp_path, rows))
    [problem] = caught.value.problems
    assert (problem.row, problem.column) == (7, "stage")
    assert "unknown status 'Maybe'; expected Won (positive) or Lost" in problem.message


def test_without_negative_every_other_status_is_negative(tmp_path: Path) -> None:
    target = {"kind": "status", "column": "stage", "positive": ["Won"], "ignore": ["Engaging"]}
    spec = _spec(tmp_path, targets={"won": target})
    rows = [*ROWS, "d6,Stalled,1,2024-02-02,north"]
    assert list(load_dataset(spec, _csv(tmp_path, rows)).targets["won"]) == [1, 0, 1, 0, 0]


def test_row_conditions_filter_before_anything_else(tmp_path: Path) -> None:
    spec = _spec(tmp_path, rows=["region not missing", "amount >= 10", "stage in [Won, Lost]"])
    data = load_dataset(spec, _csv(tmp_path, ROWS))
    assert list(data.ids) == ["d1"]
    counts = {r.rule: r.rows for r in data.left_out}
    assert counts["rows: region not missing"] == 1
    assert counts["rows: amount >= 10"] == 2  # 5 is below, 'abc' is not a number
    assert any("not a number (first on line 5: 'abc')" in str(w) for w in data.warnings)


def test_date_and_text_comparisons(tmp_path: Path) -> None:
    spec = _spec(tmp_path, rows=["engaged < 2024-01-07", "region != south"])
    assert list(load_dataset(spec, _csv(tmp_path, ROWS)).ids) == ["d1"]


def test_problems_after_a_filter_name_the_lines_of_the_file(tmp_path: Path) -> None:
    rows = [*ROWS, "d7,Won,8,yesterday,north"]  # line 7
    spec = _spec(tmp_path, rows=["region in [north]"])
    with pytest.raises(DatasetError) as caught:
        load_dataset(spec, _csv(tmp_path, rows))
    assert [(p.row, p.column) for p in caught.value.problems] == [(7, "engaged")]


def test_a_condition_on_a_missing_column_is_named(tmp_path: Path) -> None:
    spec = _spec(tmp_path, rows=["regoin in [north]"])
    with pytest.raises(DatasetError, match=r"needed by the rows condition.*did you mean 'region'"):
        load_dataset(spec, _csv(tmp_path, ROWS))


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "Lead Source in [Google, 'Direct Traffic']",
            ("Lead Source", "in", ["Google", "Direct Traffic"]),
        ),
        ("x not in [1, 2]", ("x", "not in", ["1", "2"])),
        ("engage_date not missing", ("engage_date", "not missing", [])),
        ("x is missing", ("x", "missing", [])),
        ("sign in count >= 3", ("sign in count", ">=", ["3"])),
        ("age<18", ("age", "<", ["18"])),
    ],
)
def test_conditions_parse(text: str, parsed: tuple[str, str, list[str]]) -> None:
    got = parse_condition(text)
    assert (got["column"], got["op"], got["values"]) == parsed


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rows": ["stage is Won"]}, "cannot read row condition 'stage is Won'"),
        ({"rows": ["stage in []"]}, "needs a list like [a, b]"),
        (
            {
                "targets": {
                    "won": {
                        "kind": "status",
                        "column": "stage",
                        "positive": ["Won"],
                        "ignore": ["Won"],
                    }
                }
            },
            "status 'Won' is in both positive and ignore",
        ),
        (
            {"targets": {"won": {"kind": "state", "column": "stage"}}},
            "kind must be status (with reach + stage_map, or positive [+ negative])",
        ),
    ],
)
def test_broken_rows_and_targets_name_the_file_and_line(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, **changes)
    message = str(caught.value)
    assert expected in message
    key = next(iter(changes))
    lines = (tmp_path / "spec.yaml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, text in enumerate(lines, start=1) if text.startswith(f"{key}:"))
    assert any(f"spec.yaml:{n}: {key}" in message for n in range(start, start + 4)), message
