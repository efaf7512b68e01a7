"""Writing files, and the `leadscore demo-data` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo import generate_leads, ground_truth_path, write_demo_data
from serving.cli.main import app


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_demo_data(tmp_path / name / "leads.parquet", 1_500, 9)
        write_demo_data(tmp_path / name / "leads.csv", 1_500, 9)
    for file in ("leads.parquet", "leads.csv", "leads.ground_truth.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_cli_writes_parquet_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo" / "leads.parquet"
    result = CliRunner().invoke(app, ["demo-data", "--n", "2000", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "paid_search" in result.output
    assert "oracle ROC-AUC" in result.output
    written = pd.read_parquet(out)
    expected, truth = generate_leads(2_000, 3)
    pd.testing.assert_frame_equal(written, expected)
    stored = json.loads(ground_truth_path(out).read_text(encoding="utf-8"))
    assert ground_truth_path(out).name == "leads.ground_truth.json"
    assert stored == json.loads(json.dumps(truth))


def test_cli_writes_csv_by_extension(tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    result = CliRunner().invoke(app, ["demo-data", "--n", "1500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    expected, _ = generate_leads(1_500, 42)
    assert list(written.columns) == list(expected.columns)
    assert written["external_id"].tolist() == expected["external_id"].tolist()
    assert (pd.to_datetime(written["arrived_at"]) == expected["arrived_at"]).all()
    np.testing.assert_allclose(written["true_p_sql"], expected["true_p_sql"], rtol=1e-12)
    assert (tmp_path / "leads.ground_truth.json").exists()


def test_cli_default_path_comes_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "store"))
    result = CliRunner().invoke(app, ["demo-data", "--n", "500"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "store" / "demo" / "leads.parquet").exists()
    assert (tmp_path / "store" / "demo" / "leads.ground_truth.json").exists()


def test_cli_rejects_an_unknown_extension(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo-data", "--n", "10", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "--out" in result.output
    assert ".parquet" in result.output
    assert not (tmp_path / "x.json").exists()


def test_write_rejects_an_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown data format '\.txt'"):
        write_demo_data(tmp_path / "leads.txt", 10, 1)
