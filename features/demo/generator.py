"""Synthetic B2B agency leads with a known ground truth (``leadscore demo-data``).

The generative story is told in ``docs/demo-data.md``. In short:

1. **Arrival.** Arrival times follow a yearly, weekly and business-hours pattern. Each lead
   gets a channel (the mix drifts over time), a source and campaign nested in the channel, a
   landing page, a contact type, region, industry, company size, e-mail (corporate or free
   mail), phone, a first-touch time and a RU/EN message built from templates that carry the
   spec's keywords (urgent / price / tender / job).
2. **Qualification.** The SDR's BANT answers and the service questionnaire are drawn given
   the arrival fields (big companies have big budgets, events bring decision makers, job
   seekers have no need ...). Answers go missing, and missing answers carry signal.
3. **Truth.** The log-odds of reaching SQL is a sum of per-column contributions whose
   weights depend on the channel (budget dominates paid search, the decision maker
   dominates events and partners, job keywords kill social and organic leads ...). The
   probability of a deal given SQL has its own log-odds. ``true_p_sql`` / ``true_p_won``
   are these exact probabilities; ``true_p_*_arrival`` average them over redraws of the
   qualification answers given only the arrival fields.
4. **Outcome.** SQL and won are Bernoulli draws from the truth; the status history walks the
   funnel (``features.funnel``) with realistic delays and is cut at the export time, so the
   newest leads may still be open.

Everything is vectorised numpy; only the final text columns are built per row.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.funnel import SUCCESS_PATH, Stage, Status
from features.lead import (
    QUESTION_PREFIX,
    RECORD_COLUMNS,
    BANTAnswers,
    Budget,
    ContactType,
    Lead,
    Money,
    SourceData,
    StatusChange,
)
from features.questionnaire import QuestionCatalog, QuestionnaireAnswers, QuestionType, load_catalog
from features.spec import DatasetSpec, FeatureType, load_spec

GENERATOR_VERSION = "1.0"
DEFAULT_N = 60_000
DEFAULT_SEED = 42
DEFAULT_END = date(2026, 10, 31)
DEFAULT_MONTHS = 20
#: Redraws of the qualification answers per lead for the arrival-stage oracle.
ARRIVAL_REDRAWS = 64
#: Moscow time (no daylight saving): the SDR team's business hours are local.
LOCAL_UTC_OFFSET_HOURS = 3

#: What ``write_demo_data`` reports to its ``progress`` callback, in order.
STEPS: tuple[str, ...] = (
    "arrivals and texts",
    "qualification answers",
    f"arrival oracle ({ARRIVAL_REDRAWS} redraws)",
    "status histories",
    "frame",
    "ground truth",
    "writing",
)
ProgressCallback = Callable[[str], None]
_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------
# The story's tables
# ---------------------------------------------------------------------------------------

SERVICES: tuple[str, ...] = ("seo", "ppc", "smm", "web")
SIZES: tuple[str, ...] = ("1-10", "11-50", "51-200", "201-1000", "1000+")
CONTACTS: tuple[str, ...] = tuple(c.value for c in ContactType)
FITS: tuple[str, ...] = ("none", "partial", "strong")
TIMEFRAMES: tuple[str, ...] = ("gt_6m", "3_6m", "lt_3m", "now", "unknown")
BRACKETS: tuple[str, ...] = ("lt_100k", "100k_300k", "300k_1m", "1m_3m", "gt_3m")
BRACKET_UPPER_RUB: tuple[float, ...] = (100_000, 300_000, 1_000_000, 3_000_000)
CURRENCIES: tuple[str, ...] = ("RUB", "USD", "EUR", "KZT")
ROLES: tuple[str, ...] = (
    "owner",
    "ceo",
    "marketing_director",
    "marketer",
    "sales_head",
    "procurement",
    "assistant",
)
ROLE_DM_RATE: tuple[float, ...] = (0.95, 0.9, 0.55, 0.12, 0.3, 0.25, 0.03)
ROLE_EFFECT: tuple[float, ...] = (0.1, 0.1, 0.15, 0.05, -0.05, -0.25, -0.2)
SERVICE_EFFECT: tuple[float, ...] = (0.05, 0.1, -0.15, 0.05)


@dataclass(frozen=True)
class Region:
    name: str
    weight: float
    effect: float
    english_rate: float
    country: str  # ru / kz / by / intl: currency, phone and domain conventions


REGIONS: tuple[Region, ...] = (
    Region("Moscow", 0.36, 0.15, 0.02, "ru"),
    Region("Saint Petersburg", 0.14, 0.1, 0.02, "ru"),
    Region("Novosibirsk", 0.05, 0.0, 0.01, "ru"),
    Region("Yekaterinburg", 0.05, 0.0, 0.01, "ru"),
    Region("Kazan", 0.04, -0.05, 0.01, "ru"),
    Region("Nizhny Novgorod", 0.04, -0.05, 0.01, "ru"),
    Region("Krasnodar", 0.04, -0.05, 0.01, "ru"),
    Region("Samara", 0.03, -0.05, 0.01, "ru"),
    Region("Rostov-on-Don", 0.03, -0.05, 0.01, "ru"),
    Region("Russia (other)", 0.10, -0.15, 0.01, "ru"),
    Region("Almaty", 0.025, -0.1, 0.04, "kz"),
    Region("Astana", 0.015, -0.1, 0.04, "kz"),
    Region("Minsk", 0.02, -0.1, 0.05, "by"),
    Region("International", 0.03, -0.3, 0.9, "intl"),
)
REGION_MISSING = 0.06
REGION_MISSING_EFFECT = -0.1


@dataclass(frozen=True)
class Industry:
    name: str
    weight: float
    effect: float  # everywhere
    partner_effect: float  # partner hand-ins: the partners' own niches


INDUSTRIES: tuple[Industry, ...] = (
    Industry("ecommerce", 0.16, 0.15, -1.0),
    Industry("b2b_services", 0.14, 0.1, 1.1),
    Industry("manufacturing", 0.10, 0.1, 1.5),
    Industry("real_estate", 0.08, 0.0, -1.0),
    Industry("education", 0.09, -0.15, -1.0),
    Industry("healthcare", 0.07, 0.05, -1.0),
    Industry("finance", 0.05, 0.1, 1.4),
    Industry("it", 0.10, 0.05, 1.6),
    Industry("retail", 0.08, -0.05, -1.0),
    Industry("horeca", 0.05, -0.25, -1.0),
    Industry("auto", 0.04, 0.0, -1.0),
    Industry("construction", 0.04, 0.0, -1.0),
)
INDUSTRY_MISSING = 0.08
#: Industries the partners specialise in (their hand-ins from there convert well).
PARTNER_NICHES: tuple[int, ...] = tuple(
    k for k, industry in enumerate(INDUSTRIES) if industry.partner_effect > 0
)
INDUSTRY_MISSING_EFFECT = (-0.1, -1.0)  # (everywhere, partner)


@dataclass(frozen=True)
class Page:
    path: str
    kind: str
    service: str | None
    effect: float


PAGES: tuple[Page, ...] = (
    Page("/", "home", None, 0.0),
    Page("/seo", "service", "seo", 0.25),
    Page("/seo/audit", "service", "seo", 0.1),
    Page("/ppc", "service", "ppc", 0.3),
    Page("/ppc/yandex-direct", "service", "ppc", 0.2),
    Page("/smm", "service", "smm", 0.0),
    Page("/smm/vk", "service", "smm", -0.15),
    Page("/web", "service", "web", 0.25),
    Page("/web/landing", "service", "web", -0.1),
    Page("/web/ecommerce", "service", "web", 0.35),
    Page("/pricing", "pricing", None, 0.15),
    Page("/cases", "cases", None, 0.45),
    Page("/cases/ecommerce", "cases", None, 0.5),
    Page("/cases/b2b", "cases", None, 0.6),
    Page("/about", "about", None, 0.1),
    Page("/contacts", "about", None, 0.3),
    Page("/careers", "careers", None, -1.2),
    Page("/blog/seo-trends", "blog", "seo", -0.5),
    Page("/blog/ppc-budget", "blog", "ppc", -0.2),
    Page("/blog/smm-strategy", "blog", "smm", -0.7),
    Page("/blog/site-speed", "blog", "web", -0.4),
    Page("/blog/marketing-kpi", "blog", None, -0.3),
    Page("/blog/lead-generation", "blog", None, -0.1),
    Page("/blog/analytics-setup", "blog", None, -0.35),
    Page("/blog/how-to-become-marketer", "blog", None, -1.0),
    Page("/webinar", "events", None, -0.3),
    Page("/events", "events", None, 0.2),
    Page("/free-audit", "promo", "seo", -0.6),
    Page("/calculator", "tools", None, -0.2),
    Page("/partners", "partners", None, 0.1),
    Page("/lp/promo-2026", "promo", "ppc", -0.35),
)
#: Job seekers land here more often than elsewhere.
PAGE_JOB_RATE: dict[str, float] = {"/careers": 0.75, "/blog/how-to-become-marketer": 0.3}


@dataclass(frozen=True)
class Campaign:
    name: str
    effect: float  # SQL log-odds, relative to the channel
    service: str | None = None  # what it advertises: its landing page and the need
    weight: float = 1.0
    start: str | None = None  # "YYYY-MM": first month it runs
    end: str | None = None  # "YYYY-MM": last month it runs


@dataclass(frozen=True)
class ChannelStory:
    """How one channel's leads look and how good they are."""

    name: str
    medium: str | None
    share: float
    drift: float  # change of the log-share from the first to the last month
    sql_intercept: float  # SQL log-odds before any field's contribution
    won_intercept: float  # log-odds of a deal given SQL, before contributions
    sources: tuple[tuple[str | None, float, float], ...]  # (utm_source, weight, effect)
    campaigns: tuple[Campaign, ...]
    campaign_missing: float
    pages: Mapping[str, float]  # landing page kind -> weight
    size_probs: tuple[float, ...]  # missing, then SIZES
    contact_probs: tuple[float, ...]  # CONTACTS
    corporate_logit: float
    phone_rate: float
    first_touch_rate: float
    first_touch_days: float  # median days from first touch to arrival
    job_rate: float
    urgent_rate: float
    price_rate: float
    tender_rate: float
    fit_shift: float  # how well the channel's leads fit the agency's services
    timeframe_shift: float  # how soon the channel's leads want to start
    unreached_logit: float  # how hard the SDR finds it to reach the channel's leads
    budget_missing_shift: float  # how often the channel's leads keep their budget to themselves
    industry_tilt: Mapping[str, float] = field(default_factory=dict)  # industry weight factors


_SEARCH_PAGES = {"home": 2, "service": 6, "pricing": 1.5, "cases": 0.8, "about": 0.5, "promo": 1}
CHANNELS: tuple[ChannelStory, ...] = (
    ChannelStory(
        name="referral",
        medium="referral",
        share=0.06,
        drift=0.0,
        sql_intercept=-1.99,
        won_intercept=-0.96,
        sources=(
            ("client_referral", 5, 0.2),
            ("vc.ru", 2, -0.1),
            ("habr", 1.5, 0.0),
            ("cossa", 1.5, -0.1),
        ),
        campaigns=(Campaign("ref_client_program", 0.2),),
        campaign_missing=0.6,
        pages={"home": 5, "cases": 3, "service": 2, "about": 2, "pricing": 1},
        size_probs=(0.08, 0.18, 0.26, 0.24, 0.16, 0.08),
        contact_probs=(0.45, 0.05, 0.25, 0.2, 0.03, 0.02),
        corporate_logit=0.6,
        phone_rate=0.85,
        first_touch_rate=0.2,
        first_touch_days=20,
        job_rate=0.01,
        urgent_rate=0.12,
        price_rate=0.12,
        tender_rate=0.03,
        fit_shift=1.0,
        unreached_logit=-4.7,
        timeframe_shift=0.8,
        budget_missing_shift=0.0,
    ),
    ChannelStory(
        name="partner",
        medium="partner",
        share=0.055,
        drift=0.2,
        sql_intercept=-2.0,
        won_intercept=-1.14,
        sources=(("crm_integrator", 4, 0.1), ("web_studio", 3, 0.0), ("hosting_co", 2, -0.2)),
        campaigns=(
            Campaign("pt_integrator_deals", 0.15),
            Campaign("pt_studio_referrals", 0.0),
            Campaign("pt_hosting_bonus", -0.3),
        ),
        campaign_missing=0.15,
        pages={"partners": 5, "home": 3, "service": 2, "cases": 1},
        size_probs=(0.06, 0.12, 0.25, 0.3, 0.18, 0.09),
        contact_probs=(0.35, 0.02, 0.15, 0.18, 0.28, 0.02),
        corporate_logit=0.8,
        phone_rate=0.85,
        first_touch_rate=0.1,
        first_touch_days=10,
        job_rate=0.01,
        urgent_rate=0.08,
        price_rate=0.1,
        tender_rate=0.05,
        fit_shift=0.1,
        unreached_logit=-4.5,
        timeframe_shift=0.1,
        budget_missing_shift=0.0,
        industry_tilt={
            "it": 3.0,
            "manufacturing": 2.5,
            "finance": 2.0,
            "b2b_services": 1.5,
            "horeca": 0.3,
            "education": 0.4,
            "retail": 0.5,
        },
    ),
    ChannelStory(
        name="paid_search",
        medium="cpc",
        share=0.235,
        drift=-0.15,
        sql_intercept=-1.56,
        won_intercept=-1.46,
        sources=(("yandex", 7, 0.0), ("google", 3, 0.1)),
        campaigns=(
            Campaign("ps_brand", 0.8, None, 1.0),
            Campaign("ps_seo_services", 0.3, "seo", 1.6),
            Campaign("ps_context_ads", 0.35, "ppc", 1.6),
            Campaign("ps_smm_agency", -0.1, "smm", 1.0),
            Campaign("ps_site_dev", 0.2, "web", 1.3),
            Campaign("ps_cheap_promo", -1.2, None, 1.2),
            Campaign("ps_free_audit", -0.8, "seo", 1.0, end="2026-04"),
            Campaign("ps_competitors", -0.3, None, 0.8),
            Campaign("ps_b2b_leadgen", 0.6, "ppc", 1.2, start="2026-01"),
        ),
        campaign_missing=0.03,
        pages=_SEARCH_PAGES,
        size_probs=(0.12, 0.26, 0.28, 0.2, 0.1, 0.04),
        contact_probs=(0.6, 0.15, 0.15, 0.05, 0.0, 0.05),
        corporate_logit=0.0,
        phone_rate=0.75,
        first_touch_rate=0.25,
        first_touch_days=6,
        job_rate=0.015,
        urgent_rate=0.15,
        price_rate=0.22,
        tender_rate=0.03,
        fit_shift=0.0,
        unreached_logit=-3.9,
        timeframe_shift=0.1,
        budget_missing_shift=0.0,
    ),
    ChannelStory(
        name="organic_search",
        medium="organic",
        share=0.185,
        drift=0.1,
        sql_intercept=-1.37,
        won_intercept=-1.11,
        sources=(("yandex", 6.5, 0.0), ("google", 3.3, 0.05), ("bing", 0.2, 0.1)),
        campaigns=(),
        campaign_missing=1.0,
        pages={
            "blog": 8,
            "service": 4,
            "home": 2,
            "careers": 0.8,
            "pricing": 1,
            "cases": 1,
            "tools": 1,
            "about": 0.5,
            "events": 0.5,
        },
        size_probs=(0.14, 0.3, 0.27, 0.17, 0.08, 0.04),
        contact_probs=(0.62, 0.2, 0.1, 0.05, 0.0, 0.03),
        corporate_logit=-0.1,
        phone_rate=0.7,
        first_touch_rate=0.4,
        first_touch_days=15,
        job_rate=0.09,
        urgent_rate=0.1,
        price_rate=0.2,
        tender_rate=0.03,
        fit_shift=-0.1,
        unreached_logit=-3.8,
        timeframe_shift=0.0,
        budget_missing_shift=0.1,
    ),
    ChannelStory(
        name="social",
        medium="social",
        share=0.15,
        drift=0.5,
        sql_intercept=-1.94,
        won_intercept=-1.55,
        sources=(
            ("vk", 4.5, -0.1),
            ("telegram", 3.5, 0.15),
            ("dzen", 1, -0.2),
            ("youtube", 1, 0.0),
        ),
        campaigns=(
            Campaign("sm_vk_target", -0.2, "smm", 1.5),
            Campaign("sm_tg_ads", 0.2, None, 1.2),
            Campaign("sm_lookalike", -0.4, None, 1.0),
            Campaign("sm_webinar_promo", 0.3, None, 0.8),
            Campaign("sm_contest", -0.8, None, 0.6, end="2025-12"),
            Campaign("sm_reels", -0.1, "smm", 1.0, start="2026-03"),
        ),
        campaign_missing=0.3,
        pages={
            "blog": 3,
            "service": 2,
            "home": 2,
            "careers": 1.2,
            "events": 1.5,
            "promo": 1,
            "cases": 0.5,
        },
        size_probs=(0.2, 0.38, 0.24, 0.11, 0.05, 0.02),
        contact_probs=(0.5, 0.35, 0.05, 0.02, 0.0, 0.08),
        corporate_logit=-1.0,
        phone_rate=0.6,
        first_touch_rate=0.3,
        first_touch_days=8,
        job_rate=0.12,
        urgent_rate=0.08,
        price_rate=0.25,
        tender_rate=0.01,
        fit_shift=-0.3,
        unreached_logit=-3.5,
        timeframe_shift=-0.2,
        budget_missing_shift=0.5,
    ),
    ChannelStory(
        name="email",
        medium="email",
        share=0.08,
        drift=0.0,
        sql_intercept=-2.07,
        won_intercept=-1.32,
        sources=(("newsletter", 7, 0.0), ("crm_trigger", 3, 0.15)),
        campaigns=(
            Campaign("em_digest", 0.0, None, 2.0),
            Campaign("em_case_study", 0.35, None, 1.0),
            Campaign("em_reactivation", -0.4, None, 1.0),
            Campaign("em_webinar_invite", 0.1, None, 1.0),
        ),
        campaign_missing=0.05,
        pages={"cases": 3, "events": 2, "service": 2, "blog": 2, "home": 1, "pricing": 1},
        size_probs=(0.08, 0.22, 0.28, 0.24, 0.12, 0.06),
        contact_probs=(0.45, 0.05, 0.08, 0.4, 0.0, 0.02),
        corporate_logit=0.4,
        phone_rate=0.65,
        first_touch_rate=0.92,
        first_touch_days=60,
        job_rate=0.01,
        urgent_rate=0.08,
        price_rate=0.15,
        tender_rate=0.03,
        fit_shift=0.05,
        unreached_logit=-4.1,
        timeframe_shift=-0.3,
        budget_missing_shift=-0.1,
    ),
    ChannelStory(
        name="display",
        medium="cpm",
        share=0.08,
        drift=-0.4,
        sql_intercept=-2.91,
        won_intercept=-1.43,
        sources=(("yandex_rsya", 6, 0.0), ("mytarget", 2.5, -0.1), ("google_gdn", 1.5, 0.05)),
        campaigns=(
            Campaign("dsp_retargeting", 0.3, None, 1.2),
            Campaign("dsp_broad_reach", -0.4, None, 1.5),
            Campaign("dsp_banners_media", -0.2, None, 1.0),
        ),
        campaign_missing=0.05,
        pages={"promo": 4, "home": 2, "service": 2, "tools": 2, "pricing": 1},
        size_probs=(0.22, 0.34, 0.24, 0.12, 0.06, 0.02),
        contact_probs=(0.6, 0.25, 0.05, 0.02, 0.0, 0.08),
        corporate_logit=-0.9,
        phone_rate=0.35,
        first_touch_rate=0.35,
        first_touch_days=5,
        job_rate=0.03,
        urgent_rate=0.07,
        price_rate=0.2,
        tender_rate=0.01,
        fit_shift=-0.2,
        unreached_logit=-3.4,
        timeframe_shift=-0.2,
        budget_missing_shift=0.4,
    ),
    ChannelStory(
        name="events",
        medium="offline",
        share=0.055,
        drift=0.0,
        sql_intercept=-1.07,
        won_intercept=-1.48,
        sources=(("conference", 6, 0.05), ("webinar", 4, -0.15)),
        campaigns=(
            Campaign("ev_digital_forum_2025", 0.5, None, 1.0, "2025-03", "2025-06"),
            Campaign("ev_marketing_conf_2025", 0.3, None, 1.0, "2025-09", "2025-12"),
            Campaign("ev_webinar_series", -0.9, None, 1.3),
            Campaign("ev_ecom_expo_2026", 0.4, "web", 1.0, "2026-02", "2026-06"),
            Campaign("ev_b2b_summit_2026", 0.6, None, 1.0, "2026-07", "2026-10"),
        ),
        campaign_missing=0.1,
        pages={"events": 6, "home": 2, "cases": 1},
        size_probs=(0.05, 0.1, 0.2, 0.3, 0.22, 0.13),
        contact_probs=(0.3, 0.0, 0.1, 0.2, 0.35, 0.05),
        corporate_logit=0.9,
        phone_rate=0.9,
        first_touch_rate=0.15,
        first_touch_days=12,
        job_rate=0.02,
        urgent_rate=0.06,
        price_rate=0.08,
        tender_rate=0.06,
        fit_shift=0.1,
        unreached_logit=-4.3,
        timeframe_shift=0.2,
        budget_missing_shift=0.0,
    ),
    ChannelStory(
        name="direct",
        medium=None,
        share=0.10,
        drift=0.0,
        sql_intercept=-2.2,
        won_intercept=-1.12,
        sources=((None, 1, 0.0),),
        campaigns=(),
        campaign_missing=1.0,
        pages={"home": 6, "contacts": 0, "about": 3, "pricing": 1, "service": 1, "cases": 1},
        size_probs=(0.12, 0.24, 0.26, 0.2, 0.12, 0.06),
        contact_probs=(0.3, 0.15, 0.35, 0.12, 0.03, 0.05),
        corporate_logit=0.2,
        phone_rate=0.75,
        first_touch_rate=0.3,
        first_touch_days=20,
        job_rate=0.03,
        urgent_rate=0.12,
        price_rate=0.15,
        tender_rate=0.04,
        fit_shift=0.0,
        unreached_logit=-4.0,
        timeframe_shift=0.1,
        budget_missing_shift=0.1,
    ),
)
CHANNEL_NAMES: tuple[str, ...] = tuple(c.name for c in CHANNELS)

#: Contribution weights that differ from 1 per (column, channel); see ``_weights``.
#: The designed dominant drivers of each channel are in ``DOMINANT_DRIVERS``.
DEFAULT_WEIGHTS: dict[str, float] = {
    "budget_amount": 0.1,
    "is_decision_maker": 0.12,
    "need_fit": 0.12,
    "timeframe": 0.1,
    "company_size": 0.1,
    "email": 0.12,
    "phone": 0.08,
    "contact_type": 0.1,
    "message_job": 1.0,
    "message": 0.35,
    "first_touch_at": 0.15,
    "landing_page": 0.3,
    "utm_campaign": 0.5,
}
CHANNEL_WEIGHTS: dict[str, dict[str, float]] = {
    "referral": {"need_fit": 1.7, "timeframe": 1.6},
    "partner": {"is_decision_maker": 1.8},
    "paid_search": {"budget_amount": 1.9, "utm_campaign": 1.3},
    "organic_search": {"message_job": 3.6, "message": 1.2, "landing_page": 2.0},
    "social": {"message_job": 3.8, "email": 1.5},
    "email": {"first_touch_at": 3.0, "timeframe": 1.5},
    "display": {"email": 1.5, "phone": 1.6},
    "events": {"is_decision_maker": 1.8, "utm_campaign": 1.6},
    "direct": {"contact_type": 1.9, "need_fit": 1.4},
}
#: Unanswered BANT questions cost this much everywhere (on top of the channel-weighted value):
#: an SDR who could not get a budget or a timeframe is a bad sign in every channel.
MISSING_PENALTY: dict[str, float] = {
    "budget_amount": -0.15,
    "is_decision_maker": -0.1,
    "need_fit": -0.15,
    "timeframe": -0.1,
}
#: Designed top drivers per channel (the per-channel SHAP report is tested against these).
DOMINANT_DRIVERS: dict[str, tuple[str, ...]] = {
    "referral": ("need_fit", "timeframe"),
    "partner": ("is_decision_maker", "company_industry"),
    "paid_search": ("budget_amount", "utm_campaign"),
    "organic_search": ("message", "landing_page"),
    "social": ("message", "email"),
    "email": ("first_touch_at", "timeframe"),
    "display": ("email", "phone"),
    "events": ("is_decision_maker", "utm_campaign"),
    "direct": ("contact_type", "need_fit"),
}

#: Value effects (in units later multiplied by the channel's weight).
SIZE_EFFECT: tuple[float, ...] = (-0.6, -1.0, -0.4, 0.2, 0.7, 1.0)  # missing, then SIZES
EMAIL_EFFECT: tuple[float, ...] = (-1.0, -0.5, 1.0)  # missing, free mail, corporate
PHONE_EFFECT: tuple[float, ...] = (-1.0, 1.0)  # missing, present
CONTACT_EFFECT: tuple[float, ...] = (0.0, -0.6, 1.0, 0.1, 0.4, -0.4)  # CONTACTS order
FIT_EFFECT: tuple[float, ...] = (-0.8, -1.6, 0.0, 1.0)  # missing, then FITS
DM_EFFECT: tuple[float, ...] = (-0.7, -1.0, 1.0)  # missing, no, yes
TIMEFRAME_EFFECT: tuple[float, ...] = (-0.7, -1.0, -0.3, 0.5, 1.0, -0.5)  # missing, TIMEFRAMES


# ---------------------------------------------------------------------------------------
# Small numeric helpers
# ---------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _pick(rng: np.random.Generator, weights: Any, size: int) -> np.ndarray:
    """``size`` draws of an index with probabilities proportional to ``weights``."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _pick_by_group(rng: np.random.Generator, groups: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row, an index drawn from ``table[group]`` (rows of weights), group by group."""
    out = np.zeros(len(groups), dtype=np.int64)
    if len(groups) == 0:
        return out
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    bounds = np.flatnonzero(np.diff(ordered)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(groups)], strict=True):
        out[order[lo:hi]] = _pick(rng, table[ordered[lo]], int(hi - lo))
    return out


def _ordered_logit(
    rng: np.random.Generator, shift: np.ndarray, cuts: tuple[float, ...]
) -> np.ndarray:
    """Ordinal draw: the number of cut points a logistic latent ``shift + noise`` exceeds."""
    latent = shift + rng.logistic(size=len(shift))
    return np.sum(latent[:, None] > np.asarray(cuts)[None, :], axis=1).astype(np.int8)


def _month_index(seconds: np.ndarray, start: date) -> np.ndarray:
    months = seconds.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return months - np.datetime64(start, "M").astype(np.int64)


def _month_number(text: str) -> int:
    return int(np.datetime64(text, "M").astype(np.int64))


def _window(end: date, months: int) -> tuple[date, date]:
    first = np.datetime64(end, "M") - (months - 1)
    return first.astype("datetime64[D]").astype(date), end


# ---------------------------------------------------------------------------------------
# Arrival: what is known the moment a request comes in
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrival:
    """Arrival fields as numeric codes (-1 = missing), one array per field."""

    at: np.ndarray  # int64 seconds since epoch, UTC
    month: np.ndarray  # month index from the window start
    channel: np.ndarray
    source: np.ndarray  # index into the global source table
    campaign: np.ndarray  # index into the global campaign table, -1 none
    landing: np.ndarray
    topic: np.ndarray  # service the campaign/page is about, -1 none
    contact: np.ndarray
    region: np.ndarray
    country: np.ndarray  # 0 ru, 1 kz, 2 by, 3 intl
    english: np.ndarray  # bool: the lead writes in English
    industry: np.ndarray
    size: np.ndarray  # 0 missing, 1..5 SIZES
    email_kind: np.ndarray  # 0 missing, 1 free mail, 2 corporate
    phone: np.ndarray  # bool
    first_touch_days: np.ndarray  # float, nan when not tracked
    has_message: np.ndarray
    job: np.ndarray
    urgent: np.ndarray
    price: np.ndarray
    tender: np.ndarray
    details: np.ndarray  # detail sentences in the message
    message_length: np.ndarray  # characters (0 when no message); set after the text is built


@dataclass(frozen=True)
class _Tables:
    """The story's tables flattened into arrays indexed by the codes above."""

    sources: tuple[tuple[int, str | None, float], ...]  # (channel, utm_source, effect)
    campaigns: tuple[tuple[int, Campaign], ...]
    intercept: np.ndarray
    won_intercept: np.ndarray
    weights: dict[str, np.ndarray]
    source_effect: np.ndarray
    campaign_effect: np.ndarray
    page_effect: np.ndarray
    region_effect: np.ndarray
    industry_effect: np.ndarray
    industry_partner_effect: np.ndarray
    rates: dict[str, float]  # currency -> RUB per unit (from the spec)
    bracket_values: dict[str, float]  # bracket -> RUB (from the spec)


def _tables(spec: DatasetSpec) -> _Tables:
    budget = next(f for f in spec.features if f.type is FeatureType.MONEY)
    rates = dict(budget.rates or {})
    brackets = dict(budget.bracket_values or {})
    missing = [c for c in CURRENCIES if c not in rates] + [b for b in BRACKETS if b not in brackets]
    if missing:
        raise ValueError(
            f"spec '{spec.name}': feature '{budget.column}' lacks rates/bracket_values for: "
            + ", ".join(missing)
        )
    sources = tuple((i, s, e) for i, ch in enumerate(CHANNELS) for s, _, e in ch.sources)
    campaigns = tuple((i, cp) for i, ch in enumerate(CHANNELS) for cp in ch.campaigns)
    weights = {
        term: np.array([CHANNEL_WEIGHTS[ch.name].get(term, w) for ch in CHANNELS])
        for term, w in DEFAULT_WEIGHTS.items()
    }
    return _Tables(
        sources=sources,
        campaigns=campaigns,
        intercept=np.array([c.sql_intercept for c in CHANNELS]),
        won_intercept=np.array([c.won_intercept for c in CHANNELS]),
        weights=weights,
        source_effect=np.array([e for _, _, e in sources]),
        campaign_effect=np.array([cp.effect for _, cp in campaigns] + [0.0]),
        page_effect=np.array([p.effect for p in PAGES]),
        region_effect=np.array([r.effect for r in REGIONS] + [REGION_MISSING_EFFECT]),
        industry_effect=np.array([i.effect for i in INDUSTRIES] + [INDUSTRY_MISSING_EFFECT[0]]),
        industry_partner_effect=np.array(
            [i.partner_effect for i in INDUSTRIES] + [INDUSTRY_MISSING_EFFECT[1]]
        ),
        rates=rates,
        bracket_values=brackets,
    )


_MONTH_FACTOR = np.array([0.75, 0.95, 1.05, 1.05, 0.9, 0.95, 0.8, 0.8, 1.1, 1.15, 1.1, 0.95])
_WEEKDAY_FACTOR = np.array([1.1, 1.15, 1.1, 1.05, 0.95, 0.3, 0.25])
# fmt: off
_WEEKDAY_HOURS = np.array(  # local hour 0..23
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 6, 10, 12, 12,
     10, 9, 11, 11, 10, 8, 6, 4, 3.5, 3, 2.5, 1.5]
)
_WEEKEND_HOURS = np.array(
    [1.5, 1, 0.6, 0.4, 0.4, 0.5, 0.8, 1.5, 2.5, 4, 5, 6,
     6, 6, 6, 5.5, 5, 5, 5, 5, 5, 4, 3, 2]
)
# fmt: on


def _arrival_times(rng: np.random.Generator, start: date, end: date, n: int) -> np.ndarray:
    """Sorted UTC arrival times (seconds): yearly, weekly and business-hours seasonality."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    day_number = days.astype(np.int64)
    month_of_year = days.astype("datetime64[M]").astype(np.int64) % 12
    day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    holiday = np.where((month_of_year == 0) & (day_of_month <= 8), 0.3, 1.0)
    holiday = np.where((month_of_year == 4) & np.isin(day_of_month, (1, 2, 3, 9, 10)), 0.5, holiday)
    growth = 1.0 + 0.3 * np.linspace(0.0, 1.0, len(days))
    weights = _MONTH_FACTOR[month_of_year] * _WEEKDAY_FACTOR[weekday] * holiday * growth
    day = _pick(rng, weights, n)
    weekend = (weekday[day] >= 5).astype(np.int64)
    hour = _pick_by_group(rng, weekend, np.stack([_WEEKDAY_HOURS, _WEEKEND_HOURS]))
    local = day_number[day] * 86_400 + hour * 3_600 + rng.integers(0, 3_600, size=n)
    seconds = local - LOCAL_UTC_OFFSET_HOURS * 3_600
    first = int(day_number[0]) * 86_400
    seconds = np.where(seconds < first, seconds + 86_400, seconds)
    return np.sort(seconds)


def _channel_table(months: int) -> np.ndarray:
    position = np.linspace(-0.5, 0.5, months) if months > 1 else np.zeros(1)
    share = np.array([c.share for c in CHANNELS])
    drift = np.array([c.drift for c in CHANNELS])
    return np.asarray(share[None, :] * np.exp(drift[None, :] * position[:, None]))


def _campaign_table(tables: _Tables, start: date, months: int) -> np.ndarray:
    """Rows (channel * months + month): weights over campaigns, the last column is 'none'."""
    out = np.zeros((len(CHANNELS) * months, len(tables.campaigns) + 1))
    first = int(np.datetime64(start, "M").astype(np.int64))
    month_numbers = first + np.arange(months)
    for k, (owner, campaign) in enumerate(tables.campaigns):
        lo = _month_number(campaign.start) if campaign.start else -(10**6)
        hi = _month_number(campaign.end) if campaign.end else 10**6
        active = (month_numbers >= lo) & (month_numbers <= hi)
        out[owner * months + np.arange(months), k] = np.where(active, campaign.weight, 0.0)
    for i, channel in enumerate(CHANNELS):
        rows = i * months + np.arange(months)
        totals = out[rows, :-1].sum(axis=1)
        missing = channel.campaign_missing
        # campaign weights are rescaled to (1 - missing); months with none running get "none"
        scale = np.divide(1.0 - missing, totals, out=np.zeros_like(totals), where=totals > 0)
        out[rows, :-1] *= scale[:, None]
        out[rows, -1] = np.where(totals > 0, missing, 1.0)
    return out


def _page_table() -> np.ndarray:
    """Rows (channel * 5 + topic): weights over pages; topic 4 = no advertised service."""
    out = np.zeros((len(CHANNELS) * 5, len(PAGES)))
    for i, channel in enumerate(CHANNELS):
        kinds = np.array([channel.pages.get(p.kind, 0.0) for p in PAGES])
        counts = {k: sum(1 for p in PAGES if p.kind == k) for k in {p.kind for p in PAGES}}
        base = kinds / np.array([counts[p.kind] for p in PAGES])
        if channel.name == "direct":
            base[[k for k, p in enumerate(PAGES) if p.path == "/contacts"]] = 2.0
        for topic in range(5):
            row = base.copy()
            if topic < 4:
                on_topic = np.array([p.service == SERVICES[topic] for p in PAGES])
                row = np.where(on_topic & (row > 0), row * 12.0, row * 0.4)
            out[i * 5 + topic] = row
    return out


def _draw_arrival(
    rng: np.random.Generator, tables: _Tables, start: date, end: date, n: int
) -> _Arrival:
    months = (
        int(np.datetime64(end, "M").astype(np.int64) - np.datetime64(start, "M").astype(np.int64))
        + 1
    )
    at = _arrival_times(rng, start, end, n)
    month = _month_index(at, start)
    channel = _pick_by_group(rng, month, _channel_table(months))

    source_table = np.zeros((len(CHANNELS), len(tables.sources)))
    offset = 0
    for i, ch in enumerate(CHANNELS):
        for j, (_, weight, _) in enumerate(ch.sources):
            source_table[i, offset + j] = weight
        offset += len(ch.sources)
    source = _pick_by_group(rng, channel, source_table)

    campaign = _pick_by_group(rng, channel * months + month, _campaign_table(tables, start, months))
    campaign = np.where(campaign == len(tables.campaigns), -1, campaign)
    campaign_service = np.array(
        [SERVICES.index(cp.service) if cp.service else 4 for _, cp in tables.campaigns] + [4]
    )
    advertised = campaign_service[campaign]  # campaign -1 -> the trailing 4 ("none")
    landing = _pick_by_group(rng, channel * 5 + advertised, _page_table())
    page_service = np.array([SERVICES.index(p.service) if p.service else -1 for p in PAGES])
    topic = np.where(advertised < 4, advertised, page_service[landing])

    contact = _pick_by_group(rng, channel, np.array([c.contact_probs for c in CHANNELS]))
    size = _pick_by_group(rng, channel, np.array([c.size_probs for c in CHANNELS]))
    region = _pick(rng, [r.weight for r in REGIONS] + [REGION_MISSING * 0.94 / 0.94], n)
    region = np.where(region == len(REGIONS), -1, region)
    countries = ("ru", "kz", "by", "intl")
    country = np.array([countries.index(r.country) for r in REGIONS] + [0])[region]
    english_rate = np.array([r.english_rate for r in REGIONS] + [0.02])[region]
    english = rng.random(n) < english_rate
    industry_table = np.array(
        [
            [i.weight * c.industry_tilt.get(i.name, 1.0) for i in INDUSTRIES] + [INDUSTRY_MISSING]
            for c in CHANNELS
        ]
    )
    industry = _pick_by_group(rng, channel, industry_table)
    industry = np.where(industry == len(INDUSTRIES), -1, industry)

    is_call = contact == CONTACTS.index("call")
    is_chat = contact == CONTACTS.index("chat")
    corporate_logit = np.array([c.corporate_logit for c in CHANNELS])[channel]
    corporate_logit = corporate_logit + np.where(size == 0, -0.5, 0.45 * (size - 2.5))
    email_missing = rng.random(n) < np.where(is_call, 0.5, np.where(is_chat, 0.3, 0.05))
    corporate = rng.random(n) < _sigmoid(corporate_logit - 1.3 * english)
    email_kind = np.where(email_missing, 0, np.where(corporate, 2, 1)).astype(np.int8)
    phone_rate = np.array([c.phone_rate for c in CHANNELS])[channel]
    phone = is_call | (rng.random(n) < phone_rate)

    touch_rate = np.array([c.first_touch_rate for c in CHANNELS])[channel]
    touch_days = np.array([c.first_touch_days for c in CHANNELS])[channel]
    days = np.minimum(touch_days * np.exp(rng.normal(0.0, 1.1, n)), 720.0)
    first_touch_days = np.where(rng.random(n) < touch_rate, np.round(days, 3), np.nan)

    job_rate = np.array([c.job_rate for c in CHANNELS])[channel]
    page_job = np.array([PAGE_JOB_RATE.get(p.path, -1.0) for p in PAGES])[landing]
    job = rng.random(n) < np.where(page_job >= 0, page_job, job_rate)
    stories = CHANNELS
    urgent = ~job & (rng.random(n) < np.array([c.urgent_rate for c in stories])[channel])
    price = ~job & (rng.random(n) < np.array([c.price_rate for c in stories])[channel])
    tender_rate = np.array([c.tender_rate for c in stories])[channel] * np.where(
        size >= 3, 2.5, 0.3
    )
    tender = ~job & (rng.random(n) < tender_rate)
    has_message = job | (rng.random(n) >= np.where(is_call, 0.7, 0.07))
    details = np.where(is_chat, 0, _pick(rng, [0.3, 0.35, 0.22, 0.13], n))
    return _Arrival(
        at=at,
        month=month,
        channel=channel,
        source=source,
        campaign=campaign,
        landing=landing,
        topic=topic,
        contact=contact,
        region=region,
        country=country,
        english=english,
        industry=industry,
        size=size,
        email_kind=email_kind,
        phone=phone,
        first_touch_days=first_touch_days,
        has_message=has_message,
        job=job,
        urgent=urgent,
        price=price,
        tender=tender,
        details=details.astype(np.int8),
        message_length=np.zeros(n, dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------
# Qualification: the SDR's BANT answers and the service questionnaire
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
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
        """0 ru, 1 kz, 2 by, 3 intl (as ``_Arrival.country``)."""
        return np.maximum(self.place - 1, 0)

    def take(self, rows: np.ndarray) -> _Context:
        return _Context(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def key(self) -> np.ndarray:
        """One integer per distinct context."""
        key = self.channel.astype(np.int64)
        for values, base in (
            (self.topic + 1, 5), (self.size, 6), (self.email_kind, 3), (self.phone, 2),
            (self.job, 2), (self.urgent, 2), (self.tender, 2), (self.place, 5),
        ):  # fmt: skip
            key = key * base + values.astype(np.int64)
        return key


def _context(a: _Arrival) -> _Context:
    place = np.where(a.region == 0, 0, np.where(a.country == 0, 1, a.country + 1))
    return _Context(
        channel=a.channel,
        topic=a.topic,
        size=a.size,
        email_kind=a.email_kind,
        phone=a.phone,
        job=a.job,
        urgent=a.urgent,
        tender=a.tender,
        place=place,
    )


@dataclass(frozen=True)
class _Qualified:
    """BANT and questionnaire answers as codes (-1 / nan = missing)."""

    reached: np.ndarray  # bool: the SDR got the client on the line
    service: np.ndarray  # SERVICES index
    fit: np.ndarray  # FITS index
    budget_kind: np.ndarray  # 0 missing, 1 amount, 2 bracket
    budget_amount: np.ndarray  # in its currency
    currency: np.ndarray  # CURRENCIES index
    bracket: np.ndarray  # BRACKETS index
    budget_rub: np.ndarray  # what the pipeline sees: amount * rate or the bracket's value
    role: np.ndarray  # ROLES index
    dm: np.ndarray  # -1 missing, 0 no, 1 yes
    timeframe: np.ndarray  # TIMEFRAMES index
    answers: dict[str, np.ndarray]  # question key -> float codes (nan = unanswered)


#: Question keys the generator answers (checked against the catalog at generation time).
QUESTION_KEYS: dict[str, tuple[str, ...]] = {
    "common": ("project_type", "promotion_region"),
    "seo": ("site_age_years", "has_analytics"),
    "ppc": ("monthly_ad_spend", "ad_platform"),
    "smm": ("followers_k", "has_content_team"),
    "web": ("pages_count", "has_design"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "project_type": ("new", "existing"),
    "promotion_region": ("local", "national", "international"),
    "ad_platform": ("yandex", "google", "vk", "none"),
}
_SIZE_BUDGET_LOG10 = np.array([5.25, 5.0, 5.15, 5.35, 5.55, 5.75])  # missing, then SIZES


def _nice_round(values: np.ndarray, step: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values / step) * step, step)


def _draw_budget(
    rng: np.random.Generator, ctx: _Context, reached: np.ndarray, tables: _Tables
) -> tuple[np.ndarray, ...]:
    n = len(ctx.channel)
    channel_shift = np.array([c.budget_missing_shift for c in CHANNELS])[ctx.channel]
    missing_logit = -1.4 + 0.5 * (ctx.size <= 1) + 0.35 * (ctx.email_kind < 2) + channel_shift
    missing = ~reached | (rng.random(n) < _sigmoid(missing_logit))
    bracket_kind = rng.random(n) < 0.3
    kind = np.where(missing, 0, np.where(bracket_kind, 2, 1)).astype(np.int8)
    log10 = (
        _SIZE_BUDGET_LOG10[ctx.size]
        + 0.15 * ctx.urgent
        + 0.2 * ctx.tender
        + 0.1 * (ctx.place == 0)
        + rng.normal(0.0, 0.42, n)
    )
    rub = 10.0**log10
    # currency by country: ru mostly RUB, kz mostly KZT, by/intl dollars and euros
    u = rng.random(n)
    cum = np.array(
        [
            [0.94, 0.98, 1.0, 1.0],  # ru: RUB, USD, EUR, KZT
            [0.2, 0.25, 0.27, 1.0],  # kz
            [0.5, 0.9, 1.0, 1.0],  # by
            [0.05, 0.6, 1.0, 1.0],  # intl
        ]
    )[ctx.country]
    currency = np.sum(u[:, None] >= cum, axis=1).astype(np.int8)
    rate = np.array([tables.rates[c] for c in CURRENCIES])[currency]
    step = np.array([10_000.0, 100.0, 100.0, 50_000.0])[currency]
    amount = _nice_round(rub / rate, step)
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


_ROLE_BY_SIZE = np.array(
    [  # owner, ceo, marketing_director, marketer, sales_head, procurement, assistant
        [3, 1, 1, 3, 1, 0.3, 1],  # size missing
        [6, 2, 0.5, 1.5, 0.5, 0.1, 0.6],  # 1-10
        [3, 2.5, 1.5, 2.5, 1, 0.3, 0.8],  # 11-50
        [1, 1.5, 2.5, 3.5, 1.2, 0.6, 1],  # 51-200
        [0.3, 0.6, 2.5, 4, 1, 1.2, 1],  # 201-1000
        [0.1, 0.3, 2, 4, 0.8, 2, 1],  # 1000+
    ]
)
_SENIOR_CHANNELS = np.array([c.name in ("events", "partner") for c in CHANNELS])


def _draw_authority(
    rng: np.random.Generator, ctx: _Context, reached: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(ctx.channel)
    senior = _SENIOR_CHANNELS[ctx.channel].astype(np.int64)
    table = np.concatenate([_ROLE_BY_SIZE, _ROLE_BY_SIZE * np.array([2, 2, 2, 0.6, 1, 1, 0.5])])
    role = _pick_by_group(rng, senior * 6 + ctx.size, table).astype(np.int8)
    role = np.where(~reached | (rng.random(n) < 0.08), -1, role).astype(np.int8)
    dm_rate = np.where(role >= 0, np.array(ROLE_DM_RATE)[role], 0.3)
    dm = (rng.random(n) < dm_rate).astype(np.int8)
    dm_missing = ~reached | (rng.random(n) < np.where(role >= 0, 0.08, 0.6))
    return role, np.where(dm_missing, -1, dm).astype(np.int8)


def _draw_answers(
    rng: np.random.Generator,
    ctx: _Context,
    service: np.ndarray,
    budget_rub: np.ndarray,
    filled: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(ctx.channel)

    def asked(key_service: int | None) -> np.ndarray:
        on = filled if key_service is None else filled & (service == key_service)
        return on & (rng.random(n) >= 0.1)

    nan = np.full(n, np.nan)
    existing = rng.random(n) < np.where(service == 3, 0.45, 0.65)
    promo_shift = 0.4 * (ctx.size >= 4) + 1.2 * (ctx.place == 4) - 0.3 * (ctx.size <= 1)
    promotion = _ordered_logit(rng, promo_shift, (-0.6, 2.2))
    site_age = np.where(existing, np.minimum(np.round(np.exp(rng.normal(1.4, 0.7, n))), 40), 0)
    analytics = rng.random(n) < _sigmoid(-0.2 + 0.35 * (ctx.size - 2.5))
    spend = np.where(
        np.isnan(budget_rub),
        10.0 ** (_SIZE_BUDGET_LOG10[ctx.size] - 0.2 + rng.normal(0, 0.35, n)),
        budget_rub * np.exp(rng.normal(-0.5, 0.4, n)),
    )
    platform = _pick(rng, [0.55, 0.1, 0.15, 0.2], n)
    spend = np.where(platform == 3, 0.0, _nice_round(spend, np.full(n, 10_000.0)))
    followers = np.round(np.exp(rng.normal(1.6 + 0.3 * ctx.size, 1.2)), 1)
    content_team = rng.random(n) < _sigmoid(-1.0 + 0.45 * ctx.size)
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


def _draw_qualified(rng: np.random.Generator, ctx: _Context, tables: _Tables) -> _Qualified:
    """The SDR's answers given the arrival context (redrawn for the arrival-stage oracle)."""
    n = len(ctx.channel)
    unreached_logit = (
        np.array([c.unreached_logit for c in CHANNELS])[ctx.channel]
        + 1.3 * ~ctx.phone
        + np.array([0.7, 0.4, 0.0])[ctx.email_kind]
        + 0.8 * ctx.job
    )
    reached = rng.random(n) >= _sigmoid(unreached_logit)

    base = np.array([0.32, 0.3, 0.18, 0.2])
    social = np.array([c.name == "social" for c in CHANNELS])[ctx.channel]
    service = _pick_by_group(rng, social.astype(np.int64), np.stack([base, [0.15, 0.15, 0.5, 0.2]]))
    on_topic = (ctx.topic >= 0) & (rng.random(n) < 0.75)
    service = np.where(on_topic, ctx.topic, service)
    service_missing = ~reached | (rng.random(n) < np.where(ctx.job, 0.6, 0.04))
    service = np.where(service_missing, -1, service).astype(np.int8)

    fit_shift = (
        np.array([c.fit_shift for c in CHANNELS])[ctx.channel]
        + 0.3 * (ctx.size - 2.5) * (ctx.size > 0)
        + 0.4 * (ctx.email_kind == 2)
        - 4.0 * ctx.job
    )
    fit = _ordered_logit(rng, fit_shift, (-1.6, 0.4))
    fit = np.where(~reached | (rng.random(n) < 0.1), -1, fit).astype(np.int8)

    kind, amount, currency, bracket, budget_rub = _draw_budget(rng, ctx, reached, tables)
    role, dm = _draw_authority(rng, ctx, reached)

    channel_time = np.array([c.timeframe_shift for c in CHANNELS])[ctx.channel]
    timeframe_shift = 1.4 * ctx.urgent + 0.5 * ctx.tender + 0.2 * (ctx.size >= 4) + channel_time
    timeframe = _ordered_logit(rng, timeframe_shift, (-1.0, 0.2, 1.8))
    timeframe = np.where(rng.random(n) < 0.1, 4, timeframe)
    timeframe = np.where(~reached | (rng.random(n) < 0.08), -1, timeframe).astype(np.int8)

    filled = reached & (service >= 0) & (rng.random(n) < 0.85)
    answers = _draw_answers(rng, ctx, service, budget_rub, filled)
    return _Qualified(
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
        answers=answers,
    )


# ---------------------------------------------------------------------------------------
# The truth: log-odds contributions per spec column
# ---------------------------------------------------------------------------------------


def _local_clock(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    local = seconds + LOCAL_UTC_OFFSET_HOURS * 3_600
    return (local // 3_600) % 24, (local // 86_400 + 3) % 7


def _budget_g(budget_rub: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.tanh((np.log10(budget_rub) - 5.4) / 0.5)
    return np.where(np.isnan(budget_rub), -1.0, g)


def _message_g(a: _Arrival) -> np.ndarray:
    length = np.maximum(a.message_length, 1)
    detail = 0.4 * np.clip((np.log(length) - math.log(150.0)) / 0.8, -1.0, 1.0)
    text = detail + 0.35 * a.urgent + 0.25 * a.tender - 0.2 * a.price - 0.2 * a.english
    return np.where(a.has_message, text, -0.3)


def _first_touch_g(days: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        bump = np.exp(-(((np.log1p(days) - math.log1p(21.0)) / 0.9) ** 2)) - 0.3
    return np.where(np.isnan(days), -0.3, bump)


def _arrival_terms(a: _Arrival, t: _Tables) -> Iterator[tuple[str, np.ndarray]]:
    """SQL log-odds contributions of the arrival fields, by spec column."""
    w = {term: weight[a.channel] for term, weight in t.weights.items()}
    hour, weekday = _local_clock(a.at)
    partner = a.channel == CHANNEL_NAMES.index("partner")
    yield "channel", t.intercept[a.channel]
    yield "utm_source", t.source_effect[a.source]
    yield "utm_campaign", w["utm_campaign"] * t.campaign_effect[a.campaign]
    yield "landing_page", w["landing_page"] * t.page_effect[a.landing]
    yield "contact_type", w["contact_type"] * np.array(CONTACT_EFFECT)[a.contact]
    yield "region", t.region_effect[a.region]
    yield (
        "company_industry",
        np.where(partner, t.industry_partner_effect[a.industry], t.industry_effect[a.industry]),
    )
    yield "company_size", w["company_size"] * np.array(SIZE_EFFECT)[a.size]
    yield "email", w["email"] * np.array(EMAIL_EFFECT)[a.email_kind]
    yield "phone", w["phone"] * np.array(PHONE_EFFECT)[a.phone.astype(np.int64)]
    yield "message", w["message"] * _message_g(a) - w["message_job"] * a.job
    off_hours = (hour < 9) | (hour >= 19)
    yield "arrived_at", -0.25 * off_hours - 0.2 * (weekday >= 5)
    yield "first_touch_at", w["first_touch_at"] * _first_touch_g(a.first_touch_days)


def _answer_terms(answers: Mapping[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    def code(key: str, effects: tuple[float, ...]) -> np.ndarray:
        values = answers[key]
        known = ~np.isnan(values)
        table = np.array(effects)
        return np.where(known, table[np.where(known, values, 0).astype(np.int64)], 0.0)

    def smooth(key: str, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        values = answers[key]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = fn(values)
        return np.where(np.isnan(values), 0.0, out)

    q = QUESTION_PREFIX
    yield q + "project_type", code("project_type", (-0.05, 0.1))
    yield q + "promotion_region", code("promotion_region", (-0.15, 0.15, 0.05))
    yield q + "site_age_years", smooth("site_age_years", lambda v: 0.12 * np.tanh((v - 3) / 3))
    yield q + "has_analytics", code("has_analytics", (-0.15, 0.25))
    yield (
        q + "monthly_ad_spend",
        smooth("monthly_ad_spend", lambda v: 0.3 * np.tanh((np.log10(v + 1.0) - 5.0) / 0.6)),
    )
    yield q + "ad_platform", code("ad_platform", (0.1, 0.05, -0.05, -0.3))
    yield q + "followers_k", smooth("followers_k", lambda v: 0.12 * np.tanh(np.log10(v + 1) - 1))
    yield q + "has_content_team", code("has_content_team", (0.1, -0.2))
    yield q + "pages_count", smooth("pages_count", lambda v: 0.2 * np.tanh(np.log(v / 20.0)))
    yield q + "has_design", code("has_design", (-0.1, 0.3))


def _qualified_terms(
    channel: np.ndarray, q: _Qualified, t: _Tables
) -> Iterator[tuple[str, np.ndarray]]:
    """SQL log-odds contributions of the qualification answers, by spec column."""
    w = {term: weight[channel] for term, weight in t.weights.items()}
    penalty = MISSING_PENALTY
    budget_missing = np.isnan(q.budget_rub)
    yield (
        "budget_amount",
        (w["budget_amount"] * _budget_g(q.budget_rub) + penalty["budget_amount"] * budget_missing),
    )
    yield "authority_role", np.where(q.role >= 0, np.array(ROLE_EFFECT)[q.role], -0.1)
    yield (
        "is_decision_maker",
        (
            w["is_decision_maker"] * np.array(DM_EFFECT)[q.dm + 1]
            + penalty["is_decision_maker"] * (q.dm < 0)
        ),
    )
    yield "need_service", np.where(q.service >= 0, np.array(SERVICE_EFFECT)[q.service], -0.1)
    yield (
        "need_fit",
        (w["need_fit"] * np.array(FIT_EFFECT)[q.fit + 1] + penalty["need_fit"] * (q.fit < 0)),
    )
    yield (
        "timeframe",
        (
            w["timeframe"] * np.array(TIMEFRAME_EFFECT)[q.timeframe + 1]
            + penalty["timeframe"] * (q.timeframe < 0)
        ),
    )
    yield from _answer_terms(q.answers)


def _won_arrival_terms(a: _Arrival, t: _Tables) -> Iterator[tuple[str, np.ndarray]]:
    """Arrival fields' contributions to the log-odds of a deal given SQL."""
    yield "channel", t.won_intercept[a.channel]
    yield "company_size", 0.25 * np.array(SIZE_EFFECT)[a.size]
    yield "message", 0.25 * a.urgent - 0.5 * a.tender - 0.3 * a.price


def _won_qualified_terms(q: _Qualified) -> Iterator[tuple[str, np.ndarray]]:
    """Qualification answers' contributions to the log-odds of a deal given SQL."""
    yield "budget_amount", 0.9 * _budget_g(q.budget_rub)
    yield "is_decision_maker", 0.5 * np.array(DM_EFFECT)[q.dm + 1]
    yield "timeframe", 0.4 * np.array(TIMEFRAME_EFFECT)[q.timeframe + 1]
    yield "need_fit", 0.3 * (q.fit == 2) - 0.3 * (q.fit == 0)
    design = q.answers["has_design"]
    yield QUESTION_PREFIX + "has_design", np.where(np.isnan(design), 0.0, 0.25 * (design == 1))


def _sum_terms(terms: Iterator[tuple[str, np.ndarray]], n: int) -> np.ndarray:
    total = np.zeros(n)
    for _, value in terms:
        total = total + value
    return total


@dataclass(frozen=True)
class _Truth:
    z_sql: np.ndarray  # SQL log-odds given every field
    p_sql: np.ndarray
    p_won: np.ndarray


def _truth(a: _Arrival, q: _Qualified, t: _Tables) -> _Truth:
    n = len(a.at)
    z_sql = _sum_terms(_arrival_terms(a, t), n) + _sum_terms(_qualified_terms(a.channel, q, t), n)
    z_won = _sum_terms(_won_arrival_terms(a, t), n) + _sum_terms(_won_qualified_terms(q), n)
    p_sql = _sigmoid(z_sql)
    return _Truth(z_sql=z_sql, p_sql=p_sql, p_won=p_sql * _sigmoid(z_won))


def _arrival_oracle(
    rng: np.random.Generator, a: _Arrival, t: _Tables, redraws: int, chunk: int = 32_768
) -> tuple[np.ndarray, np.ndarray]:
    """E[P(SQL)] and E[P(won)] over ``redraws`` redraws of the qualification answers.

    The answers depend on the arrival fields only through ``_Context``, and their log-odds
    contributions only on the channel (which is part of it). So answers are redrawn once per
    distinct context, and each lead averages ``sigmoid(its arrival log-odds + a redraw)``
    over its context's redraws: the same Monte Carlo estimate as redrawing per lead.
    """
    n = len(a.at)
    context = _context(a)
    _, first, inverse = np.unique(context.key(), return_index=True, return_inverse=True)
    contexts = context.take(first)
    m = len(first)
    q_sql = np.empty((redraws, m))
    q_won = np.empty((redraws, m))
    block = max(1, 1_000_000 // m)  # redraws per batch: about a million draws at a time
    for r0 in range(0, redraws, block):
        count = min(block, redraws - r0)
        tiled = contexts.take(np.tile(np.arange(m), count))
        q = _draw_qualified(rng, tiled, t)
        q_sql[r0 : r0 + count] = _sum_terms(
            _qualified_terms(tiled.channel, q, t), m * count
        ).reshape(count, m)
        q_won[r0 : r0 + count] = _sum_terms(_won_qualified_terms(q), m * count).reshape(count, m)
    q_sql, q_won = q_sql.T.copy(), q_won.T.copy()  # (context, redraw)
    z_arrival = _sum_terms(_arrival_terms(a, t), n)
    w_arrival = _sum_terms(_won_arrival_terms(a, t), n)
    p_sql = np.empty(n)
    p_won = np.empty(n)
    for lo in range(0, n, chunk):
        rows = slice(lo, min(lo + chunk, n))
        idx = inverse[rows]
        ps = _sigmoid(z_arrival[rows, None] + q_sql[idx])
        p_sql[rows] = ps.mean(axis=1)
        p_won[rows] = (ps * _sigmoid(w_arrival[rows, None] + q_won[idx])).mean(axis=1)
    return p_sql, p_won


# ---------------------------------------------------------------------------------------
# Text: messages, names, e-mails, phones
# ---------------------------------------------------------------------------------------

#: Message openers per language and advertised service ("none": no service; "job": job seekers).
OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "ru": {
        "seo": (
            "Нужно продвижение сайта в поиске.",
            "Интересует SEO-продвижение нашего сайта.",
            "Хотим вывести сайт в топ поисковой выдачи.",
        ),
        "ppc": (
            "Нужна настройка контекстной рекламы.",
            "Интересует ведение рекламы в Яндекс Директ.",
            "Хотим запустить рекламные кампании в поиске.",
        ),
        "smm": (
            "Нужно ведение соцсетей компании.",
            "Интересует продвижение во ВКонтакте и Telegram.",
            "Хотим выстроить SMM-стратегию бренда.",
        ),
        "web": (
            "Нужна разработка сайта.",
            "Хотим переделать корпоративный сайт.",
            "Нужен интернет-магазин под ключ.",
        ),
        "none": (
            "Добрый день! Хотим обсудить сотрудничество.",
            "Здравствуйте, нужна помощь с маркетингом.",
            "Интересуют ваши услуги, расскажите подробнее.",
        ),
        "job": ("Здравствуйте!", "Добрый день."),
    },
    "en": {
        "seo": (
            "We need help with search engine optimisation.",
            "Looking for an SEO agency for our website.",
            "We want our site to rank higher in search.",
        ),
        "ppc": (
            "We need someone to set up and run paid search ads.",
            "Looking for help with Google Ads and Yandex Direct.",
            "We want to launch search advertising campaigns.",
        ),
        "smm": (
            "We need help running our social media.",
            "Looking for a partner for social media marketing.",
            "We want a social media strategy for our brand.",
        ),
        "web": (
            "We need a new website.",
            "We want to rebuild our corporate website.",
            "Looking for an agency to build an online store.",
        ),
        "none": (
            "Hello, we would like to discuss working together.",
            "Hi, we need help with marketing.",
            "Interested in your services, please tell us more.",
        ),
        "job": ("Hello!", "Hi there."),
    },
}
#: Sentences carrying the spec's message keywords, per language and keyword flag.
KEYWORD_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "ru": {
        "job": (
            "Есть ли у вас вакансия маркетолога?",
            "Хочу отправить резюме на позицию SMM-специалиста.",
            "Ищу работу в агентстве, есть вакансия?",
        ),
        "urgent": (
            "Нужно срочно, запуск в этом месяце.",
            "Задача горит, хотим начать сегодня.",
            "Просьба перезвонить сегодня.",
        ),
        "tender": (
            "У нас тендер на маркетинговые услуги.",
            "Идёт закупка услуг по 223-ФЗ, приглашаем участвовать.",
            "Готовим тендер, нужно коммерческое предложение.",
        ),
        "price": (
            "Какая цена за месяц работы?",
            "Подскажите стоимость ваших услуг.",
            "Пришлите, пожалуйста, прайс.",
        ),
    },
    "en": {
        "job": (
            "Do you have a job opening for a marketer?",
            "I would like to send my cv for the vacancy.",
            "Looking for an internship in digital marketing.",
        ),
        "urgent": (
            "This is urgent, we need to start asap.",
            "Urgent request, please call me today.",
            "We need this asap.",
        ),
        "tender": (
            "We are running a tender for marketing services.",
            "Please find our rfp attached.",
            "We are preparing a tender and need a proposal.",
        ),
        "price": (
            "What is the price per month?",
            "Could you send us a quote?",
            "Please share your pricing.",
        ),
    },
}
DETAILS: dict[str, tuple[str, ...]] = {
    "ru": (
        "Сайт работает несколько лет, трафик падает.",
        "У нас несколько филиалов в регионах.",
        "Основные клиенты — малый и средний бизнес.",
        "Раньше работали с другим агентством, результат не устроил.",
        "Есть CRM и сквозная аналитика.",
        "Хотим увеличить количество обращений в два раза.",
        "Целевая аудитория — руководители B2B-компаний.",
        "Нужна помощь с аналитикой и отчётностью.",
        "Готовы обсудить детали на встрече.",
        "Можем созвониться в удобное время.",
    ),
    "en": (
        "Our site has been online for several years but traffic is falling.",
        "We have several branches across the country.",
        "Most of our customers are small and medium businesses.",
        "We worked with another agency before and were not happy.",
        "We use a CRM and end-to-end analytics.",
        "We want to double the number of inbound requests.",
        "Our audience is B2B decision makers.",
        "We also need help with analytics and reporting.",
        "Happy to discuss the details in a meeting.",
        "We can have a call at a time that suits you.",
    ),
}
SIGNOFFS: dict[str, tuple[str, ...]] = {
    "ru": ("Спасибо.", "Жду ответа.", "Заранее спасибо!", ""),
    "en": ("Thanks.", "Looking forward to your reply.", "Best regards.", ""),
}
# fmt: off
_BRAND_ROOTS = (
    "Alfa", "Vektor", "Sever", "Gorizont", "Tekhno", "Stroy", "Market", "Media", "Profi",
    "Delta", "Orion", "Start", "Region", "Standart", "Resurs", "Kapital", "Energo", "Agro",
    "Med", "Avto", "Logist", "Fin", "Eko", "Neo", "Grand", "Siti", "Baltik", "Ural", "Volga",
    "Sibir",
)
_BRAND_SUFFIXES = (
    "soft", "group", "trade", "lab", "pro", "systems", "invest", "service", "plus", "tech",
    "line", "market", "stroy", "com", "prom",
)
#: Legal forms per country as (before, after) the brand.
_LEGAL_FORMS: dict[str, tuple[tuple[str, str], ...]] = {
    "ru": (("ООО «", "»"), ("ООО «", "»"), ("АО «", "»"), ("ГК «", "»"), ("", "")),
    "kz": (("ТОО «", "»"), ("ТОО «", "»"), ("", "")),
    "by": (("ООО «", "»"), ("ЧУП «", "»"), ("", "")),
    "intl": (("", " Ltd"), ("", " LLC"), ("", " GmbH"), ("", "")),
}
_TLD = {"ru": ".ru", "kz": ".kz", "by": ".by", "intl": ".com"}
_COUNTRIES = ("ru", "kz", "by", "intl")
_PHONE_PREFIX = {"ru": "+7 9", "kz": "+7 7", "by": "+375 ", "intl": "+44 20"}
_RU_FIRST = (
    ("Александр", "aleksandr"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"),
    ("Андрей", "andrey"), ("Алексей", "aleksey"), ("Максим", "maksim"), ("Иван", "ivan"),
    ("Михаил", "mikhail"), ("Никита", "nikita"), ("Павел", "pavel"), ("Елена", "elena"),
    ("Ольга", "olga"), ("Анна", "anna"), ("Мария", "maria"), ("Наталья", "natalya"),
    ("Екатерина", "ekaterina"), ("Татьяна", "tatyana"), ("Ирина", "irina"), ("Юлия", "yulia"),
    ("Светлана", "svetlana"),
)  # the first ten are male
_RU_LAST = (
    ("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"), ("Попов", "popov"),
    ("Васильев", "vasiliev"), ("Петров", "petrov"), ("Соколов", "sokolov"),
    ("Михайлов", "mikhailov"), ("Новиков", "novikov"), ("Фёдоров", "fedorov"),
    ("Морозов", "morozov"), ("Волков", "volkov"),
)  # female forms add "а" / "a"
_EN_FIRST = ("James", "Emma", "Oliver", "Sophia", "Daniel", "Mia", "Thomas", "Anna", "Lucas",
             "Laura")
_EN_LAST = ("Smith", "Brown", "Miller", "Wilson", "Taylor", "Schmidt", "Garcia", "Martin",
            "Novak", "Kowalski")
FREE_MAIL_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "ru": (("mail.ru", 0.3), ("yandex.ru", 0.3), ("gmail.com", 0.25), ("bk.ru", 0.05),
           ("list.ru", 0.04), ("inbox.ru", 0.03), ("rambler.ru", 0.03)),
    "en": (("gmail.com", 0.5), ("outlook.com", 0.2), ("yahoo.com", 0.1), ("icloud.com", 0.1),
           ("hotmail.com", 0.1)),
}
# fmt: on
_CORPORATE_MAILBOXES = ("info", "sales", "marketing", "hello")


def _strings(options: Sequence[str | None], index: np.ndarray) -> pa.Array:
    """``options[index]`` as an Arrow string array; index -1 and None options give nulls."""
    table = pa.array([o or None for o in options], type=pa.string())
    return table.take(pa.array(index, mask=index < 0))


def _concat(*parts: Any, sep: str = "", skip_nulls: bool = False) -> pa.Array:
    """Row-wise concatenation of Arrow string arrays and plain strings."""
    handling = "skip" if skip_nulls else "emit_null"
    return pc.binary_join_element_wise(*parts, sep, null_handling=handling)


def _only(values: pa.Array, keep: np.ndarray) -> pa.Array:
    """``values`` where ``keep``, null elsewhere."""
    return pc.if_else(pa.array(keep), values, pa.scalar(None, pa.string()))


def _digits(rng: np.random.Generator, width: int, n: int) -> pa.Array:
    numbers = pc.cast(pa.array(rng.integers(0, 10**width, size=n)), pa.string())
    return pc.utf8_lpad(numbers, width=width, padding="0")


def _grouped_pick(
    rng: np.random.Generator, groups: Sequence[Sequence[_T]], group: np.ndarray
) -> tuple[list[_T], np.ndarray]:
    """A uniform pick inside each row's group: (the flat option list, an index into it)."""
    counts = np.array([len(g) for g in groups])
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    flat = [option for g in groups for option in g]
    pick = (rng.random(len(group)) * counts[group]).astype(np.int64)
    return flat, offsets[group] + pick


_LANGUAGES = ("ru", "en")
_OPENER_GROUPS = (*SERVICES, "none", "job")


def _messages(rng: np.random.Generator, a: _Arrival) -> pa.Array:
    """RU/EN request texts from templates; the keyword sentences follow the lead's flags."""
    n = len(a.at)
    lang = a.english.astype(np.int64)
    kind = np.where(a.job, 5, np.where(a.topic >= 0, a.topic, 4))
    groups = [OPENERS[lg][g] for lg in _LANGUAGES for g in _OPENER_GROUPS]
    flat, index = _grouped_pick(rng, groups, lang * len(_OPENER_GROUPS) + kind)
    parts = [_strings(flat, index)]
    for flag in ("job", "urgent", "tender", "price"):
        flat, index = _grouped_pick(rng, [KEYWORD_PHRASES[lg][flag] for lg in _LANGUAGES], lang)
        parts.append(_strings(flat, np.where(getattr(a, flag), index, -1)))
    details = [DETAILS[lg] for lg in _LANGUAGES]
    size = len(details[0])
    first = rng.integers(0, size, size=n)
    count = np.where(a.job, 0, a.details)
    for k in range(3):
        index = lang * size + (first + 3 * k) % size
        parts.append(_strings([d for g in details for d in g], np.where(count > k, index, -1)))
    flat, index = _grouped_pick(rng, [SIGNOFFS[lg] for lg in _LANGUAGES], lang)
    parts.append(_strings(flat, index))
    return _only(_concat(*parts, sep=" ", skip_nulls=True), a.has_message)


def _people(rng: np.random.Generator, a: _Arrival) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Contact names and the lower-case Latin given and family names (for e-mails)."""
    n = len(a.at)
    female = rng.random(n) < 0.5
    first = rng.integers(0, 10, size=n) + np.where(female, 10, 0)
    last = rng.integers(0, len(_RU_LAST), size=n) + np.where(female, len(_RU_LAST), 0)
    en_first = rng.integers(0, len(_EN_FIRST), size=n)
    en_last = rng.integers(0, len(_EN_LAST), size=n)
    ru_last_names = [c for c, _ in _RU_LAST] + [c + "а" for c, _ in _RU_LAST]
    lat_last_names = [t for _, t in _RU_LAST] + [t + "a" for _, t in _RU_LAST]
    english = a.english
    russian_name = _concat(
        _strings([c for c, _ in _RU_FIRST], np.where(english, -1, first)),
        _strings(ru_last_names, np.where(english, -1, last)),
        sep=" ",
    )
    english_name = _concat(
        _strings(_EN_FIRST, np.where(english, en_first, -1)),
        _strings(_EN_LAST, np.where(english, en_last, -1)),
        sep=" ",
    )
    given_names = [t for _, t in _RU_FIRST] + [f.lower() for f in _EN_FIRST]
    family_names = lat_last_names + [f.lower() for f in _EN_LAST]
    given = _strings(given_names, np.where(english, len(_RU_FIRST) + en_first, first))
    family = _strings(family_names, np.where(english, len(lat_last_names) + en_last, last))
    return pc.coalesce(russian_name, english_name), given, family


def _contacts(rng: np.random.Generator, a: _Arrival) -> dict[str, pa.Array]:
    """Company and contact names, e-mail and phone (null where missing)."""
    n = len(a.at)
    contact, given, family = _people(rng, a)
    brand = _concat(
        _strings(_BRAND_ROOTS, rng.integers(0, len(_BRAND_ROOTS), size=n)),
        _strings(_BRAND_SUFFIXES, rng.integers(0, len(_BRAND_SUFFIXES), size=n)),
    )
    forms = [_LEGAL_FORMS[c] for c in _COUNTRIES]
    flat, form = _grouped_pick(rng, forms, a.country)
    before = _strings([b for b, _ in flat], form)
    after = _strings([e for _, e in flat], form)
    company = _concat(pc.coalesce(before, ""), brand, pc.coalesce(after, ""))
    domain = _concat(pc.utf8_lower(brand), _strings([_TLD[c] for c in _COUNTRIES], a.country))

    initial = pc.utf8_slice_codeunits(given, 0, 1)
    mailbox = _strings(_CORPORATE_MAILBOXES, rng.integers(0, len(_CORPORATE_MAILBOXES), size=n))
    corporate_local = pc.choose(
        pa.array(rng.integers(0, 4, size=n)),
        given,
        _concat(given, ".", family),
        _concat(initial, ".", family),
        mailbox,
    )
    with_digits = _concat(
        given, ".", family, pc.cast(pa.array(rng.integers(1, 100, n)), pa.string())
    )
    with_year = _concat(family, pc.cast(pa.array(rng.integers(1970, 2004, n)), pa.string()))
    free_local = pc.if_else(pa.array(rng.random(n) < 0.5), with_digits, with_year)
    free_domains = [[d for d, _ in FREE_MAIL_DOMAINS[lg]] for lg in _LANGUAGES]
    free_index = np.zeros(n, dtype=np.int64)
    for k, lg in enumerate(_LANGUAGES):
        rows = np.flatnonzero(a.english == (lg == "en"))
        weights = [w for _, w in FREE_MAIL_DOMAINS[lg]]
        free_index[rows] = _pick(rng, weights, len(rows)) + k * len(free_domains[0])
    corporate = pa.array(a.email_kind == 2)
    email = _concat(
        pc.if_else(corporate, corporate_local, free_local),
        "@",
        pc.if_else(corporate, domain, _strings([d for g in free_domains for d in g], free_index)),
    )
    phone = _concat(
        _strings([_PHONE_PREFIX[c] for c in _COUNTRIES], a.country),
        _digits(rng, 2, n), " ", _digits(rng, 3, n), "-", _digits(rng, 2, n), "-",
        _digits(rng, 2, n),
    )  # fmt: skip
    return {
        "company_name": _only(company, rng.random(n) >= 0.15),
        "contact_name": _only(contact, rng.random(n) >= 0.1),
        "email": _only(email, a.email_kind > 0),
        "phone": _only(phone, a.phone),
    }


# ---------------------------------------------------------------------------------------
# Outcome: the status history
# ---------------------------------------------------------------------------------------

#: History slots: the eight first statuses of the successful path, then the final status.
_SLOTS = len(SUCCESS_PATH)  # 9: the last slot holds won or an off-path outcome
_STATUS_LIST: tuple[Status, ...] = tuple(Status)
_OPEN = -1
_LEAD_OUTCOMES = (Status.DISQUALIFIED, Status.PARTNER, Status.OTHER_DEPARTMENT, Status.LOST)


@dataclass(frozen=True)
class _History:
    present: np.ndarray  # (n, 9) bool: the slot is in the history (before the export time)
    times: np.ndarray  # (n, 9) int64 seconds
    final: np.ndarray  # (n,) status index of the last slot (-1: the lead stays open)
    won: np.ndarray  # bool: realised won (before the cut)


def _lognormal(rng: np.random.Generator, median_hours: float, sigma: float, n: int) -> np.ndarray:
    return median_hours * 3_600.0 * np.exp(rng.normal(0.0, sigma, n))


def _sdr_delay(rng: np.random.Generator, at: np.ndarray) -> np.ndarray:
    """Seconds until the SDR's first touch: minutes in business hours, else next morning."""
    n = len(at)
    local = at + LOCAL_UTC_OFFSET_HOURS * 3_600
    day = local // 86_400
    hour = (local % 86_400) // 3_600
    weekday = (day + 3) % 7
    open_now = (weekday < 5) & (hour >= 9) & (hour < 19)
    before_open = (weekday < 5) & (hour < 9)
    next_day = np.where(before_open, day, day + 1)
    next_weekday = (next_day + 3) % 7
    next_day = next_day + np.where(next_weekday == 5, 2, np.where(next_weekday == 6, 1, 0))
    opening = next_day * 86_400 + 9 * 3_600
    quick = _lognormal(rng, 0.35, 0.9, n)
    waited = (opening - local) + _lognormal(rng, 0.6, 0.8, n)
    return np.where(open_now, quick, waited)


def _weighted_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Per-row draw of a column index with probabilities proportional to the row's weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum(np.sum(u[:, None] >= cum, axis=1), weights.shape[1] - 1)


def _outcomes(
    rng: np.random.Generator,
    a: _Arrival,
    q: _Qualified,
    truth: _Truth,
    cutoff: int,
) -> _History:
    n = len(a.at)
    u = rng.random(n)
    won = u < truth.p_won  # p_won <= p_sql <= p_mql: one uniform keeps won => sql => mql
    sql = u < truth.p_sql
    mql = u < np.maximum(truth.p_sql, _sigmoid(truth.z_sql + 1.3))
    status_index = {s: i for i, s in enumerate(_STATUS_LIST)}
    outcome_codes = np.array([status_index[s] for s in _LEAD_OUTCOMES] + [_OPEN])

    # the last successful-path slot each lead reaches, and how it ends
    last = np.full(n, 1, dtype=np.int64)
    final = np.full(n, _OPEN, dtype=np.int64)
    sql_end = np.array([4, 6, 7])[_pick(rng, [0.45, 0.4, 0.15], n)]
    last = np.where(sql, sql_end, last)
    last = np.where(won, 7, last)
    last = np.where(mql & ~sql, np.where(rng.random(n) < 0.75, 3, 2), last)
    spam = ~mql & (rng.random(n) < 0.03)
    last = np.where(spam, 0, last)

    sql_outcome = outcome_codes[_pick(rng, [0.05, 0.07, 0.0, 0.85, 0.03], n)]
    mql_outcome = outcome_codes[_pick(rng, [0.27, 0.1, 0.03, 0.55, 0.05], n)]
    lead_weights = _lead_outcome_weights(a, q, q.budget_rub < 150_000)
    lead_outcome = outcome_codes[_weighted_choice(rng, lead_weights)]
    final = np.where(won, status_index[Status.WON], final)
    final = np.where(sql & ~won, sql_outcome, final)
    final = np.where(mql & ~sql, mql_outcome, final)
    final = np.where(~mql, lead_outcome, final)
    final = np.where(spam, status_index[Status.DISQUALIFIED], final)

    slot = np.arange(_SLOTS)[None, :]
    present = slot[:, :-1] <= last[:, None]
    present[:, 1] &= ~spam
    skip_manager = (last >= 4) & (rng.random(n) < 0.15)
    present[:, 3] &= ~skip_manager
    present = np.concatenate([present, (final != _OPEN)[:, None]], axis=1)

    deltas = np.zeros((n, _SLOTS))
    response = _sdr_delay(rng, a.at)
    deltas[:, 1] = response
    for k, (hours, sigma) in enumerate(
        ((3, 1.0), (5, 1.0), (48, 0.8), (144, 0.7), (72, 0.6), (192, 0.6)), start=2
    ):
        deltas[:, k] = _lognormal(rng, hours, sigma, n)
    end_hours = np.select(
        [
            won,
            last == 0,
            (last == 1) & (final == status_index[Status.LOST]),
            last == 1,
            last <= 3,
            last == 4,
        ],
        [168.0, 0.0, 120.0, 24.0, 96.0, 336.0],
        default=288.0,
    )
    end_sigma = np.where(last == 1, 1.0, 0.7)
    deltas[:, 8] = np.where(
        last == 0, response, end_hours * 3_600.0 * np.exp(rng.normal(0.0, 1.0, n) * end_sigma)
    )
    deltas = np.maximum(np.round(deltas), 60.0).astype(np.int64)
    deltas[:, 0] = 0
    times = a.at[:, None] + np.cumsum(np.where(present, deltas, 0), axis=1)
    present &= times < cutoff
    return _History(present=present, times=times, final=final, won=won & present[:, 8])


def _lead_outcome_weights(a: _Arrival, q: _Qualified, small_budget: np.ndarray) -> np.ndarray:
    """Weights over (disqualified, partner, other_department, lost, open) for leads below MQL."""
    n = len(a.at)
    weights = np.tile(np.array([0.3, 0.2, 0.08, 0.35, 0.04]), (n, 1))
    weights[:, 1] += 0.3 * small_budget  # too small for us: hand it to a partner
    weights = np.where((q.fit == 0)[:, None], np.array([0.5, 0.35, 0.05, 0.1, 0.0]), weights)
    weights = np.where((~q.reached)[:, None], np.array([0.05, 0.0, 0.0, 0.9, 0.05]), weights)
    return np.where(a.job[:, None], np.array([0.1, 0.0, 0.85, 0.05, 0.0]), weights)


def _iso_by_slot(times: np.ndarray, present: np.ndarray) -> list[pa.Array]:
    """ISO-8601 UTC strings of the present history entries, one Arrow array per slot."""
    flat = pa.array(times[present], type=pa.timestamp("s"))
    iso = _concat(pc.replace_substring(pc.cast(flat, pa.string()), " ", "T"), "Z")
    position = np.full(times.shape, -1, dtype=np.int64)
    position[present] = np.arange(int(present.sum()))
    return [iso.take(pa.array(position[:, k], mask=position[:, k] < 0)) for k in range(_SLOTS)]


def _history_columns(h: _History) -> dict[str, Any]:
    """status, stage_reached, status_history (JSON), closed_at (seconds, -1 when open)."""
    n = len(h.final)
    names = [s.value for s in _STATUS_LIST]
    path_codes = np.array([_STATUS_LIST.index(s) for s in SUCCESS_PATH[:-1]])
    codes = np.concatenate([np.tile(path_codes, (n, 1)), h.final[:, None]], axis=1)
    codes = np.where(h.present, codes, 0)
    last_slot = _SLOTS - 1 - np.argmax(h.present[:, ::-1], axis=1)
    stage_rank = np.array([s.stage.rank if s.stage else 0 for s in _STATUS_LIST])[codes]
    stage_rank = np.where(h.present, stage_rank, 0).max(axis=1)
    pieces = [
        _concat('{"status": "', _strings(names, codes[:, k]), '", "at": "', iso, '"}')
        for k, iso in enumerate(_iso_by_slot(h.times, h.present))
    ]
    history = _concat("[", _concat(*pieces, sep=", ", skip_nulls=True), "]")
    closed = h.present[:, -1] & (h.final != _OPEN)
    return {
        "status": _strings(names, codes[np.arange(n), last_slot]),
        "stage_reached": _strings([s.value for s in Stage], stage_rank),
        "status_history": history,
        "closed_at": np.where(closed, h.times[:, -1], -1),
    }


def _deal_values(
    rng: np.random.Generator, a: _Arrival, q: _Qualified, won: np.ndarray, t: _Tables
) -> tuple[np.ndarray, np.ndarray]:
    """Deal value and currency code (-1 when not won): months of budget, in its currency."""
    n = len(a.at)
    monthly = np.where(np.isnan(q.budget_rub), 10.0 ** _SIZE_BUDGET_LOG10[a.size], q.budget_rub)
    value_rub = monthly * np.exp(rng.normal(math.log(6.0), 0.5, n))
    currency = np.where(q.currency > 0, q.currency, 0)
    rate = np.array([t.rates[c] for c in CURRENCIES])[currency]
    step = np.array([10_000.0, 100.0, 100.0, 50_000.0])[currency]
    value = _nice_round(value_rub / rate, step)
    return np.where(won, value, np.nan), np.where(won, currency, -1)


def _utc(seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    stamps = pd.Series(seconds.astype("datetime64[s]").astype("datetime64[us]"))
    if missing is not None:
        stamps = stamps.mask(missing)
    return stamps.dt.tz_localize("UTC")


def _text(values: pa.Array) -> pd.Series:
    return pd.Series(values, dtype="str")


def _coded(codes: np.ndarray, names: Sequence[str | None]) -> pd.Series:
    """Category names of codes (-1 = missing) as a text column."""
    return _text(_strings(names, codes.astype(np.int64)))


def _boolean(values: np.ndarray) -> pd.Series:
    """float codes (nan missing, 0/1) -> nullable boolean."""
    out = pd.array(np.where(np.isnan(values), False, values == 1), dtype="boolean")
    out[np.isnan(values)] = pd.NA
    return pd.Series(out)


def _question_columns(catalog: QuestionCatalog, q: _Qualified) -> dict[str, pd.Series]:
    known = {k for keys in QUESTION_KEYS.values() for k in keys}
    questions = catalog.all_questions()
    if set(questions) != known:
        raise ValueError(
            "the questionnaire catalog's questions differ from the ones the demo generator "
            f"answers: catalog {sorted(questions)}, generator {sorted(known)}"
        )
    out: dict[str, pd.Series] = {}
    for key, question in questions.items():
        values = q.answers[key]
        if question.type is QuestionType.BOOLEAN:
            out[QUESTION_PREFIX + key] = _boolean(values)
        elif question.type is QuestionType.CHOICE:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            out[QUESTION_PREFIX + key] = _coded(codes, _CHOICES[key])
        else:
            out[QUESTION_PREFIX + key] = pd.Series(values, dtype="float64")
    return out


def _frame(
    a: _Arrival,
    q: _Qualified,
    t: _Tables,
    catalog: QuestionCatalog,
    texts: dict[str, np.ndarray],
    history: dict[str, np.ndarray],
    deal: tuple[np.ndarray, np.ndarray],
    oracle: dict[str, np.ndarray],
) -> pd.DataFrame:
    n = len(a.at)
    width = max(7, len(str(n)))
    ids = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    sources = tuple(s for _, s, _ in t.sources)
    campaigns = tuple(cp.name for _, cp in t.campaigns)
    dm = pd.array(a.at.shape[0] * [pd.NA], dtype="boolean")
    dm[q.dm == 1] = True
    dm[q.dm == 0] = False
    touch_seconds = a.at - np.nan_to_num(a.first_touch_days * 86_400.0).astype(np.int64)
    columns: dict[str, Any] = {
        "external_id": _text(_concat("D", pc.utf8_lpad(ids, width=width, padding="0"))),
        "arrived_at": _utc(a.at),
        "channel": _coded(a.channel, CHANNEL_NAMES),
        "utm_source": _coded(a.source, sources),
        "utm_medium": _coded(a.channel, [c.medium for c in CHANNELS]),
        "utm_campaign": _coded(a.campaign, campaigns),
        "landing_page": _coded(a.landing, tuple(p.path for p in PAGES)),
        "contact_type": _coded(a.contact, CONTACTS),
        "region": _coded(a.region, tuple(r.name for r in REGIONS)),
        "company_industry": _coded(a.industry, tuple(i.name for i in INDUSTRIES)),
        "company_size": _coded(a.size.astype(np.int64) - 1, SIZES),
        "email": _text(texts["email"]),
        "phone": _text(texts["phone"]),
        "message": _text(texts["message"]),
        "first_touch_at": _utc(touch_seconds, np.isnan(a.first_touch_days)),
        "budget_amount": pd.Series(q.budget_amount, dtype="float64"),
        "budget_currency": _coded(q.currency, CURRENCIES),
        "budget_bracket": _coded(q.bracket, BRACKETS),
        "authority_role": _coded(q.role, ROLES),
        "is_decision_maker": pd.Series(dm),
        "need_service": _coded(q.service, SERVICES),
        "need_fit": _coded(q.fit, FITS),
        "timeframe": _coded(q.timeframe, TIMEFRAMES),
    }
    columns.update(_question_columns(catalog, q))
    closed = history["closed_at"]
    columns.update(
        company_name=_text(texts["company_name"]),
        contact_name=_text(texts["contact_name"]),
        status=_text(history["status"]),
        stage_reached=_text(history["stage_reached"]),
        status_history=_text(history["status_history"]),
        closed_at=_utc(np.where(closed < 0, 0, closed), closed < 0),
        deal_value=pd.Series(deal[0], dtype="float64"),
        deal_currency=_coded(deal[1], CURRENCIES),
        true_p_sql=pd.Series(oracle["sql"]),
        true_p_won=pd.Series(oracle["won"]),
        true_p_sql_arrival=pd.Series(oracle["sql_arrival"]),
        true_p_won_arrival=pd.Series(oracle["won_arrival"]),
    )
    frame = pd.DataFrame(columns)
    expected = [*RECORD_COLUMNS, *(c for c in columns if c.startswith(QUESTION_PREFIX))]
    assert list(frame.columns[: len(expected)]) == expected, "column order drifted"
    return frame


# ---------------------------------------------------------------------------------------
# Ground truth: drivers per channel and oracle quality
# ---------------------------------------------------------------------------------------


def _encodings(a: _Arrival, q: _Qualified) -> dict[str, np.ndarray]:
    """The number a column's direction is read against (nan: not counted).

    budget: log10 RUB; ordinals: their rank; email: corporate; phone and first touch:
    present; message: a job keyword; contact type: a call; industry: a partner niche.
    """

    def known(codes: np.ndarray, missing: int = -1) -> np.ndarray:
        return np.where(codes == missing, np.nan, codes.astype(np.float64))

    with np.errstate(divide="ignore", invalid="ignore"):
        log_budget = np.log10(q.budget_rub)
    encodings = {
        "budget_amount": log_budget,
        "is_decision_maker": known(q.dm),
        "need_fit": known(q.fit),
        "timeframe": np.where(q.timeframe >= 4, np.nan, known(q.timeframe)),
        "company_size": known(a.size, 0),
        "email": (a.email_kind == 2).astype(np.float64),
        "phone": a.phone.astype(np.float64),
        "message": a.job.astype(np.float64),
        "first_touch_at": (~np.isnan(a.first_touch_days)).astype(np.float64),
        "contact_type": (a.contact == CONTACTS.index("call")).astype(np.float64),
        "company_industry": np.isin(a.industry, PARTNER_NICHES).astype(np.float64),
    }
    for key in (
        "site_age_years",
        "has_analytics",
        "monthly_ad_spend",
        "followers_k",
        "has_content_team",
        "pages_count",
        "has_design",
    ):
        encodings[QUESTION_PREFIX + key] = q.answers[key]
    return encodings


def _categories(a: _Arrival, q: _Qualified, t: _Tables) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Codes (-1 missing) and labels of the categorical columns, for best/worst values."""
    answers = {
        QUESTION_PREFIX + key: (np.where(np.isnan(q.answers[key]), -1, q.answers[key]), list(c))
        for key, c in _CHOICES.items()
    }
    return {
        "channel": (a.channel, list(CHANNEL_NAMES)),
        "utm_source": (a.source, [s or "(none)" for _, s, _ in t.sources]),
        "utm_campaign": (a.campaign, [cp.name for _, cp in t.campaigns]),
        "landing_page": (a.landing, [p.path for p in PAGES]),
        "contact_type": (a.contact, list(CONTACTS)),
        "region": (a.region, [r.name for r in REGIONS]),
        "company_industry": (a.industry, [i.name for i in INDUSTRIES]),
        "authority_role": (q.role, list(ROLES)),
        "need_service": (q.service, list(SERVICES)),
        **{k: (codes.astype(np.int64), labels) for k, (codes, labels) in answers.items()},
    }


@dataclass
class _DriverStats:
    """Per-channel and global mean |centred contribution| (= mean |SHAP| of an additive model)."""

    channel: np.ndarray
    order: np.ndarray  # rows sorted by channel
    counts: np.ndarray
    per_channel: dict[str, np.ndarray] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    direction: dict[str, list[str]] = field(default_factory=dict)
    overall_direction: dict[str, str] = field(default_factory=dict)
    extremes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (best, worst)
    overall_extremes: dict[str, tuple[str, str]] = field(default_factory=dict)


def _driver_stats(channel: np.ndarray) -> _DriverStats:
    order = np.argsort(channel, kind="stable")
    return _DriverStats(channel, order, np.bincount(channel, minlength=len(CHANNELS)))


def _by_channel(channel: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.bincount(channel, weights=values, minlength=len(CHANNELS))


def _covariance_sign(channel: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per channel: +1 where x and y rise together (rows with a known x), else -1."""
    known = ~np.isnan(x)
    ch, x, y = channel[known], x[known], y[known]
    count = np.maximum(np.bincount(ch, minlength=len(CHANNELS)), 1)
    cov = _by_channel(ch, x * y) - _by_channel(ch, x) * _by_channel(ch, y) / count
    return np.where(cov >= 0, 1, -1)


def _extreme_sign(stats: _DriverStats, centred: np.ndarray) -> np.ndarray:
    """Per channel: +1 when the largest deviation from the channel's mean is upwards."""
    ordered = centred[stats.order]
    starts = np.r_[0, np.cumsum(stats.counts)[:-1]]
    filled = stats.counts > 0
    high = np.zeros(len(CHANNELS))
    low = np.zeros(len(CHANNELS))
    high[filled] = np.maximum.reduceat(ordered, starts[filled])
    low[filled] = np.minimum.reduceat(ordered, starts[filled])
    return np.where(high >= -low, 1, -1)


def _best_worst(
    channel: np.ndarray, value: np.ndarray, codes: np.ndarray, labels: list[str]
) -> list[tuple[str, str]]:
    """Per channel: the values with the highest and lowest mean contribution."""
    width = len(labels) + 1  # the last slot: missing
    slot = channel.astype(np.int64) * width + np.where(codes >= 0, codes, len(labels))
    size = len(CHANNELS) * width
    count = np.bincount(slot, minlength=size).reshape(len(CHANNELS), width)
    total = np.bincount(slot, weights=value, minlength=size).reshape(len(CHANNELS), width)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    names = [*labels, "(missing)"]
    out = []
    for i in range(len(CHANNELS)):
        seen = count[i] > 0
        if not seen.any():
            out.append(("", ""))
            continue
        best = int(np.argmax(np.where(seen, mean[i], -np.inf)))
        worst = int(np.argmin(np.where(seen, mean[i], np.inf)))
        out.append((names[best], names[worst]))
    return out


def _add_driver(
    stats: _DriverStats,
    column: str,
    value: np.ndarray,
    encoding: np.ndarray | None,
    category: tuple[np.ndarray, list[str]] | None = None,
) -> None:
    """Record a column's strength and direction per channel and overall.

    Direction: '+' when the contribution rises with the column's encoding (see
    ``_encodings``); for categorical columns, '+' when the largest deviation is upwards
    (a few values raise the odds) and '-' when it is downwards.
    """
    if column in stats.per_channel:
        raise ValueError(f"driver column '{column}' added twice")
    count = np.maximum(stats.counts, 1)
    centred = value - (_by_channel(stats.channel, value) / count)[stats.channel]
    stats.per_channel[column] = _by_channel(stats.channel, np.abs(centred)) / count
    overall = value - value.mean()
    stats.overall[column] = float(np.abs(overall).mean())
    if encoding is None:
        signs = _extreme_sign(stats, centred)
        everywhere = bool(overall.max() >= -overall.min())
    else:
        signs = _covariance_sign(stats.channel, encoding, value)
        zeros = np.zeros_like(stats.channel)
        everywhere = bool(_covariance_sign(zeros, encoding, value)[0] > 0)
    stats.direction[column] = ["+" if sign > 0 else "-" for sign in signs]
    stats.overall_direction[column] = "+" if everywhere else "-"
    if category is not None:
        codes, labels = category
        stats.extremes[column] = _best_worst(stats.channel, value, codes, labels)
        zeros = np.zeros_like(stats.channel)
        stats.overall_extremes[column] = _best_worst(zeros, value, codes, labels)[0]


def _driver_list(
    strengths: Mapping[str, float],
    directions: Mapping[str, str],
    extremes: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """Drivers strongest first; categorical ones name their best and worst value."""
    ranked = sorted(
        ((c, s) for c, s in strengths.items() if s > 1e-9), key=lambda item: (-item[1], item[0])
    )
    out: list[dict[str, Any]] = []
    for column, strength in ranked:
        entry: dict[str, Any] = {
            "feature": column,
            "direction": directions[column],
            "strength": round(strength, 4),
        }
        if column in extremes:
            entry["best"], entry["worst"] = extremes[column]
        out.append(entry)
    return out


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC via ranks (ties averaged); None when only one class is present."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _ground_truth(
    *,
    n: int,
    seed: int,
    start: date,
    end: date,
    months: int,
    t: _Tables,
    a: _Arrival,
    q: _Qualified,
    frame: pd.DataFrame,
) -> dict[str, Any]:
    stats = _driver_stats(a.channel)
    encodings = _encodings(a, q)
    categories = _categories(a, q, t)
    for column, value in (*_arrival_terms(a, t), *_qualified_terms(a.channel, q, t)):
        _add_driver(stats, column, value, encodings.get(column), categories.get(column))
    won_stats = _driver_stats(a.channel)
    for column, value in (*_won_arrival_terms(a, t), *_won_qualified_terms(q)):
        _add_driver(won_stats, column, value, encodings.get(column), categories.get(column))

    rank = frame["stage_reached"].map({s.value: s.rank for s in Stage}).to_numpy()
    sql = rank >= Stage.SQL.rank
    won = rank >= Stage.WON.rank
    p = {k: frame[k].to_numpy() for k in frame.columns if k.startswith("true_p_")}
    channels: dict[str, Any] = {}
    for i, channel in enumerate(CHANNELS):
        rows = a.channel == i
        leads = int(rows.sum())
        strengths = {c: float(v[i]) for c, v in stats.per_channel.items()}
        directions = {c: v[i] for c, v in stats.direction.items()}
        extremes = {c: v[i] for c, v in stats.extremes.items()}
        channels[channel.name] = {
            "leads": leads,
            "share": round(leads / n, 4),
            "base_sql_rate": _mean(p["true_p_sql"], rows),
            "base_won_rate": _mean(p["true_p_won"], rows),
            "realised_sql_rate": _mean(sql, rows),
            "realised_won_rate": _mean(won, rows),
            "sql_intercept_log_odds": channel.sql_intercept,
            "dominant_drivers": list(DOMINANT_DRIVERS[channel.name]),
            "drivers": _driver_list(strengths, directions, extremes),
            "sql_auc": _auc(sql[rows], p["true_p_sql"][rows]),
        }
    return {
        "generator": "leadscore.features.demo",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "n": n,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "months": months,
        "currency_rates_to_rub": t.rates,
        "strength": (
            "mean absolute centred contribution to the SQL log-odds (the mean |SHAP| of the "
            "true additive-per-channel model), per spec column"
        ),
        "rates": {
            "sql": _mean(p["true_p_sql"], None),
            "won": _mean(p["true_p_won"], None),
            "realised_sql": _mean(sql, None),
            "realised_won": _mean(won, None),
        },
        "oracle_auc": {
            "sql_qualified": _auc(sql, p["true_p_sql"]),
            "sql_arrival": _auc(sql, p["true_p_sql_arrival"]),
            "won_qualified": _auc(won, p["true_p_won"]),
            "won_arrival": _auc(won, p["true_p_won_arrival"]),
        },
        "channels": channels,
        "global_drivers": _driver_list(
            stats.overall, stats.overall_direction, stats.overall_extremes
        ),
        "won_given_sql_drivers": _driver_list(
            won_stats.overall, won_stats.overall_direction, won_stats.overall_extremes
        ),
    }


def _mean(values: np.ndarray, rows: np.ndarray | None) -> float | None:
    chosen = values if rows is None else values[rows]
    return round(float(np.mean(chosen)), 4) if len(chosen) else None


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def _no_progress(_: str) -> None:
    return None


def generate_leads(
    n: int,
    seed: int,
    end: date | None = None,
    months: int = DEFAULT_MONTHS,
    *,
    progress: ProgressCallback | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``n`` synthetic leads arriving over ``months`` months up to ``end``, and the ground truth.

    Deterministic for a given ``(n, seed, end, months)``. ``progress`` is called with each
    of ``STEPS[:-1]`` as it starts.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 lead, got {n}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    step = progress or _no_progress
    start, end = _window(end or DEFAULT_END, months)
    spec = load_spec("demo")
    catalog = load_catalog()
    tables = _tables(spec)
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_arrival, rng_text, rng_qualified, rng_oracle, rng_outcome, rng_contacts = (
        np.random.default_rng(s) for s in streams
    )
    step(STEPS[0])
    arrival = _draw_arrival(rng_arrival, tables, start, end, n)
    messages = _messages(rng_text, arrival)
    lengths = pc.utf8_length(messages).fill_null(0).to_numpy()
    arrival = replace(arrival, message_length=lengths.astype(np.int64))
    texts = _contacts(rng_contacts, arrival)
    texts["message"] = messages
    step(STEPS[1])
    qualified = _draw_qualified(rng_qualified, _context(arrival), tables)
    truth = _truth(arrival, qualified, tables)
    step(STEPS[2])
    p_sql_arrival, p_won_arrival = _arrival_oracle(rng_oracle, arrival, tables, ARRIVAL_REDRAWS)
    step(STEPS[3])
    cutoff = int((np.datetime64(end, "D") + 1).astype("datetime64[s]").astype(np.int64))
    outcome = _outcomes(rng_outcome, arrival, qualified, truth, cutoff)
    history = _history_columns(outcome)
    deal = _deal_values(rng_outcome, arrival, qualified, outcome.won, tables)
    step(STEPS[4])
    oracle = {
        "sql": truth.p_sql,
        "won": truth.p_won,
        "sql_arrival": p_sql_arrival,
        "won_arrival": p_won_arrival,
    }
    frame = _frame(arrival, qualified, tables, catalog, texts, history, deal, oracle)
    step(STEPS[5])
    ground_truth = _ground_truth(
        n=n,
        seed=seed,
        start=start,
        end=end,
        months=months,
        t=tables,
        a=arrival,
        q=qualified,
        frame=frame,
    )
    return frame, ground_truth


@dataclass(frozen=True)
class ChannelSummary:
    name: str
    leads: int
    sql_rate: float
    won_rate: float


@dataclass(frozen=True)
class DemoSummary:
    """What ``write_demo_data`` wrote."""

    path: Path
    ground_truth_path: Path
    rows: int
    start: date
    end: date
    months: int
    sql_rate: float
    won_rate: float
    channels: tuple[ChannelSummary, ...]
    oracle_auc: dict[str, float | None]
    seconds: float


DATA_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def ground_truth_path(path: Path) -> Path:
    """``<stem>.ground_truth.json`` beside the data file."""
    return path.with_name(f"{path.stem}.ground_truth.json")


def write_demo_data(
    path: Path, n: int, seed: int, *, progress: ProgressCallback | None = None
) -> DemoSummary:
    """Generate ``n`` leads and write them (Parquet or CSV, by extension) plus the ground truth."""
    fmt = DATA_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path}: unknown data format '{path.suffix}'; expected one of: "
            + ", ".join(DATA_FORMATS)
        )
    began = time.perf_counter()
    frame, truth = generate_leads(n, seed, progress=progress)
    (progress or _no_progress)(STEPS[6])
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    truth_path = ground_truth_path(path)
    truth_path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return DemoSummary(
        path=path,
        ground_truth_path=truth_path,
        rows=len(frame),
        start=date.fromisoformat(truth["start"]),
        end=date.fromisoformat(truth["end"]),
        months=truth["months"],
        sql_rate=truth["rates"]["realised_sql"],
        won_rate=truth["rates"]["realised_won"],
        channels=tuple(
            ChannelSummary(
                name, c["leads"], c["realised_sql_rate"] or 0.0, c["realised_won_rate"] or 0.0
            )
            for name, c in truth["channels"].items()
        ),
        oracle_auc=dict(truth["oracle_auc"]),
        seconds=time.perf_counter() - began,
    )


# ---------------------------------------------------------------------------------------
# One generated row -> a Lead (what the serving simulator posts)
# ---------------------------------------------------------------------------------------


def _present(value: Any) -> Any:
    """The plain Python value, or None for every flavour of missing."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _as_datetime(value: Any) -> datetime | None:
    value = _present(value)
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def _as_bool(value: Any) -> bool | None:
    value = _present(value)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_float(value: Any) -> float | None:
    value = _present(value)
    return None if value is None else float(value)


def _as_text(value: Any) -> str | None:
    value = _present(value)
    return None if value is None else str(value)


def _answer(value: Any, kind: QuestionType) -> float | bool | str | None:
    if kind is QuestionType.BOOLEAN:
        return _as_bool(value)
    if kind is QuestionType.NUMBER:
        return _as_float(value)
    return _as_text(value)


@cache
def _default_catalog() -> QuestionCatalog:
    return load_catalog()


def frame_row_to_lead(row: Mapping[str, Any], catalog: QuestionCatalog | None = None) -> Lead:
    """Re-assemble one generated row (a frame row or a CSV row) into a :class:`Lead`."""
    text = {key: _as_text(row.get(key)) for key in row}
    source = SourceData(
        channel=text["channel"] or "",
        utm_source=text.get("utm_source"),
        utm_medium=text.get("utm_medium"),
        utm_campaign=text.get("utm_campaign"),
        landing_page=text.get("landing_page"),
        contact_type=ContactType(text.get("contact_type") or ContactType.FORM.value),
        region=text.get("region"),
        company_name=text.get("company_name"),
        company_industry=text.get("company_industry"),
        company_size=text.get("company_size"),
        email=text.get("email"),
        phone=text.get("phone"),
        contact_name=text.get("contact_name"),
        message=text.get("message"),
        first_touch_at=_as_datetime(row.get("first_touch_at")),
    )
    amount = _as_float(row.get("budget_amount"))
    bracket = text.get("budget_bracket")
    budget = None
    if amount is not None or bracket is not None:
        budget = Budget(amount=amount, currency=text.get("budget_currency"), bracket=bracket)
    bant_values = {
        "authority_role": text.get("authority_role"),
        "is_decision_maker": _as_bool(row.get("is_decision_maker")),
        "need_service": text.get("need_service"),
        "need_fit": text.get("need_fit"),
        "timeframe": text.get("timeframe"),
    }
    bant = None
    if budget is not None or any(v is not None for v in bant_values.values()):
        bant = BANTAnswers.model_validate({"budget": budget, **bant_values})
    questionnaire = None
    service = text.get("need_service")
    if service is not None:
        questions = (catalog or _default_catalog()).questions_for(service)
        answers = {
            key: _answer(row.get(QUESTION_PREFIX + key), question.type)
            for key, question in questions.items()
        }
        answers = {key: value for key, value in answers.items() if value is not None}
        if answers:
            questionnaire = QuestionnaireAnswers(service=service, answers=answers)
    history = [
        StatusChange(status=Status(change["status"]), at=change["at"])
        for change in json.loads(text.get("status_history") or "[]")
    ]
    deal_amount = _as_float(row.get("deal_value"))
    deal = None
    if deal_amount is not None:
        deal = Money(amount=deal_amount, currency=text.get("deal_currency") or "RUB")
    return Lead(
        external_id=text["external_id"] or "",
        arrived_at=_as_datetime(row.get("arrived_at")),
        source=source,
        bant=bant,
        questionnaire=questionnaire,
        status_history=history,
        deal_value=deal,
    )
