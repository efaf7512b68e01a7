"""Settings of the scoring service (environment variables with the LEADSCORE_ prefix).

Everything in :class:`training.settings.TrainingSettings` (data directory, MLflow store)
plus the lead store, API keys, the SLA clock, tier cut-offs, routing thresholds and limits.
Settings are read when the app is created, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from training.settings import TrainingSettings

MIB = 1024 * 1024


class ServingSettings(TrainingSettings):
    """The service's configuration. Every field can be set as ``LEADSCORE_<FIELD>``."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the lead store; default: SQLite file data_dir/leads.db",
    )
    api_keys: str | None = Field(
        default=None,
        description="comma-separated 'key:role' or 'key:role:name' entries",
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
    reasons_top_k: int = Field(default=3, ge=0, le=20, description="reasons of each sign")
    db_busy_timeout_ms: int = Field(default=10_000, ge=0, description="SQLite busy timeout")
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
