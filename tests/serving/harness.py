"""The harness the benchmarks share with the tests: the real service as a uvicorn process on
a free port (its environment, started, waited for, stopped), and the Schemathesis pass over
one operation of the OpenAPI schema that the fuzz test and benchmarks/fuzz.py both run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from sqlalchemy import select

from serving.settings import ServingSettings
from serving.store.leads import Store
from serving.store.tables import Base

ROOT = Path(__file__).resolve().parents[2]
UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "serving.app:create_app"]

# --- the real service in a process ----------------------------------------------------------


class ServiceDownError(RuntimeError):
    """The service exited, or did not answer in time, while it was being waited for."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as of now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(folder: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its LEADSCORE_ settings, for a service whose data,
    SQLite store and MLflow store are in ``folder`` (no model checks, one OpenMP thread),
    plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(
        LEADSCORE_DATA_DIR=str(folder / "data"),
        LEADSCORE_DATABASE_URL=f"sqlite:///{folder / 'leads.db'}",
        LEADSCORE_MLFLOW_TRACKING_URI=f"sqlite:///{folder / 'mlflow.db'}",
        LEADSCORE_MODEL_CHECK_SECONDS="0",
        OMP_NUM_THREADS="1",
    )
    env.update(settings)
    return env


def start_uvicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``serving.app:create_app`` under uvicorn on 127.0.0.1:``port``, run from this
    checkout with ``env``, its output appended to ``log``."""
    command = [*UVICORN, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)


def start_serve(
    port: int, env: dict[str, str], log: Path, *options: str
) -> subprocess.Popen[bytes]:
    """`leadscore serve` (``python -m serving serve``) on ``port`` with ``env`` and
    ``options``, its output written to ``log``."""
    command = [sys.executable, "-m", "serving", "serve", "--port", str(port), *options]
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def wait_until_answers(
    process: subprocess.Popen[bytes],
    url: str,
    log: Path,
    *,
    timeout: float,
    every: float = 0.2,
    headers: dict[str, str] | None = None,
    request_timeout: float = 1.0,
) -> None:
    """Return once ``GET url`` answers 200; ServiceDownError (with the end of ``log``) when the
    process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise ServiceDownError(f"the service exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, headers=headers, timeout=request_timeout).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServiceDownError(f"{url} did not answer 200 within {timeout:g} s")
        time.sleep(every)


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- fuzzing the OpenAPI schema -------------------------------------------------------------

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Fuzzed:
    """What one operation answered: every status, and each failing example (one line, with
    a curl command to replay it) or refused request that changed the store."""

    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def fuzz_settings(url: str, data_dir: Path, api_keys: str) -> ServingSettings:
    """The service as configured in production, minus what would make runs differ: no
    background sweeps or checks, no rate limits (the fuzzer sends many requests)."""
    return ServingSettings(
        data_dir=data_dir,
        database_url=url,
        api_keys=api_keys,
        model_check_seconds=0,
        sweep_seconds=0,
        checkpoint_seconds=0,
        auth_failure_limit="off",
        intake_limit="off",
        mlflow_tracking_uri=f"sqlite:///{data_dir / 'unused-mlflow.db'}",
    )


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in a stable order."""
    with store.reading() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def fuzz_operation(
    operation: APIOperation, store: Store, headers: dict[str, str], examples: int, seed: int
) -> Fuzzed:
    """Valid and invalid requests for ``operation`` (``examples`` of each, ``seed``ed), sent
    with ``headers`` to the app the schema was loaded from, whose store is ``store``."""
    fuzzed = Fuzzed()
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
        response = case.call(headers=headers)
        status = response.status_code
        fuzzed.statuses.append(status)
        checks = CHECKS
        if operation.label == "GET /ready" and status == 503:
            checks = CHECKS[1:]  # "degraded" (no model loaded) is /ready's documented 503
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as failure:  # keep it, go on with the other examples
            fuzzed.failures.append(f"{failure}\n  replay: {case.as_curl_command(headers=headers)}")
        if 400 <= status < 500 and snapshot(store) != before:
            fuzzed.failures.append(f"a refused request ({status}) changed the store")

    run()
    return fuzzed
