"""Dask on a LocalCluster of 2 workers (in-process, one thread each): scores of a
partitioned Parquet data set equal one process's, and a model trained with
``lightgbm.dask`` ranks a later test period as well as the same fit in one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from features.tiers import Tiers
from training import distributed
from training.batch import score_frame
from training.model import LeadModel
from training.options import TrainOptions
from training.trainer import fit_final

pytest.importorskip("distributed", reason="the `dask` extra is not installed")

ROWS = 16_000
#: No row or column sampling: each worker would draw its own sample, so the comparison
#: would measure sampling noise, not the distributed fit.
PARAMS = {"learning_rate": 0.1, "bagging_fraction": 1.0, "bagging_freq": 0, "feature_fraction": 1.0}
ROUNDS = 120

if distributed.available():
    from distributed import Client


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with distributed.connect("local", workers=2, threads_per_worker=1, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    frame, _truth = generate_leads(n=ROWS, seed=17)
    return frame.sort_values("arrived_at", kind="stable").reset_index(drop=True)


def test_distributed_scores_equal_single_process_scores(
    client: Client, leads: pd.DataFrame, tmp_path: Path
) -> None:
    spec = load_spec("demo")
    leads = leads.head(3000)
    data = prepare_frame(spec, leads)
    model = fit_final(data, TrainOptions(target="sql", params={"learning_rate": 0.3}))
    folder = tmp_path / "leads"
    distributed.write_partitioned(leads.drop(columns=["stage_reached", "status"]), folder, 4)
    scores = distributed.scores_frame(client, model, spec, str(folder)).compute()
    one = score_frame(model, data.frame, data.ids, Tiers()).to_pandas().set_index("id")
    assert len(scores) == len(leads)
    assert scores["id"].is_unique
    mine = one.loc[scores["id"]]
    np.testing.assert_allclose(scores["probability"], mine["probability"], rtol=0, atol=1e-12)
    assert list(scores["tier"]) == list(mine["tier"])
    out = tmp_path / "scores"
    assert distributed.score_partitions(client, model, spec, str(folder), str(out)) == len(leads)
    written = pd.read_parquet(out)  # the parts the workers wrote
    assert sorted(written["id"]) == sorted(scores["id"])
    np.testing.assert_array_equal(
        written.set_index("id").loc[scores["id"], "probability"], scores["probability"]
    )


def test_a_dask_model_ranks_as_well_as_one_process(
    client: Client, leads: pd.DataFrame, tmp_path: Path
) -> None:
    spec = load_spec("demo")
    test_from = int(ROWS * 0.75)
    train, test = leads.iloc[:test_from], leads.iloc[test_from:]
    folder = tmp_path / "train"
    distributed.write_partitioned(train, folder, 4)
    options = TrainOptions(known_at=KnownAt.ARRIVAL, target="sql", params=PARAMS)
    fit = distributed.train_distributed(client, spec, str(folder), options, rounds=ROUNDS)
    model = fit.model
    assert isinstance(model, LeadModel)
    assert model.members[0].calibrator is not None
    assert fit.rows_fit + fit.rows_valid == len(train)
    # the same fit in one process: the same featurizer, rows, parameters and rounds
    prepared = prepare_frame(spec, train)
    matrix = model.featurizer.transform(prepared.frame)
    fit_rows = prepared.times.asi8 < fit.valid_cutoff_ns
    params = {**fit.params, "num_threads": 1, "seed": options.seed}
    params.pop("random_state")
    single = lgb.train(
        params,
        lgb.Dataset(
            matrix[fit_rows],
            prepared.targets["sql"][fit_rows],
            categorical_feature=list(model.featurizer.categorical_indices_),
        ),
        num_boost_round=ROUNDS,
    )
    held_out = prepare_frame(spec, test)
    y = held_out.targets["sql"]
    dask_auc = roc_auc_score(y, model.predict_proba(held_out.frame))
    single_auc = roc_auc_score(y, single.predict(model.featurizer.transform(held_out.frame)))
    assert dask_auc > 0.6
    assert abs(dask_auc - single_auc) <= 0.005, (dask_auc, single_auc)
    probabilities = model.predict_proba(held_out.frame)
    assert 0.5 < probabilities.mean() / y.mean() < 2  # calibrated to the target's rate
