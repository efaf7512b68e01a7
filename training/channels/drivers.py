"""What drives conversion inside each channel and campaign: the model's SHAP, in words.

The model's own per-lead contributions (LightGBM ``pred_contrib``: exact TreeSHAP values in
log-odds, summed per source field by ``LeadModel.source_contributions``) are averaged over
each channel's own leads, and over each campaign's where it has enough leads. Per field and
group: mean |SHAP|, mean signed SHAP, and the *spread*: the mean absolute deviation of the
field's contribution from its mean in the group. Drivers are ranked by spread: it is what
separates good from bad leads *inside* the channel, while a contribution every lead of the
channel shares (the channel field itself, a campaign all its leads carry) sets the channel's
level and shows up in the mean signed SHAP instead. The same numbers over all leads are the
global picture each channel is compared with. Large groups are sampled (up to
``explain_per_group`` leads each), and each sampled lead is weighted back to its group.

**Direction in plain words.** For a field, the leads of the group are split by the value of
the field's output column that explains most of its contribution (categories; a numeric
column's distinct values or quintiles; "not given"), and the field's mean contribution per
value says which values raise or lower the chance, e.g. "higher budget_amount (RUB) raises
the chance of SQL" or "need_fit = strong raises the chance of SQL, need_fit = none lowers it".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from features.i18n import N_, Translator
from features.spec import FeatureSpec, FeatureType
from training.channels.funnel import ALL_LEADS, outcome_words
from training.channels.leads import ReportLeads
from training.channels.words import report_words
from training.model import LeadModel

#: A numeric output with at most this many distinct values is described value by value.
MAX_DISTINCT = 6
#: Numeric outputs with more distinct values are split into this many quantile bins.
BINS = 5
#: Values held by less than this share of a group's leads are not named in phrases.
MIN_VALUE_SHARE = 0.03
#: |correlation| between bin order and mean contribution that reads as a trend.
TREND = 0.6
#: Phrase of a field with one value for every lead of a group.
SAME_VALUE = N_("the same for every lead here: it sets the level (mean_shap), not who converts")
#: The fixed words of a numeric output's quantity, by the suffix of its name.
_QUANTITY_WORDS = {
    "chars": N_("length"),
    "words": N_("word count"),
    "days_before": N_("days before arrival"),
}
#: Columns of a driver table, in order (before the group keys and comparisons are added).
DRIVER_COLUMNS = [
    "field",
    "mean_abs_shap",
    "mean_shap",
    "spread",
    "rank",
    "varies",
    "direction",
    "phrase",
]


@dataclass(frozen=True)
class _ValueGroups:
    """The leads of a group split by one output column's value (code -1: not given)."""

    codes: np.ndarray
    labels: list[str]
    ordered: bool
    binned: bool
    what: str


def _number(value: float) -> str:
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


class _Describer:
    """Plain words for the values of a model's output columns."""

    def __init__(self, model: LeadModel, said: Translator | None = None) -> None:
        self.said = said or report_words()
        featurizer = model.featurizer
        self.names: list[str] = list(featurizer.get_feature_names_out())
        self.sources: list[str] = list(featurizer.feature_sources_)
        self.categorical = set(featurizer.categorical_indices_)
        self.categories: dict[str, list[str]] = dict(featurizer.categories_)
        self.features: dict[str, FeatureSpec] = {f.column: f for f in featurizer.spec.features}

    def what(self, j: int) -> str:
        """The quantity a numeric output column measures."""
        name, source = self.names[j], self.sources[j]
        feature = self.features[source]
        if name == source:
            return source
        if feature.type is FeatureType.MONEY:
            return f"{source} ({feature.base_currency})"
        suffix = name.removeprefix(source + "_")
        known = _QUANTITY_WORDS.get(suffix)
        return f"{source} {self.said.gettext(known) if known else suffix.replace('_', ' ')}"

    def value(self, j: int, value: float) -> str:
        """A few-valued numeric output's value in words."""
        name, source = self.names[j], self.sources[j]
        feature = self.features[source]
        said = self.said
        if feature.type is FeatureType.BOOLEAN:
            return f"{source} = {said.gettext(N_('yes') if value else N_('no'))}"
        if feature.type is FeatureType.ORDINAL and feature.order:
            index = int(value)
            if 0 <= index < len(feature.order) and index == value:
                return f"{source} = {feature.order[index]}"
        if feature.type is FeatureType.PHONE:
            given = N_("{source} given") if value else N_("no {source}")
            return said.gettext(given).format(source=source)
        if "_kw_" in name:
            word = name.split("_kw_", 1)[1]
            mentions = N_("{source} mentions {word}") if value else N_("{source} without '{word}'")
            return said.gettext(mentions).format(source=source, word=word)
        return f"{self.what(j)} = {_number(value)}"

    def groups(self, j: int, values: np.ndarray) -> _ValueGroups:
        name, source = self.names[j], self.sources[j]
        known = ~np.isnan(values)
        if j in self.categorical:
            labels = self.categories.get(name, [])
            words = [
                self.said.gettext(N_("{source} not given")).format(source=source)
                if label == "missing"
                else f"{source} = {label}"
                if name == source
                else f"{name} = {label}"
                for label in labels
            ]
            codes = np.where(known, np.nan_to_num(values, nan=-1.0), -1).astype(np.int64)
            codes = np.where(codes < len(words), codes, -1)
            return _ValueGroups(codes, words, ordered=False, binned=False, what=source)
        distinct = np.unique(values[known])
        codes = np.full(len(values), -1, dtype=np.int64)
        if len(distinct) <= MAX_DISTINCT:
            codes[known] = np.searchsorted(distinct, values[known])
            labels = [self.value(j, float(v)) for v in distinct]
            return _ValueGroups(codes, labels, ordered=True, binned=False, what=self.what(j))
        edges = np.unique(np.quantile(values[known], np.linspace(0, 1, BINS + 1)[1:-1]))
        codes[known] = np.searchsorted(edges, values[known], side="right")
        what = self.what(j)
        labels = [f"{what} < {_number(edges[0])}"]
        labels += [f"{what} {_number(a)}–{_number(b)}" for a, b in pairwise(edges)]
        labels.append(f"{what} ≥ {_number(edges[-1])}")
        return _ValueGroups(codes, labels, ordered=True, binned=True, what=what)


def _group_means(
    codes: np.ndarray, contrib: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group codes, weight per group, weighted mean contribution per group)."""
    shifted = codes + 1  # -1 (not given) -> 0
    size = int(shifted.max()) + 1 if len(shifted) else 1
    weight = np.bincount(shifted, weights=weights, minlength=size)
    total = np.bincount(shifted, weights=weights * contrib, minlength=size)
    present = np.flatnonzero(weight > 0)
    return present - 1, weight[present], total[present] / weight[present]


def _explained_share(codes: np.ndarray, contrib: np.ndarray, weights: np.ndarray) -> float:
    """Share of the contribution's variance explained by the value groups (eta squared)."""
    mean = float(np.average(contrib, weights=weights))
    total = float(np.sum(weights * (contrib - mean) ** 2))
    if total <= 1e-12:
        return 0.0
    _, weight, means = _group_means(codes, contrib, weights)
    return float(np.sum(weight * (means - mean) ** 2) / total)


@dataclass(frozen=True)
class Direction:
    sign: str  # "+" higher values / the named values raise the chance, "-" lower it
    phrase: str


def _weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.sum(w * (x - mx) * (y - my))
    sx, sy = np.sqrt(np.sum(w * (x - mx) ** 2)), np.sqrt(np.sum(w * (y - my) ** 2))
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else 0.0


def describe_direction(
    source: str,
    groups: _ValueGroups,
    contrib: np.ndarray,
    weights: np.ndarray,
    outcome: str,
    said: Translator | None = None,
) -> Direction:
    """Which values of ``source`` raise or lower the chance, in words (``said``'s language,
    English by default)."""
    said = said or report_words()
    codes, weight, means = _group_means(groups.codes, contrib, weights)
    overall = float(np.average(contrib, weights=weights))
    shown = weight / weight.sum() >= MIN_VALUE_SHARE
    codes, weight, means = codes[shown], weight[shown], means[shown]
    if len(codes) < 2:
        return Direction("+", "")

    def label(code: int) -> str:
        if code < 0:
            return said.gettext(N_("{source} not given")).format(source=source)
        return groups.labels[code]

    known = codes >= 0
    sign = "+"
    if groups.ordered and known.sum() >= 2:
        r = _weighted_corr(codes[known].astype(float), means[known], weight[known])
        sign = "+" if r >= 0 else "-"
        if groups.binned and known.sum() >= 3 and abs(r) >= TREND:
            trend = (
                N_("higher {what} raises {outcome}")
                if r >= 0
                else N_("higher {what} lowers {outcome}")
            )
            phrase = said.gettext(trend).format(what=groups.what, outcome=outcome)
            if not known.all():
                missing = float(means[~known][0])
                spread = float(np.max(np.abs(means[known] - overall)))
                if abs(missing - overall) >= 0.5 * spread:
                    effect = (
                        N_("{source} not given raises it")
                        if missing > overall
                        else N_("{source} not given lowers it")
                    )
                    phrase += "; " + said.gettext(effect).format(source=source)
            return Direction(sign, phrase)
    else:
        up, down = float(means.max() - overall), float(overall - means.min())
        sign = "+" if up >= down else "-"
    best, worst = int(codes[np.argmax(means)]), int(codes[np.argmin(means)])
    both = said.gettext(N_("{best} raises {outcome}, {worst} lowers it"))
    return Direction(sign, both.format(best=label(best), outcome=outcome, worst=label(worst)))


@dataclass(frozen=True)
class _Explained:
    """SHAP of the explained leads: ``rows`` (positions in the report's leads, sorted),
    their feature matrix and contributions per source field."""

    rows: np.ndarray
    matrix: np.ndarray
    fields: list[str]
    contrib: np.ndarray

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Positions in the explained set of report rows ``rows`` (all explained)."""
        return np.searchsorted(self.rows, rows)


def _sample(members: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return members if len(members) <= cap else np.sort(rng.choice(members, cap, replace=False))


@dataclass(frozen=True)
class _Samples:
    """Rows explained per channel (weighted back to the channel's size) and per campaign."""

    channel_rows: np.ndarray
    channel_weights: np.ndarray
    campaign_rows: dict[tuple[str, str], np.ndarray]

    def union(self) -> np.ndarray:
        return np.unique(np.concatenate([self.channel_rows, *self.campaign_rows.values()]))


def _samples(
    leads: ReportLeads, campaigns: Sequence[tuple[str, str]], cap: int, seed: int
) -> _Samples:
    """Up to ``cap`` leads of each channel and of each campaign in ``campaigns``."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for channel in np.unique(leads.channels):
        members = np.flatnonzero(leads.channels == channel)
        taken = _sample(members, cap, rng)
        rows.append(taken)
        weights.append(np.full(len(taken), len(members) / len(taken)))
    chosen: dict[tuple[str, str], np.ndarray] = {}
    if leads.campaigns is not None:
        for channel, campaign in campaigns:
            cell = (leads.channels == channel) & (leads.campaigns == campaign)
            chosen[(channel, campaign)] = _sample(np.flatnonzero(cell), cap, rng)
    order = np.argsort(np.concatenate(rows), kind="stable")
    return _Samples(np.concatenate(rows)[order], np.concatenate(weights)[order], chosen)


def _explain(model: LeadModel, leads: ReportLeads, rows: np.ndarray) -> _Explained:
    matrix = model.transform(leads.frame.iloc[rows])
    fields, contrib = model.source_contributions(matrix)
    return _Explained(rows, matrix, fields, contrib)


def _directions(
    explained: _Explained,
    members: np.ndarray,
    weights: np.ndarray,
    describer: _Describer,
    outcome: str,
    spread: np.ndarray,
) -> list[tuple[Direction, bool]]:
    """Per source field: its direction in words, and whether it varies in the group."""
    outputs: dict[str, list[int]] = {}
    for j, source in enumerate(describer.sources):
        outputs.setdefault(source, []).append(j)
    values = explained.matrix[members]
    contrib = explained.contrib[members]
    found: list[tuple[Direction, bool]] = []
    for k, source in enumerate(explained.fields):
        candidates = [describer.groups(j, values[:, j]) for j in outputs[source]]
        varied = any(len(np.unique(g.codes)) > 1 for g in candidates)
        direction = Direction("+", "" if varied else describer.said.gettext(SAME_VALUE))
        if varied and spread[k] > 1e-9:
            best = max(
                candidates,
                key=lambda g: _explained_share(g.codes, contrib[:, k], weights),
            )
            direction = describe_direction(
                source, best, contrib[:, k], weights, outcome, describer.said
            )
        found.append((direction, varied))
    return found


def _driver_rows(
    explained: _Explained,
    members: np.ndarray,
    weights: np.ndarray,
    describer: _Describer,
    outcome: str,
) -> pd.DataFrame:
    """Per source field over the explained leads at ``members`` (positions in ``explained``),
    each counted with its weight. Fields holding one value for every lead of the group (the
    channel inside a channel) rank last: they set the group's level, not who converts."""
    contrib = explained.contrib[members]
    mean = np.average(contrib, axis=0, weights=weights)
    table = pd.DataFrame(
        {
            "field": explained.fields,
            "mean_abs_shap": np.average(np.abs(contrib), axis=0, weights=weights),
            "mean_shap": mean,
            "spread": np.average(np.abs(contrib - mean), axis=0, weights=weights),
        }
    )
    spread = table["spread"].to_numpy()
    found = _directions(explained, members, weights, describer, outcome, spread)
    table["direction"] = [direction.sign for direction, _ in found]
    table["phrase"] = [direction.phrase for direction, _ in found]
    table["varies"] = [varied for _, varied in found]
    order = table.sort_values(["varies", "spread"], ascending=[False, False], kind="stable")
    order["rank"] = np.arange(1, len(order) + 1)
    return order[DRIVER_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class Drivers:
    """The driver tables of a report: over all leads, per judged channel, per campaign."""

    overall: pd.DataFrame
    channels: pd.DataFrame
    campaigns: pd.DataFrame


def _judged(funnel: pd.DataFrame, keys: Sequence[str]) -> set[tuple[str, ...]]:
    if funnel.empty:
        return set()
    ok = funnel[funnel["verdict"] == "ok"]
    return {tuple(str(v) for v in row) for row in ok[list(keys)].itertuples(index=False)}


def explain_drivers(
    model: LeadModel,
    leads: ReportLeads,
    funnel_channel: pd.DataFrame,
    funnel_campaign: pd.DataFrame,
    explain_per_group: int,
    seed: int,
    locale: str = "en",
) -> Drivers:
    """The drivers of every channel and campaign judged in the funnels, against all leads;
    their phrases in ``locale``."""
    campaigns = sorted(_judged(funnel_campaign, ["channel", "campaign"]))
    samples = _samples(leads, [(c[0], c[1]) for c in campaigns], explain_per_group, seed)
    explained = _explain(model, leads, samples.union())
    describer = _Describer(model, report_words(locale))
    outcome = outcome_words(model.target, locale)
    sampled = explained.at(samples.channel_rows)
    weights = samples.channel_weights
    overall = _driver_rows(explained, sampled, weights, describer, outcome)
    channels = leads.channels[samples.channel_rows]
    tables: list[pd.DataFrame] = []
    for (channel,) in sorted(_judged(funnel_channel, ["channel"]) - {(ALL_LEADS,)}):
        mine = channels == channel
        table = _driver_rows(explained, sampled[mine], weights[mine], describer, outcome)
        tables.append(_keyed(table, {"channel": channel}, int(mine.sum())))
    campaign_tables: list[pd.DataFrame] = []
    for (channel, campaign), rows in samples.campaign_rows.items():
        ones = np.ones(len(rows))
        table = _driver_rows(explained, explained.at(rows), ones, describer, outcome)
        keys = {"channel": channel, "campaign": campaign}
        campaign_tables.append(_keyed(table, keys, len(rows)))
    return Drivers(overall, _compare(tables, overall), _compare(campaign_tables, overall))


def _keyed(table: pd.DataFrame, keys: dict[str, str], explained: int) -> pd.DataFrame:
    for position, (name, value) in enumerate(keys.items()):
        table.insert(position, name, value)
    table.insert(len(keys), "explained", explained)
    return table


def _compare(tables: list[pd.DataFrame], overall: pd.DataFrame) -> pd.DataFrame:
    """The group tables as one, each field with its rank and spread over all leads."""
    if not tables:
        return pd.DataFrame()
    global_rank: Mapping[str, int] = dict(zip(overall["field"], overall["rank"], strict=True))
    global_spread = dict(zip(overall["field"], overall["spread"], strict=True))
    out = pd.concat(tables, ignore_index=True)
    out["global_rank"] = out["field"].map(global_rank)
    out["global_spread"] = out["field"].map(global_spread)
    return out
