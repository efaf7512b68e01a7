"""Compiled prediction (the optional ``compiled`` extra): LightGBM trees as native code.

The raw tree output of a :class:`~training.model.LeadModel`'s LightGBM boosters is computed
by `lleaves <https://github.com/siboehm/lleaves>`_ (the trees compiled by LLVM into one
function per model) instead of ``Booster.predict``; the featurizer, the calibrators, the
chained product and the reasons (TreeSHAP, still the booster's ``pred_contrib``) stay as
they are. Scores equal the booster's to ~1e-15 (double precision throughout).

Each booster is compiled once per model version and machine: the object code is cached on
disk under ``<data dir>/compiled/`` keyed by the hash of the booster's model text, the
lleaves version and the CPU it was compiled for, written to a temporary name and renamed
into place (two processes compiling at once never read a half-written file). Without the
extra (:func:`available` is False) :func:`compiled_model` is not used and the plain
``Booster.predict`` path is the default everywhere. Linux and macOS (LLVM via llvmlite).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from training.model import (
    SINGLE_THREAD_ROWS,
    ChainEstimator,
    Estimator,
    GbmEstimator,
    LeadModel,
    Member,
)
from training.threads import available_threads

#: The folder under the data dir where compiled boosters are kept.
CACHE_FOLDER = "compiled"


def available() -> bool:
    """True when the ``compiled`` extra (lleaves) is installed."""
    return find_spec("lleaves") is not None


def booster_hash(booster: lgb.Booster) -> str:
    """A stable hash of a booster's trees and parameters (its model text)."""
    return hashlib.sha256(booster.model_to_string().encode()).hexdigest()


def cache_key(booster: lgb.Booster, cpu: str) -> str:
    """The cache file's name: model hash, lleaves version, CPU (object code is per CPU)."""
    try:
        lleaves_version = version("lleaves")
    except PackageNotFoundError:
        lleaves_version = "none"
    tag = hashlib.sha256(f"{lleaves_version}|{cpu}".encode()).hexdigest()[:12]
    return f"{booster_hash(booster)[:32]}-{tag}.o"


def _host_cpu() -> str:
    import llvmlite.binding as llvm

    return str(llvm.get_host_cpu_name())


def compile_booster(booster: lgb.Booster, cache_dir: Path) -> Any:
    """The lleaves model of ``booster`` (raw scores), from the disk cache when compiled
    before, else compiled now and cached."""
    import lleaves

    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / cache_key(booster, _host_cpu())
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        model_file = Path(scratch) / "model.txt"
        booster.save_model(str(model_file))
        compiled = lleaves.Model(model_file=str(model_file))
        if cached.exists():
            compiled.compile(cache=str(cached), raw_score=True)
        else:
            fresh = Path(scratch) / "model.o"
            compiled.compile(cache=str(fresh), raw_score=True)
            os.replace(fresh, cached)
    return compiled


@dataclass
class CompiledGbmEstimator(GbmEstimator):
    """A :class:`GbmEstimator` whose raw score comes from the compiled trees; its
    contributions (TreeSHAP) still come from the booster. Native code does not pickle:
    send the plain model to other processes and compile there."""

    compiled: Any = None

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        jobs = 1 if matrix.shape[0] < SINGLE_THREAD_ROWS else available_threads()
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        return np.asarray(self.compiled.predict(data, n_jobs=jobs), dtype=float)


def _compiled_gbm(estimator: GbmEstimator, cache_dir: Path) -> GbmEstimator:
    if isinstance(estimator, CompiledGbmEstimator):
        return estimator
    return CompiledGbmEstimator(
        estimator.booster, compiled=compile_booster(estimator.booster, cache_dir)
    )


def _compiled(estimator: Estimator, cache_dir: Path) -> Estimator:
    if isinstance(estimator, ChainEstimator):
        return ChainEstimator(
            _compiled_gbm(estimator.first, cache_dir), _compiled_gbm(estimator.then, cache_dir)
        )
    if isinstance(estimator, GbmEstimator):
        return _compiled_gbm(estimator, cache_dir)
    return estimator  # the logistic baseline has no trees


def compiled_model(model: LeadModel, cache_dir: Path) -> LeadModel:
    """A copy of ``model`` whose LightGBM boosters predict through compiled code (the
    original is left as it is). Needs the extra: check :func:`available` first."""
    members = [
        Member(_compiled(member.estimator, cache_dir), member.calibrator)
        for member in model.members
    ]
    return replace(model, members=members)


def cache_dir_of(data_dir: Path) -> Path:
    """Where compiled boosters are cached for a data dir."""
    return data_dir / CACHE_FOLDER
