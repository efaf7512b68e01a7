"""``LeadFeaturizer``: the scikit-learn transformer training and serving both call.

It builds one encoder per feature its ``known_at`` may use, reads only the input columns of
those encoders, fixes what they learn in ``fit`` and writes each encoder's outputs into its
slice of one float64 matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from features.pipeline.columns import Column, Inputs, check_frame, frame_columns, read_columns
from features.pipeline.encoders import Encoder, build_encoders
from features.spec import DatasetSpec, KnownAt, upgraded


class LeadFeaturizer(TransformerMixin, BaseEstimator):
    """Raw lead rows -> float64 matrix for the features a ``known_at`` model may use.

    Learned attributes: ``input_columns_`` (raw columns read), ``feature_names_``,
    ``categorical_indices_`` (integer-coded outputs), ``feature_sources_`` (spec column of
    each output), ``monotone_constraints_``, ``categories_`` (category list of every
    categorical output, keyed by output name; for a categorical feature that is its column).
    """

    def __init__(self, spec: DatasetSpec, known_at: str = "arrival") -> None:
        self.spec = spec
        self.known_at = known_at

    def __setstate__(self, state: dict[str, Any]) -> None:
        # featurizers pickled before the moment was named `known_at` stored it as `stage`
        if "stage" in state:
            state["known_at"] = state.pop("stage")
        if isinstance(state.get("spec"), DatasetSpec):  # fields added to specs since
            state["spec"] = upgraded(state["spec"])
        super().__setstate__(state)

    # -- sklearn API

    def fit(self, X: Inputs, y: Any = None) -> Self:
        encoders = self._built_encoders()
        self._fit(encoders, *_read(X, _inputs(encoders)))
        return self

    def fit_transform(self, X: Inputs, y: Any = None, **fit_params: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return self.fit_transform_rows(X)
        encoders = self._built_encoders()
        n, columns_of = _read(X, _inputs(encoders))
        self._fit(encoders, n, columns_of)
        return self._encode(n, columns_of)

    def fit_transform_rows(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """``fit_transform`` of ``frame``'s ``rows`` (positions, in order; None: every row)
        as of the frame of only those rows, without copying them: each encoder reads its
        columns (of those rows) to fit and again to encode, so besides the matrix no more
        than one encoder's columns are held at a time."""
        encoders = self._built_encoders()
        check_frame(frame, _inputs(encoders))
        n = len(frame) if rows is None else len(rows)

        def columns_of(names: Sequence[str]) -> list[Column]:
            return frame_columns(frame, names, rows)

        self._fit(encoders, n, columns_of)
        return self._encode(n, columns_of)

    def transform(self, X: Inputs) -> np.ndarray:
        if not hasattr(self, "feature_names_"):  # check_is_fitted, minus its cost per request
            check_is_fitted(self, "feature_names_")
        return self._encode(*_read(X, self.input_columns_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return np.asarray(self.feature_names_, dtype=object)

    # -- explanations

    def describe(self, column: str, record: Mapping[str, Any]) -> str:
        """Plain words for the value of source field ``column`` in a raw ``record``."""
        check_is_fitted(self, "feature_names_")
        for encoder in self._encoders:
            if encoder.column == column:
                return encoder.describe([record.get(name) for name in encoder.inputs])
        known = ", ".join(encoder.column for encoder in self._encoders)
        raise ValueError(f"'{column}' is not a source field of this pipeline (fields: {known})")

    # -- internals

    def _built_encoders(self) -> list[Encoder]:
        try:
            known_at = KnownAt(self.known_at)
        except ValueError:
            known_ats = ", ".join(s.value for s in KnownAt)
            raise ValueError(
                f"known_at must be one of {known_ats}, got {self.known_at!r}"
            ) from None
        return build_encoders(self.spec, known_at)

    def _fit(self, encoders: list[Encoder], n: int, columns_of: ColumnsOf) -> None:
        if n == 0:
            raise ValueError("cannot fit the feature pipeline on no rows")
        for encoder in encoders:
            encoder.fit(columns_of(encoder.inputs))
        self._learn(encoders, _inputs(encoders))

    def _learn(self, encoders: list[Encoder], inputs: list[str]) -> None:
        """What the fitted ``encoders`` (reading ``inputs``) fix: slices, names, categories."""
        self._encoders = encoders
        self._slices: list[tuple[int, int]] = []
        start = 0
        for encoder in encoders:
            self._slices.append((start, start + len(encoder.names)))
            start += len(encoder.names)
        self.input_columns_: list[str] = inputs
        self.feature_names_: list[str] = [n for e in encoders for n in e.names]
        flags = [flag for encoder in encoders for flag in encoder.categorical]
        self.categorical_indices_: list[int] = [i for i, flag in enumerate(flags) if flag]
        self.feature_sources_: list[str] = [e.column for e in encoders for _ in e.names]
        self.monotone_constraints_: list[int] = [m for e in encoders for m in e.monotone]
        self.categories_: dict[str, list[str]] = {
            name: labels for e in encoders for name, labels in e.categories.items()
        }

    def _encode(self, n: int, columns_of: ColumnsOf) -> np.ndarray:
        out = np.empty((n, len(self.feature_names_)), dtype=np.float64)
        for encoder, (start, stop) in zip(self._encoders, self._slices, strict=True):
            encoder.encode(columns_of(encoder.inputs), out[:, start:stop])
        return out


#: The columns of some names, in that order (of a frame's rows, or of records read once).
ColumnsOf: TypeAlias = Callable[[Sequence[str]], list[Column]]


def _inputs(encoders: list[Encoder]) -> list[str]:
    """The raw columns the encoders read, each once, in order."""
    return list(dict.fromkeys(c for encoder in encoders for c in encoder.inputs))


def _read(X: Inputs, inputs: Sequence[str]) -> tuple[int, ColumnsOf]:
    """(rows, their columns by name) of a frame or records, every input read once."""
    n, columns = read_columns(X, inputs)
    return n, lambda names: [columns[c] for c in names]
