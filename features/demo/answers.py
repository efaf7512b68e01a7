"""Qualification: the SDR's BANT answers and the service questionnaire, drawn as codes.

The answers depend on a few arrival fields only (the ``Context``), which is what makes the
arrival-stage oracle cheap: the answers are redrawn once per distinct context. Answers go
missing (the SDR fails to reach a lead, a question stays unanswered), and missing answers
carry signal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from features.demo.arrivals import Arrival
from features.demo.sampling import nice_round, ordered_logit, pick, pick_by_group, sigmoid
from features.demo.stories import BRACKET_UPPER_RUB, BRACKETS, story
from features.demo.tables import Tables

#: Question keys the generator answers (checked against the catalog at generation time).
QUESTION_KEYS: dict[str, tuple[str, ...]] = {
    "common": ("project_type", "promotion_region"),
    "seo": ("site_age_years", "has_analytics"),
    "ppc": ("monthly_ad_spend", "ad_platform"),
    "smm": ("followers_k", "has_content_team"),
    "web": ("pages_count", "has_design"),
}
#: The values of the choice questions, in code order.
CHOICES: dict[str, tuple[str, ...]] = {
    "project_type": ("new", "existing"),
    "promotion_region": ("local", "national", "international"),
    "ad_platform": ("yandex", "google", "vk", "none"),
}
#: Typical monthly budget (log10 RUB) by company size: missing, then SIZES.
SIZE_BUDGET_LOG10 = np.array([5.25, 5.0, 5.15, 5.35, 5.55, 5.75])
#: Rounding step of money amounts per currency (CURRENCIES order).
MONEY_STEP = np.array([10_000.0, 100.0, 100.0, 50_000.0])
#: Cumulative shares of the budget currencies (RUB, USD, EUR, KZT) per country.
_CURRENCY_BY_COUNTRY = np.array(
    [
        [0.94, 0.98, 1.0, 1.0],  # ru
        [0.2, 0.25, 0.27, 1.0],  # kz
        [0.5, 0.9, 1.0, 1.0],  # by
        [0.05, 0.6, 1.0, 1.0],  # intl
    ]
)


@dataclass(frozen=True)
class Context:
    """The arrival fields the SDR's answers depend on (and nothing else)."""

    channel: np.ndarray
    topic: np.ndarray  # advertised service, -1 none
    size: np.ndarray  # 0 missing, 1..5 SIZES
    email_kind: np.ndarray
    phone: np.ndarray
    job: np.ndarray
    urgent: np.ndarray
    tender: np.ndarray
    place: np.ndarray  # 0 Moscow, 1 rest of Russia or unknown, 2 kz, 3 by, 4 international

    @property
    def country(self) -> np.ndarray:
        """COUNTRIES index (as ``Arrival.country``)."""
        return np.maximum(self.place - 1, 0)

    def take(self, rows: np.ndarray) -> Context:
        return Context(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def key(self) -> np.ndarray:
        """One integer per distinct context."""
        key = self.channel.astype(np.int64)
        for values, base in (
            (self.topic + 1, 5), (self.size, 6), (self.email_kind, 3), (self.phone, 2),
            (self.job, 2), (self.urgent, 2), (self.tender, 2), (self.place, 5),
        ):  # fmt: skip
            key = key * base + values.astype(np.int64)
        return key


def context(a: Arrival) -> Context:
    """The answers' context of each lead."""
    place = np.where(a.region == 0, 0, np.where(a.country == 0, 1, a.country + 1))
    shared = {f.name: getattr(a, f.name) for f in fields(Context) if f.name != "place"}
    return Context(**shared, place=place)


@dataclass(frozen=True)
class Qualification:
    """BANT and questionnaire answers as codes (-1 / nan = missing)."""

    reached: np.ndarray  # bool: the SDR got the client on the line
    service: np.ndarray  # SERVICES index
    fit: np.ndarray  # FITS index
    budget_kind: np.ndarray  # 0 missing, 1 amount, 2 bracket
    budget_amount: np.ndarray  # in its currency
    currency: np.ndarray  # CURRENCIES index
    bracket: np.ndarray  # BRACKETS index
    budget_rub: np.ndarray  # what the pipeline sees: amount * rate or the bracket's value
    role: np.ndarray  # roles index
    dm: np.ndarray  # -1 missing, 0 no, 1 yes
    timeframe: np.ndarray  # TIMEFRAMES index
    answers: dict[str, np.ndarray]  # question key -> float codes (nan = unanswered)


def draw_qualified(rng: np.random.Generator, ctx: Context, tables: Tables) -> Qualification:
    """The SDR's answers given the arrival context (redrawn for the arrival-stage oracle)."""
    n = len(ctx.channel)
    unreached_logit = (
        _per_channel([c.unreached_logit for c in tables.story.channels], ctx)
        + 1.3 * ~ctx.phone
        + np.array([0.7, 0.4, 0.0])[ctx.email_kind]
        + 0.8 * ctx.job
    )
    reached = rng.random(n) >= sigmoid(unreached_logit)
    service, fit = _draw_need(rng, ctx, reached)
    kind, amount, currency, bracket, budget_rub = _draw_budget(rng, ctx, reached, tables)
    role, dm = _draw_authority(rng, ctx, reached)
    timeframe = _draw_timeframe(rng, ctx, reached)
    filled = reached & (service >= 0) & (rng.random(n) < 0.85)
    return Qualification(
        reached=reached,
        service=service,
        fit=fit,
        budget_kind=kind,
        budget_amount=amount,
        currency=currency,
        bracket=bracket,
        budget_rub=budget_rub,
        role=role,
        dm=dm,
        timeframe=timeframe,
        answers=_draw_answers(rng, ctx, service, budget_rub, filled),
    )


def _per_channel(values: list[float], ctx: Context) -> np.ndarray:
    return np.array(values)[ctx.channel]


def _service_mixes() -> tuple[np.ndarray, np.ndarray]:
    """Rows of service shares (the default first), and each channel's row."""
    s = story()
    mixes = [tuple(v.share for v in s.services)]
    row = []
    for channel in s.channels:
        if channel.need_services is None:
            row.append(0)
        else:
            row.append(len(mixes))
            mixes.append(channel.need_services)
    return np.array(mixes), np.array(row)


def _draw_need(
    rng: np.random.Generator, ctx: Context, reached: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The service asked for (mostly the advertised one) and how well it fits."""
    n = len(ctx.channel)
    mixes, mix_of_channel = _service_mixes()
    service = pick_by_group(rng, mix_of_channel[ctx.channel], mixes)
    on_topic = (ctx.topic >= 0) & (rng.random(n) < 0.75)
    service = np.where(on_topic, ctx.topic, service)
    service_missing = ~reached | (rng.random(n) < np.where(ctx.job, 0.6, 0.04))
    service = np.where(service_missing, -1, service).astype(np.int8)
    fit_shift = (
        _per_channel([c.fit_shift for c in story().channels], ctx)
        + 0.3 * (ctx.size - 2.5) * (ctx.size > 0)
        + 0.4 * (ctx.email_kind == 2)
        - 4.0 * ctx.job
    )
    fit = ordered_logit(rng, fit_shift, (-1.6, 0.4))
    fit = np.where(~reached | (rng.random(n) < 0.1), -1, fit).astype(np.int8)
    return service, fit


def _draw_timeframe(rng: np.random.Generator, ctx: Context, reached: np.ndarray) -> np.ndarray:
    n = len(ctx.channel)
    channel_time = _per_channel([c.timeframe_shift for c in story().channels], ctx)
    timeframe_shift = 1.4 * ctx.urgent + 0.5 * ctx.tender + 0.2 * (ctx.size >= 4) + channel_time
    timeframe = ordered_logit(rng, timeframe_shift, (-1.0, 0.2, 1.8))
    timeframe = np.where(rng.random(n) < 0.1, 4, timeframe)
    return np.where(~reached | (rng.random(n) < 0.08), -1, timeframe).astype(np.int8)


def _draw_budget(
    rng: np.random.Generator, ctx: Context, reached: np.ndarray, tables: Tables
) -> tuple[np.ndarray, ...]:
    """Kind (missing / amount / bracket), amount, currency, bracket and the RUB value."""
    n = len(ctx.channel)
    channel_shift = _per_channel([c.budget_missing_shift for c in tables.story.channels], ctx)
    missing_logit = -1.4 + 0.5 * (ctx.size <= 1) + 0.35 * (ctx.email_kind < 2) + channel_shift
    missing = ~reached | (rng.random(n) < sigmoid(missing_logit))
    bracket_kind = rng.random(n) < 0.3
    kind = np.where(missing, 0, np.where(bracket_kind, 2, 1)).astype(np.int8)
    log10 = (
        SIZE_BUDGET_LOG10[ctx.size]
        + 0.15 * ctx.urgent
        + 0.2 * ctx.tender
        + 0.1 * (ctx.place == 0)
        + rng.normal(0.0, 0.42, n)
    )
    rub = 10.0**log10
    u = rng.random(n)
    currency = np.sum(u[:, None] >= _CURRENCY_BY_COUNTRY[ctx.country], axis=1).astype(np.int8)
    rate = tables.currency_rates[currency]
    amount = nice_round(rub / rate, MONEY_STEP[currency])
    bracket = np.searchsorted(np.array(BRACKET_UPPER_RUB), rub, side="right").astype(np.int8)
    bracket_rub = np.array([tables.bracket_values[b] for b in BRACKETS])[bracket]
    budget_rub = np.where(kind == 1, amount * rate, np.where(kind == 2, bracket_rub, np.nan))
    return (
        kind,
        np.where(kind == 1, amount, np.nan),
        np.where(kind == 1, currency, -1).astype(np.int8),
        np.where(kind == 2, bracket, -1).astype(np.int8),
        budget_rub,
    )


def _draw_authority(
    rng: np.random.Generator, ctx: Context, reached: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The contact's role (by company size; senior channels bring more directors) and DM."""
    s = story()
    n = len(ctx.channel)
    senior = np.array([c.senior_contacts for c in s.channels])[ctx.channel].astype(np.int64)
    by_size = np.array([r.by_size for r in s.roles]).T  # (size, role)
    table = np.concatenate([by_size, by_size * np.array([r.senior_factor for r in s.roles])])
    role = pick_by_group(rng, senior * by_size.shape[0] + ctx.size, table).astype(np.int8)
    role = np.where(~reached | (rng.random(n) < 0.08), -1, role).astype(np.int8)
    dm_rates = np.array([r.decision_maker_rate for r in s.roles])
    dm_rate = np.where(role >= 0, dm_rates[role], 0.3)
    dm = (rng.random(n) < dm_rate).astype(np.int8)
    dm_missing = ~reached | (rng.random(n) < np.where(role >= 0, 0.08, 0.6))
    return role, np.where(dm_missing, -1, dm).astype(np.int8)


def _draw_answers(
    rng: np.random.Generator,
    ctx: Context,
    service: np.ndarray,
    budget_rub: np.ndarray,
    filled: np.ndarray,
) -> dict[str, np.ndarray]:
    """Questionnaire answers: the common questions and the lead's own service's questions."""
    n = len(ctx.channel)

    def asked(key_service: int | None) -> np.ndarray:
        on = filled if key_service is None else filled & (service == key_service)
        return on & (rng.random(n) >= 0.1)

    nan = np.full(n, np.nan)
    existing = rng.random(n) < np.where(service == 3, 0.45, 0.65)
    promo_shift = 0.4 * (ctx.size >= 4) + 1.2 * (ctx.place == 4) - 0.3 * (ctx.size <= 1)
    promotion = ordered_logit(rng, promo_shift, (-0.6, 2.2))
    site_age = np.where(existing, np.minimum(np.round(np.exp(rng.normal(1.4, 0.7, n))), 40), 0)
    analytics = rng.random(n) < sigmoid(-0.2 + 0.35 * (ctx.size - 2.5))
    spend = np.where(
        np.isnan(budget_rub),
        10.0 ** (SIZE_BUDGET_LOG10[ctx.size] - 0.2 + rng.normal(0, 0.35, n)),
        budget_rub * np.exp(rng.normal(-0.5, 0.4, n)),
    )
    platform = pick(rng, [0.55, 0.1, 0.15, 0.2], n)
    spend = np.where(platform == 3, 0.0, nice_round(spend, np.full(n, 10_000.0)))
    followers = np.round(np.exp(rng.normal(1.6 + 0.3 * ctx.size, 1.2)), 1)
    content_team = rng.random(n) < sigmoid(-1.0 + 0.45 * ctx.size)
    pages = np.maximum(np.round(np.exp(rng.normal(3.2, 0.9, n))), 1.0)
    design = rng.random(n) < 0.35
    values = {
        "project_type": (None, existing.astype(np.float64)),
        "promotion_region": (None, promotion.astype(np.float64)),
        "site_age_years": (0, site_age),
        "has_analytics": (0, analytics.astype(np.float64)),
        "monthly_ad_spend": (1, spend),
        "ad_platform": (1, platform.astype(np.float64)),
        "followers_k": (2, followers),
        "has_content_team": (2, content_team.astype(np.float64)),
        "pages_count": (3, pages),
        "has_design": (3, design.astype(np.float64)),
    }
    return {key: np.where(asked(svc), value, nan) for key, (svc, value) in values.items()}
