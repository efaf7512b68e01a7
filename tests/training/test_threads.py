"""The thread count: cgroup quota parsing, the order of the bounds, the OpenMP environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from training.threads import (
    available_threads,
    choose_threads,
    parse_cpu_max,
    parse_thread_count,
    prepare_process,
    thread_environment,
)


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("max 100000\n", None),
        ("200000 100000\n", 2.0),
        ("150000 100000", 1.5),
        ("50000 100000", 0.5),
        ("100000", 1.0),  # the period defaults to 100 ms
        ("", None),
        ("garbage here", None),
        ("0 100000", None),
        ("100000 0", None),
    ],
)
def test_cpu_max_is_read_as_cores(text: str, cores: float | None) -> None:
    assert parse_cpu_max(text) == cores


@pytest.mark.parametrize(
    ("value", "count"),
    [(None, None), ("", None), ("3", 3), ("4,2", 4), (" 2 ", 2), ("0", None), ("-1", None)],
)
def test_omp_num_threads_values(value: str | None, count: int | None) -> None:
    assert parse_thread_count(value) == count


def test_the_quota_bounds_the_affinity_rounded_up() -> None:
    assert choose_threads(8, None, None) == 8
    assert choose_threads(8, 2.0, None) == 2
    assert choose_threads(8, 1.5, None) == 2
    assert choose_threads(8, 0.5, None) == 1
    assert choose_threads(2, 16.0, None) == 2


def test_omp_num_threads_wins_over_the_machine_and_a_request_over_both() -> None:
    assert choose_threads(8, 2.0, "3") == 3
    assert choose_threads(8, 2.0, "bad") == 2
    assert choose_threads(8, 2.0, "3", requested=5) == 5
    assert choose_threads(0, None, None) == 1


def test_this_process_gets_at_most_its_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert 1 <= available_threads() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert available_threads() == 7
    assert available_threads(requested=2) == 2


def test_the_environment_waits_passively_unless_told_otherwise() -> None:
    assert thread_environment(2, {}) == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "passive"}
    assert thread_environment(3, {"OMP_WAIT_POLICY": "active"}) == {"OMP_NUM_THREADS": "3"}
    environ: dict[str, str] = {"OMP_NUM_THREADS": "1"}
    assert prepare_process(None, environ) == 1
    assert environ == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}
    assert prepare_process(2, environ) == 2
    assert environ["OMP_NUM_THREADS"] == "2"


def test_the_train_command_sets_openmp_before_lightgbm_loads() -> None:
    """In a fresh interpreter: the CLI module loads without LightGBM, and after the
    command's set-up OpenMP's variables are in the environment LightGBM will read."""
    code = (
        "import os, sys\n"
        "import serving.cli.main\n"
        "assert 'lightgbm' not in sys.modules, 'lightgbm loaded at CLI import'\n"
        "from training.threads import prepare_process\n"
        "n = prepare_process(None)\n"
        "import lightgbm\n"
        "print(n, os.environ['OMP_NUM_THREADS'], os.environ['OMP_WAIT_POLICY'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    count, omp, policy = out.stdout.split()
    assert count == omp
    assert int(count) >= 1
    assert policy == "passive"
