"""Property-based fuzzing of the whole OpenAPI schema (Schemathesis) on the real app and
store, SQLite and PostgreSQL: valid and invalid requests for every operation, a bounded
number of examples each and a fixed seed. Every response must be below 500, match the
schema (status code, content type, body), and a refused request (4xx) must leave every
table of the store exactly as it was.

The longer nightly-style run, with more examples and a random seed, is
``benchmarks/fuzz.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import BaseSchema
from schemathesis.python.asgi import get_client, shutdown_lifespans

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.store.leads import Store
from tests.serving.conftest import API_KEYS, headers, make_lead, postgres_schema_url
from tests.serving.harness import fuzz_operation, fuzz_settings

SEED = 16
#: Valid and invalid examples (each) per operation and backend: about 60 s for both.
EXAMPLES = 8
ADMIN = headers("admin")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One store per backend for the module (a fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'leads.db'}"
        return
    yield from postgres_schema_url(f"fuzz_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def fuzz_app(fuzz_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(
        fuzz_settings(fuzz_url, tmp_path_factory.mktemp("data"), API_KEYS), MemoryLoader()
    )
    yield app
    shutdown_lifespans()  # Schemathesis keeps the app it started running until then


def seed_leads(app: FastAPI) -> None:
    """A few stored leads, so generated ids (small integers) find some: new, claimed,
    qualified and won."""
    with get_client(app) as client:
        ids = [
            client.post("/leads", json=make_lead(), headers=ADMIN).json()["id"] for _ in range(4)
        ]
        client.post("/queue/claim", headers=ADMIN)
        client.put(f"/leads/{ids[2]}/qualification", json={"bant": {}}, headers=ADMIN)
        won = {"status": "won", "deal_value": {"amount": 5000, "currency": "RUB"}}
        client.post(f"/leads/{ids[3]}/status", json=won, headers=ADMIN)


def _store(app: FastAPI) -> Store:
    store: Store = app.state.services.store
    return store


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    seed_leads(fuzz_app)
    return schema


def test_any_request_is_answered_below_500_by_the_schema_and_a_refusal_changes_nothing(
    api_schema: BaseSchema, fuzz_app: FastAPI
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15, "every operation of the schema is fuzzed"
    failures = {
        operation.label: found
        for operation in operations
        if (found := fuzz_operation(operation, _store(fuzz_app), ADMIN, EXAMPLES, SEED).failures)
    }
    assert not failures, "\n".join(f"{label}: {found[0]}" for label, found in failures.items())
