"""The lean retrain data path: the settled leads are picked by row (no copy per target),
only the columns the spec reads are validated, and the large-data fit reads its training
rows in place; the labels, the data set and the model are those of the copying path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.checks import read_columns
from features.coerce import as_object_array
from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from training.options import TrainOptions
from training.retraining.labels import label_settled, read_outcomes, utc_timestamp
from training.retraining.settle import settle_shared, subset_data
from training.splits import plan_split
from training.trainer import fit_final


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    frame, _ = generate_leads(n=2500, seed=21)
    return frame


def _as_of(frame: pd.DataFrame) -> pd.Timestamp:
    return utc_timestamp(frame["arrived_at"].max()) - pd.Timedelta(days=30)


def _values(data: LeadData) -> dict[str, list[object]]:
    return {c: as_object_array(data.frame[c]).tolist() for c in data.frame.columns}


def test_settling_by_row_gives_the_copying_path_s_data(leads: pd.DataFrame) -> None:
    spec, as_of = load_spec("demo"), _as_of(leads)
    lean = settle_shared(spec, leads, ["sql", "won"], as_of, 90)
    for target, reach in (("sql", "sql"), ("won", "won")):
        settled, data = lean.of(target)
        assert data is not None
        # the copying path: every column of the settled leads, validated whole
        settled_whole = label_settled(leads, as_of, 90, reach=reach).frame
        whole = prepare_frame(spec, settled_whole, source="<frame> (settled)")
        assert list(data.ids) == list(whole.ids)
        assert data.targets[target].tolist() == whole.targets[target].tolist()
        assert [str(w) for w in data.warnings] == [str(w) for w in whole.warnings]
        assert _values(data) == _values(whole)
        assert settled.summary().startswith(f"{len(whole)} settled leads")


def test_targets_share_the_input_frame_and_copy_only_the_columns_asked(
    leads: pd.DataFrame,
) -> None:
    outcomes = read_outcomes(leads, _as_of(leads), 90)
    sql, won = outcomes.settled("sql"), outcomes.settled("won")
    assert sql.source is won.source is outcomes.frame
    picked = sql.frame_of(["external_id", "stage_reached"])
    assert list(picked.columns) == ["external_id", "stage_reached"]
    whole = sql.frame
    assert "status_history" in whole.columns
    assert picked["stage_reached"].tolist() == whole["stage_reached"].tolist()
    assert len(picked) == int(sql.mask.sum()) > len(won.frame_of(["external_id"]))
    assert set(read_columns(load_spec("demo"))) <= set(leads.columns)


def test_the_open_leads_are_the_open_rows_as_they_are_now(leads: pd.DataFrame) -> None:
    settled = label_settled(leads, _as_of(leads), 90, reach="sql")
    open_ids = settled.open_frame_of(["external_id"])["external_id"].tolist()
    assert open_ids == leads.loc[settled.open_at, "external_id"].tolist()
    assert 0 < len(open_ids) < len(leads)


def test_all_rows_of_a_data_set_are_the_data_set_itself(leads: pd.DataFrame) -> None:
    data = prepare_frame(load_spec("demo"), leads.head(300))
    assert subset_data(data, np.arange(len(data))) is data
    fewer = subset_data(data, np.arange(1, len(data)))
    assert len(fewer) == len(data) - 1
    assert list(fewer.ids) == list(data.ids[1:])


def test_fitting_on_rows_in_place_is_fitting_on_their_copy(leads: pd.DataFrame) -> None:
    data = prepare_frame(load_spec("demo"), leads)
    rows = np.arange(int(0.8 * len(data)))
    options = TrainOptions(target="sql", params={"num_threads": 1}, seed=3)
    in_place = fit_final(data, options, rows)
    copied = fit_final(subset_data(data, rows), options)
    window = data.frame.iloc[len(rows) :]
    np.testing.assert_array_equal(in_place.predict_proba(window), copied.predict_proba(window))


def test_the_shared_data_set_holds_each_target_s_data_set_at_its_rows(
    leads: pd.DataFrame,
) -> None:
    spec, as_of = load_spec("demo"), _as_of(leads)
    shared = settle_shared(spec, leads, ["sql", "won"], as_of, 90)

    assert shared.data is not None
    for target in ("sql", "won"):
        _settled, rows = shared.targets[target]
        _same, data = shared.of(target)  # a copy of those rows
        assert data is not None
        assert list(shared.data.ids[rows]) == list(data.ids)
        assert shared.data.targets[target][rows].tolist() == data.targets[target].tolist()
    assert len(shared.targets["won"][1]) < len(shared.targets["sql"][1]) == len(shared.data)


def test_splitting_row_positions_is_splitting_their_data_set(leads: pd.DataFrame) -> None:
    spec, as_of = load_spec("demo"), _as_of(leads)
    shared = settle_shared(spec, leads, ["sql", "won"], as_of, 90)
    assert shared.data is not None
    _settled, rows = shared.targets["won"]
    alone = subset_data(shared.data, rows)
    assert alone.times is not None
    start = alone.times[len(alone) // 2].date()
    options = TrainOptions(target="won", test_start=start)
    by_rows = plan_split(shared.data, "won", options, rows)
    copied = plan_split(alone, "won", options)
    assert by_rows.description == copied.description
    for mine, theirs in zip(by_rows.folds, copied.folds, strict=True):
        assert mine.train.tolist() == rows[theirs.train].tolist()
        assert mine.test.tolist() == rows[theirs.test].tolist()
