"""The story behind the demo data: channels, places, pages, effects, as typed models.

The tables live in ``data/*.yaml`` (channels, regions, industries, pages, effects, answers,
calendar); ``story()`` reads and cross-checks them at first use. The order of every table is
the order of the generator's codes, so it is part of the data set. The vocabularies here
(services, sizes, fits ...) are the values the spec and the domain model know.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from features.demo.datafiles import (
    Entry,
    Named,
    data_path,
    exactly,
    keyed,
    known,
    raise_problems,
    read_data,
)
from features.lead import ContactType

SERVICES: tuple[str, ...] = ("seo", "ppc", "smm", "web")
SIZES: tuple[str, ...] = ("1-10", "11-50", "51-200", "201-1000", "1000+")
CONTACTS: tuple[str, ...] = tuple(c.value for c in ContactType)
FITS: tuple[str, ...] = ("none", "partial", "strong")
TIMEFRAMES: tuple[str, ...] = ("gt_6m", "3_6m", "lt_3m", "now", "unknown")
BRACKETS: tuple[str, ...] = ("lt_100k", "100k_300k", "300k_1m", "1m_3m", "gt_3m")
BRACKET_UPPER_RUB: tuple[float, ...] = (100_000, 300_000, 1_000_000, 3_000_000)
CURRENCIES: tuple[str, ...] = ("RUB", "USD", "EUR", "KZT")
Country = Literal["ru", "kz", "by", "intl"]
#: Currency, phone, e-mail domain and legal-form conventions (codes 0..3).
COUNTRIES: tuple[str, ...] = get_args(Country)
#: The languages of the messages (a lead writes in English or in Russian).
LANGUAGES: tuple[str, ...] = ("ru", "en")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SizeValues = Annotated[tuple[float, ...], keyed(("missing", *SIZES))]
ServiceShares = Annotated[tuple[float, ...], keyed(SERVICES)]
HourProfile = Annotated[tuple[float, ...], Field(min_length=24, max_length=24)]


class Source(Entry):
    name: str | None  # utm_source; None: the channel's leads carry none
    weight: float
    effect: float  # SQL log-odds


class Campaign(Entry):
    name: str
    effect: float  # SQL log-odds, relative to the channel
    service: str | None = None  # what it advertises: its landing page and the need
    weight: float = 1.0
    start: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")  # first month it runs
    end: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")  # last month it runs


class ChannelStory(Entry):
    """How one channel's leads look and how good they are (see ``data/channels.yaml``)."""

    name: str
    medium: str | None
    share: float
    drift: float  # change of the log-share from the first to the last month
    sql_intercept: float  # SQL log-odds before any field's contribution
    won_intercept: float  # log-odds of a deal given SQL, before contributions
    sources: Named[Source]
    campaigns: Named[Campaign]
    campaign_missing: float
    pages: dict[str, float]  # landing page kind -> weight
    page_weights: dict[str, float] = Field(default_factory=dict)  # page path -> own weight
    size_probs: SizeValues
    contact_probs: Annotated[tuple[float, ...], keyed(CONTACTS)]
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
    budget_missing_shift: float  # how often the leads keep their budget to themselves
    industry_tilt: dict[str, float] = Field(default_factory=dict)  # industry weight factors
    partner_niches: bool = False  # industries' partner_effect applies
    senior_contacts: bool = False  # roles' senior_factor applies
    need_services: ServiceShares | None = None  # instead of the services' shares
    weights: dict[str, float] = Field(default_factory=dict)  # contribution weights
    dominant_drivers: tuple[str, ...]  # the designed top drivers (spec columns)


class Region(Entry):
    name: str | None = None  # None: the region is missing
    weight: float
    effect: float
    english_rate: float
    country: Country


class Industry(Entry):
    name: str | None = None  # None: the industry is missing
    weight: float
    effect: float  # everywhere
    partner_effect: float  # partner hand-ins: the partners' own niches


class Page(Entry):
    name: str  # the path
    kind: str
    service: str | None = None
    effect: float
    job_rate: float | None = None  # job seekers land here more often than elsewhere

    @property
    def path(self) -> str:
        return self.name


class Weights(Entry):
    """Contribution weight per term (``message_job``: the job-keyword part of ``message``)."""

    budget_amount: float
    is_decision_maker: float
    need_fit: float
    timeframe: float
    company_size: float
    email: float
    phone: float
    contact_type: float
    message_job: float
    message: float
    first_touch_at: float
    landing_page: float
    utm_campaign: float


class MissingPenalty(Entry):
    budget_amount: float
    is_decision_maker: float
    need_fit: float
    timeframe: float


class ValueEffects(Entry):
    """Effects of a column's values, before the channel's weight; ``missing`` first."""

    company_size: SizeValues
    email: Annotated[tuple[float, ...], keyed(("missing", "free_mail", "corporate"))]
    phone: Annotated[tuple[float, ...], keyed(("missing", "present"))]
    contact_type: Annotated[tuple[float, ...], keyed(CONTACTS)]
    need_fit: Annotated[tuple[float, ...], keyed(("missing", *FITS))]
    is_decision_maker: Annotated[tuple[float, ...], keyed(("missing", "no", "yes"))]
    timeframe: Annotated[tuple[float, ...], keyed(("missing", *TIMEFRAMES))]


class Effects(Entry):
    default_weights: Weights
    missing_penalty: MissingPenalty
    values: ValueEffects


class Service(Entry):
    name: str
    share: float
    effect: float
    deal_months: float = Field(gt=0)


class Role(Entry):
    name: str
    decision_maker_rate: float
    effect: float
    senior_factor: float
    by_size: SizeValues


class Holiday(Entry):
    month: int = Field(ge=1, le=12)
    days: tuple[int, ...]
    factor: float


class HourProfiles(Entry):
    weekday: HourProfile
    weekend: HourProfile


class Calendar(Entry):
    months: Annotated[tuple[float, ...], keyed(MONTHS)]
    weekdays: Annotated[tuple[float, ...], keyed(WEEKDAYS)]
    holidays: tuple[Holiday, ...]
    growth: float
    hours: HourProfiles


class _ChannelsFile(Entry):
    channels: Named[ChannelStory]


class _RegionsFile(Entry):
    regions: Named[Region]
    missing: Region


class _IndustriesFile(Entry):
    industries: Named[Industry]
    missing: Industry


class _PagesFile(Entry):
    pages: Named[Page]


class _AnswersFile(Entry):
    services: Named[Service]
    roles: Named[Role]
    deal_size_factor: SizeValues


@dataclass(frozen=True)
class Story:
    """Every table of the story, in code order."""

    channels: tuple[ChannelStory, ...]
    regions: tuple[Region, ...]
    region_missing: Region
    industries: tuple[Industry, ...]
    industry_missing: Industry
    pages: tuple[Page, ...]
    effects: Effects
    services: tuple[Service, ...]
    roles: tuple[Role, ...]
    deal_size_factor: tuple[float, ...]  # "missing" first, then SIZES
    calendar: Calendar

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def partner_niches(self) -> tuple[int, ...]:
        """Industries the partners specialise in (their hand-ins from there convert well)."""
        return tuple(k for k, i in enumerate(self.industries) if i.partner_effect > 0)

    def weights(self, channel: ChannelStory) -> dict[str, float]:
        """The channel's contribution weight of every term."""
        defaults = self.effects.default_weights.model_dump()
        return {term: channel.weights.get(term, w) for term, w in defaults.items()}


@cache
def story() -> Story:
    """The story's tables, read and checked at first use."""
    channels = read_data("channels.yaml", _ChannelsFile).channels
    regions = read_data("regions.yaml", _RegionsFile)
    industries = read_data("industries.yaml", _IndustriesFile)
    answers = read_data("answers.yaml", _AnswersFile)
    loaded = Story(
        channels=tuple(channels.values()),
        regions=tuple(regions.regions.values()),
        region_missing=regions.missing,
        industries=tuple(industries.industries.values()),
        industry_missing=industries.missing,
        pages=tuple(read_data("pages.yaml", _PagesFile).pages.values()),
        effects=read_data("effects.yaml", Effects),
        services=tuple(answers.services.values()),
        roles=tuple(answers.roles.values()),
        deal_size_factor=answers.deal_size_factor,
        calendar=read_data("calendar.yaml", Calendar),
    )
    raise_problems(_cross_check(loaded))
    return loaded


def _cross_check(s: Story) -> list[str]:
    """Problems with names one table uses and another defines."""
    answers = data_path("answers.yaml")
    problems = exactly(f"{answers}: services", [v.name for v in s.services], SERVICES)
    pages = data_path("pages.yaml")
    for page in s.pages:
        where = f"{pages}: pages.{page.path}.service"
        problems += known(where, _given(page.service), SERVICES, "service")
    for channel in s.channels:
        problems += _channel_problems(s, channel)
    return problems


def _channel_problems(s: Story, channel: ChannelStory) -> list[str]:
    where = f"{data_path('channels.yaml')}: channels.{channel.name}"
    kinds = sorted({p.kind for p in s.pages})
    problems = known(f"{where}.pages", list(channel.pages), kinds, "page kind")
    problems += known(
        f"{where}.page_weights", list(channel.page_weights), [p.path for p in s.pages], "page"
    )
    problems += known(
        f"{where}.industry_tilt",
        list(channel.industry_tilt),
        [i.name for i in s.industries],
        "industry",
    )
    problems += known(f"{where}.weights", list(channel.weights), list(Weights.model_fields), "term")
    for campaign in channel.campaigns.values():
        problems += known(
            f"{where}.campaigns.{campaign.name}.service",
            _given(campaign.service),
            SERVICES,
            "service",
        )
    return problems


def _given(value: str | None) -> list[str]:
    return [] if value is None else [value]


#: Names the tests and notebooks use, loaded at first use.
_LAZY_NAMES = {
    "CHANNEL_NAMES": lambda: story().channel_names,
    "DOMINANT_DRIVERS": lambda: {c.name: c.dominant_drivers for c in story().channels},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        return _LAZY_NAMES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
