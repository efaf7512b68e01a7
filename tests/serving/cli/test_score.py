"""`leadscore score` through the real CLI: a real champion in a real MLflow store (tmp),
a Parquet and a CSV export streamed in chunks, bad input refused by row and column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from serving.cli.main import app
from tests.training.conftest import OUTCOMES, register
from training import compiled
from training.model import LeadModel
from training.registry import load_champion
from training.settings import TrainingSettings
from training.trainer import TrainOptions, train_model

ROWS = 2_000
#: Few, shallow trees: the compiled path compiles them in about a second.
SMALL = {"learning_rate": 0.3, "num_leaves": 8}


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    frame, _truth = generate_leads(n=ROWS, seed=21)
    return frame


@pytest.fixture(scope="module")
def champion(
    tmp_path_factory: pytest.TempPathFactory, leads: pd.DataFrame
) -> Iterator[tuple[TrainingSettings, LeadModel]]:
    """A trained leadscore-arrival-sql registered as champion in a fresh MLflow store."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_DATA_DIR", str(tmp_path_factory.mktemp("score") / "data"))
        patch.setenv("OMP_NUM_THREADS", "1")  # the command sets these; restored after
        patch.setenv("OMP_WAIT_POLICY", "passive")
        settings = TrainingSettings()
        data = prepare_frame(load_spec("demo"), leads)
        options = TrainOptions(known_at=KnownAt.ARRIVAL, target="sql", params=SMALL, refit=False)
        register(train_model(data, options), settings)
        loaded = load_champion(settings.tracking_uri, "leadscore-arrival-sql")
        assert loaded is not None
        yield settings, loaded.model


def expected(model: LeadModel, frame: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    data = prepare_frame(load_spec("demo"), frame)
    return pd.Series(model.predict_proba(data.frame), index=data.ids).loc[ids].to_numpy()


def test_score_streams_a_parquet_export_into_scores(
    champion: tuple[TrainingSettings, LeadModel], leads: pd.DataFrame, tmp_path: Path
) -> None:
    _settings, model = champion
    source = tmp_path / "new_leads.parquet"
    leads.drop(columns=OUTCOMES).to_parquet(source)
    out = tmp_path / "scores.parquet"
    args = ["score", "--data", str(source), "--out", str(out), "--chunk-size", "600"]
    result = CliRunner().invoke(app, [*args, "--no-compiled"])
    assert result.exit_code == 0, result.output
    assert f"{ROWS} of {ROWS} rows read, {ROWS} scored" in result.output  # plain, piped
    assert "leadscore-arrival-sql v1" in result.output
    scores = pd.read_parquet(out)
    assert len(scores) == ROWS
    np.testing.assert_allclose(
        scores["probability"], expected(model, leads, scores["id"]), rtol=0, atol=1e-12
    )
    assert set(scores["tier"]) <= set("ABCD")
    if not compiled.available():
        pytest.skip("the `compiled` extra is not installed: only the Booster path was run")
    fast_out = tmp_path / "fast.parquet"
    fast = CliRunner().invoke(app, ["score", "--data", str(source), "--out", str(fast_out)])
    assert fast.exit_code == 0, fast.output
    assert "(compiled)" in fast.output
    fast_scores = pd.read_parquet(fast_out)
    assert list(fast_scores["id"]) == list(scores["id"])
    np.testing.assert_allclose(fast_scores["probability"], scores["probability"], atol=1e-9)


def test_score_reads_a_csv_with_a_version_and_reasons(
    champion: tuple[TrainingSettings, LeadModel], leads: pd.DataFrame, tmp_path: Path
) -> None:
    _settings, model = champion
    source = tmp_path / "new_leads.csv"
    leads.head(300).to_csv(source, index=False)
    out = tmp_path / "scores.parquet"
    args = ["score", "--data", str(source), "--out", str(out), "--model", "1", "--reasons", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    assert list(scores.columns) == ["id", "probability", "tier", "reasons"]
    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    np.testing.assert_allclose(
        scores["probability"], expected(model, text, scores["id"]), rtol=0, atol=1e-9
    )


def test_bad_input_is_refused_by_column_and_nothing_is_written(
    champion: tuple[TrainingSettings, LeadModel], leads: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "no_channel.parquet"
    leads.drop(columns=["channel"]).to_parquet(source)
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(app, ["score", "--data", str(source), "--out", str(out)])
    assert result.exit_code == 1
    assert "channel" in result.output
    assert "missing column" in result.output
    assert not out.exists()

    missing = CliRunner().invoke(
        app, ["score", "--data", str(source), "--out", str(out), "--target", "won"]
    )
    assert missing.exit_code == 1
    assert "leadscore-arrival-won" in missing.output
    assert "leadscore train" in missing.output

    wrong = CliRunner().invoke(
        app, ["score", "--data", str(source), "--out", str(out), "--known-at", "later"]
    )
    assert wrong.exit_code == 1
    assert "arrival or qualified" in wrong.output
    assert not out.exists()
