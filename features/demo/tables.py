"""The story flattened into arrays indexed by the codes the generator draws.

Codes: one integer per value, in the order of the story's tables; -1 (or a trailing slot
of an effect array) is "missing". Currency rates and bracket values come from the spec, so
the truth uses exactly the numbers the feature pipeline sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.demo.stories import BRACKETS, CURRENCIES, Campaign, Source, Story, story
from features.spec import DatasetSpec, FeatureType


@dataclass(frozen=True)
class Tables:
    story: Story
    sources: tuple[tuple[int, Source], ...]  # (channel, source), all channels' in order
    campaigns: tuple[tuple[int, Campaign], ...]  # (channel, campaign), likewise
    intercept: np.ndarray
    won_intercept: np.ndarray
    weights: dict[str, np.ndarray]  # term -> weight per channel
    source_effect: np.ndarray
    campaign_effect: np.ndarray  # the last slot: no campaign
    page_effect: np.ndarray
    region_effect: np.ndarray  # the last slot: missing
    industry_effect: np.ndarray  # the last slot: missing
    industry_partner_effect: np.ndarray
    rates: dict[str, float]  # currency -> RUB per unit (from the spec)
    bracket_values: dict[str, float]  # bracket -> RUB (from the spec)

    @property
    def currency_rates(self) -> np.ndarray:
        """RUB per unit of each currency, in code order."""
        return np.array([self.rates[c] for c in CURRENCIES])


def tables(spec: DatasetSpec) -> Tables:
    """The story's arrays, with the spec's currency rates and bracket values."""
    s = story()
    rates, brackets = _money_values(spec)
    channels = s.channels
    sources = tuple((i, src) for i, ch in enumerate(channels) for src in ch.sources.values())
    campaigns = tuple((i, cp) for i, ch in enumerate(channels) for cp in ch.campaigns.values())
    per_channel = [s.weights(ch) for ch in channels]
    missing_industry = s.industry_missing
    return Tables(
        story=s,
        sources=sources,
        campaigns=campaigns,
        intercept=np.array([c.sql_intercept for c in channels]),
        won_intercept=np.array([c.won_intercept for c in channels]),
        weights={term: np.array([w[term] for w in per_channel]) for term in per_channel[0]},
        source_effect=np.array([src.effect for _, src in sources]),
        campaign_effect=np.array([cp.effect for _, cp in campaigns] + [0.0]),
        page_effect=np.array([p.effect for p in s.pages]),
        region_effect=np.array([r.effect for r in (*s.regions, s.region_missing)]),
        industry_effect=np.array([i.effect for i in (*s.industries, missing_industry)]),
        industry_partner_effect=np.array(
            [i.partner_effect for i in (*s.industries, missing_industry)]
        ),
        rates=rates,
        bracket_values=brackets,
    )


def _money_values(spec: DatasetSpec) -> tuple[dict[str, float], dict[str, float]]:
    budget = next(f for f in spec.features if f.type is FeatureType.MONEY)
    rates = dict(budget.rates or {})
    brackets = dict(budget.bracket_values or {})
    missing = [c for c in CURRENCIES if c not in rates] + [b for b in BRACKETS if b not in brackets]
    if missing:
        raise ValueError(
            f"spec '{spec.name}': feature '{budget.column}' lacks rates/bracket_values for: "
            + ", ".join(missing)
        )
    return rates, brackets
