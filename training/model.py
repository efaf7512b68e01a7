"""The trained model as serving uses it: feature pipeline + classifier + calibrator.

A :class:`LeadModel` is what each registered MLflow model holds. It takes raw flat
records (a lead's flat record) or a data frame in the spec's columns, runs
the one feature pipeline, and returns calibrated probabilities with reasons: the
classifier's own per-feature contributions (LightGBM's ``pred_contrib``; coefficient x
value for the logistic fallback) summed per source field and put in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.pipeline import LeadFeaturizer
from training.calibration import Calibrator
from training.reasons import Reason

Records: TypeAlias = Sequence[Mapping[str, Any]]
Inputs: TypeAlias = pd.DataFrame | Records


@dataclass(frozen=True)
class ScoredLead:
    probability: float
    reasons: list[Reason]


class Estimator(Protocol):
    """A classifier on the featurizer's matrix: raw log-odds and per-column contributions."""

    kind: str

    def raw_score(self, matrix: np.ndarray) -> np.ndarray: ...

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """(n, n_features) log-odds contributions, without the bias column."""
        ...


#: Below this many rows LightGBM predicts on one thread: the service scores single leads
#: from several request threads at once, and OpenMP teams per call would oversubscribe
#: the cores (spinning threads turn a 0.1 ms prediction into tens of milliseconds).
SINGLE_THREAD_ROWS = 2000


def _threads_for(matrix: np.ndarray) -> int:
    return 1 if matrix.shape[0] < SINGLE_THREAD_ROWS else 0


@dataclass
class GbmEstimator:
    booster: lgb.Booster
    kind: str = "lightgbm"

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        threads = _threads_for(matrix)
        return np.asarray(
            self.booster.predict(matrix, raw_score=True, num_threads=threads), dtype=float
        )

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        return self.contributions_and_bias(matrix)[:, :-1]

    def contributions_and_bias(self, matrix: np.ndarray) -> np.ndarray:
        """TreeSHAP values plus the bias column: each row sums to the raw score."""
        threads = _threads_for(matrix)
        contrib = self.booster.predict(matrix, pred_contrib=True, num_threads=threads)
        return np.asarray(contrib, dtype=float)

    @property
    def boosters(self) -> list[lgb.Booster]:
        return [self.booster]


def _log_sigmoid(raw: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -raw)


@dataclass
class ChainEstimator:
    """A later funnel target as two LightGBM models: P(earlier stage) x P(target | earlier).

    ``first`` is trained on every lead for the earlier target (SQL), ``then`` on the leads
    that reached it for the target (won given SQL). The earlier stage has several times
    more positives, so the product ranks better than one model of the rare target alone.
    """

    first: GbmEstimator
    then: GbmEstimator
    kind: str = "lightgbm"

    def _parts(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.first.raw_score(matrix), self.then.raw_score(matrix)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        """logit(sigmoid(r1) * sigmoid(r2)), computed in log space."""
        log_p = sum(_log_sigmoid(r) for r in self._parts(matrix))
        return np.asarray(log_p - np.log(-np.expm1(np.minimum(log_p, -1e-12))), dtype=float)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Each part's TreeSHAP values carried into the product's log-odds.

        logit(p) is not additive in the two parts' log-odds; its slope in each is
        (1 - sigmoid(r_i)) / (1 - p), so each part's contributions are weighted by that
        slope at the lead's own scores (a local, per-lead linearisation).
        """
        first = self.first.contributions_and_bias(matrix)
        then = self.then.contributions_and_bias(matrix)
        r1, r2 = first.sum(axis=1), then.sum(axis=1)  # the parts' raw scores
        p = np.exp(_log_sigmoid(r1) + _log_sigmoid(r2))
        w1 = (1 - 1 / (1 + np.exp(-r1))) / (1 - p)
        w2 = (1 - 1 / (1 + np.exp(-r2))) / (1 - p)
        return np.asarray(first[:, :-1] * w1[:, None] + then[:, :-1] * w2[:, None], dtype=float)

    @property
    def boosters(self) -> list[lgb.Booster]:
        return [self.first.booster, self.then.booster]


@dataclass
class LogisticEstimator:
    """The logistic-regression baseline, registered when it beats LightGBM (flagged)."""

    pipeline: Pipeline
    columns_of_feature: list[list[int]]  # design columns produced from each featurizer column
    design_mean: np.ndarray  # mean design row in training: contributions are relative to it
    kind: str = "logistic"

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.pipeline.decision_function(matrix), dtype=float)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        design = self.pipeline[:-1].transform(matrix)
        design = design.toarray() if hasattr(design, "toarray") else np.asarray(design)
        coef = self.pipeline[-1].coef_.ravel()
        per_design = (design - self.design_mean) * coef
        out = np.zeros((matrix.shape[0], len(self.columns_of_feature)))
        for j, cols in enumerate(self.columns_of_feature):
            if cols:
                out[:, j] = per_design[:, cols].sum(axis=1)
        return out


@dataclass(frozen=True)
class Member:
    """A classifier and the calibrator fitted on the rows it was early-stopped on."""

    estimator: Estimator
    calibrator: Calibrator


@dataclass
class LeadModel:
    """One trained, calibrated model scoring at one moment (``known_at``: arrival or
    qualified) for one target.

    It holds one or more cross-fitted members (each trained on part of the rows and
    calibrated on the rest); the probability is their mean, the reasons their mean
    contributions.
    """

    dataset: str
    known_at: str
    target: str
    featurizer: LeadFeaturizer
    members: list[Member]
    flagged: bool = False
    notes: list[str] = field(default_factory=list)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # models registered before the moment was named `known_at` stored it as `stage`
        if "stage" in state:
            state["known_at"] = state.pop("stage")
        self.__dict__.update(state)

    @property
    def kind(self) -> str:
        return self.members[0].estimator.kind

    @property
    def calibration(self) -> str:
        return ",".join(sorted({m.calibrator.method for m in self.members}))

    @property
    def input_columns(self) -> list[str]:
        return list(self.featurizer.input_columns_)

    def transform(self, inputs: Inputs) -> np.ndarray:
        return self.featurizer.transform(inputs)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        total = np.zeros(matrix.shape[0])
        for member in self.members:
            total += member.calibrator.predict(member.estimator.raw_score(matrix))
        return total / len(self.members)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Mean log-odds contribution of each featurizer column over the members."""
        total = self.members[0].estimator.contributions(matrix)
        for member in self.members[1:]:
            total = total + member.estimator.contributions(matrix)
        return total / len(self.members)

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        """Calibrated probability of the target for each lead (fast batch path, no reasons)."""
        return self.probabilities(self.transform(inputs))

    def source_contributions(self, matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Contributions summed per source field: (field names, (n, n_fields) matrix)."""
        contrib = self.contributions(matrix)
        sources = list(self.featurizer.feature_sources_)
        fields = list(dict.fromkeys(sources))
        position = {name: i for i, name in enumerate(fields)}
        out = np.zeros((matrix.shape[0], len(fields)))
        for j, source in enumerate(sources):
            out[:, position[source]] += contrib[:, j]
        return fields, out

    def score(self, records: Inputs, top_k: int = 3) -> list[ScoredLead]:
        """Probabilities with the top ``top_k`` positive and negative reasons per lead."""
        matrix = self.transform(records)
        probabilities = self.probabilities(matrix)
        fields, contrib = self.source_contributions(matrix)
        rows = _rows(records)
        return [
            ScoredLead(float(probabilities[i]), self._reasons(fields, contrib[i], rows[i], top_k))
            for i in range(matrix.shape[0])
        ]

    def _reasons(
        self, fields: list[str], contrib: np.ndarray, record: Mapping[str, Any], top_k: int
    ) -> list[Reason]:
        order = np.argsort(-contrib, kind="stable")
        positive = [i for i in order if contrib[i] > 1e-9][:top_k]
        negative = [i for i in order[::-1] if contrib[i] < -1e-9][:top_k]
        return [
            Reason(fields[i], self.featurizer.describe(fields[i], record), float(contrib[i]))
            for i in [*positive, *negative]
        ]


def _rows(inputs: Inputs) -> list[Mapping[str, Any]]:
    if isinstance(inputs, pd.DataFrame):
        return list(inputs.to_dict(orient="records"))
    return list(inputs)
