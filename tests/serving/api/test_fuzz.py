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
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import get_client, shutdown_lifespans

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import Store
from tests.serving.api.test_hostile import snapshot
from tests.serving.conftest import API_KEYS, headers, make_lead, postgres_schema_url

SEED = 16
#: Valid and invalid examples (each) per operation and backend: about 60 s for both.
EXAMPLES = 8
ADMIN = headers("admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


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


def fuzz_settings(url: str, data_dir: Path) -> ServingSettings:
    """The service as configured in production, minus what would make runs differ: no
    background sweeps or checks, no rate limits (the fuzzer sends many requests)."""
    return ServingSettings(
        data_dir=data_dir,
        database_url=url,
        api_keys=API_KEYS,
        model_check_seconds=0,
        sweep_seconds=0,
        checkpoint_seconds=0,
        auth_failure_limit="off",
        intake_limit="off",
        mlflow_tracking_uri=f"sqlite:///{data_dir / 'unused-mlflow.db'}",
    )


@pytest.fixture(scope="module")
def fuzz_app(fuzz_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(fuzz_settings(fuzz_url, tmp_path_factory.mktemp("data")), MemoryLoader())
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


def fuzz_operation(operation: APIOperation, app: FastAPI, examples: int) -> list[str]:
    """Valid and invalid requests for ``operation`` (``examples`` of each, seeded): what
    went wrong, one line per failing example (with a curl command to replay it)."""
    failures: list[str] = []
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=2 * examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.seed(SEED)
    @hypothesis.given(case=cases)
    def run(case: schemathesis.Case) -> None:
        before = snapshot(_store(app))
        response = case.call(headers=ADMIN)
        checks = CHECKS
        if operation.label == "GET /ready" and response.status_code == 503:
            checks = CHECKS[1:]  # "degraded" (no model loaded) is /ready's documented 503
        try:
            case.validate_response(response, checks=checks, headers=ADMIN)
        except FailureGroup as failure:  # keep it, go on with the other examples
            failures.append(f"{failure}\n  replay: {case.as_curl_command(headers=ADMIN)}")
        if 400 <= response.status_code < 500 and snapshot(_store(app)) != before:
            failures.append(f"a refused request ({response.status_code}) changed the store")

    run()
    return failures


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
        if (found := fuzz_operation(operation, fuzz_app, EXAMPLES))
    }
    assert not failures, "\n".join(f"{label}: {found[0]}" for label, found in failures.items())
