"""Row-order splits: `ordered` (first rows train, last rows test) and the rolling /
expanding backtests, planned and trained with real LightGBM on a small file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from features.dataset import LeadData, load_dataset
from features.spec import BacktestSplit, load_spec
from training.splits import TrainingError, backtest_plan, plan_split
from training.trainer import TrainOptions, train_model

ROWS = 1_200
FAST = {"learning_rate": 0.2, "num_leaves": 7}


def _data(tmp_path: Path, split: dict[str, object], seq: bool = False) -> LeadData:
    rng = np.random.default_rng(3)
    x = rng.normal(size=ROWS)
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-2 * x))).astype(int)
    order = rng.permutation(ROWS) if seq else np.arange(ROWS)
    lines = ["seq;x;kind;y"] + [
        f"{order[i]};{x[i]:.4f};{'ab'[i % 2]};{'yes' if y[i] else 'no'}" for i in range(ROWS)
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = {
        "name": "ordered",
        "data": "rows.csv",
        "targets": {"y": {"kind": "binary", "column": "y", "positive": ["yes"]}},
        "features": [
            {"column": "x", "type": "numeric"},
            {"column": "kind", "type": "categorical"},
        ],
        "split": split,
    }
    if not seq:
        spec["drop"] = [{"column": "seq", "reason": "not used"}]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_dataset(load_spec(path))


def test_ordered_split_trains_on_the_first_rows(tmp_path: Path) -> None:
    data = _data(tmp_path, {"kind": "ordered", "test_share": 0.25})
    plan = plan_split(data, "y", TrainOptions(target="y"))
    [fold] = plan.folds
    assert plan.kind == "ordered"
    assert plan.ordered
    assert not plan.windows
    assert np.array_equal(fold.train, np.arange(900))
    assert np.array_equal(fold.test, np.arange(900, ROWS))
    assert "first 900 rows in file order" in plan.description


def test_ordered_split_by_a_sequence_column(tmp_path: Path) -> None:
    data = _data(tmp_path, {"kind": "ordered", "test_share": 0.25, "by": "seq"}, seq=True)
    rng = np.random.default_rng(3)  # the same draws as _data: the file's seq values
    rng.normal(size=ROWS)
    rng.random(ROWS)
    seq = rng.permutation(ROWS)
    file_rows = [int(i) - 2 for i in data.ids]  # ids are file lines (header = line 1)
    assert file_rows == list(np.argsort(seq))  # the rows come sorted by seq
    assert "the order of 'seq'" in plan_split(data, "y", TrainOptions(target="y")).description


def test_expanding_and_rolling_windows_are_consecutive() -> None:
    y = np.tile([0, 1], 500)
    expanding = backtest_plan(1000, y, BacktestSplit(kind="expanding", windows=4, test_share=0.1))
    assert [(f.test[0], f.test[-1]) for f in expanding.folds] == [
        (600, 699),
        (700, 799),
        (800, 899),
        (900, 999),
    ]
    assert all(f.train[0] == 0 and f.train[-1] == f.test[0] - 1 for f in expanding.folds)
    rolling = backtest_plan(
        1000, y, BacktestSplit(kind="rolling", windows=4, test_share=0.1, train_share=0.3)
    )
    assert all(len(f.train) == 300 and f.train[-1] == f.test[0] - 1 for f in rolling.folds)


def test_a_window_with_one_class_is_refused() -> None:
    y = np.r_[np.tile([0, 1], 450), np.zeros(100, dtype=int)]
    with pytest.raises(TrainingError, match="window 4 test rows"):
        backtest_plan(1000, y, BacktestSplit(kind="expanding", windows=4, test_share=0.1))


def test_a_backtest_trains_and_reports_every_window(tmp_path: Path) -> None:
    split = {"kind": "rolling", "windows": 3, "test_share": 0.1, "train_share": 0.4}
    data = _data(tmp_path, split)
    result = train_model(data, TrainOptions(target="y", params=FAST, refit=False))
    windows = result.evaluation.windows["lightgbm"]
    assert len(windows) == 3
    assert all(w.roc_auc > 0.7 for w in windows)  # x drives y strongly
    mean = result.evaluation.window_mean("lightgbm", "roc_auc")
    assert mean == pytest.approx(np.mean([w.roc_auc for w in windows]))
    assert set(result.evaluation.windows) >= {"lightgbm", "logistic", "lightgbm_default"}
    assert result.rows_test == 360


def test_ordered_training_validates_on_the_latest_training_rows(tmp_path: Path) -> None:
    data = _data(tmp_path, {"kind": "ordered", "test_share": 0.25})
    result = train_model(data, TrainOptions(target="y", params=FAST))
    assert result.split.kind == "ordered"
    assert result.evaluation.metrics["lightgbm"].roc_auc > 0.7
    assert result.evaluation.windows == {}
    assert np.array_equal(result.evaluation.rows, np.arange(900, ROWS))


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({"kind": "rolling", "windows": 3, "test_share": 0.1}, "needs train_share"),
        ({"kind": "expanding", "windows": 10, "test_share": 0.1}, "leave no training rows"),
        ({"kind": "ordered", "test_share": 1.5}, "split.ordered.test_share"),
    ],
)
def test_broken_splits_are_refused(tmp_path: Path, split: dict[str, object], expected: str) -> None:
    from features.spec import SpecError

    with pytest.raises(SpecError, match=expected):
        _data(tmp_path, split)
