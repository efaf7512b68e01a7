"""`leadscore score` and `leadscore train-distributed`: scoring files of any size and
training past one machine.

`score` streams a CSV or Parquet export through a registered model in chunks (constant
memory) into a Parquet file of id, probability, tier and optionally the reasons; with
`--scheduler` it scores a partitioned Parquet data set on a Dask cluster instead.
`train-distributed` fits a model with `lightgbm.dask` and registers it. The work is in
`training/batch.py`, `training/compiled.py` and `training/distributed.py`; this module only
reads the options, loads the model and reports progress.

Imports stay inside the functions so that `leadscore --help` starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from serving.cli.console import fail, is_terminal, plain_line, spec_or_exit
from serving.cli.words import in_language, say

if TYPE_CHECKING:
    from features.spec import DatasetSpec, KnownAt
    from features.tiers import Tiers
    from training.distributed import DistributedFit
    from training.model import LeadModel
    from training.registry import VersionedModel
    from training.settings import TrainingSettings

app = typer.Typer(no_args_is_help=True)

#: Rows per chunk of `leadscore score` by default.
CHUNK_ROWS = 100_000


def _known_at(value: str) -> KnownAt:
    from features.spec import KnownAt

    try:
        return KnownAt(value)
    except ValueError:
        choices = say(" or ").join(k.value for k in KnownAt)
        raise fail(
            say("--known-at takes {choices}, got: {given}", choices=choices, given=value)
        ) from None


def load_model(
    settings: TrainingSettings, dataset: str, known_at: str, target: str, model: str
) -> VersionedModel:
    """The champion (``champion``) or a version (a number) of the data set's model for
    ``known_at`` x ``target``; exits with a message when there is none."""
    from training.registry import (
        CHAMPION,
        ModelNotFoundError,
        RegistryUnreachableError,
        model_name,
        resolve_model,
    )

    name = model_name(known_at, target, dataset)
    reference = f"{name}@{CHAMPION}" if model == CHAMPION else f"{name}/{model}"
    if model != CHAMPION and not model.isdigit():
        raise fail(say("--model takes 'champion' or a version number, got: {given}", given=model))
    try:
        return resolve_model(settings.tracking_uri, reference)
    except (ModelNotFoundError, RegistryUnreachableError) as exc:
        missing = say(
            "{reason}; train one with `leadscore train --spec {dataset}`",
            reason=in_language(str(exc)),
            dataset=dataset,
        )
        raise fail(missing) from None


def _fast(model: LeadModel, settings: TrainingSettings, use: bool) -> tuple[LeadModel, str]:
    """The model on compiled trees when asked and the extra is installed."""
    from training import compiled

    if not use:
        return model, "Booster.predict"
    if not compiled.available():
        return model, say("Booster.predict (the `compiled` extra is not installed)")
    return compiled.compiled_model(model, compiled.cache_dir_of(settings.data_dir)), "compiled"


@contextmanager
def _progress(title: str, total: int | None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar of rows on a terminal; plain log lines otherwise."""
    if is_terminal():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(title, total=total)
            yield lambda read, _scored: bar.update(task, completed=read)
        return
    import time

    started = time.monotonic()
    print(plain_line(started, title), flush=True)
    of = say(" of {total}", total=total) if total else ""

    def tell(read: int, scored: int) -> None:
        done = say("{read}{of} rows read, {scored} scored", read=read, of=of, scored=scored)
        print(plain_line(started, done), flush=True)

    yield tell


@app.command()
def score(
    data: Path = typer.Option(
        ...,
        "--data",
        help="CSV or Parquet file of leads to score (a Parquet folder with --scheduler).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Parquet file to write (a folder of parts with --scheduler)."
    ),
    spec: str = typer.Option("demo", "--spec", help="Spec YAML, or a shipped spec name."),
    known_at: str = typer.Option(
        "arrival", "--known-at", "--stage", help="The model's moment: arrival or qualified."
    ),
    target: str = typer.Option("sql", "--target", help="The model's target, e.g. sql or won."),
    model: str = typer.Option("champion", "--model", help="'champion' or a version number."),
    chunk_size: int = typer.Option(
        CHUNK_ROWS, "--chunk-size", min=1, help="Rows read and scored at a time."
    ),
    reasons: int = typer.Option(
        0, "--reasons", min=0, max=10, help="Top N reasons each way per lead, as JSON (slower)."
    ),
    compiled: bool = typer.Option(
        True, "--compiled/--no-compiled", help="Compiled trees when the extra is installed."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Score on Dask: 'local' (a LocalCluster) or tcp://HOST:PORT."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="LocalCluster workers."),
    threads: int | None = typer.Option(None, "--threads", help="LightGBM threads (in process)."),
) -> None:
    """Score a CSV/Parquet export of any size with a registered model, chunk by chunk in
    constant memory, into Parquet: id, probability, tier (and reasons with --reasons)."""
    from training.threads import prepare_process

    prepare_process(threads)  # before LightGBM loads
    from features.tiers import Tiers
    from serving.settings import ServingSettings

    settings = ServingSettings()
    reading = spec_or_exit(spec)
    moment = _known_at(known_at)
    if not data.exists():
        raise fail(say("no such data file: {path} (check the path given with --data)", path=data))
    loaded = load_model(settings, reading.name, moment.value, target, model)
    tiers = Tiers(settings.tier_a, settings.tier_b, settings.tier_c)
    if scheduler is not None:
        _score_on_dask(loaded.model, reading, data, out, scheduler, workers, tiers)
        return
    served, path = _fast(loaded.model, settings, compiled)
    title = say(
        "scoring {data} with {name} v{version} ({path})",
        data=data,
        name=loaded.name,
        version=loaded.version,
        path=path,
    )
    _score_in_process(served, reading, data, out, title, chunk_size, tiers, reasons)


def _score_in_process(
    model: LeadModel,
    spec: DatasetSpec,
    data: Path,
    out: Path,
    title: str,
    chunk_size: int,
    tiers: Tiers,
    reasons: int,
) -> None:
    """Score the file chunk by chunk with progress and say how many leads were scored; a
    data error exits 1 (nothing written)."""
    from features.dataset import DatasetError
    from training.batch import count_rows, score_file

    try:
        with _progress(title, count_rows(spec, data)) as progress:
            summary = score_file(
                model,
                spec,
                data,
                out,
                chunk_rows=chunk_size,
                tiers=tiers,
                reasons=reasons,
                on_chunk=progress,
            )
    except DatasetError as exc:
        refused = in_language(str(exc))
        raise fail(say("{reason}\nnothing was written to {out}", reason=refused, out=out)) from None
    left = summary.rows_read - summary.rows_scored
    note = say(" ({count} left out by the spec's rows rules)", count=left) if left else ""
    typer.echo(
        say("{count} leads scored into {out}{note}", count=summary.rows_scored, out=out, note=note)
    )


def _score_on_dask(
    model: LeadModel,
    spec: DatasetSpec,
    data: Path,
    out: Path,
    scheduler: str,
    workers: int,
    tiers: Tiers,
) -> None:
    from features.dataset import DatasetError
    from training import distributed

    if not distributed.available():
        raise fail(say("--scheduler needs the `dask` extra: pip install 'leadscore[dask]'"))
    try:
        with distributed.connect(scheduler, workers=workers) as client:
            address = client.scheduler_info().get("address", scheduler)
            typer.echo(
                say("scoring {data} on the Dask scheduler {address}", data=data, address=address)
            )
            rows = distributed.score_partitions(client, model, spec, str(data), str(out), tiers)
    except (DatasetError, ValueError, OSError) as exc:
        raise fail(f"{exc}") from None
    typer.echo(
        say(
            "{count} leads scored into {out}/ (its parts written by the workers)",
            count=rows,
            out=out,
        )
    )


@app.command("train-distributed")
def train_distributed(
    data: Path = typer.Option(..., "--data", help="Partitioned Parquet data set (folder or glob)."),
    spec: str = typer.Option("demo", "--spec", help="Spec YAML, or a shipped spec name."),
    known_at: str = typer.Option(
        "arrival", "--known-at", "--stage", help="The model's moment: arrival or qualified."
    ),
    target: str = typer.Option("sql", "--target", help="Target to predict, e.g. sql or won."),
    rounds: int = typer.Option(300, "--rounds", min=1, help="Boosting rounds (no early stopping)."),
    valid_share: float = typer.Option(
        0.2, "--valid-share", min=0.05, max=0.5, help="Most recent share calibrating the model."
    ),
    scheduler: str = typer.Option(
        "local", "--scheduler", help="'local' (a LocalCluster) or tcp://HOST:PORT of a cluster."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="LocalCluster workers."),
    threads_per_worker: int = typer.Option(1, "--threads-per-worker", min=1),
    register: bool = typer.Option(True, "--register/--no-register", help="Register in MLflow."),
) -> None:
    """Train a calibrated LightGBM model on a Dask cluster (lightgbm.dask) for data that does
    not fit one machine, and register it (the first version becomes champion)."""
    from training import distributed
    from training.options import TrainOptions
    from training.settings import TrainingSettings

    if not distributed.available():
        raise fail(say("train-distributed needs the `dask` extra: pip install 'leadscore[dask]'"))
    from features.dataset import DatasetError

    settings = TrainingSettings()
    reading = spec_or_exit(spec)
    options = TrainOptions(known_at=_known_at(known_at), target=target, valid_share=valid_share)
    import time

    started = time.monotonic()
    try:
        with distributed.connect(
            scheduler, workers=workers, threads_per_worker=threads_per_worker
        ) as client:
            training = say(
                "training {target} at {known_at} on {scheduler}",
                target=target,
                known_at=known_at,
                scheduler=scheduler,
            )
            typer.echo(plain_line(started, training))
            fit = distributed.train_distributed(client, reading, str(data), options, rounds=rounds)
    except (DatasetError, ValueError, OSError) as exc:
        raise fail(f"{exc}") from None
    fitted = say(
        "fitted on {fit} rows, calibrated on {valid}; validation ROC-AUC {auc}",
        fit=fit.rows_fit,
        valid=fit.rows_valid,
        auc=f"{fit.valid_auc:.4f}",
    )
    typer.echo(plain_line(started, fitted))
    if register:
        _register_distributed(fit, settings)


def _register_distributed(fit: DistributedFit, settings: TrainingSettings) -> None:
    """Register a distributed fit in MLflow (the first version becomes champion) and say so."""
    from training import distributed

    name, version, champion = distributed.register_fit(
        fit, settings.tracking_uri, settings.mlflow_experiment, settings.artifact_root
    )
    alias = "champion" if champion else say("not champion: `leadscore promote` it")
    typer.echo(
        say(
            "registered {name} version {version} ({alias})", name=name, version=version, alias=alias
        )
    )
