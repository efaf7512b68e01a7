"""Fuzzing the whole OpenAPI schema, nightly style: more examples than the test suite's
run (tests/serving/api/test_fuzz.py) and a random seed, printed so a finding replays.

Usage: .venv/bin/python benchmarks/fuzz.py [--examples 200] [--seed N] [--database-url URL]

For every operation, Schemathesis generates valid and invalid requests (``--examples`` of
each) and sends them to the real app (in process, ASGI) on a real store: SQLite in a
temporary folder, and PostgreSQL when ``--database-url`` (or LEADSCORE_TEST_DATABASE_URL)
names one (a fresh schema, dropped afterwards). Checks: no 5xx (except /ready's documented
"degraded" 503 with no model loaded), responses match the schema, and a refused request
(4xx) leaves every table as it was. Prints a table (endpoint, examples, 2xx, 4xx, 5xx,
failures) per backend, writes the "Fuzzing" section of docs/benchmarks.md, and exits 1
when anything failed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pandas as pd
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from report import markdown_table, write_section
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import get_client, shutdown_lifespans
from sqlalchemy import create_engine, make_url, select, text

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import Store
from serving.store.tables import Base

ADMIN_KEY = "fuzz-admin-key-000001"
ADMIN = {"X-API-Key": ADMIN_KEY}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Tally:
    """What one operation answered."""

    endpoint: str
    examples: int = 0
    ok: int = 0
    refused: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the same comparison as the test suite's)."""
    with store.reading() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def _settings(url: str, data_dir: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=data_dir,
        database_url=url,
        api_keys=f"{ADMIN_KEY}:admin:fuzz",
        model_check_seconds=0,
        sweep_seconds=0,
        checkpoint_seconds=0,
        auth_failure_limit="off",
        intake_limit="off",
        mlflow_tracking_uri=f"sqlite:///{data_dir / 'unused-mlflow.db'}",
    )


def _seed_leads(app: FastAPI) -> None:
    lead = {"source": {"channel": "referral", "email": "a@acme.ru", "message": "price?"}}
    with get_client(app) as client:
        ids = [
            client.post("/leads", json={**lead, "external_id": f"seed-{i}"}, headers=ADMIN).json()[
                "id"
            ]
            for i in range(4)
        ]
        client.post("/queue/claim", headers=ADMIN)
        client.put(f"/leads/{ids[2]}/qualification", json={"bant": {}}, headers=ADMIN)
        won = {"status": "won", "deal_value": {"amount": 5000, "currency": "RUB"}}
        client.post(f"/leads/{ids[3]}/status", json=won, headers=ADMIN)


def fuzz_operation(operation: APIOperation, app: FastAPI, examples: int, seed: int) -> Tally:
    tally = Tally(operation.label)
    store: Store = app.state.services.store
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
    @hypothesis.seed(seed)
    @hypothesis.given(case=cases)
    def run(case: schemathesis.Case) -> None:
        before = snapshot(store)
        response = case.call(headers=ADMIN)
        tally.examples += 1
        status = response.status_code
        tally.ok += status < 400
        tally.refused += 400 <= status < 500
        tally.server_errors += status >= 500
        checks = CHECKS
        if operation.label == "GET /ready" and status == 503:
            checks = CHECKS[1:]
        try:
            case.validate_response(response, checks=checks, headers=ADMIN)
        except FailureGroup as failure:
            tally.failures.append(f"{failure}\n  replay: {case.as_curl_command(headers=ADMIN)}")
        if 400 <= status < 500 and snapshot(store) != before:
            tally.failures.append(f"a refused request ({status}) changed the store")

    run()
    return tally


@contextmanager
def _postgres_schema(base: str) -> Iterator[str]:
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fuzz_backend(url: str, examples: int, seed: int) -> list[Tally]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(_settings(url, Path(folder)), MemoryLoader())
        try:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            _seed_leads(app)
            return [
                fuzz_operation(result.ok(), app, examples, seed)
                for result in schema.get_all_operations()
            ]
        finally:
            shutdown_lifespans()


def _frame(tallies: list[Tally]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "endpoint": t.endpoint,
                "examples": t.examples,
                "2xx/3xx": t.ok,
                "4xx": t.refused,
                "5xx": t.server_errors,
                "failures": len(t.failures),
            }
            for t in tallies
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="valid and invalid, each")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument(
        "--database-url", default=os.environ.get("LEADSCORE_TEST_DATABASE_URL"), help="PostgreSQL"
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {seed} (replay with --seed {seed}), {args.examples} examples of each kind")
    sections, failed = [], False
    with tempfile.TemporaryDirectory() as folder:
        backends: list[tuple[str, Any]] = [("SQLite", f"sqlite:///{Path(folder) / 'leads.db'}")]
        if args.database_url:
            backends.append(("PostgreSQL", args.database_url))
        for name, url in backends:
            started = time.perf_counter()
            if name == "PostgreSQL":
                with _postgres_schema(url) as schema_url:
                    tallies = fuzz_backend(schema_url, args.examples, seed)
            else:
                tallies = fuzz_backend(url, args.examples, seed)
            seconds = time.perf_counter() - started
            frame = _frame(tallies)
            table = markdown_table(frame)
            print(f"\n{name} ({seconds:.0f} s)\n{table}")
            for tally in tallies:
                for failure in tally.failures[:3]:
                    failed = True
                    print(f"\nFAILED {tally.endpoint}: {failure}")
            sections.append(
                f"**{name}**: {int(frame['examples'].sum())} requests in {seconds:.0f} s, "
                f"{int(frame['5xx'].sum())} 5xx, {int(frame['failures'].sum())} failures\n\n"
                + table
            )
    body = (
        f"`.venv/bin/python benchmarks/fuzz.py --examples {args.examples} --seed {seed}`: "
        "Schemathesis, valid and invalid requests for every operation of the OpenAPI "
        "schema, on the real app and store. Checks: no 5xx (except /ready's documented "
        "503 `degraded`: no model loaded), status code, content type and body match the "
        "schema, a refused request (4xx) changes no table. 5xx counts /ready's 503s.\n\n"
        + "\n\n".join(sections)
    )
    write_section("fuzzing", "Fuzzing (`benchmarks/fuzz.py`)", body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
