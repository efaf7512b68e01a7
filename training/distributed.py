"""Past one machine, on Dask (the optional ``dask`` extra): batch scoring of a partitioned
Parquet data set and LightGBM training with ``lightgbm.dask``.

A cluster is either a ``LocalCluster`` on this machine (:func:`connect` with ``"local"``)
or an existing one (a ``tcp://`` scheduler address; docs/scaling.md says how to run one).
Every worker reads its own partitions: the data set's path must be readable by every
worker (a shared file system or an object store URL), and so must the output folder.

Scoring (:func:`score_partitions`): the model is sent once to every worker
(``client.scatter(..., broadcast=True)``) and each partition is prepared through the
scoring spec and scored by ``dask.dataframe.map_partitions`` with the same
:func:`training.batch.score_frame` one process uses, so the scores are the same.

Training (:func:`train_distributed`): the featurizer is fitted on a sample that fits one
machine (categories and vocabularies need no more), every partition is prepared through
the data set's spec and featurized on its worker, ``DaskLGBMClassifier`` is fitted on the
earlier rows with a fixed number of rounds (``lightgbm.dask`` has no early stopping), and
a calibrator (``training.calibration``, as the trainer's) is fitted on the most recent
``valid_share`` of the rows, scored by that model. The result is the project's served
form: a :class:`~training.model.LeadModel` with the featurizer and the calibrator. A later
funnel target is one model here, not the trainer's chained P(sql) x P(won | sql).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.dataset import prepare_frame
from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec, KnownAt
from features.tiers import Tiers
from training.batch import OUTPUT_SCHEMA, needed_columns, score_frame, scoring_spec
from training.calibration import fit_calibrator
from training.gbm import DEFAULT_PARAMS
from training.model import GbmEstimator, LeadModel, Member
from training.options import TrainOptions

if TYPE_CHECKING:
    from distributed import Client

#: `--scheduler` value for a LocalCluster on this machine.
LOCAL = "local"
#: Boosting rounds of a distributed fit by default (no early stopping on Dask).
DEFAULT_ROUNDS = 300
#: Rows of the sample the featurizer is fitted on.
SAMPLE_ROWS = 200_000
#: Columns of a featurized partition besides the features.
LABEL, TIME = "_label", "_time_ns"


def available() -> bool:
    """True when the ``dask`` extra (dask[distributed]) is installed."""
    from importlib.util import find_spec

    return find_spec("distributed") is not None and find_spec("dask.dataframe") is not None


@contextmanager
def connect(
    scheduler: str = LOCAL, workers: int = 2, threads_per_worker: int = 1, processes: bool = True
) -> Iterator[Client]:
    """A client of a new ``LocalCluster`` (``"local"``: ``workers`` workers of
    ``threads_per_worker`` threads) or of the scheduler at a ``tcp://`` address."""
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if not scheduler.startswith(("tcp://", "tls://")):
        raise ValueError(f"--scheduler takes 'local' or a tcp:// address, got '{scheduler}'")
    with Client(scheduler) as client:
        yield client


# --------------------------------------------------------------------------- scoring


def _score_partition(
    frame: pd.DataFrame,
    model: LeadModel,
    spec: DatasetSpec,
    tiers: Tiers,
    source: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One partition prepared through the scoring spec and scored (runs on a worker)."""
    number = partition_info["number"] if partition_info else 0
    data = prepare_frame(spec, frame.reset_index(drop=True), source=f"{source} [part {number}]")
    return score_frame(model, data.frame, data.ids, tiers).to_pandas()


def _meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([], dtype=object),
            "probability": pd.Series([], dtype=float),
            "tier": pd.Series([], dtype=object),
        }
    )


def scores_frame(
    client: Client, model: LeadModel, spec: DatasetSpec, path: str, tiers: Tiers | None = None
) -> Any:
    """The lazy Dask frame of scores (id, probability, tier) of the Parquet data set at
    ``path`` (a folder of parts or a glob); the model is broadcast once per worker."""
    import dask.dataframe as dd

    reading = scoring_spec(spec, KnownAt(model.known_at))
    columns = needed_columns(reading)
    data = dd.read_parquet(path, columns=_present(path, columns))
    shared = client.scatter(model, broadcast=True, hash=False)
    return data.map_partitions(
        _score_partition, shared, reading, tiers or Tiers(), str(path), meta=_meta()
    )


def _present(path: str, columns: list[str] | None) -> list[str] | None:
    """The wanted columns the data set has (None: all)."""
    if columns is None:
        return None
    import dask.dataframe as dd

    names = set(dd.read_parquet(path).columns)
    return [c for c in columns if c in names] or None


def score_partitions(
    client: Client,
    model: LeadModel,
    spec: DatasetSpec,
    path: str,
    out: str,
    tiers: Tiers | None = None,
) -> int:
    """Score the Parquet data set at ``path`` on the cluster into the Parquet folder
    ``out`` (its parts written by the workers); the rows scored."""
    scores = scores_frame(client, model, spec, path, tiers)
    scores.to_parquet(out, write_index=False, schema=OUTPUT_SCHEMA)
    import dask.dataframe as dd

    return len(dd.read_parquet(out))


# --------------------------------------------------------------------------- training


def feature_columns(count: int) -> list[str]:
    return [f"f{i}" for i in range(count)]


def _featurize_partition(
    frame: pd.DataFrame,
    featurizer: LeadFeaturizer,
    spec: DatasetSpec,
    target: str,
    source: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One partition prepared through the full spec (targets included) and featurized:
    the feature columns, the label and the arrival time in ns (runs on a worker)."""
    number = partition_info["number"] if partition_info else 0
    data = prepare_frame(spec, frame.reset_index(drop=True), source=f"{source} [part {number}]")
    matrix = featurizer.transform(data.frame)
    out = pd.DataFrame(matrix, columns=feature_columns(matrix.shape[1]))
    out[LABEL] = data.targets[target].astype(np.int8)
    times = np.arange(len(out), dtype=np.int64) if data.times is None else data.times.asi8
    out[TIME] = times
    return out


def _featurized(path: str, featurizer: LeadFeaturizer, spec: DatasetSpec, target: str) -> Any:
    """The lazy Dask frame of the data set's partitions featurized on their workers (see
    :func:`_featurize_partition`)."""
    import dask.dataframe as dd

    width = len(featurizer.feature_names_)
    meta = pd.DataFrame({c: pd.Series([], dtype=float) for c in feature_columns(width)})
    meta[LABEL] = pd.Series([], dtype=np.int8)
    meta[TIME] = pd.Series([], dtype=np.int64)
    return dd.read_parquet(path).map_partitions(
        _featurize_partition, featurizer, spec, target, str(path), meta=meta
    )


@dataclass(frozen=True)
class DistributedFit:
    """A distributed training run: the served model and what it was fitted on."""

    model: LeadModel
    rows_fit: int
    rows_valid: int
    rounds: int
    valid_cutoff_ns: int
    params: dict[str, Any]
    #: ROC-AUC of the model on the validation rows (the calibrator's rows)
    valid_auc: float


def distributed_params(spec: DatasetSpec, options: TrainOptions) -> dict[str, Any]:
    """LightGBM's parameters for the cluster: the project's defaults, the spec's, the
    options'. ``lightgbm.dask`` gives each worker as many threads as the worker has
    (``dask worker --nthreads``), so no thread count is passed."""
    params = {**DEFAULT_PARAMS, **spec.training.params, **options.params}
    for alias in ("num_threads", "n_jobs", "seed"):
        params.pop(alias, None)
    params["random_state"] = options.seed
    return params


def fit_featurizer(
    spec: DatasetSpec, path: str, known_at: KnownAt, sample_rows: int = SAMPLE_ROWS
) -> LeadFeaturizer:
    """The featurizer fitted on (up to) ``sample_rows`` rows read from the data set's first
    partitions."""
    import dask.dataframe as dd

    data = dd.read_parquet(path)
    frames, rows = [], 0
    for index in range(data.npartitions):
        part = data.get_partition(index).compute()
        frames.append(part)
        rows += len(part)
        if rows >= sample_rows:
            break
    sample = pd.concat(frames, ignore_index=True).head(sample_rows)
    prepared = prepare_frame(spec, sample, source=f"{path} (sample)")
    return LeadFeaturizer(spec=spec, known_at=known_at.value).fit(prepared.frame)


def train_distributed(
    client: Client,
    spec: DatasetSpec,
    path: str,
    options: TrainOptions,
    *,
    rounds: int = DEFAULT_ROUNDS,
    sample_rows: int = SAMPLE_ROWS,
) -> DistributedFit:
    """Fit a calibrated LightGBM :class:`LeadModel` on the Parquet data set at ``path``
    with ``lightgbm.dask`` (see the module docstring)."""
    from lightgbm.dask import DaskLGBMClassifier

    if options.target not in spec.targets:
        known = ", ".join(spec.targets)
        raise ValueError(f"unknown target '{options.target}'; the spec defines: {known}")
    featurizer = fit_featurizer(spec, path, options.known_at, sample_rows)
    width = len(featurizer.feature_names_)
    featurized = _featurized(path, featurizer, spec, options.target).persist()
    cutoff = int(featurized[TIME].quantile(1 - options.valid_share).compute())
    fit_part = featurized[featurized[TIME] < cutoff]
    valid_part = featurized[featurized[TIME] >= cutoff]
    columns = feature_columns(width)
    params = distributed_params(spec, options)
    monotone = list(featurizer.monotone_constraints_)
    if any(monotone):
        params["monotone_constraints"] = monotone
        params["monotone_constraints_method"] = "advanced"
    classifier = DaskLGBMClassifier(client=client, n_estimators=rounds, **params)
    classifier.fit(
        fit_part[columns].to_dask_array(lengths=True),
        fit_part[LABEL].to_dask_array(lengths=True),
        categorical_feature=list(featurizer.categorical_indices_),
    )
    booster = classifier.booster_
    valid = valid_part.compute()
    estimator = GbmEstimator(booster)
    raw_valid = estimator.raw_score(valid[columns].to_numpy())
    calibrator = fit_calibrator(raw_valid, valid[LABEL].to_numpy(), seed=options.seed)
    model = LeadModel(
        dataset=spec.name,
        known_at=options.known_at.value,
        target=options.target,
        featurizer=featurizer,
        members=[Member(estimator, calibrator)],
        notes=[f"trained on Dask: {rounds} rounds on {_workers(client)} workers"],
    )
    return DistributedFit(
        model=model,
        rows_fit=len(fit_part),
        rows_valid=len(valid),
        rounds=rounds,
        valid_cutoff_ns=cutoff,
        params=params,
        valid_auc=_auc(valid[LABEL].to_numpy(), raw_valid),
    )


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def register_fit(
    fit: DistributedFit, tracking_uri: str, experiment: str, artifact_root: Path | None
) -> tuple[str, str, bool]:
    """Log ``fit`` as an MLflow run and register its model (the served pyfunc) under the
    project's name; the first version becomes champion, a later one waits for
    ``leadscore promote``. Returns (name, version, made champion)."""
    import mlflow

    from training.registry import (
        CHAMPION,
        LeadModelPyfunc,
        champion_version,
        ensure_experiment,
        model_name,
        set_alias,
    )

    model = fit.model
    name = model_name(model.known_at, model.target, model.dataset)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_root)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{name} (dask)"):
        mlflow.set_tags({"leadscore.trained_by": "train-distributed", "leadscore.kind": "lightgbm"})
        mlflow.log_params({"rounds": fit.rounds, "rows_fit": fit.rows_fit, **fit.params})
        mlflow.log_metrics({"valid.roc_auc": fit.valid_auc, "rows_valid": fit.rows_valid})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=LeadModelPyfunc(model), registered_model_name=name
        )
    version = str(info.registered_model_version)
    champion = champion_version(tracking_uri, name) is None
    if champion:
        set_alias(tracking_uri, name, CHAMPION, version)
    return name, version, champion


def _workers(client: Client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def write_partitioned(frame: pd.DataFrame, folder: Path, partitions: int) -> None:
    """Write ``frame`` as a Parquet data set of ``partitions`` parts (tests, benchmarks,
    and a CSV export made ready for a cluster)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.arange(len(frame)), partitions)):
        frame.iloc[part].to_parquet(folder / f"part-{index:05d}.parquet", index=False)
