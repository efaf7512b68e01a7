"""One demo data set shared by the demo tests, and helpers to read its outcomes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.demo import generate_leads
from features.funnel import Stage, Status

N = 20_000
SEED = 11
END = pd.Timestamp("2026-11-01", tz="UTC")  # export time: the day after the default end
TERMINAL = {s.value for s in Status if s.is_terminal}


@pytest.fixture(scope="session")
def demo() -> tuple[pd.DataFrame, dict[str, Any]]:
    return generate_leads(N, SEED)


@pytest.fixture(scope="session")
def frame(demo: tuple[pd.DataFrame, dict[str, Any]]) -> pd.DataFrame:
    return demo[0]


@pytest.fixture(scope="session")
def truth(demo: tuple[pd.DataFrame, dict[str, Any]]) -> dict[str, Any]:
    return demo[1]


def stage_ranks(frame: pd.DataFrame) -> np.ndarray:
    return frame["stage_reached"].map({s.value: s.rank for s in Stage}).to_numpy()


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def histories(frame: pd.DataFrame) -> list[list[dict[str, str]]]:
    return [json.loads(text) for text in frame["status_history"]]
