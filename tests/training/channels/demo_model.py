"""A model to review, trained quickly on demo leads (for the channel-review tests)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training.model import LeadModel
from training.trainer import TrainOptions, TrainResult, train_model

#: Generated leads, their ground truth, and a SQL model scoring at qualified trained on them.
Demo = tuple[pd.DataFrame, dict[str, Any], LeadModel]


def train_demo_model(data: LeadData) -> TrainResult:
    """A SQL model scoring at qualified: one member, no refit, a quick learning rate."""
    options = TrainOptions(
        known_at=KnownAt.QUALIFIED,
        target="sql",
        params={"learning_rate": 0.1},
        members=1,
        refit=False,
    )
    return train_model(data, options)


def make_demo(rows: int, seed: int) -> Demo:
    """``rows`` generated leads, their ground truth, and a model trained on them."""
    frame, truth = generate_leads(n=rows, seed=seed)
    data = prepare_frame(load_spec("demo"), frame, source=f"demo(n={rows}, seed={seed})")
    return frame, truth, train_demo_model(data).model
