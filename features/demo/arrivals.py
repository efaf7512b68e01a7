"""Arrivals: what is known the moment a request comes in, drawn as numeric codes.

Arrival times follow the calendar's yearly, weekly and business-hours rhythm. Each lead gets
a channel (the mix drifts over the window), a source and campaign nested in the channel, a
landing page (campaigns send their clicks to their service's pages), a contact type,
region, industry, company size, e-mail kind, phone, first-touch time and the message's
keyword flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from features.demo.config import DEFAULTS
from features.demo.sampling import (
    month_index,
    month_number,
    pick,
    pick_by_group,
    sigmoid,
)
from features.demo.stories import CONTACTS, COUNTRIES, SERVICES, ChannelStory, story
from features.demo.tables import Tables

#: Code of "no advertised service" in the page table's topic (services are 0..3).
NO_TOPIC = len(SERVICES)


@dataclass(frozen=True)
class Arrival:
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
    country: np.ndarray  # COUNTRIES index
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


def draw_arrival(
    rng: np.random.Generator, tables: Tables, start: date, end: date, n: int
) -> Arrival:
    """``n`` leads arriving between ``start`` and ``end`` (sorted by arrival)."""
    months = month_number(end) - month_number(start) + 1
    at = arrival_times(rng, start, end, n)
    month = month_index(at, start)
    channel = pick_by_group(rng, month, _channel_table(months))
    source = _draw_source(rng, tables, channel, month, start, months)
    company = _draw_company(rng, channel, n)
    contact, size, english = company["contact"], company["size"], company["english"]
    reach = _draw_reach(rng, channel, contact, size, english)
    flags = _draw_flags(rng, channel, source["landing"], contact, size)
    return Arrival(
        at=at,
        month=month,
        channel=channel,
        **source,
        **company,
        **reach,
        **flags,
        message_length=np.zeros(n, dtype=np.int64),
    )


def arrival_times(rng: np.random.Generator, start: date, end: date, n: int) -> np.ndarray:
    """Sorted UTC arrival times (seconds): yearly, weekly and business-hours seasonality."""
    calendar = story().calendar
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    day_number = days.astype(np.int64)
    month_of_year = days.astype("datetime64[M]").astype(np.int64) % 12
    day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    holiday = np.ones(len(days))
    for h in calendar.holidays:
        on = (month_of_year == h.month - 1) & np.isin(day_of_month, h.days)
        holiday = np.where(on, h.factor, holiday)
    growth = 1.0 + calendar.growth * np.linspace(0.0, 1.0, len(days))
    month_factor = np.array(calendar.months)[month_of_year]
    weights = month_factor * np.array(calendar.weekdays)[weekday] * holiday * growth
    day = pick(rng, weights, n)
    weekend = (weekday[day] >= 5).astype(np.int64)
    hours = np.array([calendar.hours.weekday, calendar.hours.weekend])
    hour = pick_by_group(rng, weekend, hours)
    local = day_number[day] * 86_400 + hour * 3_600 + rng.integers(0, 3_600, size=n)
    seconds = local - DEFAULTS.local_utc_offset_hours * 3_600
    first = int(day_number[0]) * 86_400
    seconds = np.where(seconds < first, seconds + 86_400, seconds)
    return np.sort(seconds)


def _per_channel(values: list[float], channel: np.ndarray) -> np.ndarray:
    return np.array(values)[channel]


def _channel_table(months: int) -> np.ndarray:
    """Rows (month): channel weights, drifting from the first month to the last."""
    channels = story().channels
    position = np.linspace(-0.5, 0.5, months) if months > 1 else np.zeros(1)
    share = np.array([c.share for c in channels])
    drift = np.array([c.drift for c in channels])
    return np.asarray(share[None, :] * np.exp(drift[None, :] * position[:, None]))


def _source_table(tables: Tables) -> np.ndarray:
    """Rows (channel): weights over the global source table (each channel's own sources)."""
    out = np.zeros((len(tables.story.channels), len(tables.sources)))
    for k, (owner, source) in enumerate(tables.sources):
        out[owner, k] = source.weight
    return out


def _campaign_table(tables: Tables, start: date, months: int) -> np.ndarray:
    """Rows (channel * months + month): weights over campaigns, the last column is 'none'."""
    channels = tables.story.channels
    out = np.zeros((len(channels) * months, len(tables.campaigns) + 1))
    month_numbers = month_number(start) + np.arange(months)
    for k, (owner, campaign) in enumerate(tables.campaigns):
        lo = month_number(campaign.start) if campaign.start else -(10**6)
        hi = month_number(campaign.end) if campaign.end else 10**6
        active = (month_numbers >= lo) & (month_numbers <= hi)
        out[owner * months + np.arange(months), k] = np.where(active, campaign.weight, 0.0)
    for i, channel in enumerate(channels):
        rows = i * months + np.arange(months)
        totals = out[rows, :-1].sum(axis=1)
        missing = channel.campaign_missing
        # campaign weights are rescaled to (1 - missing); months with none running get "none"
        scale = np.divide(1.0 - missing, totals, out=np.zeros_like(totals), where=totals > 0)
        out[rows, :-1] *= scale[:, None]
        out[rows, -1] = np.where(totals > 0, missing, 1.0)
    return out


def _page_weights(channel: ChannelStory) -> np.ndarray:
    """The channel's weight of each page: its kind's weight shared among the kind's pages."""
    pages = story().pages
    kinds = np.array([channel.pages.get(p.kind, 0.0) for p in pages])
    counts = {k: sum(1 for p in pages if p.kind == k) for k in {p.kind for p in pages}}
    base = kinds / np.array([counts[p.kind] for p in pages])
    for path, weight in channel.page_weights.items():
        base[[k for k, p in enumerate(pages) if p.path == path]] = weight
    return base


def _page_table() -> np.ndarray:
    """Rows (channel * 5 + topic): weights over pages; topic 4 = no advertised service."""
    s = story()
    out = np.zeros((len(s.channels) * (NO_TOPIC + 1), len(s.pages)))
    for i, channel in enumerate(s.channels):
        base = _page_weights(channel)
        for topic in range(NO_TOPIC + 1):
            row = base.copy()
            if topic < NO_TOPIC:
                on_topic = np.array([p.service == SERVICES[topic] for p in s.pages])
                row = np.where(on_topic & (row > 0), row * 12.0, row * 0.4)
            out[i * (NO_TOPIC + 1) + topic] = row
    return out


def _draw_source(
    rng: np.random.Generator,
    tables: Tables,
    channel: np.ndarray,
    month: np.ndarray,
    start: date,
    months: int,
) -> dict[str, np.ndarray]:
    """utm_source, campaign, landing page and the service they are about."""
    source = pick_by_group(rng, channel, _source_table(tables))
    campaign_table = _campaign_table(tables, start, months)
    campaign = pick_by_group(rng, channel * months + month, campaign_table)
    campaign = np.where(campaign == len(tables.campaigns), -1, campaign)
    services = [cp.service for _, cp in tables.campaigns] + [None]
    campaign_service = np.array([SERVICES.index(s) if s else NO_TOPIC for s in services])
    advertised = campaign_service[campaign]  # campaign -1 -> the trailing NO_TOPIC
    landing = pick_by_group(rng, channel * (NO_TOPIC + 1) + advertised, _page_table())
    pages = tables.story.pages
    page_service = np.array([SERVICES.index(p.service) if p.service else -1 for p in pages])
    topic = np.where(advertised < NO_TOPIC, advertised, page_service[landing])
    return {"source": source, "campaign": campaign, "landing": landing, "topic": topic}


def _draw_company(rng: np.random.Generator, channel: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Contact type, company size, region (its country and language) and industry."""
    s = story()
    contact = pick_by_group(rng, channel, np.array([c.contact_probs for c in s.channels]))
    size = pick_by_group(rng, channel, np.array([c.size_probs for c in s.channels]))
    places = (*s.regions, s.region_missing)
    region = pick(rng, [r.weight for r in places], n)
    region = np.where(region == len(s.regions), -1, region)
    country = np.array([COUNTRIES.index(r.country) for r in places])[region]
    english = rng.random(n) < np.array([r.english_rate for r in places])[region]
    industry_table = np.array(
        [
            [i.weight * c.industry_tilt.get(i.name or "", 1.0) for i in s.industries]
            + [s.industry_missing.weight]
            for c in s.channels
        ]
    )
    industry = pick_by_group(rng, channel, industry_table)
    industry = np.where(industry == len(s.industries), -1, industry)
    return {
        "contact": contact,
        "size": size,
        "region": region,
        "country": country,
        "english": english,
        "industry": industry,
    }


def _draw_reach(
    rng: np.random.Generator,
    channel: np.ndarray,
    contact: np.ndarray,
    size: np.ndarray,
    english: np.ndarray,
) -> dict[str, np.ndarray]:
    """E-mail kind, phone and first-touch time."""
    channels = story().channels
    n = len(channel)
    is_call = contact == CONTACTS.index("call")
    is_chat = contact == CONTACTS.index("chat")
    corporate_logit = _per_channel([c.corporate_logit for c in channels], channel)
    corporate_logit = corporate_logit + np.where(size == 0, -0.5, 0.45 * (size - 2.5))
    email_missing = rng.random(n) < np.where(is_call, 0.5, np.where(is_chat, 0.3, 0.05))
    corporate = rng.random(n) < sigmoid(corporate_logit - 1.3 * english)
    email_kind = np.where(email_missing, 0, np.where(corporate, 2, 1)).astype(np.int8)
    phone = is_call | (rng.random(n) < _per_channel([c.phone_rate for c in channels], channel))
    touch_rate = _per_channel([c.first_touch_rate for c in channels], channel)
    touch_days = _per_channel([c.first_touch_days for c in channels], channel)
    days = np.minimum(touch_days * np.exp(rng.normal(0.0, 1.1, n)), 720.0)
    first_touch_days = np.where(rng.random(n) < touch_rate, np.round(days, 3), np.nan)
    return {"email_kind": email_kind, "phone": phone, "first_touch_days": first_touch_days}


def _draw_flags(
    rng: np.random.Generator,
    channel: np.ndarray,
    landing: np.ndarray,
    contact: np.ndarray,
    size: np.ndarray,
) -> dict[str, np.ndarray]:
    """Whether there is a message, its keyword flags and its number of detail sentences."""
    s = story()
    n = len(channel)
    job_rate = _per_channel([c.job_rate for c in s.channels], channel)
    page_job = np.array([-1.0 if p.job_rate is None else p.job_rate for p in s.pages])[landing]
    job = rng.random(n) < np.where(page_job >= 0, page_job, job_rate)
    urgent = ~job & (rng.random(n) < _per_channel([c.urgent_rate for c in s.channels], channel))
    price = ~job & (rng.random(n) < _per_channel([c.price_rate for c in s.channels], channel))
    tender_rate = _per_channel([c.tender_rate for c in s.channels], channel) * np.where(
        size >= 3, 2.5, 0.3
    )
    tender = ~job & (rng.random(n) < tender_rate)
    is_call = contact == CONTACTS.index("call")
    has_message = job | (rng.random(n) >= np.where(is_call, 0.7, 0.07))
    details = np.where(contact == CONTACTS.index("chat"), 0, pick(rng, [0.3, 0.35, 0.22, 0.13], n))
    return {
        "job": job,
        "urgent": urgent,
        "price": price,
        "tender": tender,
        "has_message": has_message,
        "details": details.astype(np.int8),
    }
