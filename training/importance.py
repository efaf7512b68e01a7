"""Global importance per source field: LightGBM gain and mean |SHAP| (its own contributions)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.model import Inputs, LeadModel


def importance_table(model: LeadModel, sample: Inputs) -> pd.DataFrame:
    """One row per source field: total split gain and mean |contribution| on ``sample``.

    Contributions are LightGBM's ``pred_contrib`` (exact TreeSHAP values in log-odds),
    or coefficient x centred value for a logistic model, summed per source field.
    """
    matrix = model.transform(sample)
    fields, contrib = model.source_contributions(matrix)
    table = pd.DataFrame(
        {
            "source": fields,
            "mean_abs_shap": np.abs(contrib).mean(axis=0),
            "mean_shap": contrib.mean(axis=0),
        }
    )
    gain = np.full(len(fields), np.nan)
    boosters = [b for m in model.members for b in getattr(m.estimator, "boosters", [])]
    if boosters:
        per_column = np.sum(
            [b.feature_importance(importance_type="gain") for b in boosters], axis=0
        )
        position = {name: i for i, name in enumerate(fields)}
        gain = np.zeros(len(fields))
        for source, value in zip(model.featurizer.feature_sources_, per_column, strict=True):
            gain[position[source]] += float(value)
    table["gain"] = gain
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)
