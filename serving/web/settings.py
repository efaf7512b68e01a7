"""Settings of the web pages (environment variables with the LEADSCORE_ prefix).

Read when the pages are installed on an app, never at import time.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """Sessions of the web pages. Every field can be set as ``LEADSCORE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="signs session cookies; default: a random secret generated once and "
        "kept in data_dir/session-secret",
    )
    session_minutes: int = Field(
        default=600, ge=1, le=7 * 24 * 60, description="a session ends this long after sign-in"
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="mark cookies Secure; default: when the request came over https",
    )
    queue_page_size: int = Field(
        default=50, ge=1, le=500, description="leads shown on the queue page"
    )
    queue_refresh_seconds: int = Field(
        default=15, ge=2, le=600, description="how often the queue page refreshes its list"
    )
    mlflow_ui_url: str | None = Field(
        default=None,
        max_length=500,
        description="the MLflow UI's address, for links to runs on the admin page; default: "
        "the tracking server when it is one (http), else run ids without links",
    )
