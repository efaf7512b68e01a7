"""Loading and validating data sets: the real exports, broken files, the demo shape, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features.dataset import (
    ROWS_LISTED_PER_COLUMN,
    DatasetError,
    LeadData,
    Problem,
    channel_counts,
    load_dataset,
    prepare_frame,
    read_table,
)
from features.funnel import Status
from features.lead import Lead, lead_to_record
from features.spec import DatasetSpec, load_spec
from serving.cli.main import app
from tests.features.tiny_spec import TINY_SPEC_HEAD

SHARED_DATA = Path(__file__).parents[3] / "shared" / "data"


def _real_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present: {SHARED_DATA} (real-data tests need it)")
    return SHARED_DATA


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def x_education() -> LeadData:
    _real_data()
    return load_dataset(load_spec("x_education"))


@pytest.fixture(scope="module")
def olist() -> LeadData:
    _real_data()
    return load_dataset(load_spec("olist"))


@pytest.mark.realdata
def test_x_education_loads_every_lead(x_education: LeadData) -> None:
    assert len(x_education) == 9240
    assert x_education.targets["converted"].dtype == np.int8
    assert int(x_education.targets["converted"].sum()) == 3561
    assert x_education.times is None
    assert len(set(x_education.ids)) == 9240
    assert x_education.warnings == []  # every column is a role, a feature or dropped


@pytest.mark.realdata
def test_x_education_keeps_no_dropped_or_target_column(x_education: LeadData) -> None:
    spec = x_education.spec
    columns = list(x_education.frame.columns)
    assert not [c for c in columns if any(d.matches(c) for d in spec.drop)]
    assert "Converted" not in columns
    assert "Tags" not in columns
    assert "Asymmetrique Activity Score" not in columns
    assert columns[0] == "Prospect ID"
    assert len(x_education.frame) == 9240


@pytest.mark.realdata
def test_x_education_select_becomes_missing(x_education: LeadData) -> None:
    specialization = x_education.frame["Specialization"]
    assert "Select" not in set(specialization.dropna())
    assert int(specialization.isna().sum()) == 1942 + 1438  # "Select" + blank
    assert int(x_education.frame["TotalVisits"].isna().sum()) == 137


@pytest.mark.realdata
def test_x_education_channels(x_education: LeadData) -> None:
    rows = {row.channel: row for row in channel_counts(x_education)}
    assert rows["Google"].leads == 2868
    assert rows["unknown"].leads == 36  # blank Lead Source
    assert sum(r.positives["converted"] for r in rows.values()) == 3561


@pytest.mark.realdata
def test_olist_loads_with_membership_target(olist: LeadData) -> None:
    assert len(olist) == 8000
    assert int(olist.targets["won"].sum()) == 842
    assert list(olist.frame.columns) == [
        "mql_id",
        "first_contact_date",
        "origin",
        "landing_page_id",
    ]
    assert olist.times is not None
    assert olist.times.tz is not None
    assert olist.times.is_monotonic_increasing
    assert str(olist.times.min().date()) == "2017-06-14"
    assert str(olist.times.max().date()) == "2018-05-31"


@pytest.mark.realdata
def test_olist_blank_origin_becomes_unknown_channel(olist: LeadData) -> None:
    assert int(olist.frame["origin"].isna().sum()) == 60
    assert int((olist.frame["origin"] == "unknown").sum()) == 1099
    assert int((olist.channels == "unknown").sum()) == 1099 + 60


@pytest.mark.realdata
def test_olist_rows_stay_aligned_after_sorting(olist: LeadData) -> None:
    deals = pd.read_csv(SHARED_DATA / "olist_marketing_funnel" / "olist_closed_deals_dataset.csv")
    won = set(deals["mql_id"])
    expected = np.array([i in won for i in olist.ids], dtype=np.int8)
    assert np.array_equal(olist.targets["won"], expected)
    assert list(olist.frame["mql_id"]) == list(olist.ids)


# ------------------------------------------------------------------ a small spec + CSV

HEADER = "id,arrived,channel,visits,subscribed,size,budget,currency,status,region,notes"
GOOD_ROWS = [
    "a1,2024-01-03T10:00:00Z,seo,3,yes,small,100,RUB,won,north,x",
    "a2,2024-01-01,ppc,,no,large,,,lost,Select,y",
    "a3,2024-01-02,,7,,,20,USD,new,south,",
]


def _spec_dict() -> dict[str, Any]:
    return {
        **TINY_SPEC_HEAD,
        "missing_values": ["", "Select"],
        "drop": [{"column": "notes", "reason": "free text typed by sales"}],
        "targets": {
            "won": {
                "kind": "status",
                "column": "status",
                "reach": "won",
                "stage_map": {"new": "lead", "lost": "mql", "won": "won"},
            }
        },
        "features": [
            {"column": "channel", "type": "categorical"},
            {"column": "visits", "type": "numeric"},
            {"column": "subscribed", "type": "boolean"},
            {"column": "size", "type": "ordinal", "order": ["small", "large"]},
            {
                "column": "budget",
                "type": "money",
                "currency_column": "currency",
                "rates": {"RUB": 1.0, "USD": 90.0},
                "known_at": "qualified",
            },
            {"column": "region", "type": "categorical"},
        ],
        "split": {"kind": "time", "test_months": 1},
    }


def _spec(tmp_path: Path, **changes: Any) -> Path:
    raw = {**_spec_dict(), **changes}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _csv(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _problems(spec: DatasetSpec, path: Path) -> list[Problem]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(spec, path)
    return caught.value.problems


def _where(problems: list[Problem]) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in problems}


def test_good_file_loads_sorted_by_time(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    data = load_dataset(spec, _csv(tmp_path, GOOD_ROWS))
    assert list(data.ids) == ["a2", "a3", "a1"]
    assert list(data.frame["id"]) == ["a2", "a3", "a1"]
    assert list(data.targets["won"]) == [0, 0, 1]
    assert list(data.channels) == ["ppc", "unknown", "seo"]
    assert data.times is not None
    assert str(data.times.tz) == "UTC"
    assert data.times[2] == pd.Timestamp("2024-01-03T10:00:00Z")
    assert "notes" not in data.frame.columns
    assert "status" not in data.frame.columns
    assert data.campaigns is None
    assert data.source == str(tmp_path / "leads.csv")
    assert data.warnings == []


def test_missing_markers_become_missing(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    data = load_dataset(spec, _csv(tmp_path, GOOD_ROWS))
    row = data.frame.set_index("id").loc["a2"]
    assert pd.isna(row["region"])  # "Select"
    assert pd.isna(row["visits"])  # ""
    assert pd.isna(data.frame.set_index("id").loc["a3", "channel"])


def test_spec_data_path_is_used_when_no_path_given(tmp_path: Path) -> None:
    _csv(tmp_path, GOOD_ROWS)
    data = load_dataset(load_spec(_spec(tmp_path)))
    assert len(data) == 3


def test_no_path_and_no_spec_data_is_a_clear_error(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, data=None))
    with pytest.raises(DatasetError, match="the spec names no data file"):
        load_dataset(spec)


def test_broken_file_names_every_line_and_column(tmp_path: Path) -> None:
    rows = [
        "a1,2024-01-03,seo,3,yes,small,100,RUB,won,north,x",  # line 2: fine
        "a2,2024-01-01,ppc,abc,no,large,,,lost,south,y",  # line 3: visits not a number
        "a3,yesterday,seo,1,maybe,,x1,RUB,new,north,",  # line 4: time, boolean, amount
        "a1,2024-01-05,seo,1,no,,,,lost,north,",  # line 5: duplicate id
        "a5,2024-01-06,seo,1,no,,,,sold,north,",  # line 6: unknown status
        "a6,2024-01-07,seo,1,no,,,,,north,",  # line 7: missing status
        ",2024-01-08,seo,1,no,,,,new,north,",  # line 8: missing id
    ]
    path = _csv(tmp_path, rows)
    problems = _problems(load_spec(_spec(tmp_path)), path)
    assert all(p.file == str(path) for p in problems)
    assert _where(problems) == {
        (3, "visits"),
        (4, "arrived"),
        (4, "subscribed"),
        (4, "budget"),
        (5, "id"),
        (6, "status"),
        (7, "status"),
        (8, "id"),
    }
    text = {(p.row, p.column): p.message for p in problems}
    assert text[(3, "visits")] == "cannot read 'abc'; expected a number"
    assert "cannot read time 'yesterday'" in text[(4, "arrived")]
    assert "ISO 8601" in text[(4, "arrived")]
    assert text[(5, "id")] == "duplicate id 'a1' (first on line 2)"
    assert text[(6, "status")] == "unknown status 'sold'; known: new, lost, won"
    assert "missing value of target 'won'" in text[(7, "status")]
    assert text[(8, "id")] == "missing id"


def test_problem_text_has_file_line_and_column(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["a1,2024-01-03,seo,abc,yes,small,1,RUB,won,north,x"])
    with pytest.raises(DatasetError) as caught:
        load_dataset(load_spec(_spec(tmp_path)), path)
    assert f"{path}:2: column 'visits': cannot read 'abc'; expected a number" in str(caught.value)
    assert str(caught.value).startswith("1 problem in the data:")


def test_missing_columns_are_named_with_a_suggestion(tmp_path: Path) -> None:
    header = HEADER.replace("visits", "Visits").replace("region", "regoin")
    header = header.replace(",status", ",stat")
    path = _csv(tmp_path, ["a1,2024-01-03,seo,3,yes,small,100,RUB,won,north,x"], header=header)
    problems = _problems(load_spec(_spec(tmp_path)), path)
    messages = {p.column: p.message for p in problems}
    assert set(messages) == {"visits", "region", "status", None}
    assert all(p.row is None and p.file == str(path) for p in problems if p.column)
    header_problem = next(p for p in problems if p.column is None)
    assert header_problem.row == 1
    assert "the header read has 11 column(s): 'id', 'arrived'" in header_problem.message
    assert "an input of feature 'visits'" in messages["visits"]
    assert "did you mean 'Visits'?" in messages["visits"]
    assert "did you mean 'regoin'?" in messages["region"]
    assert "target 'won'" in messages["status"]


def test_missing_id_time_and_channel_columns(tmp_path: Path) -> None:
    path = _csv(
        tmp_path, ["3,yes,small,100,RUB,won,north"], header=",".join(HEADER.split(",")[3:10])
    )
    problems = _problems(load_spec(_spec(tmp_path)), path)
    roles = {p.column: p.message for p in problems}
    assert "the id column" in roles["id"]
    assert "the time column" in roles["arrived"]
    assert "the channel column" in roles["channel"]


def test_listing_stops_at_twenty_rows_per_column_with_a_count(tmp_path: Path) -> None:
    rows = [f"id{i},2024-01-01,seo,bad{i},no,,,,new,north," for i in range(25)]
    problems = _problems(load_spec(_spec(tmp_path)), _csv(tmp_path, rows))
    listed = [p for p in problems if p.row is not None]
    assert len(listed) == ROWS_LISTED_PER_COLUMN
    assert listed[0].row == 2
    assert listed[-1].row == ROWS_LISTED_PER_COLUMN + 1
    summary = [p for p in problems if p.row is None]
    assert len(summary) == 1
    assert summary[0].message.startswith("25 rows in all")


def test_error_text_is_capped_at_fifty_problems() -> None:
    problems = [Problem("f.csv", i, "c", "bad") for i in range(2, 62)]
    text = str(DatasetError(problems))
    assert text.startswith("60 problems in the data:")
    assert "f.csv:51: column 'c': bad" in text
    assert "f.csv:52:" not in text
    assert text.endswith("... and 10 more")


def test_unknown_ordinal_and_currency_are_warnings(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, "a4,2024-01-04,seo,1,no,huge,5,XYZ,new,north,"]
    data = load_dataset(load_spec(_spec(tmp_path)), _csv(tmp_path, rows))
    assert len(data) == 4
    where = {(w.row, w.column): w.message for w in data.warnings}
    assert set(where) == {(5, "size"), (5, "currency")}
    assert "'huge' is outside the order (small, large)" in where[(5, "size")]
    assert "'XYZ' is a currency with no rate (RUB, USD)" in where[(5, "currency")]
    assert data.frame.set_index("id").loc["a4", "size"] == "huge"  # kept for the pipeline


def test_unused_columns_are_a_warning(tmp_path: Path) -> None:
    header = HEADER + ",favourite_colour"
    rows = [row + ",blue" for row in GOOD_ROWS]
    data = load_dataset(load_spec(_spec(tmp_path)), _csv(tmp_path, rows, header=header))
    assert [w.message for w in data.warnings] == [
        "columns not named by the spec are ignored: favourite_colour"
    ]
    assert "favourite_colour" not in data.frame.columns


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert [p.message for p in _problems(spec, empty)] == ["the file is empty"]
    header_only = _csv(tmp_path, [], name="header.csv")
    assert "no data rows" in _problems(spec, header_only)[0].message


def test_missing_file_is_named(tmp_path: Path) -> None:
    problems = _problems(load_spec(_spec(tmp_path)), tmp_path / "gone.csv")
    assert problems == [Problem(str(tmp_path / "gone.csv"), None, None, "no such file")]


def test_read_table_keeps_csv_text_as_is(tmp_path: Path) -> None:
    frame = read_table(_csv(tmp_path, GOOD_ROWS))
    assert frame.loc[1, "region"] == "Select"
    assert frame.loc[1, "visits"] == ""
    assert frame.loc[0, "visits"] == "3"


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    frame = read_table(_csv(tmp_path, GOOD_ROWS))
    frame["visits"] = pd.array([3.0, None, 7.0], dtype="Float64")
    frame.loc[2, "arrived"] = "not a date"
    path = tmp_path / "leads.parquet"
    frame.to_parquet(path)
    problems = _problems(load_spec(_spec(tmp_path)), path)
    assert _where(problems) == {(3, "arrived")}


def test_binary_target_values(tmp_path: Path) -> None:
    targets = {"won": {"kind": "binary", "column": "status", "positive": ["won", "yes"]}}
    spec = load_spec(_spec(tmp_path, targets=targets))
    rows = [
        "a1,2024-01-01,seo,1,no,,,,Won,north,",
        "a2,2024-01-02,seo,1,no,,,,no,north,",
        "a3,2024-01-03,seo,1,no,,,,0,north,",
        "a4,2024-01-04,seo,1,no,,,,FALSE,north,",
    ]
    data = load_dataset(spec, _csv(tmp_path, rows))
    assert list(data.targets["won"]) == [1, 0, 0, 0]
    bad = _problems(spec, _csv(tmp_path, [*rows, "a5,2024-01-05,seo,1,no,,,,maybe,north,"]))
    assert _where(bad) == {(6, "status")}
    assert "'maybe' is not a target value; expected won, yes (positive)" in bad[0].message


def _membership_spec(tmp_path: Path) -> DatasetSpec:
    targets = {
        "won": {"kind": "membership", "path": "deals.csv", "key": "lead_id", "time_column": "at"}
    }
    return load_spec(_spec(tmp_path, targets=targets))


def test_membership_target_reads_the_file_next_to_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "export"
    data_dir.mkdir()
    path = _csv(data_dir, GOOD_ROWS)
    _csv(data_dir, ["a3,2024-02-01", "zz,2024-02-01"], header="lead_id,at", name="deals.csv")
    data = load_dataset(_membership_spec(tmp_path), path)
    assert dict(zip(data.ids, data.targets["won"], strict=True)) == {"a1": 0, "a2": 0, "a3": 1}
    deals = str(data_dir / "deals.csv")
    assert Problem(deals, None, "lead_id", "1 ids of target 'won' are not leads") in data.warnings
    assert "status" not in data.frame.columns
    unused = "columns not named by the spec are ignored: status"
    assert Problem(str(path), None, None, unused) in data.warnings


def test_membership_file_missing_or_without_key(tmp_path: Path) -> None:
    spec = _membership_spec(tmp_path)
    path = _csv(tmp_path, GOOD_ROWS)
    gone = _problems(spec, path)
    assert len(gone) == 1
    assert gone[0].file == str(tmp_path / "deals.csv")
    assert "file of target 'won' cannot be used: no such file" in gone[0].message
    _csv(tmp_path, ["a1,2024-02-01"], header="leadid,at", name="deals.csv")
    no_key = _problems(spec, path)
    deals = str(tmp_path / "deals.csv")
    assert [(p.file, p.column) for p in no_key] == [(deals, "lead_id"), (deals, None)]
    assert "the header read has 2 column(s): 'leadid', 'at'" in no_key[1].message
    assert "did you mean 'leadid'?" in no_key[0].message


# ------------------------------------------------------------------ the demo shape


def _lead(number: int, history: list[Status], **source: Any) -> Lead:
    arrived = datetime(2024, 5, 1, 9, tzinfo=UTC) + timedelta(hours=number)
    changes = [
        {"status": status, "at": arrived + timedelta(days=i)} for i, status in enumerate(history)
    ]
    won = history[-1] is Status.WON if history else False
    return Lead.model_validate(
        {
            "external_id": f"lead-{number}",
            "arrived_at": arrived,
            "source": {"channel": "seo", **source},
            "bant": {"budget": {"amount": 250000, "currency": "RUB"}, "need_fit": "strong"},
            "questionnaire": {"service": "seo", "answers": {"site_age_years": number}},
            "status_history": changes,
            "deal_value": {"amount": 1e6, "currency": "RUB"} if won else None,
        }
    )


def _demo_frame(leads: list[Lead]) -> pd.DataFrame:
    spec = load_spec("demo")
    records = []
    for lead in leads:
        record = lead_to_record(lead)
        record["stage_reached"] = lead.stage_reached.value
        record["status"] = lead.status.value
        records.append(record)
    columns = [c for f in spec.features for c in f.input_columns]
    frame = pd.DataFrame.from_records(records)
    return frame.reindex(columns=list(dict.fromkeys([*frame.columns, *columns])))


def test_demo_records_pass_through_prepare_frame() -> None:
    leads = [
        _lead(3, [Status.NEW, Status.DISCUSSING, Status.LOST], utm_campaign="spring"),
        _lead(1, list(Status)[:9]),
        _lead(2, [Status.NEW, Status.DISQUALIFIED], channel="ppc", email="a@mail.ru"),
        _lead(4, []),
    ]
    data = prepare_frame(load_spec("demo"), _demo_frame(leads), source="lead store")
    assert list(data.ids) == ["lead-1", "lead-2", "lead-3", "lead-4"]
    assert list(data.targets["sql"]) == [1, 0, 1, 0]
    assert list(data.targets["won"]) == [1, 0, 0, 0]
    assert list(data.channels) == ["seo", "ppc", "seo", "seo"]
    assert data.campaigns is not None
    assert list(data.campaigns) == [None, None, "spring", None]
    assert data.times is not None
    assert data.times[0] == pd.Timestamp("2024-05-01T10:00:00Z")
    assert "stage_reached" not in data.frame.columns
    assert "status" not in data.frame.columns
    assert data.source == "lead store"


def test_demo_frame_with_bad_values_names_rows_from_one() -> None:
    frame = _demo_frame([_lead(1, []), _lead(2, [])])
    frame["budget_amount"] = frame["budget_amount"].astype(object)
    frame.loc[1, "budget_amount"] = "lots"
    frame.loc[0, "stage_reached"] = "closed"
    with pytest.raises(DatasetError) as caught:
        prepare_frame(load_spec("demo"), frame)
    where = _where(caught.value.problems)
    assert where == {(2, "budget_amount"), (1, "stage_reached")}
    assert all(p.file == "<frame>" for p in caught.value.problems)


# ------------------------------------------------------------------ the CLI


def test_check_data_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    rows = [*GOOD_ROWS, "a9,2024-01-09,seo,abc,no,,,,sold,north,"]
    path = _csv(tmp_path, rows)
    result = CliRunner().invoke(app, ["check-data", "--spec", str(spec), "--data", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: column 'visits': cannot read 'abc'" in result.output
    assert f"{path}:5: column 'status': unknown status 'sold'" in result.output
    assert "Traceback" not in result.output


def test_check_data_summarises_a_good_file(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _csv(tmp_path, [*GOOD_ROWS, "a4,2024-01-04,seo,1,no,huge,5,RUB,new,north,"])
    result = CliRunner().invoke(app, ["check-data", "--spec", str(spec)])
    # four leads in one month cannot fill a training and a test period: the split fails
    assert result.exit_code == 1, result.output
    for line in (
        "the training period of the time split has 0 leads",
        "tiny: 4 leads",
        "time range: 2024-01-01 .. 2024-01-04",
        "target won: 1 positive (25.0%)",
        "seo",
        "'huge' is outside the order",
    ):
        assert line in result.output


def test_check_data_reports_a_broken_spec(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check-data", "--spec", str(spec)])
    assert result.exit_code == 1
    assert "not valid YAML" in result.output


def _xlsx(tmp_path: Path, rows: list[str]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in [HEADER, *rows]:
        sheet.append([cell if cell else None for cell in line.split(",")])
    path = tmp_path / "leads.xlsx"
    book.save(path)
    return path


def test_an_excel_export_loads_as_its_csv_does(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    from_csv = load_dataset(spec, _csv(tmp_path, GOOD_ROWS))
    from_excel = load_dataset(spec, _xlsx(tmp_path, GOOD_ROWS))
    pd.testing.assert_frame_equal(from_excel.frame, from_csv.frame)
    assert list(from_excel.ids) == list(from_csv.ids)
    assert list(from_excel.targets["won"]) == list(from_csv.targets["won"])


def test_a_broken_excel_file_is_named(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"not a workbook")
    problems = _problems(spec, path)
    assert len(problems) == 1
    assert "not a readable .xlsx" in problems[0].message
