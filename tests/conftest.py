"""Test-suite wide settings.

pytest runs two workers on this 2-core machine; LightGBM and BLAS each starting one
OpenMP thread per core on top of that oversubscribes the CPU (spinning OpenMP threads
make LightGBM ~50x slower), so every library gets one thread per worker. The queue's random
exploration is off unless a test turns it on.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# The queue's exploration boost (5% of arrivals, at random) would reorder the queues the tests
# assert on; the tests of exploration set their share themselves.
os.environ.setdefault("LEADSCORE_EXPLORATION_SHARE", "0")


def pytest_terminal_summary(terminalreporter: object) -> None:
    """Say which databases the store and API tests ran on."""
    url = os.environ.get("LEADSCORE_TEST_DATABASE_URL")
    line = (
        f"lead store tests ran on SQLite and PostgreSQL ({url.rsplit('@', 1)[-1]})"
        if url
        else "lead store tests ran on SQLite only (LEADSCORE_TEST_DATABASE_URL not set)"
    )
    terminalreporter.write_line(line)  # type: ignore[attr-defined]
