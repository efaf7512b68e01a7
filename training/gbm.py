"""LightGBM: the production classifier, its parameters, early stopping and tuning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.metrics import log_loss

log = logging.getLogger(__name__)

#: Regularised defaults that hold up on small, noisy CRM data (a few thousand leads) and
#: on millions of rows alike; the bounded Optuna search moves around them.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "cat_smooth": 5.0,
    "cat_l2": 1.0,
    "min_data_per_group": 10,
    "max_cat_threshold": 64,
    "max_bin": 255,
    "verbosity": -1,
    "num_threads": 0,  # 0: the usable cores, chosen by the trainer (training/threads.py)
    "deterministic": True,
    "force_col_wise": True,
}
MAX_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class GbmFit:
    booster: lgb.Booster
    params: dict[str, Any]
    best_iteration: int
    valid_log_loss: float
    #: the validation rows' raw log-odds at ``best_iteration`` (predicted once, kept)
    valid_raw: np.ndarray


def _dataset(
    matrix: np.ndarray, y: np.ndarray, categorical: list[int], reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    return lgb.Dataset(
        matrix,
        label=y,
        categorical_feature=categorical,
        reference=reference,
        free_raw_data=False,
        params={"verbosity": -1},
    )


def scale_learning_rate(params: dict[str, Any], rows: int) -> dict[str, Any]:
    """Large data: a higher learning rate keeps training time bounded."""
    out = dict(params)
    if rows >= 500_000:
        out["learning_rate"] = max(out.get("learning_rate", 0.05), 0.1)
    return out


def fit_gbm(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    categorical: list[int],
    params: dict[str, Any],
    monotone: list[int] | None = None,
    seed: int = 0,
    max_rounds: int = MAX_ROUNDS,
) -> GbmFit:
    """Train with early stopping on ``valid`` (a slice of the training period, never test)."""
    full = {**params, "seed": seed}
    if monotone and any(monotone):
        full["monotone_constraints"] = monotone
        full["monotone_constraints_method"] = "advanced"
    train_set = _dataset(*train, categorical)
    valid_set = _dataset(*valid, categorical, reference=train_set)
    booster = lgb.train(
        full,
        train_set,
        num_boost_round=max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    raw = np.asarray(booster.predict(valid[0], num_iteration=best, raw_score=True), dtype=float)
    p = np.clip(1 / (1 + np.exp(-raw)), 1e-6, 1 - 1e-6)
    loss = float(log_loss(valid[1], p, labels=[0, 1]))
    return GbmFit(
        booster=booster, params=full, best_iteration=best, valid_log_loss=loss, valid_raw=raw
    )


def refit_gbm(
    data: tuple[np.ndarray, np.ndarray], categorical: list[int], fit: GbmFit, rounds: int
) -> lgb.Booster:
    """Train on more data with a fixed number of rounds (no early stopping)."""
    return lgb.train(fit.params, _dataset(*data, categorical), num_boost_round=max(1, rounds))


def fit_default_gbm(
    train: tuple[np.ndarray, np.ndarray], categorical: list[int], seed: int = 0, threads: int = 0
) -> lgb.Booster:
    """LightGBM with its library defaults (100 rounds): the untuned baseline, on
    ``threads`` threads (0: LightGBM's default)."""
    params = {"objective": "binary", "verbosity": -1, "seed": seed, "deterministic": True}
    params["num_threads"] = threads
    return lgb.train(params, _dataset(*train, categorical), num_boost_round=100)


def tune_gbm(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    categorical: list[int],
    base: dict[str, Any],
    trials: int,
    seed: int = 0,
    timeout_s: float | None = None,
    on_trial: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Bounded Optuna search on the validation slice; returns the best parameters.

    The objective is validation log loss (it rewards ranking and calibration alike).
    The defaults are always trial 0, so tuning can only keep them or improve on them.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = dict(base)
        if trial.number > 0:
            params.update(
                num_leaves=trial.suggest_int("num_leaves", 4, 127, log=True),
                min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 10, 400, log=True),
                learning_rate=trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
                feature_fraction=trial.suggest_float("feature_fraction", 0.4, 1.0),
                lambda_l2=trial.suggest_float("lambda_l2", 1e-2, 50.0, log=True),
                cat_smooth=trial.suggest_float("cat_smooth", 1.0, 200.0, log=True),
                min_data_per_group=trial.suggest_int("min_data_per_group", 10, 300, log=True),
            )
        fit = fit_gbm(train, valid, categorical, params, seed=seed)
        if on_trial is not None:
            on_trial(trial.number)
        return fit.valid_log_loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials, timeout=timeout_s)
    best = dict(base)
    if study.best_trial.number > 0:
        best.update(study.best_trial.params)
    log.info("tuning: best trial %d, log loss %.5f", study.best_trial.number, study.best_value)
    return best
