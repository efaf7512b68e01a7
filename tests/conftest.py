"""Test-suite wide settings.

pytest runs two workers on this 2-core machine; LightGBM and BLAS each starting one
OpenMP thread per core on top of that oversubscribes the CPU (spinning OpenMP threads
make LightGBM ~50x slower), so every library gets one thread per worker.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
