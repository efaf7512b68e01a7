"""A real MLflow store in a temporary directory: logging, registry aliases, reload parity."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from features.dataset import LeadData
from features.spec import KnownAt
from serving.cli.main import app
from tests.training.conftest import register
from training.registry import (
    CANDIDATE,
    CHAMPION,
    champion_version,
    ensure_experiment,
    list_versions,
    load_champion,
    mlflow_client,
    model_name,
    promote,
    set_alias,
)
from training.settings import TrainingSettings
from training.trainer import TrainOptions, TrainResult, train_model


@pytest.fixture(scope="module")
def trained(demo_data: LeadData) -> TrainResult:
    options = TrainOptions(known_at=KnownAt.ARRIVAL, params={"learning_rate": 0.1}, refit=False)
    return train_model(demo_data, options)


def test_first_version_is_champion_and_reload_is_identical(
    trained: TrainResult, demo_data: LeadData, mlflow_settings: TrainingSettings
) -> None:
    name = model_name("arrival", "sql")
    assert name == "leadscore-arrival-sql"
    assert model_name("arrival", "won", "olist") == "leadscore-olist-arrival-won"
    first = register(trained, mlflow_settings, demo_data.frame.head(300))
    assert champion_version(mlflow_settings.tracking_uri, name) == first

    loaded = load_champion(mlflow_settings.tracking_uri, name)
    assert loaded is not None
    assert loaded.version == first
    rows = demo_data.frame.tail(500)
    assert np.array_equal(loaded.model.predict_proba(rows), trained.model.predict_proba(rows))
    records = rows.head(50).to_dict(orient="records")
    assert np.allclose(
        loaded.model.predict_proba(records), trained.model.predict_proba(rows.head(50))
    )

    # a second version is registered but does not take the champion alias by itself
    second = register(trained, mlflow_settings, demo_data.frame.head(300))
    assert second != first
    assert champion_version(mlflow_settings.tracking_uri, name) == first
    versions = [r for r in list_versions(mlflow_settings.tracking_uri) if r.name == name]
    assert {r.version for r in versions} == {first, second}
    assert next(r for r in versions if r.version == first).aliases == [CHAMPION]
    assert next(r for r in versions if r.version == first).metrics["test.roc_auc"] > 0.55


def test_models_command_lists_versions(
    trained: TrainResult,
    demo_data: LeadData,
    mlflow_settings: TrainingSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(mlflow_settings.data_dir))
    empty = runner.invoke(app, ["models"])
    assert empty.exit_code == 0
    assert "No registered models" in empty.output
    register(trained, mlflow_settings, demo_data.frame.head(300))
    listed = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "leadscore-arrival-sql" in listed.output
    assert "champion" in listed.output


def test_no_champion_loads_as_none(mlflow_settings: TrainingSettings) -> None:
    assert load_champion(mlflow_settings.tracking_uri, "leadscore-arrival-sql") is None


def test_a_chained_won_model_reloads_identically(
    demo_data: LeadData, mlflow_settings: TrainingSettings
) -> None:
    options = TrainOptions(known_at=KnownAt.ARRIVAL, target="won", params={"learning_rate": 0.1})
    result = train_model(demo_data, options)
    register(result, mlflow_settings, demo_data.frame.head(300))
    loaded = load_champion(mlflow_settings.tracking_uri, model_name("arrival", "won"))
    assert loaded is not None
    assert type(loaded.model.members[0].estimator).__name__ == "ChainEstimator"
    rows = demo_data.frame.tail(300)
    assert np.array_equal(loaded.model.predict_proba(rows), result.model.predict_proba(rows))


def test_the_experiment_opens_as_model_development(mlflow_settings: TrainingSettings) -> None:
    uri = mlflow_settings.tracking_uri
    client = mlflow_client(uri)
    fresh = ensure_experiment(uri, "fresh", None)
    # one created before the mark existed (e.g. by an older leadscore) gets it on next use
    older = client.create_experiment("older")
    assert ensure_experiment(uri, "older", None) == older
    for experiment_id in (fresh, older):
        tags = client.get_experiment(experiment_id).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development"


def test_promoting_a_candidate_makes_it_champion_and_drops_the_candidate_alias(
    trained: TrainResult, mlflow_settings: TrainingSettings
) -> None:
    uri, name = mlflow_settings.tracking_uri, model_name("arrival", "sql")
    first = register(trained, mlflow_settings)
    second = register(trained, mlflow_settings)
    set_alias(uri, name, CHAMPION, first)
    set_alias(uri, name, CANDIDATE, second)  # what train leaves when a baseline won
    promote(uri, name, second)
    assert champion_version(uri, name) == second
    assert champion_version(uri, name, CANDIDATE) is None
