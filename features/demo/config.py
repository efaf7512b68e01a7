"""The demo generator's defaults and fixed settings.

Cheap to import (standard library only), so the command line can show the defaults in
``--help`` without loading the generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

GENERATOR_VERSION = "1.1"  # 1.1: deal values by service and company size


@dataclass(frozen=True)
class DemoConfig:
    """What a demo data set is generated with unless told otherwise."""

    n: int = 60_000  # leads
    seed: int = 42
    end: date = date(2026, 10, 31)  # last day of arrivals
    months: int = 20  # arrival window, ending with ``end``'s month
    arrival_redraws: int = 64  # redraws of the answers per context for the arrival oracle
    local_utc_offset_hours: int = 3  # Moscow time (no daylight saving): the SDR team's hours


DEFAULTS = DemoConfig()

#: What ``write_demo_data`` reports to its ``progress`` callback, in order.
STEPS: tuple[str, ...] = (
    "arrivals and texts",
    "qualification answers",
    f"arrival oracle ({DEFAULTS.arrival_redraws} redraws)",
    "status histories",
    "frame",
    "ground truth",
    "writing",
)

#: Output file extensions and the format each one writes.
DATA_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
