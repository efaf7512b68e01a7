"""The test tooling: `make test` and `.ci/run` find a local PostgreSQL server by itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "postgres-url"


def _run(port: int, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "LEADSCORE_TEST_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--port", str(port)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=False,
    )


def test_a_server_that_answers_gives_its_test_database() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        done = _run(port)
    assert done.returncode == 0
    assert done.stdout.strip() == f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"


def test_no_server_means_no_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _run(port)
    assert done.returncode == 1
    assert done.stdout == ""


def test_a_url_given_wins() -> None:
    given = "postgresql+psycopg://leadscore@db.example/leads"
    done = _run(1, LEADSCORE_TEST_DATABASE_URL=given)
    assert (done.returncode, done.stdout.strip()) == (0, given)
