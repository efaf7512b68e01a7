"""How the channel review's tables read as text: rates as percentages, money rounded,
counts with thousands separators. Shared by the report's HTML file and the app's page."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from features.i18n import N_
from training.channels.money import DealMoney
from training.channels.words import group_label, report_words, verdict_text

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


#: Columns whose values are group keys (the all-leads row is put into words).
_GROUP_COLUMNS = ("channel", "sdr")


def cell_text(
    column: str, value: Any, locale: str | None = "en", money: DealMoney | None = None
) -> str:
    """A table value as people read it in ``locale``; a missing one is a dash. Numbers
    read the same in every language; verdicts, yes/no and the all-leads row are words;
    money (``avg_*``, ``*_value``) as ``money`` writes it (the report's, in its display
    currency), else rounded."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return report_words(locale).gettext(N_("yes") if value else N_("no"))
    if isinstance(value, str) and column == "verdict":
        return verdict_text(value, locale)
    if isinstance(value, str) and column in _GROUP_COLUMNS:
        return group_label(value, locale)
    if isinstance(value, float):
        if column.endswith(PERCENT_SUFFIXES) or "_to_" in column:
            return f"{value:.1%}"
        if column.startswith("avg_") or column.endswith("_value"):
            return f"{value:,.0f}" if money is None else money.text(value, locale)
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m")
    return str(value)
