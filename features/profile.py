"""A one-screen profile of a loaded data set, for ``leadscore check-data``.

What a person checks before training: how many rows were read and left out (by which
rule), how well each lookup matched, each target's rate, each feature's type, missing
share and number of distinct values, and which columns of the file were read but are not
used (neither a role, a feature nor dropped with a reason), and which features have no
display label in the spec (their reasons read as a default made from the column name).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.checks import column_values, unused_columns
from features.coerce import is_missing, to_text
from features.dataset import LeadData
from features.labels import unlabelled


@dataclass(frozen=True)
class FeatureProfile:
    column: str
    type: str
    known_at: str
    missing: float  # share of rows
    distinct: int  # distinct present values


@dataclass(frozen=True)
class DataProfile:
    rows: int
    rows_read: int
    target_rates: dict[str, float]
    features: list[FeatureProfile]
    unused: list[str]  # columns of the file the spec neither uses nor drops
    dropped: list[tuple[str, str]]  # (column, reason) of the columns the spec drops
    unlabelled: list[str] = field(default_factory=list)  # features without a display label


def profile(data: LeadData) -> DataProfile:
    """The profile of ``data`` (pure: reads only what loading kept)."""
    spec = data.spec
    features = []
    for feature in spec.features:
        if feature.column not in data.frame.columns:
            continue
        raw = column_values(data.frame, feature.column)
        markers = [*spec.missing_values, *feature.missing_values]
        missing = is_missing(raw, markers)
        present = to_text(raw[~missing])
        features.append(
            FeatureProfile(
                column=feature.column,
                type=feature.type.value,
                known_at=feature.known_at.value,
                missing=float(missing.mean()) if len(raw) else 0.0,
                distinct=len(set(present.tolist())),
            )
        )
    columns = data.columns_read
    dropped = [(c, d.reason) for c in columns for d in spec.drop if d.matches(c)]
    return DataProfile(
        rows=len(data),
        rows_read=data.rows_read if data.rows_read is not None else len(data),
        target_rates={name: float(np.mean(y)) for name, y in data.targets.items()},
        features=features,
        unused=unused_columns(columns, spec),
        dropped=list(dict.fromkeys(dropped)),
        unlabelled=unlabelled((f.column, f) for f in spec.features),
    )
