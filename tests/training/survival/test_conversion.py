"""The hazard model end to end on demo leads: censored leads used, calibrated per horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.spec import load_spec
from tests.training.survival.conftest import followed
from training.survival.conversion import fit_conversion
from training.survival.maturity import fit_maturity_model, maturity_labels
from training.survival.metrics import weighted_ece

HORIZONS = (7, 30, 90)


def test_sql_hazards_are_calibrated_per_horizon(leads: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, later = leads
    f = followed(train, "sql")
    assert 0 < f.event.mean() < 0.3
    assert (f.days < 90).sum() > 1_000
    model = fit_conversion(load_spec("demo"), train, f, HORIZONS)
    p = model.predict(later)
    assert (p[7] <= p[30]).all()
    assert (p[30] <= p[90]).all()
    for h in HORIZONS:
        y = (later["true_days_to_sql"] <= h).to_numpy()  # the generator's uncensored truth
        oracle = later[f"true_p_sql_{h}d_arrival"].to_numpy()
        assert weighted_ece(y, p[h]) < 0.035
        assert roc_auc_score(y, p[h]) > 0.85 * roc_auc_score(y, oracle)
        assert abs(p[h].mean() - y.mean()) < 0.03


def test_maturity_rule_leaves_young_open_leads_out(
    leads: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, later = leads
    f = followed(train, "won")
    settled = maturity_labels(f, maturity_days=90)
    young_open = (~f.event) & (f.days < 90)
    assert not np.isin(np.flatnonzero(young_open), settled.rows).any()
    assert settled.y.sum() == f.event.sum()  # every won lead counts, young or not
    model = fit_maturity_model(load_spec("demo"), train, f)
    p = model.predict(later)
    assert p.shape == (len(later),)
    assert ((p >= 0) & (p <= 1)).all()
