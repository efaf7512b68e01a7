"""Demo data: synthetic leads with full status histories and known ground truth.

Importing the package is cheap: the defaults (``DEFAULTS``), ``STEPS`` and ``DATA_FORMATS``
come from ``config``; the generator and its data files load at first use of the rest.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from features.demo.config import DATA_FORMATS, DEFAULTS, STEPS, DemoConfig

if TYPE_CHECKING:
    from features.demo.generator import generate_leads
    from features.demo.leads import frame_row_to_lead
    from features.demo.output import DemoSummary, ground_truth_path, write_demo_data

#: Public names loaded at first use, and the module each one lives in.
_LAZY = {
    "generate_leads": "features.demo.generator",
    "frame_row_to_lead": "features.demo.leads",
    "DemoSummary": "features.demo.output",
    "ground_truth_path": "features.demo.output",
    "write_demo_data": "features.demo.output",
}

__all__ = [
    "DATA_FORMATS",
    "DEFAULTS",
    "STEPS",
    "DemoConfig",
    "DemoSummary",
    "frame_row_to_lead",
    "generate_leads",
    "ground_truth_path",
    "write_demo_data",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
