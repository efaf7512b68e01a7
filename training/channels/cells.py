"""How the channel review's tables read as text: rates as percentages, money rounded,
counts with thousands separators. Shared by the report's HTML file and the app's page."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Columns whose fractions read as percentages (``*_to_*`` step rates too).
PERCENT_SUFFIXES = ("_rate", "mean_predicted", "calibration_gap")
#: The summary table's columns, in the order both renderings show them.
SUMMARY_COLUMNS = [
    "channel",
    "leads",
    "conversions",
    "conversion_rate",
    "mean_predicted",
    "verdict",
]


def cell_text(column: str, value: Any) -> str:
    """A table value as people read it; a missing one is a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.endswith(PERCENT_SUFFIXES) or "_to_" in column:
            return f"{value:.1%}"
        if column.startswith("avg_") or column.endswith("_value"):
            return f"{value:,.0f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m")
    return str(value)
