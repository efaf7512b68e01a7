"""Settings of the scoring service (environment variables with the LEADSCORE_ prefix).

Everything in :class:`training.settings.TrainingSettings` (data directory, MLflow store)
plus the lead store, API keys, the SLA clock, tier cut-offs, routing thresholds and limits.
Settings are read when the app is created, never at import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from features.rates import CurrencyCode
from features.sla import TimeZoneName
from training.settings import TrainingSettings

#: P(SQL within 7 days) from which a lead is "likely to convert within 7 days" by default.
LIKELY_SOON = 0.25

MIB = 1024 * 1024


class ServingSettings(TrainingSettings):
    """The service's configuration. Every field can be set as ``LEADSCORE_<FIELD>``."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the lead store; default: SQLite file data_dir/leads.db",
    )
    api_keys: SecretStr | None = Field(
        default=None,
        description="comma-separated 'key:role' or 'key:role:name' entries; the app keeps "
        "only their digests and drops the raw value (Services.settings has None here)",
        repr=False,
    )
    api_keys_file: Path | None = Field(
        default=None, description="file with one 'key:role[:name]' entry per line (# comments)"
    )
    demo: bool = Field(
        default=False,
        description="demo mode: with no keys configured, well-known demo keys are accepted",
    )
    dataset: str = Field(default="demo", description="data set whose registered models serve")
    score_target: str = Field(
        default="sql", description="target whose probability orders the queue and sets tiers"
    )
    sla_minutes: float = Field(default=30.0, gt=0, description="minutes an SDR has to react")
    exploration_share: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="share of arriving leads boosted to the front of the SDR queue at random, "
        "whatever their score, so retraining can judge the model on the leads SDRs would "
        "skip (docs/serving.md, 'Exploration'); 0 turns exploration off",
    )
    queue_order: Literal["probability", "expected_value"] = Field(
        default="probability",
        description="what GET /queue and the queue page rank with, times the SLA urgency, "
        "unless the request asks (order=): the queue score's probability, or the outlook's "
        "expected value (docs/serving.md, 'Outlook')",
    )
    likely_soon: float = Field(
        default=LIKELY_SOON,
        gt=0,
        lt=1,
        description="P(SQL within 7 days) from which the queue and the lead page flag a lead "
        "'likely to convert within 7 days' (decided when the lead is scored)",
    )
    sla_calendar: Path | None = Field(
        default=None,
        description="working hours, time zone and holidays (YAML, docs/serving.md): the SLA "
        "counts working minutes only; none: every minute counts, day and night",
    )
    tier_a: float = Field(default=0.5, gt=0, lt=1, description="tier A from this probability")
    tier_b: float = Field(default=0.25, gt=0, lt=1, description="tier B from this probability")
    tier_c: float = Field(default=0.1, gt=0, lt=1, description="tier C from this probability")
    route_sales: float = Field(
        default=0.5, ge=0, le=1, description="qualified score at which a lead goes to sales"
    )
    route_partner: float = Field(
        default=0.2, ge=0, le=1, description="qualified score at which a lead goes to a partner"
    )
    max_body_bytes: int = Field(default=MIB, ge=1024, description="largest request body")
    max_score_rows: int = Field(default=10_000, ge=1, description="largest batch for /score")
    model_check_seconds: float = Field(
        default=60.0, ge=0, description="how often to look for a new champion; 0 disables"
    )
    registry_timeout_seconds: int = Field(
        default=5, ge=1, le=600, description="connect and read timeout of each MLflow request"
    )
    registry_retries: int = Field(
        default=1, ge=0, le=10, description="retries of a failed MLflow request"
    )
    registry_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long start-up waits for the champions before serving with the rule",
    )
    registry_retry_seconds: float = Field(
        default=5.0, gt=0, description="how often to try again while the registry fails"
    )
    sweep_seconds: float = Field(
        default=10.0, ge=0, description="how often to score stored leads left unscored; 0 disables"
    )
    sweep_batch: int = Field(default=200, ge=1, description="most leads scored by one sweep")
    checkpoint_seconds: float = Field(
        default=60.0, ge=0, description="how often to truncate SQLite's WAL; 0 disables"
    )
    connectors_file: Path | None = Field(
        default=None,
        description="the CRM connector settings file (YAML, see docs/crm.md); none: no "
        "CRM webhooks and no write-back",
    )
    crm_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="connect and read timeout of each CRM call"
    )
    crm_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="tries of a write-back (or of a webhook's fetch) before it is dead-lettered",
    )
    crm_backoff_seconds: float = Field(
        default=5.0, gt=0, description="wait after a failed CRM call; doubles each try (jitter)"
    )
    crm_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="longest wait between two tries of a CRM call"
    )
    crm_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="a row claimed by a worker that died is tried again after this long "
        "(keep it above a few CRM timeouts)",
    )
    crm_poll_seconds: float = Field(
        default=1.0, ge=0, description="how often the CRM jobs look for due rows; 0 disables"
    )
    crm_batch: int = Field(default=50, ge=1, le=10_000, description="rows one CRM job run takes")
    reasons_top_k: int = Field(default=3, ge=0, le=20, description="reasons of each sign")
    reason_threshold_pp: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="a reason is shown when it moves the lead's probability by at least "
        "this many percentage points (docs/reasons.md)",
    )
    locale: Literal["en", "ru"] = Field(
        default="en", description="the language reasons are written in when a lead is scored"
    )
    time_zone: TimeZoneName = Field(
        default="UTC",
        description="the installation's time zone: times of day in reasons (e.g. Europe/Moscow)",
    )
    display_currency: CurrencyCode | None = Field(
        default=None,
        description="the installation's currency (ISO 4217, e.g. USD): money in reasons is "
        "shown in it, converted with the dated rates the model was trained with and their "
        "date; none: the base currency of the data set's spec (RUB in the demo)",
    )
    db_busy_timeout_ms: int = Field(default=10_000, ge=0, description="SQLite busy timeout")
    request_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="threads of one worker that run requests (FastAPI's thread pool); "
        "PostgreSQL gets this many pooled connections plus a few for background jobs. More "
        "threads than the cores can run only queue on the interpreter's lock",
    )
    earliest_event_year: int = Field(
        default=2000,
        ge=1970,
        le=2100,
        description="event times (arrival, first touch, status changes) before 1 January of "
        "this year, UTC, are refused (422)",
    )
    event_ahead_minutes: float = Field(
        default=5.0,
        ge=0,
        le=1440,
        description="how far past the service's clock an event may be dated (clock skew); "
        "a later one is refused (422), as it would block the lead's next status change",
    )
    report_min_leads: int = Field(
        default=100,
        ge=1,
        description="channel review: fewer leads in a channel/campaign/month is 'too few to judge'",
    )
    report_min_conversions: int = Field(
        default=10,
        ge=0,
        description="channel review: fewer conversions is 'too few leads to judge'",
    )
    report_explain_per_group: int = Field(
        default=500,
        ge=10,
        le=100_000,
        description="channel review: leads explained (SHAP) per channel and campaign; "
        "more are sampled",
    )

    auth_failure_limit: str = Field(
        default="20/minute",
        description="unknown API keys allowed per client address (limits notation, e.g. "
        "'20/minute'; 'off' disables); beyond it every request from that address gets 429",
    )
    intake_limit: str = Field(
        default="12000/minute",
        description="leads one API key may post (POST /leads) in the window, e.g. "
        "'12000/minute'; 'off' disables",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="where rate-limit counts live (limits storage URI): memory:// is per "
        "process; redis://host:6379 shares them between processes (needs the redis package)",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client; empty: the socket peer is the client",
    )
    cors_origins: str = Field(
        default="",
        description="comma-separated origins allowed to call the API from a browser "
        "(CORS); empty: no CORS headers, same-origin only",
    )

    @field_validator("auth_failure_limit", "intake_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        if value.strip().lower() == "off":
            return "off"
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"expected a rate limit such as '20/minute' or '100 per 10 seconds', "
                f"or 'off'; got '{value}'"
            ) from None
        return value.strip()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected IP addresses or networks (e.g. 10.0.0.0/8), got '{entry}'"
                ) from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for entry in _entries(value):
            if entry != "*" and not entry.startswith(("http://", "https://")):
                raise ValueError(
                    f"expected origins such as https://crm.example.com (or *), got '{entry}'"
                )
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(e, strict=False) for e in _entries(self.trusted_proxies))

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.rstrip("/") for origin in _entries(self.cors_origins)]

    def without_api_keys(self) -> ServingSettings:
        """A copy without the raw API keys (once a KeyRing holds their digests)."""
        return self.model_copy(update={"api_keys": None})

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.tier_a > self.tier_b > self.tier_c:
            raise ValueError(
                "tier cut-offs must decrease: tier_a > tier_b > tier_c "
                f"(got {self.tier_a}, {self.tier_b}, {self.tier_c})"
            )
        if self.route_sales < self.route_partner:
            raise ValueError(
                f"route_sales ({self.route_sales}) must be >= route_partner ({self.route_partner})"
            )
        if self.score_target not in ("sql", "won"):
            raise ValueError(f"score_target must be 'sql' or 'won', got '{self.score_target}'")
        return self

    @property
    def store_url(self) -> str:
        """The lead store's SQLAlchemy URL in force (the embedded SQLite file by default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'leads.db').resolve()}"


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def project_root(start: Path) -> Path | None:
    """The leadscore checkout ``start`` is in (the folder of its pyproject.toml), if any."""
    for folder in (start.resolve(), *start.resolve().parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "leadscore"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return None


def settings_from(data_dir: str | Path | None = None, start: Path | None = None) -> ServingSettings:
    """The settings for work started from anywhere in a checkout (a notebook in
    ``notebooks/``, a script): ``data_dir`` if given, else LEADSCORE_DATA_DIR, else the
    checkout's own ``data/`` folder rather than one relative to the working directory."""
    if data_dir is not None:
        return ServingSettings(data_dir=Path(data_dir))
    settings = ServingSettings()
    if "data_dir" in settings.model_fields_set or settings.data_dir.is_absolute():
        return settings
    root = project_root(start or Path.cwd())
    return settings if root is None else ServingSettings(data_dir=root / settings.data_dir)
