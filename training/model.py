"""The trained model as serving uses it: feature pipeline + classifier + calibrator.

A :class:`LeadModel` is what each registered MLflow model holds. It takes raw flat
records (a lead's flat record) or a data frame in the spec's columns, runs
the one feature pipeline, and returns calibrated probabilities with reasons: the
classifier's own per-feature contributions (LightGBM's ``pred_contrib``; coefficient x
value for the logistic fallback) summed per source field and put in plain words.

Each reason also carries its effect in percentage points: per member, the contributions
scaled so that they add up to the member's probability minus its baseline (the calibrated
probability of the expected raw score: TreeSHAP's bias, the logistic model at the mean
design row), then averaged over the members (``training.reasons.scaled_effects``). Reasons
below the threshold are not shown; phrases come from the spec's labels in the requested
language (``features.i18n``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, TypeAlias

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.i18n import Phrasebook
from features.i18n.fields import describe_field
from features.labels import reason_field
from features.pipeline import LeadFeaturizer
from features.reason import Reason
from features.spec import FeatureSpec
from training.calibration import Calibrator
from training.reasons import Wording, scaled_effects

#: Step in raw log-odds for the calibrator's local slope.
_STEP = 0.05

Records: TypeAlias = Sequence[Mapping[str, Any]]
Inputs: TypeAlias = pd.DataFrame | Records


@dataclass(frozen=True)
class ScoredLead:
    probability: float
    reasons: list[Reason]
    baseline: float | None = None  # the probability of an average lead, when known


class Estimator(Protocol):
    """A classifier on the featurizer's matrix: raw log-odds and per-column contributions."""

    kind: str

    def raw_score(self, matrix: np.ndarray) -> np.ndarray: ...

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """(n, n_features) log-odds contributions, without the bias column."""
        ...

    def baseline_raw(self, matrix: np.ndarray) -> np.ndarray:
        """(n,) raw score of an average lead: where the contributions are measured from."""
        ...

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores (n,), contributions (n, n_features)) at the cost of the pair."""
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
    #: TreeSHAP's bias (the same for every row), kept once known; models pickled before
    #: it existed read the class default and learn it on their first explanation.
    bias: float | None = field(default=None, init=False, repr=False, compare=False)

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

    def baseline_raw(self, matrix: np.ndarray) -> np.ndarray:
        """TreeSHAP's bias (the expected raw score), for every row."""
        if self.bias is None:
            self.bias = float(self.contributions_and_bias(matrix[:1])[0, -1])
        return np.full(matrix.shape[0], self.bias)

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One TreeSHAP pass: its rows sum to the raw score (to rounding, ~1e-14), so the
        raw prediction is not asked for again."""
        contrib = self.contributions_and_bias(matrix)
        if self.bias is None and len(contrib):
            self.bias = float(contrib[0, -1])
        return contrib.sum(axis=1), contrib[:, :-1]

    @property
    def boosters(self) -> list[lgb.Booster]:
        return [self.booster]


def _log_sigmoid(raw: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -raw)


def _logit_of_log(log_p: np.ndarray) -> np.ndarray:
    """logit(p) from log(p), stable near p = 1."""
    return np.asarray(log_p - np.log(-np.expm1(np.minimum(log_p, -1e-12))), dtype=float)


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
        first, then = self._parts(matrix)
        return _logit_of_log(_log_sigmoid(first) + _log_sigmoid(then))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        return self.explain(matrix)[1]

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The product's raw score and each part's TreeSHAP values carried into its
        log-odds, from one TreeSHAP pass per part.

        logit(p) is not additive in the two parts' log-odds; its slope in each is
        (1 - sigmoid(r_i)) / (1 - p), so each part's contributions are weighted by that
        slope at the lead's own scores (a local, per-lead linearisation).
        """
        r1, first = self.first.explain(matrix)
        r2, then = self.then.explain(matrix)
        log_p = _log_sigmoid(r1) + _log_sigmoid(r2)
        p = np.exp(log_p)
        w1 = (1 - 1 / (1 + np.exp(-r1))) / (1 - p)
        w2 = (1 - 1 / (1 + np.exp(-r2))) / (1 - p)
        return _logit_of_log(log_p), np.asarray(
            first * w1[:, None] + then * w2[:, None], dtype=float
        )

    def baseline_raw(self, matrix: np.ndarray) -> np.ndarray:
        """logit(sigmoid(b1) * sigmoid(b2)) of the two parts' biases."""
        return _logit_of_log(
            _log_sigmoid(self.first.baseline_raw(matrix))
            + _log_sigmoid(self.then.baseline_raw(matrix))
        )

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

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.raw_score(matrix), self.contributions(matrix)

    def baseline_raw(self, matrix: np.ndarray) -> np.ndarray:
        """The decision function at the mean training design row."""
        coef = self.pipeline[-1].coef_.ravel()
        value = float(self.design_mean @ coef + self.pipeline[-1].intercept_[0])
        return np.full(matrix.shape[0], value)


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

    def effects(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities (n,), baselines (n,), effects in pp (n, n_features)): each row of
        effects adds up to 100 x (probability - baseline)."""
        probability, baseline, _contributions, effects = self.explained(matrix)
        return probability, baseline, effects

    def explained(
        self, matrix: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities, baselines, mean log-odds contributions, effects in pp), with
        each member's contributions computed once."""
        n = matrix.shape[0]
        probability, baseline = np.zeros(n), np.zeros(n)
        contributions = np.zeros((n, matrix.shape[1]))
        effects = np.zeros((n, matrix.shape[1]))
        for member in self.members:
            estimator, calibrate = member.estimator, member.calibrator.predict
            raw, own = estimator.explain(matrix)
            p, p0 = calibrate(raw), calibrate(estimator.baseline_raw(matrix))
            slope = (calibrate(raw + _STEP) - calibrate(raw - _STEP)) / (2 * _STEP)
            effects += scaled_effects(own, p - p0, slope)
            contributions += own
            probability += p
            baseline += p0
        k = len(self.members)
        return probability / k, baseline / k, contributions / k, 100.0 * effects / k

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

    def score(self, records: Inputs, wording: Wording = Wording()) -> list[ScoredLead]:
        """Probabilities with the reasons per lead that ``wording`` shows, phrased as it
        says (money converted with the rates the model was trained with)."""
        matrix = self.transform(records)
        probabilities, baselines, per_column, effects = self.explained(matrix)
        layout = self.reason_layout
        contrib = per_column @ layout.grouping
        field_effects = effects @ layout.grouping
        rows = _rows(records)
        book = wording.phrasebook()
        return [
            ScoredLead(
                float(probabilities[i]),
                self._reasons(contrib[i], field_effects[i], matrix[i], rows[i], book, wording),
                float(baselines[i]),
            )
            for i in range(matrix.shape[0])
        ]

    def reason_fields(self) -> list[str]:
        """The reason each featurizer column counts under: its source field, or the field
        that source's spec ``explained_with`` joins (one reason per source field)."""
        return list(self.reason_layout.groups)

    @cached_property
    def reason_layout(self) -> ReasonLayout:
        """How the featurizer's columns add up to reasons: worked out once per model (not
        pickled, see :meth:`__getstate__`)."""
        return ReasonLayout.of(self.featurizer)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("reason_layout", None)
        return state

    def phrase(
        self, field: str, row: np.ndarray, record: Mapping[str, Any], book: Phrasebook
    ) -> tuple[str, bool]:
        """(words, missing) for reason ``field`` of one lead (its matrix ``row``): the
        phrases of its source fields joined with '; '."""
        layout = self.reason_layout
        said = [
            describe_field(
                layout.specs[source],
                {name: float(row[j]) for j, name in layout.outputs[source]},
                record,
                self.featurizer.categories_,
                book,
                self.featurizer.spec.time_format,
            )
            for source in layout.members.get(field, ())
        ]
        return "; ".join(words for words, _ in said), all(missing for _, missing in said)

    def _reasons(
        self,
        contrib: np.ndarray,
        effects: np.ndarray,
        row: np.ndarray,
        record: Mapping[str, Any],
        book: Phrasebook,
        wording: Wording,
    ) -> list[Reason]:
        fields = self.reason_layout.fields
        candidates = [
            Reason(fields[i], "", float(contrib[i]), float(effects[i])) for i in range(len(fields))
        ]
        out = []
        for reason in wording.shown(candidates):
            words, missing = self.phrase(reason.field, row, record, book)
            out.append(replace(reason, phrase=words, missing=missing))
        return out


@dataclass(frozen=True, eq=False)
class ReasonLayout:
    """A featurizer's columns as reasons: the reason field of each column (``groups``),
    the reason fields in order (``fields``), a 0/1 matrix summing columns into fields
    (``grouping``: (n_columns, n_fields)), the source fields each reason phrases
    (``members``), each source's output columns (``outputs``: (index, name)) and specs."""

    groups: tuple[str, ...]
    fields: tuple[str, ...]
    grouping: np.ndarray
    members: Mapping[str, tuple[str, ...]]
    outputs: Mapping[str, tuple[tuple[int, str], ...]]
    specs: Mapping[str, FeatureSpec]

    @classmethod
    def of(cls, featurizer: LeadFeaturizer) -> ReasonLayout:
        specs = {feature.column: feature for feature in featurizer.spec.features}
        sources = list(featurizer.feature_sources_)
        present = set(sources)
        groups = [reason_field(specs[source], source, present) for source in sources]
        fields = list(dict.fromkeys(groups))
        position = {name: i for i, name in enumerate(fields)}
        grouping = np.zeros((len(groups), len(fields)))
        grouping[np.arange(len(groups)), [position[g] for g in groups]] = 1.0
        members = {
            f: tuple(dict.fromkeys(s for s, g in zip(sources, groups, strict=True) if g == f))
            for f in fields
        }
        outputs: dict[str, list[tuple[int, str]]] = {}
        for j, (source, name) in enumerate(zip(sources, featurizer.feature_names_, strict=True)):
            outputs.setdefault(source, []).append((j, name))
        return cls(
            tuple(groups),
            tuple(fields),
            grouping,
            members,
            {source: tuple(columns) for source, columns in outputs.items()},
            specs,
        )


def _rows(inputs: Inputs) -> list[Mapping[str, Any]]:
    if isinstance(inputs, pd.DataFrame):
        return list(inputs.to_dict(orient="records"))
    return list(inputs)
