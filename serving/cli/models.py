"""`leadscore train`, `evaluate`, `models`, `promote`, `rollback` and `mlflow-ui`: the models
in the registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from serving.cli.console import fail, known_ats_or_exit, load_data
from training.options import TrainOptions

if TYPE_CHECKING:
    from training.runner import Trained

app = typer.Typer(no_args_is_help=True)

#: The defaults of a training run, shown and used by `leadscore train`.
DEFAULTS = TrainOptions()


def _summary(trained: list[Trained]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Trained models (out-of-sample metrics, calibrated)")
    for column in ("model", "version", "kind", "ROC-AUC", "LR AUC", "PR-AUC", "ECE", "lift@10%"):
        table.add_column(column)
    for item in trained:
        metrics = item.result.headline
        logistic = item.result.evaluation.metrics["logistic"].roc_auc
        version = item.version.version if item.version else "-"
        kind = item.result.model.kind + (" (flagged)" if item.result.flagged else "")
        table.add_row(
            item.name,
            str(version),
            kind,
            f"{metrics.roc_auc:.4f}",
            f"{logistic:.4f}",
            f"{metrics.pr_auc:.4f}",
            f"{metrics.ece:.4f}",
            f"{metrics.lift_10:.2f}",
        )
    console = Console()
    console.print(table)
    for item in trained:
        for note in item.result.notes:
            console.print(f"[yellow]{item.name}: {note}[/yellow]")


@app.command()
def train(
    spec: str = typer.Option("demo", "--spec", help="Spec YAML, or a shipped spec name."),
    data: Path | None = typer.Option(None, "--data", help="Data file; default: the spec's."),
    known_at: list[str] = typer.Option(
        [],
        "--known-at",
        "--stage",
        help="Moment the model scores: arrival and/or qualified (repeat the option); default: all.",
    ),
    target: list[str] = typer.Option(
        [], "--target", help="Targets from the spec, e.g. sql, won; default: all."
    ),
    test_start: datetime | None = typer.Option(
        None, "--test-start", formats=["%Y-%m-%d"], help="Out-of-time test from this date."
    ),
    test_end: datetime | None = typer.Option(
        None, "--test-end", formats=["%Y-%m-%d"], help="...up to (excluding) this date."
    ),
    trials: int = typer.Option(
        DEFAULTS.trials, "--trials", min=0, max=200, help="Optuna trials (0: none)."
    ),
    register: bool = typer.Option(True, "--register/--no-register", help="Register in MLflow."),
) -> None:
    """Train calibrated LightGBM models (and baselines) and register them in MLflow."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from training.runner import file_digest, plan_models, train_and_register
    from training.settings import TrainingSettings
    from training.trainer import TrainingError

    settings = TrainingSettings()
    loaded = load_data(spec, data, settings)
    try:
        pairs = plan_models(loaded.spec, known_ats_or_exit(known_at), target or None)
    except ValueError as exc:
        raise fail(str(exc)) from None
    options = replace(
        DEFAULTS,
        test_start=test_start.date() if test_start else None,
        test_end=test_end.date() if test_end else None,
        trials=trials,
    )
    digest = file_digest(Path(loaded.source)) if Path(loaded.source).exists() else "n/a"
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as bar:
        task = bar.add_task(f"training {len(pairs)} model(s)", total=None)
        try:
            trained = train_and_register(
                loaded,
                digest,
                settings,
                pairs,
                options,
                register=register,
                progress=lambda message: bar.update(task, description=message),
            )
        except TrainingError as exc:
            raise fail(str(exc)) from None
    _summary(trained)
    typer.echo(f"MLflow: {settings.tracking_uri} (open it with `leadscore mlflow-ui`)")


@app.command()
def evaluate(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@champion, models:/NAME/VERSION or runs:/RUN_ID/model"
    ),
    data: Path = typer.Option(..., "--data", help="Data file with outcomes."),
    spec: str = typer.Option(..., "--spec", help="Spec YAML, or a shipped spec name."),
) -> None:
    """Score a data set with a registered model and print its metrics, overall and per channel."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from rich.console import Console
    from rich.table import Table

    from training.metrics import evaluate as measure
    from training.metrics import per_channel
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    loaded = load_data(spec, data, settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model().model
    except MlflowException as exc:
        raise fail(f"cannot load {model_uri}: {exc.message}") from None
    if model.target not in loaded.targets:
        raise fail(f"the data has no target '{model.target}' (it has: {', '.join(loaded.targets)})")
    y = loaded.targets[model.target]
    p = model.predict_proba(loaded.frame)
    metrics = measure(y, p)
    table = Table(title=f"{model_uri} on {loaded.source} ({len(y)} leads)")
    table.add_column("metric")
    table.add_column("value")
    for key, value in metrics.as_dict().items():
        table.add_row(key, f"{value:.4f}")
    console = Console()
    console.print(table)
    channels = per_channel(y, p, loaded.channels)
    by_channel = Table(title="Per channel")
    for column in channels.columns:
        by_channel.add_column(str(column))
    for row in channels.itertuples(index=False):
        by_channel.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(by_channel)


@app.command()
def models() -> None:
    """List registered models: versions, aliases, headline test metrics."""
    from rich.console import Console
    from rich.table import Table

    from training.registry import list_versions
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    rows = list_versions(settings.tracking_uri)
    if not rows:
        typer.echo("No registered models yet: run `leadscore train` (or `make run`).")
        return
    table = Table(title=f"Registered models ({settings.tracking_uri})")
    for column in ("model", "version", "aliases", "kind", "ROC-AUC", "ECE", "lift@10%", "created"):
        table.add_column(column)
    for row in rows:
        metric = row.metrics.get
        table.add_row(
            row.name,
            row.version,
            ", ".join(row.aliases),
            row.kind + (" (flagged)" if row.flagged else ""),
            f"{metric('test.roc_auc', float('nan')):.4f}",
            f"{metric('test.ece', float('nan')):.4f}",
            f"{metric('test.lift_10', float('nan')):.2f}",
            row.created[:19],
        )
    Console().print(table)


@app.command("mlflow-ui")
def mlflow_ui(
    port: int = typer.Option(5000, "--port", help="Port for the MLflow UI."),
) -> None:
    """Open the MLflow UI on the configured tracking store (runs, plots, registry)."""
    import subprocess
    import sys

    from training.settings import TrainingSettings

    settings = TrainingSettings()
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} for {settings.tracking_uri}")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", settings.tracking_uri]
    command += ["--default-artifact-root", settings.artifact_root.as_uri(), "--port", str(port)]
    raise typer.Exit(subprocess.call(command))


@app.command()
def promote(
    model: str = typer.Argument(..., help="Registered model name, e.g. leadscore-arrival-sql."),
    version: str = typer.Argument(..., help="The version to make champion."),
) -> None:
    """Make VERSION the champion of MODEL by hand; the replaced champion becomes `previous`."""
    from training.registry import PromotionError
    from training.registry import promote as move
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    try:
        change = move(settings.tracking_uri, model, version)
    except PromotionError as exc:
        raise fail(str(exc)) from None
    typer.echo(change.summary())
    typer.echo(
        "A running service picks it up at its next model check (or POST /admin/models/reload)."
    )


@app.command()
def rollback(
    model: str = typer.Argument(..., help="Registered model name, e.g. leadscore-arrival-sql."),
) -> None:
    """Give MODEL's `champion` alias back to its `previous` version."""
    from training.registry import PromotionError
    from training.registry import rollback as back
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    try:
        change = back(settings.tracking_uri, model)
    except PromotionError as exc:
        raise fail(str(exc)) from None
    typer.echo(change.summary())
    typer.echo(
        "A running service picks it up at its next model check (or POST /admin/models/reload)."
    )
