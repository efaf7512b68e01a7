"""Compiled prediction (the `compiled` extra, lleaves) scores as Booster.predict does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training import compiled
from training.model import ChainEstimator, GbmEstimator, LeadModel
from training.trainer import TrainOptions, fit_final

pytestmark = pytest.mark.skipif(
    not compiled.available(),
    reason="the `compiled` extra (lleaves) is not installed: pip install leadscore[compiled]",
)

#: Few, shallow trees: compiling a production-size model takes tens of seconds.
SMALL = {"learning_rate": 0.3, "num_leaves": 8}


@pytest.fixture(scope="module")
def data_and_model() -> tuple[np.ndarray, LeadModel]:
    frame, _truth = generate_leads(n=2500, seed=5)
    data = prepare_frame(load_spec("demo"), frame)
    options = TrainOptions(known_at=KnownAt.QUALIFIED, target="won", params=SMALL)
    model = fit_final(data, options)
    return model.transform(data.frame), model


def test_compiled_scores_equal_the_boosters_within_1e_9(
    data_and_model: tuple[np.ndarray, LeadModel], tmp_path: Path
) -> None:
    matrix, model = data_and_model
    fast = compiled.compiled_model(model, tmp_path / "compiled")
    estimator = fast.members[0].estimator
    assert isinstance(estimator, ChainEstimator)  # won = P(sql) x P(won | sql): two boosters
    for part in (estimator.first, estimator.then):
        assert isinstance(part, compiled.CompiledGbmEstimator)
        raw = part.booster.predict(matrix, raw_score=True)
        np.testing.assert_allclose(part.raw_score(matrix), raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        fast.probabilities(matrix), model.probabilities(matrix), rtol=0, atol=1e-9
    )
    # the reasons still come from the booster's TreeSHAP
    np.testing.assert_allclose(fast.contributions(matrix[:50]), model.contributions(matrix[:50]))
    # the original model is left on the plain path
    original = model.members[0].estimator
    assert isinstance(original, ChainEstimator)
    assert type(original.first) is GbmEstimator


def test_a_version_compiles_once_and_is_cached_by_its_hash(
    data_and_model: tuple[np.ndarray, LeadModel], tmp_path: Path
) -> None:
    matrix, model = data_and_model
    cache = tmp_path / "compiled"
    compiled.compiled_model(model, cache)
    files = sorted(cache.glob("*.o"))
    assert len(files) == 2  # one per booster of the chain
    stamps = [f.stat().st_mtime_ns for f in files]
    again = compiled.compiled_model(model, cache)
    assert sorted(cache.glob("*.o")) == files
    assert [f.stat().st_mtime_ns for f in files] == stamps  # loaded, not compiled again
    assert not [p for p in cache.iterdir() if p.is_dir()]  # no scratch left behind
    np.testing.assert_allclose(
        again.probabilities(matrix), model.probabilities(matrix), rtol=0, atol=1e-9
    )
    estimator = model.members[0].estimator
    assert isinstance(estimator, ChainEstimator)
    names = {f.name.split("-")[0] for f in files}
    assert compiled.booster_hash(estimator.first.booster)[:32] in names
