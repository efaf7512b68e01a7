"""`leadscore import` through Typer's CliRunner on a real SQLite store: the summary, a
re-run, refused rows by line and column, a refused file, progress lines. (What the channel
review and retraining read back is tested in tests/serving/store/test_imports.py.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo import generate_leads
from serving.cli.main import app
from serving.store.leads import Store
from serving.store.outcomes import store_frame


@pytest.fixture(scope="module")
def export_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, _truth = generate_leads(120, seed=11)
    path = tmp_path_factory.mktemp("crm") / "export.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'leads.db'}",
        "LEADSCORE_DATA_DIR": str(tmp_path / "data"),
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["import", *args], env=env)
    return result.exit_code, result.output


def test_an_export_is_imported_and_a_re_run_stores_nothing_twice(
    env: dict[str, str], export_csv: Path
) -> None:
    code, out = _run(env, "--spec", "demo", "--data", str(export_csv), "--batch-size", "50")
    assert code == 0, out
    assert "120 leads imported" in out
    assert "stored 50 of 120 leads" in out  # plain progress lines when not a terminal
    assert "stored 120 of 120 leads" in out
    code, out = _run(env, "--spec", "demo", "--data", str(export_csv))
    assert code == 0, out
    assert "0 leads imported" in out
    assert "120 already stored" in out
    store = Store.open(env["LEADSCORE_DATABASE_URL"])
    try:
        assert len(store_frame(store)) == 120
    finally:
        store.close()


def test_refused_rows_are_listed_with_line_and_column_and_exit_1(
    env: dict[str, str], export_csv: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(export_csv, dtype=str, keep_default_na=False)
    frame.loc[2, "arrived_at"] = "31/31/2025"
    frame.loc[6, "status_history"] = "not json"
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    code, out = _run(env, "--spec", "demo", "--data", str(broken))
    assert code == 1
    assert "118 leads imported" in out
    assert f"{broken}:4: column 'arrived_at': cannot read time '31/31/2025'" in out
    assert f"{broken}:8: column 'status_history':" in out


def test_a_file_the_spec_cannot_read_is_refused_whole(
    env: dict[str, str], export_csv: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(export_csv, dtype=str, keep_default_na=False)
    no_ids = tmp_path / "no_ids.csv"
    frame.drop(columns=["external_id"]).to_csv(no_ids, index=False)
    code, out = _run(env, "--spec", "demo", "--data", str(no_ids))
    assert code == 1
    assert "nothing was stored" in out
    assert "external_id" in out
    code, out = _run(env, "--spec", "demo", "--data", str(tmp_path / "missing.csv"))
    assert code == 1
    assert "no such export" in out
    code, out = _run(env, "--spec", "demo", "--data", str(export_csv), "--batch-size", "0")
    assert code == 2


def test_the_help_says_what_the_command_does() -> None:
    result = CliRunner().invoke(app, ["import", "--help"])
    assert result.exit_code == 0
    assert "idempotent" in result.output
    assert "--batch-size" in result.output
