"""Baselines trained on the same split as the production model.

- logistic regression on the same feature matrix (one-hot categoricals, imputed,
  log-scaled and standardised numerics with missing indicators);
- LightGBM with its default parameters (to show what tuning buys);
- the BANT points rule (the fallback rule) where the data has BANT answers.

Above ``TrainOptions.baseline_rows`` the trained baselines are fitted on a stratified
sample of the training rows and the rule is scored on a stratified sample of the test rows
(``stratified_positions``); the run's report says both sizes.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from training.model import LogisticEstimator


def stratified_positions(y: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Positions into ``y``: all of them when ``limit`` is 0 or not below their number, else
    a sample of ``limit`` keeping each class's share, in their original order."""
    everything = np.arange(len(y))
    if limit <= 0 or len(y) <= limit or len(np.unique(y)) < 2:
        return everything
    picked, _rest = train_test_split(everything, train_size=limit, stratify=y, random_state=seed)
    return np.sort(picked)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _design_columns(pipeline: Pipeline, n_features: int, categorical: list[int]) -> list[list[int]]:
    """Which design-matrix columns come from each featurizer column."""
    transformer: ColumnTransformer = pipeline[0]
    numeric = [j for j in range(n_features) if j not in set(categorical)]
    mapping: list[list[int]] = [[] for _ in range(n_features)]
    offset = 0
    if categorical:
        encoder: OneHotEncoder = transformer.named_transformers_["cat"]
        for j, cats in zip(categorical, encoder.categories_, strict=True):
            width = len(cats) - (0 if encoder.drop_idx_ is None else 1)
            mapping[j] = list(range(offset, offset + width))
            offset += width
    if numeric:
        imputer: SimpleImputer = transformer.named_transformers_["num"][0]
        for j in numeric:
            mapping[j] = [offset]
            offset += 1
        if imputer.indicator_ is not None:
            for position in imputer.indicator_.features_:
                mapping[numeric[position]].append(offset)
                offset += 1
    return mapping


def fit_logistic(
    matrix: np.ndarray, y: np.ndarray, categorical: list[int], c: float = 0.5, seed: int = 0
) -> LogisticEstimator:
    """Fit the logistic-regression baseline on a featurizer matrix."""
    numeric = [j for j in range(matrix.shape[1]) if j not in set(categorical)]
    parts: list[tuple[str, object, list[int]]] = []
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    if numeric:
        numeric_pipe = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            FunctionTransformer(_signed_log1p),
            StandardScaler(),
        )
        parts.append(("num", numeric_pipe, numeric))
    pipeline = Pipeline(
        [
            ("design", ColumnTransformer(parts, sparse_threshold=0.0)),
            ("lr", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )
    pipeline.fit(matrix, y)
    design = np.asarray(pipeline[:-1].transform(matrix))
    return LogisticEstimator(
        pipeline=pipeline,
        columns_of_feature=_design_columns(pipeline, matrix.shape[1], categorical),
        design_mean=design.mean(axis=0),
    )
