"""`leadscore train` through the real CLI on small real files and a real MLflow store: a
baseline that beats LightGBM is held back as `candidate` (exit 3) unless accepted, and a
piped run talks in plain lines, full names, run id, artifacts and top features, without
MLflow's chatter. Also the console's pure parts: the chatter filter, the step lines."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from serving.cli.console import _ChatterFilter, is_chatter, plain_line, steps
from serving.cli.main import app
from serving.cli.models import EXIT_HELD_BACK, _train_options
from training.options import TrainOptions
from training.registry import CANDIDATE, champion_version, mlflow_client
from training.settings import TrainingSettings

ROWS = 1_500
LINEAR = "leadscore-linear-arrival-y"
MIXED = "leadscore-mixed-arrival-y"


def _spec(folder: Path, name: str, linear: bool, seed: int, accept: bool = False) -> Path:
    """Six numeric features and a 0/1 target in file order. ``linear``: the log-odds are a
    sum of small linear effects (logistic regression wins on 1,500 rows); otherwise the
    target is an interaction (the sign of x0 * x1) that only trees can see."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, 6))
    logit = (
        x @ np.array([0.5, 0.4, 0.4, 0.3, 0.3, 0.3]) if linear else 2.5 * np.sign(x[:, 0] * x[:, 1])
    )
    y = rng.random(ROWS) < 1 / (1 + np.exp(-(logit - 1)))
    lines = ["x0;x1;x2;x3;x4;x5;y"]
    lines += [
        ";".join(f"{v:.4f}" for v in row) + (";yes" if hit else ";no")
        for row, hit in zip(x, y, strict=True)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = {
        "name": name,
        "data": "rows.csv",
        "targets": {"y": {"kind": "binary", "column": "y", "positive": ["yes"]}},
        "features": [{"column": f"x{i}", "type": "numeric"} for i in range(6)],
        "split": {"kind": "ordered", "test_share": 0.3},
    }
    if accept:
        spec["training"] = {"accept_baseline": True}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingSettings]:
    """One MLflow store for the module (its tables take seconds to create); the tests
    register different model names in it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_DATA_DIR", str(tmp_path_factory.mktemp("cli") / "data"))
        patch.setenv("OMP_NUM_THREADS", "1")  # the command sets these; restored after
        patch.setenv("OMP_WAIT_POLICY", "passive")
        yield TrainingSettings()


def _aliases(settings: TrainingSettings, name: str) -> dict[str, str]:
    registered = mlflow_client(settings.tracking_uri).get_registered_model(name)
    return {alias: str(version) for alias, version in (registered.aliases or {}).items()}


def test_a_winning_baseline_is_held_back_as_candidate_until_accepted(
    tmp_path: Path, settings: TrainingSettings
) -> None:
    spec = _spec(tmp_path / "linear", "linear", linear=True, seed=1)
    runner = CliRunner()
    held = runner.invoke(app, ["train", "--spec", str(spec)])
    assert held.exit_code == EXIT_HELD_BACK, held.output
    assert "lost to the logistic baseline" in held.output
    assert f"Version 1 is registered as `{CANDIDATE}`, not champion" in held.output
    assert f"leadscore promote {LINEAR} 1" in held.output
    assert "--accept-baseline" in held.output
    assert champion_version(settings.tracking_uri, LINEAR) is None
    assert _aliases(settings, LINEAR) == {CANDIDATE: "1"}
    # a logistic model has no boosting rounds: none logged, none shown
    run_id = mlflow_client(settings.tracking_uri).get_model_version(LINEAR, "1").run_id
    params = mlflow_client(settings.tracking_uri).get_run(run_id).data.params
    assert "best_iteration" not in params
    row = next(line for line in held.output.splitlines() if line.startswith(f"│ {LINEAR}"))
    assert "logistic (flagged)" in row
    assert row.rstrip("│ ").endswith("-")

    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0
    assert CANDIDATE in next(line for line in listed.output.splitlines() if LINEAR in line)

    accepted = runner.invoke(app, ["train", "--spec", str(spec), "--accept-baseline"])
    assert accepted.exit_code == 0, accepted.output
    assert champion_version(settings.tracking_uri, LINEAR) == "2"
    assert _aliases(settings, LINEAR) == {CANDIDATE: "1", "champion": "2"}


def test_a_spec_may_accept_a_winning_baseline(tmp_path: Path, settings: TrainingSettings) -> None:
    spec = _spec(tmp_path / "accepted", "accepted", linear=True, seed=1, accept=True)
    result = CliRunner().invoke(app, ["train", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    assert "logistic (flagged)" in result.output
    assert champion_version(settings.tracking_uri, "leadscore-accepted-arrival-y") == "1"


def test_a_piped_run_talks_in_plain_lines_with_full_names_and_no_mlflow_chatter(
    tmp_path: Path, settings: TrainingSettings
) -> None:
    spec = _spec(tmp_path / "mixed", "mixed", linear=False, seed=3)
    result = CliRunner().invoke(app, ["train", "--spec", str(spec), "--threads", "1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "training 1 model(s) on 1500 rows, 1 thread(s)" in out
    steps_said = [line for line in out.splitlines() if f"model 1 of 1 {MIXED}: " in line]
    assert len(steps_said) >= 4  # evaluation, baselines, final model, logging
    assert all(line[:4].isdigit() and "s] model 1 of 1" in line for line in steps_said)
    for chatter in ("INFO mlflow", "CloudPickle", "Successfully registered", "Created version"):
        assert chatter not in out
    row = next(line for line in out.splitlines() if line.startswith(f"│ {MIXED} "))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[:4] == [MIXED, "1", "champion", "lightgbm"]
    assert cells[-1].isdigit()
    assert int(cells[-1]) > 0
    assert "…" not in out
    assert champion_version(settings.tracking_uri, MIXED) == "1"
    run_id = mlflow_client(settings.tracking_uri).get_model_version(MIXED, "1").run_id
    where = next(line for line in out.splitlines() if line.startswith(f"{MIXED}: run {run_id}"))
    artifacts = Path(where.split("artifacts ", 1)[1].strip())
    assert (artifacts / "model_card.md").is_file()
    top = next(line for line in out.splitlines() if "top features by mean |SHAP|:" in line)
    ranked = [part.split()[0] for part in top.split(":", 1)[1].split(",")]
    assert set(ranked[:2]) == {"x0", "x1"}  # the interaction's two fields lead
    assert len(ranked) == 6


# ------------------------------------------------------------------ console parts


def test_mlflow_chatter_is_told_from_real_problems() -> None:
    assert is_chatter("2026/12/02 01:46:29 INFO mlflow.store.db.utils: Creating initial tables")
    assert is_chatter(
        "2026/12/02 01:46:44 WARNING mlflow.pyfunc: Passing a Python object as `python_model` "
        "causes it to be serialized using CloudPickle, it requires exercising caution"
    )
    assert is_chatter(
        "2026/12/04 21:52:37 WARNING mlflow.pyfunc: Failed to infer model signature: Type hint "
        "<input: <class 'pandas.DataFrame'>, output: <class 'pandas.DataFrame'>> cannot be used "
        "to infer model signature and input example is not provided, model signature cannot "
        "be inferred."
    )
    assert is_chatter("Successfully registered model 'leadscore-arrival-sql'.")
    assert is_chatter("Created version '3' of model 'leadscore-arrival-sql'.")
    assert not is_chatter("2026/12/02 01:46:44 WARNING mlflow.models: signature mismatch")
    assert not is_chatter("Traceback (most recent call last):")
    target = io.StringIO()
    stream = _ChatterFilter(target)
    stream.write("Successfully registered model 'm'.\nreal warn")
    stream.write("ing\n2026/12/02 01:46:29 INFO mlflow.x: y\nlast")
    stream.flush()
    assert target.getvalue() == "real warning\nlast"


def test_plain_steps_are_timestamped_and_repeat_when_a_step_runs_long(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert plain_line(100.0, "fitting", now=142.4).endswith("[   42s] fitting")
    with steps("two steps", heartbeat_s=0.3) as say:
        say("first")
        time.sleep(1.0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("two steps")
    assert lines[1].endswith("] first")
    assert lines[2].endswith("first (still running)")


def test_the_baseline_sample_sizes_are_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = _train_options(None, None, 0, TrainingSettings(data_dir=tmp_path))
    assert (defaults.baseline_rows, defaults.rule_rows) == (
        TrainOptions.baseline_rows,
        TrainOptions.rule_rows,
    )
    monkeypatch.setenv("LEADSCORE_TRAIN_BASELINE_ROWS", "5000")
    monkeypatch.setenv("LEADSCORE_TRAIN_RULE_ROWS", "0")
    chosen = _train_options(None, None, 0, TrainingSettings(data_dir=tmp_path))
    assert (chosen.baseline_rows, chosen.rule_rows) == (5000, 0)
    monkeypatch.setenv("LEADSCORE_TRAIN_RULE_ROWS", "-1")
    with pytest.raises(ValueError, match="train_rule_rows"):
        TrainingSettings(data_dir=tmp_path)
