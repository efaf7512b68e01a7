"""`leadscore train`, `evaluate`, `models`, `promote`, `rollback` and `mlflow-ui`: the models
in the registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from features.i18n import N_
from serving.cli.console import fail, known_ats_or_exit, load_data
from serving.cli.words import in_language, say
from training.options import TrainOptions

if TYPE_CHECKING:
    from rich.table import Table

    from features.dataset import LeadData
    from features.spec import KnownAt
    from training.registry import AliasChange
    from training.runner import Trained
    from training.settings import TrainingSettings

app = typer.Typer(no_args_is_help=True)

#: The defaults of a training run, shown and used by `leadscore train`.
DEFAULTS = TrainOptions()

#: Exit code of `leadscore train` when a version was held back as `candidate`.
EXIT_HELD_BACK = 3

#: The summary's baseline columns: (column, the baseline's name in the evaluation).
BASELINES = (
    (N_("logistic"), "logistic"),
    (N_("LGBM defaults"), "lightgbm_default"),
    (N_("rule"), "bant_rule"),
)
#: The headers of the tables of `leadscore train`, `evaluate` and `models` (metric names
#: such as ROC-AUC read the same in every language).
MODEL, VERSION, KIND = N_("model"), N_("version"), N_("kind")
METRIC_COLUMNS = (N_("metric"), N_("value"))
FLAGGED = N_(" (flagged)")
PICKED_UP = N_(
    "A running service picks it up at its next model check (or POST /admin/models/reload)."
)


def _auc(trained: Trained, name: str) -> str:
    metrics = trained.result.evaluation.metrics.get(name)
    return "-" if metrics is None else f"{metrics.roc_auc:.4f}"


def summary_table(trained: list[Trained]) -> Table:
    """One row per trained model: its version and alias, the chosen model's test metrics,
    each baseline's ROC-AUC in its own column, boosting rounds for LightGBM only."""
    from rich.table import Table

    table = Table(title=say("Trained models (out-of-sample metrics, calibrated)"))
    named = (MODEL, VERSION, N_("alias"), KIND, "ROC-AUC", *(c for c, _ in BASELINES))
    for column in (*named, "PR-AUC", "ECE", "lift@10%", N_("rounds")):
        table.add_column(say(column))
    for item in trained:
        result = item.result
        metrics = result.headline
        kind = result.model.kind
        table.add_row(
            item.name,
            str(item.version.version) if item.version else "-",
            item.alias or "-",
            kind + (say(FLAGGED) if result.flagged else ""),
            f"{metrics.roc_auc:.4f}",
            *(_auc(item, name) for _, name in BASELINES),
            f"{metrics.pr_auc:.4f}",
            f"{metrics.ece:.4f}",
            f"{metrics.lift_10:.2f}",
            str(result.best_iteration) if kind == "lightgbm" else "-",
        )
    return table


def run_lines(item: Trained) -> list[str]:
    """Where a model's run is and what drives it: run id, artifacts, top features, notes."""
    where = dict(name=item.name, run=item.run_id or "-", artifacts=item.artifacts or "-")
    lines = [say("{name}: run {run}, artifacts {artifacts}", **where)]
    if item.top_features:
        top = ", ".join(f"{source} {value:.3f}" for source, value in item.top_features)
        lines.append(say("  top features by mean |SHAP|: {top}", top=top))
    lines += [say("  note: {note}", note=in_language(note)) for note in item.result.notes]
    return lines


def _summary(trained: list[Trained]) -> None:
    from serving.cli.console import output_console, print_table

    console = output_console()
    print_table(summary_table(trained), console)
    for item in trained:
        for line in run_lines(item):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


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
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="LightGBM threads; default: the cores this process may use (affinity, cgroup "
        "quota, OMP_NUM_THREADS).",
    ),
    accept_baseline: bool = typer.Option(
        False,
        "--accept-baseline",
        help="When a baseline beats LightGBM, register it as champion anyway (first version "
        "of a model); without it (or the spec's `training: {accept_baseline: true}`) the "
        "version is only `candidate` and the command exits 3.",
    ),
) -> None:
    """Train calibrated LightGBM models (and baselines) and register them in MLflow.

    The first version of a model becomes `champion`, unless a baseline beat LightGBM: then
    the version is registered as `candidate`, the reason is printed and the exit code is 3
    (promote it by hand, or train with --accept-baseline).
    """
    from training.threads import prepare_process

    chosen_threads = prepare_process(threads)  # before LightGBM loads

    from training.settings import TrainingSettings

    settings = TrainingSettings()
    loaded = load_data(spec, data, settings)
    pairs = _planned(loaded, known_at, target)
    options = _train_options(test_start, test_end, trials, settings)
    accept = accept_baseline or loaded.spec.training.accept_baseline
    trained = _train_all(loaded, settings, pairs, options, chosen_threads, register, accept)
    _summary(trained)
    typer.echo(say("MLflow: {uri} (open it with `leadscore mlflow-ui`)", uri=settings.tracking_uri))
    _exit_if_held_back(trained)


def _planned(loaded: LeadData, known_at: list[str], target: list[str]) -> list[tuple[KnownAt, str]]:
    """The (known_at, target) pairs to train, or exit naming the valid ones."""
    from training.runner import plan_models

    try:
        return plan_models(loaded.spec, known_ats_or_exit(known_at), target or None)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _train_options(
    test_start: datetime | None,
    test_end: datetime | None,
    trials: int,
    settings: TrainingSettings,
) -> TrainOptions:
    """The defaults with the command's test window and trials and the settings' sample sizes."""
    return replace(
        DEFAULTS,
        test_start=test_start.date() if test_start else None,
        test_end=test_end.date() if test_end else None,
        trials=trials,
        baseline_rows=settings.train_baseline_rows,
        rule_rows=settings.train_rule_rows,
        outlook_rows=settings.train_outlook_rows,
    )


def _train_all(
    loaded: LeadData,
    settings: TrainingSettings,
    pairs: list[tuple[KnownAt, str]],
    options: TrainOptions,
    threads: int,
    register: bool,
    accept_baseline: bool,
) -> list[Trained]:
    """Train and register every pair, showing each step; a training error exits 1."""
    from serving.cli.console import steps, without_mlflow_chatter
    from training.runner import file_digest, train_and_register
    from training.splits import TrainingError

    digest = file_digest(Path(loaded.source)) if Path(loaded.source).exists() else "n/a"
    title = say(
        "training {count} model(s) on {rows} rows, {threads} thread(s)",
        count=len(pairs),
        rows=len(loaded),
        threads=threads,
    )
    with without_mlflow_chatter(), steps(title) as step:
        try:
            return train_and_register(
                loaded,
                digest,
                settings,
                pairs,
                options,
                register=register,
                progress=step,
                accept_baseline=accept_baseline,
            )
        except TrainingError as exc:
            raise fail(str(exc)) from None


def _exit_if_held_back(trained: list[Trained]) -> None:
    """Exit with EXIT_HELD_BACK, giving the reasons, when a version was held back."""
    held = [item for item in trained if item.held_back]
    if held:
        raise fail("\n".join(item.held_back_reason() for item in held), EXIT_HELD_BACK)


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
        raise fail(
            say("cannot load {model}: {reason}", model=model_uri, reason=exc.message)
        ) from None
    if model.target not in loaded.targets:
        has = ", ".join(loaded.targets)
        raise fail(
            say(
                "the data has no target '{target}' (it has: {targets})",
                target=model.target,
                targets=has,
            )
        )
    y = loaded.targets[model.target]
    p = model.predict_proba(loaded.frame)
    metrics = measure(y, p)
    table = Table(
        title=say(
            "{model} on {source} ({count} leads)",
            model=model_uri,
            source=loaded.source,
            count=len(y),
        )
    )
    for column in METRIC_COLUMNS:
        table.add_column(say(column))
    for key, value in metrics.as_dict().items():
        table.add_row(key, f"{value:.4f}")
    console = Console()
    console.print(table)
    channels = per_channel(y, p, loaded.channels)
    by_channel = Table(title=say("Per channel"))
    for column in channels.columns:
        by_channel.add_column(str(column))
    for row in channels.itertuples(index=False):
        by_channel.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(by_channel)


@app.command()
def models() -> None:
    """List registered models: versions, aliases (`champion`, `previous`, `candidate`),
    headline test metrics."""
    from rich.table import Table

    from serving.cli.console import print_table
    from training.registry import list_versions
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    rows = list_versions(settings.tracking_uri)
    if not rows:
        typer.echo(say("No registered models yet: run `leadscore train` (or `make run`)."))
        return
    table = Table(title=say("Registered models ({uri})", uri=settings.tracking_uri))
    for column in (
        MODEL,
        VERSION,
        N_("aliases"),
        KIND,
        "ROC-AUC",
        "ECE",
        "lift@10%",
        N_("created"),
    ):
        table.add_column(say(column))
    for row in rows:
        metric = row.metrics.get
        table.add_row(
            row.name,
            row.version,
            ", ".join(row.aliases),
            row.kind + (say(FLAGGED) if row.flagged else ""),
            f"{metric('test.roc_auc', float('nan')):.4f}",
            f"{metric('test.ece', float('nan')):.4f}",
            f"{metric('test.lift_10', float('nan')):.2f}",
            row.created[:19],
        )
    print_table(table)


@app.command("mlflow-ui")
def mlflow_ui(
    port: int = typer.Option(5000, "--port", help="Port for the MLflow UI."),
) -> None:
    """Open the MLflow UI on the configured tracking store (runs, plots, registry)."""
    import subprocess
    import sys

    from training.settings import TrainingSettings

    settings = TrainingSettings()
    typer.echo(
        say("MLflow UI on http://127.0.0.1:{port} for {uri}", port=port, uri=settings.tracking_uri)
    )
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
    _say_changed(change)


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
    _say_changed(change)


def _say_changed(change: AliasChange) -> None:
    """What a promotion or a rollback changed, and when a running service sees it."""
    typer.echo(in_language(change.summary()))
    typer.echo(say(PICKED_UP))
