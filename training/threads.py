"""How many threads LightGBM gets: the cores this process may actually use.

A machine's core count is not what a process may use: the scheduler's affinity mask, a
cgroup CPU quota (containers, CI runners) and ``OMP_NUM_THREADS`` all bound it, and more
OpenMP threads than usable cores make LightGBM several times slower, its threads
spinning while they wait for each other. The choice is pure (:func:`choose_threads`);
reading the machine is :func:`available_threads`; :func:`prepare_process` sets the OpenMP
environment once, where a command starts, before LightGBM (and OpenMP) is loaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

#: The cgroup v2 CPU limit of this process (absent outside a cgroup v2 hierarchy).
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def parse_cpu_max(text: str) -> float | None:
    """The CPU quota in cores from a cgroup v2 ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD");
    None when there is no quota or the text cannot be read as one."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_thread_count(value: str | None) -> int | None:
    """A positive thread count from an environment value like ``OMP_NUM_THREADS`` (its
    first entry when it is a list such as "4,2"); None when unset or not a count."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def choose_threads(
    affinity: int, quota: float | None, omp_num_threads: str | None, requested: int | None = None
) -> int:
    """The thread count: ``requested`` if given, else ``OMP_NUM_THREADS`` if set, else the
    usable cores (the affinity mask, bounded by the quota rounded up); at least 1."""
    if requested is not None and requested > 0:
        return requested
    from_env = parse_thread_count(omp_num_threads)
    if from_env is not None:
        return from_env
    cores = max(1, affinity)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return cores


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _quota(path: Path = CPU_MAX) -> float | None:
    try:
        return parse_cpu_max(path.read_text())
    except OSError:
        return None


def available_threads(requested: int | None = None) -> int:
    """:func:`choose_threads` on this process: affinity, cgroup quota, ``OMP_NUM_THREADS``."""
    return choose_threads(_affinity(), _quota(), os.environ.get("OMP_NUM_THREADS"), requested)


def thread_environment(threads: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The OpenMP variables to set for ``threads``: the count, and passive waiting (idle
    threads sleep instead of spinning on cores other work needs); a wait policy already
    set is kept."""
    out = {"OMP_NUM_THREADS": str(threads)}
    if "OMP_WAIT_POLICY" not in environ:
        out["OMP_WAIT_POLICY"] = "passive"
    return out


def prepare_process(
    requested: int | None = None, environ: MutableMapping[str, str] = os.environ
) -> int:
    """Choose the thread count and set the OpenMP environment of this process; call it
    where a command starts, before LightGBM is imported (OpenMP reads it once, at load).
    Returns the count."""
    threads = choose_threads(_affinity(), _quota(), environ.get("OMP_NUM_THREADS"), requested)
    environ.update(thread_environment(threads, environ))
    return threads
