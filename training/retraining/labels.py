"""Monthly retraining from settled outcomes: labels, the window, gates, champion vs challenger.

1. **Labels** (:func:`label_settled`). A lead counts once its outcome is settled by the
   moment of retraining (``as_of``): it reached a closing status (won, lost, disqualified,
   partner, other department) by then, or it is still open after the maturity window
   (default 90 days), which counts as not converted beyond the stage it had reached.
   Younger open leads are left out, and so are leads that arrived after ``as_of``; with a
   status history the outcome is taken *as it stood at* ``as_of`` (a lead closed later is
   still open then), so no label comes from the future.
2. **Window** (:func:`evaluation_window`). The most recent complete month(s) before
   ``as_of``. The challenger is trained on settled leads that arrived before it (never on
   it: ``TrainOptions(test_start, test_end, refit=False)``); challenger and champion are
   scored on the same settled leads of the window.
3. **Gates** (:func:`evaluate_gates`), every one reported: enough settled outcomes to fit
   at all (cold start), enough positives in the window, ROC-AUC not worse than the
   champion's by more than a tolerance and better on ROC-AUC or log loss, ECE within a
   bound, no feature drifting (PSI) between training and window data unless allowed.
4. **Stability** (:func:`tier_changes`): how many open leads would change tier (A-D, the
   service's fixed probability cut-offs) under the challenger.

The MLflow side (runs, registry aliases, idempotency) is in ``training.retraining.records``; this
module's functions are pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_datetime_utc, to_text
from features.dataset import LeadData
from features.funnel import TERMINAL_STATUSES, Stage, Status, highest_stage
from features.lead import BANT_COLUMNS, QUESTION_PREFIX
from training.metrics import ECE_BINS, Metrics
from training.retraining.drift import FeaturePsi
from training.tiers import Tiers

DEFAULT_MATURITY_DAYS = 90
DEFAULT_EVAL_MONTHS = 1
#: Statuses that settle a lead (the funnel's terminal statuses).
CLOSED_STATUSES: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL_STATUSES))
TIERS: tuple[str, ...] = ("A", "B", "C", "D")


# --------------------------------------------------------------------------- time


def utc_timestamp(value: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A timezone-aware UTC timestamp (a date means its midnight, UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def _utc_column(series: pd.Series) -> pd.DatetimeIndex:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(series).tz_convert(UTC)
    if pd.api.types.is_datetime64_dtype(dtype):
        return pd.DatetimeIndex(series).tz_localize(UTC)
    return to_datetime_utc(as_object_array(series))


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class OutcomeColumns:
    """Columns of a lead frame that say how each lead ended (the demo spec's names)."""

    status: str = "status"
    stage: str = "stage_reached"
    closed_at: str = "closed_at"
    history: str = "status_history"


@dataclass(frozen=True)
class Settled:
    """Which leads count at ``as_of``, with their outcome columns as they stood then."""

    frame: pd.DataFrame  # the leads that count (input rows, outcome columns as of as_of)
    open_frame: pd.DataFrame  # leads still open at as_of, whatever their age
    times: pd.DatetimeIndex  # arrival time of every input row
    mask: np.ndarray  # input rows that count (aligned with ``times``)
    as_of: pd.Timestamp
    maturity_days: int
    reach: str | None  # the target's stage: reaching it settles a lead as positive
    closed: int  # settled by a closing status
    reached: int  # open, but already reached the target's stage
    matured: int  # open past the maturity window
    too_young: int  # open, younger than the window: left out
    future: int  # arrived after as_of (or without a time): left out
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        reached = f", {self.reached} open past {self.reach}" if self.reach else ""
        return (
            f"{len(self.frame)} settled leads as of {self.as_of:%Y-%m-%d %H:%M} UTC "
            f"({self.closed} closed{reached}, {self.matured} open for more than "
            f"{self.maturity_days} days); left out: {self.too_young} younger open leads, "
            f"{self.future} arriving later"
        )


@dataclass(frozen=True)
class _Snapshot:
    status: str
    stage: str
    closed_at: pd.Timestamp | None


def _history_changes(raw: Any) -> list[tuple[str, pd.Timestamp]]:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return []
    changes = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(change["status"]), utc_timestamp(change["at"])) for change in changes]


def snapshot_of(raw_history: Any, as_of: pd.Timestamp, closed: Iterable[str]) -> _Snapshot:
    """Status, stage reached and closing time as they stood at ``as_of``.

    ``raw_history`` is a JSON list (or a list) of ``{"status", "at"}``. Nothing recorded by
    ``as_of`` means the lead was new then.
    """
    changes = [(status, at) for status, at in _history_changes(raw_history) if at <= as_of]
    if not changes:
        return _Snapshot(status=Status.NEW.value, stage=Stage.LEAD.value, closed_at=None)
    statuses = [status for status, _at in changes]
    try:
        stage = highest_stage([Status(s) for s in statuses]).value
    except ValueError:  # statuses outside leadscore's funnel: no stage to compute
        stage = Stage.LEAD.value
    status, at = changes[-1]
    return _Snapshot(status=status, stage=stage, closed_at=at if status in closed else None)


def _text_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    return to_text(as_object_array(frame[column]))


def _stage_rank(stage: str | None) -> int:
    try:
        return Stage(stage).rank if stage is not None else -1
    except ValueError:
        return -1


@dataclass(frozen=True)
class Outcomes:
    """Every lead's state at ``as_of``, from which the settled leads of any target follow.

    Built once by :func:`read_outcomes`; :meth:`settled` then picks the leads that count
    for a target's stage cheaply, so several targets share the (costly) reading.
    """

    frame: pd.DataFrame  # the input rows (index 0..n-1)
    times: pd.DatetimeIndex
    as_of: pd.Timestamp
    maturity_days: int
    future: np.ndarray
    closed_by: np.ndarray
    open_at: np.ndarray
    mature: np.ndarray  # open at as_of, past the maturity window
    stage_rank: np.ndarray  # rank of the stage reached by as_of (open leads; -1 unknown)
    snapshots: dict[int, _Snapshot]
    columns: OutcomeColumns
    present: dict[str, bool]
    notes: list[str]

    def mask(self, reach: Stage | str | None = None) -> np.ndarray:
        """Input rows that count for a target reached at stage ``reach``."""
        mask = self.closed_by | self.mature
        if reach is not None:
            mask = mask | (self.open_at & (self.stage_rank >= Stage(reach).rank))
        return mask

    def settled(self, reach: Stage | str | None = None) -> Settled:
        mask = self.mask(reach)
        reached = mask & self.open_at & ~self.mature
        out = self.frame.loc[mask].copy()
        _apply_snapshots(out, self.snapshots, self.columns, self.present)
        return Settled(
            frame=out.reset_index(drop=True),
            open_frame=self.frame.loc[self.open_at].reset_index(drop=True),
            times=self.times,
            mask=mask,
            as_of=self.as_of,
            maturity_days=self.maturity_days,
            reach=Stage(reach).value if reach is not None else None,
            closed=int(self.closed_by.sum()),
            reached=int(reached.sum()),
            matured=int(self.mature.sum()),
            too_young=int((self.open_at & ~mask).sum()),
            future=int(self.future.sum()),
            notes=list(self.notes),
        )


def read_outcomes(
    frame: pd.DataFrame,
    as_of: date | datetime | str | pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    *,
    time_column: str = "arrived_at",
    columns: OutcomeColumns = OutcomeColumns(),
    closed_statuses: Iterable[str] = CLOSED_STATUSES,
) -> Outcomes:
    """Each lead's state at ``as_of``: closed by then, open (and its stage then), or later."""
    if maturity_days < 0:
        raise ValueError(f"maturity_days must be 0 or more, got {maturity_days}")
    if time_column not in frame.columns:
        raise ValueError(f"the lead frame has no time column '{time_column}'")
    as_of = utc_timestamp(as_of)
    closed = frozenset(closed_statuses)
    notes: list[str] = []
    frame = frame.reset_index(drop=True)
    n = len(frame)
    has = {name: name in frame.columns for name in asdict(columns).values()}
    arrived = _utc_column(frame[time_column])
    future = np.asarray(arrived.isna() | (arrived > as_of))
    status = _text_column(frame, columns.status) if has[columns.status] else np.full(n, None)
    closed_now = np.fromiter((s in closed for s in status), dtype=bool, count=n)
    if not has[columns.status]:
        notes.append(f"no '{columns.status}' column: only the maturity window settles leads")
    closed_by = _closed_by(frame, closed_now, as_of, columns, has, closed, notes) & ~future
    open_at = ~future & ~closed_by
    snaps = _open_snapshots(frame, open_at, closed_now, as_of, columns, has, closed, notes)
    known = np.zeros(n, dtype=bool)
    known[list(snaps)] = True
    stage_rank = np.full(n, -1, dtype=int)
    for i, snap in snaps.items():
        stage_rank[i] = _stage_rank(snap.stage)
    mature = open_at & np.asarray(arrived <= as_of - pd.Timedelta(days=maturity_days)) & known
    return Outcomes(
        frame=frame,
        times=arrived,
        as_of=as_of,
        maturity_days=maturity_days,
        future=future,
        closed_by=closed_by,
        open_at=open_at,
        mature=mature,
        stage_rank=stage_rank,
        snapshots=snaps,
        columns=columns,
        present=has,
        notes=notes,
    )


def label_settled(
    frame: pd.DataFrame,
    as_of: date | datetime | str | pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    *,
    reach: Stage | str | None = None,
    time_column: str = "arrived_at",
    columns: OutcomeColumns = OutcomeColumns(),
    closed_statuses: Iterable[str] = CLOSED_STATUSES,
) -> Settled:
    """The leads whose outcome is settled at ``as_of`` (see the module docstring).

    ``frame`` holds one row per lead: the time column and, as far as available, the
    current status, the stage reached, the closing time and the status history (a JSON
    list of ``{"status", "at"}``). A lead counts when, at ``as_of``, it is closed, or it
    has reached ``reach`` (the target's stage: an SQL stays an SQL whatever happens
    next), or it arrived at or before ``as_of - maturity_days``. A lead closed at exactly
    ``as_of`` counts. Counted leads carry their status and stage as they stood at ``as_of``.
    """
    outcomes = read_outcomes(
        frame,
        as_of,
        maturity_days,
        time_column=time_column,
        columns=columns,
        closed_statuses=closed_statuses,
    )
    return outcomes.settled(reach)


def _closed_by(
    frame: pd.DataFrame,
    closed_now: np.ndarray,
    as_of: pd.Timestamp,
    columns: OutcomeColumns,
    has: Mapping[str, bool],
    closed: frozenset[str],
    notes: list[str],
) -> np.ndarray:
    """Leads closed at or before ``as_of``."""
    if has[columns.closed_at]:
        return closed_now & np.asarray(_utc_column(frame[columns.closed_at]) <= as_of)
    if has[columns.history]:
        out = closed_now.copy()
        for i in np.flatnonzero(out):
            out[i] = snapshot_of(frame.at[i, columns.history], as_of, closed).closed_at is not None
        return out
    notes.append(
        f"no '{columns.closed_at}' or '{columns.history}' column: closed leads are taken as "
        "closed before as_of"
    )
    return closed_now.copy()


def _open_snapshots(
    frame: pd.DataFrame,
    open_at: np.ndarray,
    closed_now: np.ndarray,
    as_of: pd.Timestamp,
    columns: OutcomeColumns,
    has: Mapping[str, bool],
    closed: frozenset[str],
    notes: list[str],
) -> dict[int, _Snapshot]:
    """Status and stage at ``as_of`` of the leads open then (when they can be known)."""
    rows = np.flatnonzero(open_at)
    if has[columns.history]:
        histories = frame[columns.history].to_numpy(dtype=object)
        return {int(i): snapshot_of(histories[i], as_of, closed) for i in rows}
    # without a history: a lead open now is as it is now; one closed since is unknown
    unknown = rows[closed_now[rows]]
    if len(unknown):
        notes.append(
            f"{len(unknown)} leads closed after as_of are left out: without a "
            f"'{columns.history}' column their outcome at as_of is unknown"
        )
    stages = _text_column(frame, columns.stage) if has[columns.stage] else np.full(len(frame), None)
    status = (
        _text_column(frame, columns.status) if has[columns.status] else np.full(len(frame), None)
    )
    return {
        int(i): _Snapshot(
            status=status[i] or Status.NEW.value, stage=stages[i] or "", closed_at=None
        )
        for i in rows
        if not closed_now[i]
    }


def _apply_snapshots(
    out: pd.DataFrame,
    snaps: Mapping[int, _Snapshot],
    columns: OutcomeColumns,
    has: Mapping[str, bool],
) -> None:
    """Write the as-of status and stage into the kept rows that were open at ``as_of``."""
    rows = [i for i in out.index if i in snaps]
    if not rows:
        return
    if has[columns.status]:
        out[columns.status] = out[columns.status].astype(object)
        out.loc[rows, columns.status] = [snaps[i].status for i in rows]
    if has[columns.stage]:
        out[columns.stage] = out[columns.stage].astype(object)
        out.loc[rows, columns.stage] = [snaps[i].stage for i in rows]
    if has[columns.closed_at]:
        out.loc[rows, columns.closed_at] = pd.NaT


def qualified_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows with at least one qualification answer (BANT or questionnaire)."""
    answers = [c for c in frame.columns if c in BANT_COLUMNS or str(c).startswith(QUESTION_PREFIX)]
    if not answers:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame[answers].notna().any(axis=1))


# --------------------------------------------------------------------------- the window


@dataclass(frozen=True)
class Window:
    """The out-of-time evaluation window: [start, end), whole months."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def label(self) -> str:
        last = self.end - pd.DateOffset(months=1)
        if last == self.start:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m}..{last:%Y-%m}"

    def contains(self, times: pd.DatetimeIndex) -> np.ndarray:
        return np.asarray((times >= self.start) & (times < self.end))


def month_start(stamp: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1, tz=UTC)


def evaluation_window(
    as_of: date | datetime | str | pd.Timestamp, months: int = DEFAULT_EVAL_MONTHS
) -> Window:
    """The ``months`` most recent complete calendar months before ``as_of`` (UTC)."""
    if months < 1:
        raise ValueError(f"the evaluation window needs at least 1 month, got {months}")
    end = month_start(utc_timestamp(as_of))
    return Window(start=end - pd.DateOffset(months=months), end=end)


#: Default share of a window's leads that must be settled for it to judge models.
DEFAULT_MIN_SETTLED_SHARE = 0.9


@dataclass(frozen=True)
class WindowChoice:
    """The evaluation window chosen, how settled it is, and the more recent ones skipped."""

    window: Window
    leads: int  # arrived in the window
    settled: int  # of them, settled at as_of
    skipped: list[tuple[str, float]] = field(default_factory=list)  # (window, settled share)

    @property
    def share(self) -> float:
        return self.settled / self.leads if self.leads else float("nan")

    def summary(self) -> str:
        text = f"window {self.window.label}: {self.settled} of {self.leads} leads settled"
        if self.leads:
            text += f" ({100 * self.share:.0f}%)"
        if self.skipped:
            shown = ", ".join(
                f"{label} {'no leads' if np.isnan(share) else f'{100 * share:.0f}%'}"
                for label, share in self.skipped
            )
            text += f"; more recent months not settled enough: {shown}"
        return text


def _shifted(window: Window, months: int) -> Window:
    return Window(
        window.start - pd.DateOffset(months=months), window.end - pd.DateOffset(months=months)
    )


def choose_window(
    settled: Settled,
    months: int = DEFAULT_EVAL_MONTHS,
    min_settled_share: float = DEFAULT_MIN_SETTLED_SHARE,
) -> WindowChoice:
    """The most recent complete month(s) before ``as_of`` whose leads have settled.

    A month whose leads are still largely open would judge models on the quickly-closed
    leads only (mostly early losses), so windows are tried from the most recent back, one
    month at a time, until at least ``min_settled_share`` of the window's leads are
    settled. Past the maturity window every lead is settled, so the search is short. If no
    window qualifies, the most settled one is used (the gates then judge its positives).
    """
    if not 0 <= min_settled_share <= 1:
        raise ValueError(f"min_settled_share must be within 0..1, got {min_settled_share}")
    latest = evaluation_window(settled.as_of, months)
    earliest = settled.times.min()
    lags = int(np.ceil(settled.maturity_days / 28)) + 2
    skipped: list[tuple[str, float]] = []
    best: WindowChoice | None = None
    for lag in range(lags + 1):
        window = _shifted(latest, lag)
        if pd.isna(earliest) or window.end <= earliest:
            break
        inside = window.contains(settled.times)
        leads, done = int(inside.sum()), int((inside & settled.mask).sum())
        choice = WindowChoice(window, leads, done, list(skipped))
        if leads and done / leads >= min_settled_share:
            return choice
        if leads and (best is None or choice.share > best.share):
            best = choice
        skipped.append((window.label, done / leads if leads else float("nan")))
    return best or WindowChoice(latest, 0, 0, [])


# --------------------------------------------------------------------------- gates


@dataclass(frozen=True)
class Gates:
    """Promotion gates; every threshold can be set from the command line."""

    auc_tolerance: float = 0.005  # challenger ROC-AUC may trail the champion's by this much
    max_ece: float = 0.03  # ECE on the window, above what sampling noise alone gives
    min_positives: int = 40  # settled positives in training (cold start below)
    min_negatives: int = 40  # settled negatives in training
    min_eval_positives: int = 10  # positives in the evaluation window
    max_psi: float = 0.25  # feature drift between training and window data
    allow_drift: tuple[str, ...] = ()  # features (output or source field) exempt from PSI

    def __post_init__(self) -> None:
        if self.auc_tolerance < 0 or not 0 < self.max_ece <= 1 or self.max_psi <= 0:
            raise ValueError(
                "gates: auc_tolerance must be >= 0, max_ece in (0, 1], max_psi > 0 "
                f"(got {self.auc_tolerance}, {self.max_ece}, {self.max_psi})"
            )
        if min(self.min_positives, self.min_negatives, self.min_eval_positives) < 1:
            raise ValueError("gates: minimum outcome counts must be at least 1")

    def digest(self) -> str:
        payload = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str


@dataclass(frozen=True)
class Decision:
    passed: bool
    reasons: list[GateResult]

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.reasons if not r.passed]

    def summary(self) -> str:
        if self.passed:
            return "promote: every gate passed"
        return "refuse: " + "; ".join(r.message for r in self.failed)

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": [_jsonable(asdict(r)) for r in self.reasons]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def cold_start(positives: int, negatives: int, gates: Gates, target: str) -> GateResult:
    """Enough settled outcomes to fit a GBM? The message says how many more are needed."""
    short_pos = max(0, gates.min_positives - positives)
    short_neg = max(0, gates.min_negatives - negatives)
    passed = short_pos == 0 and short_neg == 0
    if passed:
        message = (
            f"{positives} positive and {negatives} negative settled outcomes for '{target}' "
            "in training"
        )
    else:
        needs = []
        if short_pos:
            needs.append(f"{short_pos} more positive")
        if short_neg:
            needs.append(f"{short_neg} more negative")
        message = (
            f"cold start: only {positives} positive and {negatives} negative settled outcomes "
            f"for '{target}' in training; a model needs at least {gates.min_positives} and "
            f"{gates.min_negatives}: {' and '.join(needs)} outcome(s) needed. Nothing is "
            "fitted; the service keeps scoring as it does (the fallback rule until a first "
            "model passes)"
        )
    return GateResult(
        "settled outcomes",
        passed,
        float(min(positives, negatives)),
        float(min(gates.min_positives, gates.min_negatives)),
        message,
    )


def _allowed(row: FeaturePsi, allow: Iterable[str]) -> bool:
    names = set(allow)
    return row.feature in names or row.source in names


def _drift_gate(psi_rows: list[FeaturePsi], gates: Gates) -> GateResult:
    gated = [r for r in psi_rows if not r.seasonal and not np.isnan(r.psi)]
    over = [r for r in gated if r.psi > gates.max_psi]
    blocking = sorted((r for r in over if not _allowed(r, gates.allow_drift)), key=lambda r: -r.psi)
    allowed = [r for r in over if _allowed(r, gates.allow_drift)]
    worst = max((r.psi for r in gated), default=float("nan"))
    if blocking:
        listed = ", ".join(f"{r.feature} ({r.source}) {r.psi:.3f}" for r in blocking[:5])
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        message = (
            f"feature drift between training and window data: PSI > {gates.max_psi} for "
            f"{listed}{more}; allow with --allow-drift FEATURE if intended"
        )
        return GateResult("feature drift (PSI)", False, blocking[0].psi, gates.max_psi, message)
    message = f"no feature with PSI > {gates.max_psi} (worst {worst:.3f})"
    if allowed:
        message += "; allowed: " + ", ".join(f"{r.feature} {r.psi:.3f}" for r in allowed)
    return GateResult("feature drift (PSI)", True, worst, gates.max_psi, message)


def ece_noise(probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """The ECE a perfectly calibrated model would show on this many leads, on average.

    In each probability bin the observed rate of ``n_b`` leads scatters around the mean
    prediction ``p_b`` with standard deviation sqrt(p_b (1 - p_b) / n_b); the mean absolute
    deviation is sqrt(2 / pi) of that. Weighted over the bins this is the ECE that sampling
    alone produces: about 0.03 for a window of 600 leads, 0.003 for 60,000.
    """
    p = np.asarray(probabilities, dtype=float)
    if len(p) == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    means = np.bincount(index, weights=p, minlength=bins) / np.maximum(counts, 1)
    spread = np.sqrt(means * (1 - means) / np.maximum(counts, 1))
    return float(np.sqrt(2 / np.pi) * np.sum(counts / len(p) * spread))


def evaluate_gates(
    challenger: Metrics,
    champion: Metrics | None,
    train_counts: tuple[int, int],
    psi_rows: list[FeaturePsi],
    gates: Gates,
    target: str = "target",
    noise: float = 0.0,
) -> Decision:
    """Every gate, in order, with its value, threshold and a sentence for people.

    ``noise`` is the ECE sampling alone gives on the window (:func:`ece_noise`); the
    calibration bound is ``gates.max_ece`` above it, so a small window is not refused for
    scatter that a perfectly calibrated model would show too.
    """
    reasons = [cold_start(*train_counts, gates, target)]
    eval_pos = challenger.positives
    reasons.append(
        GateResult(
            "window positives",
            eval_pos >= gates.min_eval_positives,
            float(eval_pos),
            float(gates.min_eval_positives),
            f"{eval_pos} positives among {challenger.rows} settled leads of the window "
            f"(at least {gates.min_eval_positives} needed to judge)",
        )
    )
    reasons += _comparison_gates(challenger, champion, gates)
    bound = gates.max_ece + noise
    allowance = f" + {noise:.4f} expected from sampling {challenger.rows} leads" if noise else ""
    reasons.append(
        GateResult(
            "calibration (ECE)",
            bool(challenger.ece <= bound),
            challenger.ece,
            bound,
            f"challenger ECE {challenger.ece:.4f} on the window (bound {gates.max_ece}{allowance})",
        )
    )
    reasons.append(_drift_gate(psi_rows, gates))
    return Decision(passed=all(r.passed for r in reasons), reasons=reasons)


def _comparison_gates(
    challenger: Metrics, champion: Metrics | None, gates: Gates
) -> list[GateResult]:
    if champion is None:
        note = "no champion yet: the first model only has to pass the other gates"
        return [
            GateResult("ROC-AUC vs champion", True, challenger.roc_auc, None, note),
            GateResult("better than champion", True, None, None, note),
        ]
    gap = challenger.roc_auc - champion.roc_auc
    floor = champion.roc_auc - gates.auc_tolerance
    auc_ok = bool(np.isfinite(gap) and gap >= -gates.auc_tolerance)
    auc = GateResult(
        "ROC-AUC vs champion",
        auc_ok,
        challenger.roc_auc,
        floor,
        f"challenger ROC-AUC {challenger.roc_auc:.4f} vs champion {champion.roc_auc:.4f} "
        f"({gap:+.4f}; may trail by at most {gates.auc_tolerance})",
    )
    better_auc = bool(challenger.roc_auc > champion.roc_auc)
    better_loss = bool(challenger.log_loss < champion.log_loss)
    which = [n for n, ok in (("ROC-AUC", better_auc), ("log loss", better_loss)) if ok]
    better = GateResult(
        "better than champion",
        better_auc or better_loss,
        challenger.log_loss,
        champion.log_loss,
        (f"better on {' and '.join(which)}" if which else "not better on ROC-AUC or log loss")
        + f" (log loss {challenger.log_loss:.4f} vs {champion.log_loss:.4f})",
    )
    return [auc, better]


# --------------------------------------------------------------------------- tiers


@dataclass(frozen=True)
class TierChanges:
    leads: int
    changed: int
    up: int  # to a better tier
    down: int
    matrix: pd.DataFrame  # rows: tier now, columns: tier under the challenger

    def summary(self) -> str:
        if self.leads == 0:
            return "no open leads to compare"
        share = 100 * self.changed / self.leads
        return (
            f"{self.changed} of {self.leads} open leads ({share:.1f}%) would change tier: "
            f"{self.up} up, {self.down} down"
        )


def tier_changes(before: np.ndarray, after: np.ndarray, cutoffs: Tiers) -> TierChanges:
    """How many leads change tier between two scorings, with the full transition matrix."""
    now, then = cutoffs.of_many(before), cutoffs.of_many(after)
    rank = {tier: i for i, tier in enumerate(TIERS)}
    a = np.array([rank[t] for t in now], dtype=int)
    b = np.array([rank[t] for t in then], dtype=int)
    matrix = pd.crosstab(
        pd.Categorical(now, categories=TIERS),
        pd.Categorical(then, categories=TIERS),
        dropna=False,
    )
    matrix.index.name, matrix.columns.name = "now", "challenger"
    return TierChanges(
        leads=len(now),
        changed=int((a != b).sum()),
        up=int((b < a).sum()),
        down=int((b > a).sum()),
        matrix=matrix,
    )


# --------------------------------------------------------------------------- data identity


def data_digest(data: LeadData) -> str:
    """A digest of the settled data a retrain sees: rows, values, times and labels."""
    sha = hashlib.sha256(data.spec.name.encode())
    frame = data.frame
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): hash their text
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    sha.update(hashed.tobytes())
    for name in sorted(data.targets):
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(data.targets[name]).tobytes())
    return sha.hexdigest()[:16]
