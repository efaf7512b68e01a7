"""The real app on a real store: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL tests need LEADSCORE_TEST_DATABASE_URL (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test); each test gets its own schema (via the
connection's search_path), so parallel workers never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.funnel import Status
from features.spec import load_spec
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import NewLead
from training.outlook import Outlook, OutlookOptions, fit_outlook
from training.registry import outlook_name

SDR_KEYS: dict[str, str] = {f"sdr-{i}": f"sdr-secret-key-{i:04d}" for i in range(10)}
ROLE_KEYS: dict[str, str] = {
    "sdr": SDR_KEYS["sdr-0"],
    "sales": "sales-secret-key-0001",
    "marketing": "marketing-secret-key-01",
    "admin": "admin-secret-key-00001",
}
API_KEYS = ",".join(
    [f"{key}:sdr:{name}" for name, key in SDR_KEYS.items()]
    + [
        f"{ROLE_KEYS['sales']}:sales:sales-1",
        f"{ROLE_KEYS['marketing']}:marketing:marketing-1",
        f"{ROLE_KEYS['admin']}:admin:admin-1",
    ]
)
PG_ENV = "LEADSCORE_TEST_DATABASE_URL"
#: BANT answers of a buyer of SEO: budget 300k-1m, the decision maker, a strong fit, < 3 months.
SEO_BANT: dict[str, Any] = {
    "budget": {"bracket": "300k_1m"},
    "is_decision_maker": True,
    "need_service": "seo",
    "need_fit": "strong",
    "timeframe": "lt_3m",
}
#: A qualification body (PUT /leads/{id}/qualification) whose BANT answers are all strong.
STRONG_QUALIFICATION: dict[str, Any] = {
    "bant": {
        "budget": {"bracket": "1m_3m"},
        "is_decision_maker": True,
        "need_fit": "strong",
        "timeframe": "now",
    }
}


def headers(role: str = "sdr") -> dict[str, str]:
    return {"X-API-Key": ROLE_KEYS[role]}


def sdr_headers(name: str) -> dict[str, str]:
    return {"X-API-Key": SDR_KEYS[name]}


def with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


def postgres_schema_url(schema: str) -> Iterator[str]:
    """Yield a URL on a fresh PostgreSQL schema (skips when PG_ENV is unset), then drop it."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leads.db'}"
        return
    yield from postgres_schema_url(f"t_{uuid.uuid4().hex[:16]}")


def serving_settings(
    root: Path, *, database_url: str | None = None, mlflow_tracking_uri: str | None = None
) -> ServingSettings:
    """The tests' settings with files under ``root``: the test keys, no model checks, a
    SQLite store in ``root`` and an unused MLflow store unless other URLs are given."""
    return ServingSettings(
        data_dir=root / "data",
        database_url=database_url or f"sqlite:///{root / 'leads.db'}",
        api_keys=API_KEYS,
        model_check_seconds=0,
        mlflow_tracking_uri=mlflow_tracking_uri or f"sqlite:///{root / 'unused-mlflow.db'}",
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServingSettings:
    return serving_settings(tmp_path, database_url=database_url)


@pytest.fixture(scope="session")
def outlook() -> Outlook:
    """A real outlook of the arrival (conversion-time and deal-value models) fitted on
    4,000 demo leads, for the tests that publish one."""
    frame, _ = generate_leads(n=4_000, seed=5)
    data = prepare_frame(load_spec("demo"), frame, source="demo")
    return fit_outlook(data, frame, OutlookOptions(known_at="arrival"))


def with_outlook(
    root: Path, database_url: str, outlook: Outlook, version: str = "1", **settings: object
) -> TestClient:
    """The app (``serving_settings`` with ``settings`` changed) with ``outlook`` published as
    the arrival outlook's ``version``; use it as a context manager."""
    loader = MemoryLoader()
    loader.publish(outlook_name("arrival"), version, outlook)
    chosen = serving_settings(root, database_url=database_url).model_copy(update=settings)
    return TestClient(create_app(chosen, loader=loader))


@pytest.fixture
def loader() -> MemoryLoader:
    """No registry: champions are published in memory by the tests that need them."""
    return MemoryLoader()


@pytest.fixture
def client(settings: ServingSettings, loader: MemoryLoader) -> Iterator[TestClient]:
    with TestClient(create_app(settings, loader=loader)) as test_client:
        yield test_client


def make_lead(
    external_id: str | None = None,
    *,
    minutes_ago: float = 1.0,
    channel: str = "paid_search",
    **source: Any,
) -> dict[str, Any]:
    """A lead as a CRM would post it, arrived ``minutes_ago``."""
    arrived = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "external_id": external_id or f"crm-{uuid.uuid4().hex[:10]}",
        "arrived_at": arrived.isoformat(),
        "source": {
            "channel": channel,
            "email": "buyer@acme-industries.ru",
            "phone": "+7 900 000 00 00",
            "message": "Need SEO for our store, what is the price?",
            **source,
        },
    }


def interrupted_lead(external_id: str, *, qualified: bool = False) -> NewLead:
    """What an arrival cut short between storing and scoring leaves behind (a referral,
    new, due in 30 minutes; with SEO_BANT answered when ``qualified``)."""
    now = datetime.now(UTC)
    return NewLead(
        external_id=external_id,
        arrived_at=now,
        channel="referral",
        source={"channel": "referral"},
        record={"external_id": external_id, "channel": "referral"},
        history=[(Status.NEW, now, None)],
        deal_value=None,
        deal_currency=None,
        sla_deadline=now + timedelta(minutes=30),
        created_by="sdr-0",
        qualification=(SEO_BANT, None) if qualified else None,
    )


PostLead = Callable[..., dict[str, Any]]


@pytest.fixture
def post_lead(client: TestClient) -> PostLead:
    def post(lead: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = client.post("/leads", json=lead or make_lead(**kwargs), headers=headers())
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return post
