"""Scoring leads with the models in service, falling back to the BANT/source rule.

The fallback rule (the BANT/source points rule) scores whenever the champion for the requested
moment (known_at) and the queue target is missing or raises; the score says so (``is_fallback``,
``fallback_reason``), the error is logged and counted. A missing or failing model for a
secondary target (e.g. ``won`` next to ``sql``) is skipped: the rule does not estimate it.
The moment's outlook (time to conversion, expected value) goes with the queue target's
score when an outlook is in service; a missing or failing outlook is left out (logged).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.reason import Reason
from features.tiers import Tiers
from serving.modelset import TARGETS, ModelSet
from serving.scores import Score, ScoreOutlook
from serving.settings import LIKELY_SOON
from training.model import ScoredLead
from training.reasons import Wording
from training.registry import VersionedModel
from training.rules import explain_rule, rule_probability

log = logging.getLogger(__name__)

FALLBACK_MODEL = "bant-source-rule"
FALLBACK_VERSION = "fallback"
Record = Mapping[str, Any]


@dataclass(frozen=True)
class BatchScores:
    probabilities: np.ndarray
    tiers: list[str]
    reasons: list[list[Reason]] | None
    model_name: str
    model_version: str
    is_fallback: bool
    fallback_reason: str | None


#: Called for every score and every fallback, so the app can count them.
ScoreListener = Callable[[Score], None]
ErrorListener = Callable[[str, BaseException], None]


class Scorer:
    """Scores with a :class:`ModelSet` snapshot; never raises for a model's failure."""

    def __init__(
        self,
        tiers: Tiers,
        wording: Wording,
        queue_target: str = "sql",
        on_score: ScoreListener | None = None,
        on_model_error: ErrorListener | None = None,
        likely_soon: float = LIKELY_SOON,
    ) -> None:
        self.tiers = tiers
        self.wording = wording
        self.queue_target = queue_target
        self.likely_soon = likely_soon  # the P(SQL within 7 days) "likely soon" starts at
        self._on_score = on_score
        self._on_model_error = on_model_error

    def _model_failed(self, served: VersionedModel, error: BaseException) -> str:
        log.error(
            "model %s v%s failed; scoring with the fallback rule",
            served.name,
            served.version,
            exc_info=error,
        )
        if self._on_model_error is not None:
            self._on_model_error(served.name, error)
        return f"model {served.name} v{served.version} failed: {type(error).__name__}: {error}"

    def _model_score(self, served: VersionedModel, records: Sequence[Record]) -> list[ScoredLead]:
        return served.model.score(records, self.wording)

    def _emit(self, score: Score) -> Score:
        if self._on_score is not None:
            self._on_score(score)
        return score

    def fallback(self, known_at: str, target: str, record: Record, reason: str) -> Score:
        probability = float(rule_probability([record])[0])
        return Score(
            known_at,
            target,
            probability,
            self.tiers.of(probability),
            explain_rule(record, self.wording),
            FALLBACK_MODEL,
            FALLBACK_VERSION,
            is_fallback=True,
            fallback_reason=reason,
        )

    def _one(self, models: ModelSet, known_at: str, target: str, record: Record) -> Score | None:
        served = models.get(known_at, target)
        if served is None:
            if target != self.queue_target:
                return None
            reason = f"no champion of {models.name(known_at, target)} is loaded"
            return self.fallback(known_at, target, record, reason)
        try:
            scored = self._model_score(served, [record])[0]
            probability = float(scored.probability)
            if not np.isfinite(probability):
                raise ValueError(f"model returned a non-finite probability {probability}")
            reasons = list(scored.reasons)
        except Exception as error:
            reason = self._model_failed(served, error)
            if target != self.queue_target:
                return None
            return self.fallback(known_at, target, record, reason)
        tier = self.tiers.of(probability)
        return Score(known_at, target, probability, tier, reasons, served.name, served.version)

    def outlook(self, models: ModelSet, known_at: str, record: Record) -> ScoreOutlook | None:
        """The lead's outlook at ``known_at``; None without an outlook in service, or when it
        fails (logged and counted like a model's failure)."""
        served = models.outlook(known_at)
        if served is None:
            return None
        try:
            [outlook] = served.model.predict([record])
        except Exception as error:
            log.error("outlook %s v%s failed", served.name, served.version, exc_info=error)
            if self._on_model_error is not None:
                self._on_model_error(served.name, error)
            return None
        return ScoreOutlook.judged(outlook, served.name, served.version, self.likely_soon)

    def score_lead(self, models: ModelSet, known_at: str, record: Record) -> list[Score]:
        """Scores for one lead at ``known_at``: the queue target first (with the moment's
        outlook), then the others loaded."""
        targets = [self.queue_target, *(t for t in TARGETS if t != self.queue_target)]
        found = [s for t in targets if (s := self._one(models, known_at, t, record)) is not None]
        if found and found[0].target == self.queue_target:
            outlook = self.outlook(models, known_at, record)
            found[0] = dataclasses.replace(found[0], outlook=outlook)
        return [self._emit(score) for score in found]

    def score_batch(
        self,
        models: ModelSet,
        known_at: str,
        target: str,
        records: Sequence[Record],
        with_reasons: bool,
    ) -> BatchScores:
        """Many leads at once (the fast path: no reasons unless asked for)."""
        served = models.get(known_at, target)
        reason: str | None = None
        if served is not None:
            try:
                return self._model_batch(served, records, with_reasons)
            except Exception as error:
                reason = self._model_failed(served, error)
        else:
            reason = f"no champion of {models.name(known_at, target)} is loaded"
        probabilities = rule_probability(records)
        explanations = [explain_rule(r, self.wording) for r in records] if with_reasons else None
        return BatchScores(
            probabilities,
            [self.tiers.of(float(p)) for p in probabilities],
            explanations,
            FALLBACK_MODEL,
            FALLBACK_VERSION,
            True,
            reason,
        )

    def _model_batch(
        self, served: VersionedModel, records: Sequence[Record], with_reasons: bool
    ) -> BatchScores:
        explanations: list[list[Reason]] | None = None
        if with_reasons:
            scored = self._model_score(served, records)
            probabilities = np.array([s.probability for s in scored], dtype=np.float64)
            explanations = [list(s.reasons) for s in scored]
        else:
            probabilities = np.asarray(served.model.predict_proba(records), dtype=np.float64)
        if probabilities.shape != (len(records),) or not np.all(np.isfinite(probabilities)):
            raise ValueError(
                f"model returned {probabilities.shape} probabilities for {len(records)} leads"
            )
        return BatchScores(
            probabilities,
            [self.tiers.of(float(p)) for p in probabilities],
            explanations,
            served.name,
            served.version,
            False,
            None,
        )


def suggest_route(probability: float, sales_from: float, partner_from: float) -> str:
    """Where a qualified lead should go: sales, a partner, or out (disqualify)."""
    if probability >= sales_from:
        return "sales"
    if probability >= partner_from:
        return "partner"
    return "disqualify"
