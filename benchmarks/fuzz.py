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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import schemathesis
from fastapi import FastAPI
from schemathesis import APIOperation
from schemathesis.python.asgi import get_client, shutdown_lifespans

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from postgres import fresh_schema  # noqa: E402
from report import markdown_table, write_section  # noqa: E402

from serving.app import create_app  # noqa: E402
from serving.modelset import MemoryLoader  # noqa: E402
from serving.store.leads import Store  # noqa: E402
from tests.serving.harness import fuzz_operation, fuzz_settings  # noqa: E402

ADMIN_KEY = "fuzz-admin-key-000001"
ADMIN = {"X-API-Key": ADMIN_KEY}


@dataclass
class Tally:
    """What one operation answered."""

    endpoint: str
    examples: int = 0
    ok: int = 0
    refused: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)


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


def tally_operation(operation: APIOperation, app: FastAPI, examples: int, seed: int) -> Tally:
    """The fuzz test's pass over ``operation``, with more examples, its answers counted."""
    store: Store = app.state.services.store
    fuzzed = fuzz_operation(operation, store, ADMIN, examples, seed)
    return Tally(
        operation.label,
        examples=len(fuzzed.statuses),
        ok=sum(status < 400 for status in fuzzed.statuses),
        refused=sum(400 <= status < 500 for status in fuzzed.statuses),
        server_errors=sum(status >= 500 for status in fuzzed.statuses),
        failures=fuzzed.failures,
    )


def fuzz_backend(url: str, examples: int, seed: int) -> list[Tally]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            fuzz_settings(url, Path(folder), f"{ADMIN_KEY}:admin:fuzz"), MemoryLoader()
        )
        try:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            _seed_leads(app)
            return [
                tally_operation(result.ok(), app, examples, seed)
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
                with fresh_schema(url, "fuzz") as schema_url:
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
