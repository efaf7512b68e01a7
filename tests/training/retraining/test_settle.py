"""Settling several targets at once: one validation, each target its own settled leads."""

from __future__ import annotations

import pandas as pd

from features.spec import load_spec
from tests.training.retraining.cases import AS_OF, labels_of
from training.retraining.labels import label_settled
from training.retraining.settle import settle_shared


def test_targets_share_one_validation_and_keep_their_own_leads(cases: pd.DataFrame) -> None:
    both = settle_shared(load_spec("demo"), cases, ["sql", "won"], AS_OF, 90)
    for target, reach in (("sql", "sql"), ("won", "won")):
        settled, data = both.of(target)
        assert data is not None
        alone = labels_of(label_settled(cases, AS_OF, 90, reach=reach).frame, target)
        assert dict(zip(data.ids, data.targets[target].tolist(), strict=True)) == alone
        assert settled.reach == reach
    assert both.of("won")[0].too_young == 2
