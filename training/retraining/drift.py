"""Population stability (PSI) of features and scores, and the drift report.

Two comparisons: in every retrain, the training data vs the evaluation window
(:func:`window_drift`, which also feeds the PSI gate); for ``leadscore drift``, a
champion's training period vs the last month (:func:`drift_report`). Both render as
Markdown and HTML.

PSI compares how a variable is distributed in a *reference* sample (the model's training
data) and a *current* one (the leads of the last month, or the evaluation window)::

    PSI = sum over bins (cur% - ref%) * ln(cur% / ref%)

Bins come from the reference: deciles for numeric values, one bin per value for
categorical codes and for variables with few distinct values (booleans, ordinals, flags).
Missing values are a bin of their own, so a field that stops arriving shows up as drift.
Categories rarer than ``MIN_BIN_SHARE`` in the reference share one "rare" bin with values
the reference never had; every bin count gets ``SMOOTHING`` added so an empty bin does not
give an infinite PSI and small samples are not over-read.

Rule of thumb, used for the flags: below 0.1 stable, 0.1-0.25 watch, above 0.25 drifted.

PSI is computed on the feature pipeline's *output* columns (what the model sees) and
reported per source field (its worst output). Calendar parts of the time column (month,
day of year) shift between any two time windows by construction: they are reported but
marked ``seasonal`` and never gate a retrain.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec, FeatureType
from training.retraining.config import DEFAULT_MATURITY_DAYS
from training.retraining.labels import qualified_rows
from training.retraining.settle import settle
from training.retraining.window import Window

if TYPE_CHECKING:
    from features.dataset import LeadData
    from training.model import LeadModel
    from training.splits import Fold

#: Flag thresholds: watch from ``WATCH``, drift from ``DRIFT``.
WATCH = 0.1
DRIFT = 0.25
#: Quantile bins for numeric values.
NUMERIC_BINS = 10
#: Reference categories rarer than this share one bin (with values unseen in the reference).
MIN_BIN_SHARE = 0.01
#: Pseudo-count added to every bin of both samples.
SMOOTHING = 0.5
#: Datetime parts that move with the calendar: never a gate.
SEASONAL_PARTS = ("month", "dayofyear")
#: Rows of the training data compared with the current leads (a random sample above it).
DRIFT_REFERENCE_ROWS = 100_000


class Flag(StrEnum):
    OK = "ok"
    WATCH = "watch"
    DRIFT = "drift"


def flag_of(value: float, watch: float = WATCH, drift: float = DRIFT) -> Flag:
    """The flag of a PSI value (NaN: not measurable, reported as ok)."""
    if np.isnan(value) or value < watch:
        return Flag.OK
    return Flag.WATCH if value <= drift else Flag.DRIFT


# --------------------------------------------------------------------------- PSI


def _shares(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = ref_counts.astype(float) + SMOOTHING
    cur = cur_counts.astype(float) + SMOOTHING
    return ref / ref.sum(), cur / cur.sum()


def _index(values: np.ndarray) -> float:
    return float(np.sum((values[1] - values[0]) * np.log(values[1] / values[0])))


def _value_bins(common: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted ``common`` values; len(common) when not there."""
    position = np.searchsorted(common, values)
    found = position < len(common)
    found[found] = common[position[found]] == values[found]
    return np.where(found, position, len(common))


def _categorical_counts(
    reference: np.ndarray, current: np.ndarray, min_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference value (rare values pooled with unseen ones), then missing."""
    ref_missing, cur_missing = np.isnan(reference), np.isnan(current)
    values, counts = np.unique(reference[~ref_missing], return_counts=True)
    common = values[counts >= min_share * len(reference)]
    size = len(common) + 2  # + the rare/unseen bin + the missing bin
    ref_counts = np.bincount(_value_bins(common, reference[~ref_missing]), minlength=size)
    cur_counts = np.bincount(_value_bins(common, current[~cur_missing]), minlength=size)
    ref_counts[-1] = int(ref_missing.sum())
    cur_counts[-1] = int(cur_missing.sum())
    return ref_counts, cur_counts


def _numeric_counts(
    reference: np.ndarray, current: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference quantile bin (values beyond the ends go to the end bins)."""
    ref_known, cur_known = reference[~np.isnan(reference)], current[~np.isnan(current)]
    quantiles = np.quantile(ref_known, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(quantiles)
    size = len(edges) + 2  # bins + missing
    ref_counts = np.bincount(np.searchsorted(edges, ref_known, side="right"), minlength=size)
    cur_counts = np.bincount(np.searchsorted(edges, cur_known, side="right"), minlength=size)
    ref_counts[-1] = int(np.isnan(reference).sum())
    cur_counts[-1] = int(np.isnan(current).sum())
    return ref_counts, cur_counts


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    categorical: bool = False,
    bins: int = NUMERIC_BINS,
    min_share: float = MIN_BIN_SHARE,
) -> float:
    """Population stability index of ``current`` against ``reference`` (NaN = missing).

    Numeric values with at most ``bins`` distinct reference values are binned by value,
    like categories. NaN when either sample is empty.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    known = ref[~np.isnan(ref)]
    few = len(known) == 0 or len(np.unique(known)) <= bins
    if categorical or few:
        ref_counts, cur_counts = _categorical_counts(ref, cur, min_share)
    else:
        ref_counts, cur_counts = _numeric_counts(ref, cur, bins)
    return _index(np.vstack(_shares(ref_counts, cur_counts)))


# --------------------------------------------------------------------------- per feature


@dataclass(frozen=True)
class FeaturePsi:
    """PSI of one pipeline output column."""

    feature: str
    source: str
    psi: float
    seasonal: bool = False

    @property
    def flag(self) -> Flag:
        return flag_of(self.psi)


def seasonal_outputs(featurizer: LeadFeaturizer) -> set[str]:
    """Outputs that are calendar parts (month, day of year) of a datetime feature."""
    spec = featurizer.spec
    datetime_fields = {f.column for f in spec.features if f.type is FeatureType.DATETIME}
    return {
        name
        for name, source in zip(featurizer.feature_names_, featurizer.feature_sources_, strict=True)
        if source in datetime_fields and name.rsplit("_", 1)[-1] in SEASONAL_PARTS
    }


def feature_psi(
    featurizer: LeadFeaturizer, reference: np.ndarray, current: np.ndarray
) -> list[FeaturePsi]:
    """PSI of every output column of ``featurizer`` between two transformed matrices."""
    categorical = set(featurizer.categorical_indices_)
    seasonal = seasonal_outputs(featurizer)
    names = list(featurizer.feature_names_)
    sources = list(featurizer.feature_sources_)
    return [
        FeaturePsi(
            feature=name,
            source=sources[j],
            psi=psi(reference[:, j], current[:, j], categorical=j in categorical),
            seasonal=name in seasonal,
        )
        for j, name in enumerate(names)
    ]


def by_source(rows: Sequence[FeaturePsi]) -> list[FeaturePsi]:
    """The worst output of each source field (seasonal outputs count only on their own)."""
    worst: dict[str, FeaturePsi] = {}
    for row in rows:
        held = worst.get(row.source)
        if held is None or _rank(row) > _rank(held):
            worst[row.source] = row
    return sorted(worst.values(), key=lambda r: (-_rank(r)[0], -_rank(r)[1], r.source))


def _rank(row: FeaturePsi) -> tuple[int, float]:
    value = -1.0 if np.isnan(row.psi) else row.psi
    return (0 if row.seasonal else 1, value)


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Sample:
    """One side of a drift comparison."""

    label: str  # e.g. "training data: leads before 2026-06-01"
    leads: int
    settled: int


@dataclass
class DriftReport:
    title: str
    reference: Sample
    current: Sample
    features: list[FeaturePsi]
    score_psi: float
    channels: pd.DataFrame  # channel, leads then/now, conversion then/now, change
    target: str
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[FeaturePsi]:
        """Source fields (worst outputs) flagged drift, seasonal parts excepted."""
        return [r for r in by_source(self.features) if r.flag is Flag.DRIFT and not r.seasonal]

    @property
    def watched(self) -> list[FeaturePsi]:
        return [r for r in by_source(self.features) if r.flag is Flag.WATCH and not r.seasonal]


def channel_conversion(
    channels_then: np.ndarray,
    y_then: np.ndarray,
    channels_now: np.ndarray,
    y_now: np.ndarray,
) -> pd.DataFrame:
    """Settled leads and conversion per channel, then (reference) and now (current)."""
    then = pd.DataFrame({"channel": channels_then.astype(str), "y": y_then.astype(float)})
    now = pd.DataFrame({"channel": channels_now.astype(str), "y": y_now.astype(float)})
    a = then.groupby("channel")["y"].agg(leads_then="size", conversion_then="mean")
    b = now.groupby("channel")["y"].agg(leads_now="size", conversion_now="mean")
    table = a.join(b, how="outer")
    table[["leads_then", "leads_now"]] = table[["leads_then", "leads_now"]].fillna(0).astype(int)
    table["change"] = table["conversion_now"] - table["conversion_then"]
    table = table.reset_index().sort_values(["leads_then", "channel"], ascending=[False, True])
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------- comparisons


def sample_rows(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """At most ``size`` of ``rows``, drawn at random, in order."""
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))


def _model_psi(
    model: LeadModel, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[list[FeaturePsi], float]:
    """PSI of every feature of ``model`` and of its score between two frames of leads."""
    x_ref, x_cur = model.transform(reference), model.transform(current)
    rows = feature_psi(model.featurizer, x_ref, x_cur)
    return rows, psi(model.probabilities(x_ref), model.probabilities(x_cur))


def window_drift(
    data: LeadData, model: LeadModel, fold: Fold, target: str, window: Window, seed: int
) -> tuple[list[FeaturePsi], DriftReport]:
    """PSI of every feature and of the score between training data and the window.

    ``fold`` holds the training rows (before the window) and the window's rows.
    """
    train, test = fold.train, fold.test
    reference = sample_rows(train, DRIFT_REFERENCE_ROWS, seed)
    rows, score = _model_psi(model, data.frame.iloc[reference], data.frame.iloc[test])
    y = data.targets[target]
    report = DriftReport(
        title=f"Drift: training data vs window {window.label}",
        reference=Sample(f"training leads before {window.start:%Y-%m-%d}", len(train), len(train)),
        current=Sample(f"window {window.label}", len(test), len(test)),
        features=rows,
        score_psi=score,
        channels=channel_conversion(data.channels[train], y[train], data.channels[test], y[test]),
        target=target,
    )
    return rows, report


def drift_report(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    model: LeadModel,
    title: str,
    as_of: pd.Timestamp,
    reference_end: pd.Timestamp | None = None,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    seed: int = 0,
) -> DriftReport:
    """Drift of ``model``'s features and score: its training period vs the last month.

    Current: leads that arrived in the month before ``as_of``. Reference: leads that
    arrived before ``reference_end`` (the model's training cut-off when known; default:
    the start of the current month). A qualified model is compared on qualified leads
    only. Conversion per channel counts settled leads on both sides.
    """
    assert spec.time_column is not None
    start = as_of - pd.DateOffset(months=1)
    end_ref = reference_end if reference_end is not None else start
    settled, data = settle(spec, frame, model.target, as_of, maturity_days)
    source = frame.reset_index(drop=True)
    ref, cur = _periods(settled.times, source, model.known_at, end_ref, (start, as_of))
    notes: list[str] = []
    if len(ref) == 0 or len(cur) == 0:
        notes.append(
            f"{len(ref)} reference and {len(cur)} current leads: PSI needs leads on both sides"
        )
    ref = sample_rows(ref, DRIFT_REFERENCE_ROWS, seed)
    rows: list[FeaturePsi] = []
    score = float("nan")
    if len(ref) and len(cur):
        rows, score = _model_psi(model, source.iloc[ref], source.iloc[cur])
    then_n, now_n, channels = _settled_conversion(data, model.target, end_ref, (start, as_of))
    notes.append(
        "conversion 'now' counts only leads settled by the report date; recent leads still "
        "open are left out, so it is provisional"
    )
    notes.extend(settled.notes)
    return DriftReport(
        title=title,
        reference=Sample(f"leads before {end_ref:%Y-%m-%d} (training period)", len(ref), then_n),
        current=Sample(
            f"leads of {start:%Y-%m-%d} .. {as_of:%Y-%m-%d} (the last month)", len(cur), now_n
        ),
        features=rows,
        score_psi=score,
        channels=channels,
        target=model.target,
        notes=notes,
    )


def _periods(
    times: pd.DatetimeIndex,
    source: pd.DataFrame,
    known_at: str,
    reference_end: pd.Timestamp,
    current: tuple[pd.Timestamp, pd.Timestamp],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the reference (before ``reference_end``) and of the current period."""
    usable = qualified_rows(source) if known_at == "qualified" else np.ones(len(times), bool)
    ref = np.asarray(times < reference_end) & usable
    cur = np.asarray((times >= current[0]) & (times < current[1])) & usable
    return np.flatnonzero(ref), np.flatnonzero(cur)


def _settled_conversion(
    data: LeadData | None,
    target: str,
    reference_end: pd.Timestamp,
    current: tuple[pd.Timestamp, pd.Timestamp],
) -> tuple[int, int, pd.DataFrame]:
    """Settled leads then and now, and the conversion per channel on both sides."""
    if data is None or data.times is None:
        empty = np.array([])
        return 0, 0, channel_conversion(empty, empty, empty, empty)
    y = data.targets[target]
    then = np.asarray(data.times < reference_end)
    now = np.asarray((data.times >= current[0]) & (data.times < current[1]))
    channels = channel_conversion(data.channels[then], y[then], data.channels[now], y[now])
    return int(then.sum()), int(now.sum()), channels


# --------------------------------------------------------------------------- rendering


def _number(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _percent(value: float) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


def _change(value: float) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{100 * value:+.1f} pp"


def _feature_rows(report: DriftReport) -> list[list[str]]:
    rows = []
    for row in by_source(report.features):
        flag = "seasonal (not gated)" if row.seasonal else row.flag.value
        rows.append([row.source, row.feature, _number(row.psi), flag])
    return rows


def _channel_rows(report: DriftReport) -> list[list[str]]:
    return [
        [
            str(r.channel),
            str(r.leads_then),
            _percent(r.conversion_then),
            str(r.leads_now),
            _percent(r.conversion_now),
            _change(r.change),
        ]
        for r in report.channels.itertuples(index=False)
    ]


FEATURE_HEADER = ["source field", "worst output", "PSI", "flag"]
CHANNEL_HEADER = ["channel", "settled then", "conversion then", "settled now", "conversion now"]
CHANNEL_HEADER = [*CHANNEL_HEADER, "change"]


def _summary_lines(report: DriftReport) -> list[str]:
    drifted = ", ".join(r.source for r in report.drifted) or "none"
    watched = ", ".join(r.source for r in report.watched) or "none"
    seasonal = (
        ", ".join(f"{r.feature} {_number(r.psi)}" for r in report.features if r.seasonal) or "none"
    )
    return [
        f"Reference: {report.reference.label} ({report.reference.leads} leads, "
        f"{report.reference.settled} settled)",
        f"Current: {report.current.label} ({report.current.leads} leads, "
        f"{report.current.settled} settled)",
        f"Score PSI: {_number(report.score_psi)} ({flag_of(report.score_psi).value})",
        f"Drifted fields (PSI > {DRIFT}): {drifted}",
        f"Fields to watch (PSI {WATCH}-{DRIFT}): {watched}",
        f"Calendar parts (shift between any two periods, never gated): {seasonal}",
    ]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: DriftReport) -> str:
    parts = [f"# {report.title}", ""]
    parts += [f"- {line}" for line in _summary_lines(report)]
    parts += ["", "## Features (PSI per source field, its worst output)", ""]
    parts.append(_md_table(FEATURE_HEADER, _feature_rows(report)))
    parts += ["", f"## Conversion ({report.target}) by channel, settled leads", ""]
    parts.append(_md_table(CHANNEL_HEADER, _channel_rows(report)))
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    parts += [
        "",
        f"PSI flags: < {WATCH} stable, {WATCH}-{DRIFT} watch, > {DRIFT} drift. "
        "Calendar parts (month, day of year) shift between time windows by construction.",
    ]
    return "\n".join(parts) + "\n"


_FLAG_COLOURS = {"ok": "#e6f4ea", "watch": "#fff4ce", "drift": "#fde2e1"}


def _html_table(header: list[str], rows: list[list[str]], flag_column: int | None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        colour = ""
        if flag_column is not None:
            colour = _FLAG_COLOURS.get(row[flag_column], "")
        style = f' style="background:{colour}"' if colour else ""
        cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        body.append(f"<tr{style}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: DriftReport) -> str:
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary_lines(report))
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report.notes)
    title = html.escape(report.title)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "</style></head><body>"
        f"<h1>{title}</h1><ul>{summary}</ul>"
        "<h2>Features (PSI per source field, its worst output)</h2>"
        + _html_table(FEATURE_HEADER, _feature_rows(report), flag_column=3)
        + f"<h2>Conversion ({html.escape(report.target)}) by channel, settled leads</h2>"
        + _html_table(CHANNEL_HEADER, _channel_rows(report), flag_column=None)
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f"<p>PSI flags: &lt; {WATCH} stable, {WATCH}-{DRIFT} watch, &gt; {DRIFT} drift.</p>"
        "</body></html>\n"
    )
