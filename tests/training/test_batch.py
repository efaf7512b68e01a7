"""Batch scoring streams a file chunk by chunk and scores exactly as one call on all rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.dataset import DatasetError, prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from features.tiers import Tiers
from tests.training.conftest import OUTCOMES
from training.batch import read_chunks, score_file, scoring_spec
from training.model import LeadModel
from training.trainer import TrainOptions, fit_final

ROWS = 3000


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    frame, _truth = generate_leads(n=ROWS, seed=11)
    return frame


@pytest.fixture(scope="module")
def model(leads: pd.DataFrame) -> LeadModel:
    data = prepare_frame(load_spec("demo"), leads)
    return fit_final(data, TrainOptions(target="won", params={"learning_rate": 0.2}))


def one_shot(model: LeadModel, leads: pd.DataFrame) -> pd.Series:
    """The model on every row at once (the in-memory path training and evaluation use)."""
    data = prepare_frame(load_spec("demo"), leads)
    return pd.Series(model.predict_proba(data.frame), index=data.ids)


def test_parquet_in_chunks_scores_as_one_call_on_all_rows(
    model: LeadModel, leads: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "to_score.parquet"
    leads.drop(columns=OUTCOMES).to_parquet(source)
    out = tmp_path / "scores.parquet"
    seen: list[tuple[int, int]] = []
    summary = score_file(
        model,
        load_spec("demo"),
        source,
        out,
        chunk_rows=700,
        on_chunk=lambda r, s: seen.append((r, s)),
    )
    assert (summary.rows_read, summary.rows_scored, summary.chunks) == (ROWS, ROWS, 5)
    assert seen[-1] == (ROWS, ROWS)
    scores = pd.read_parquet(out)
    assert list(scores.columns) == ["id", "probability", "tier"]
    assert scores["id"].is_unique
    expected = one_shot(model, leads).loc[scores["id"]].to_numpy()
    np.testing.assert_allclose(scores["probability"].to_numpy(), expected, rtol=0, atol=1e-12)
    assert list(scores["tier"]) == list(Tiers().of_many(expected))


def test_csv_with_reasons_and_own_separator(
    model: LeadModel, leads: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "to_score.csv"
    leads.head(500).to_csv(source, sep=";", index=False)
    out = tmp_path / "scores.parquet"
    score_file(model, load_spec("demo"), source, out, chunk_rows=128, reasons=3)
    scores = pd.read_parquet(out)
    assert len(scores) == 500
    # read from text, like the CSV export training would read
    text = pd.read_csv(source, sep=";", dtype=str, keep_default_na=False)
    expected = one_shot(model, text).loc[scores["id"]].to_numpy()
    np.testing.assert_allclose(scores["probability"].to_numpy(), expected, rtol=0, atol=1e-12)
    reasons = [json.loads(r) for r in scores["reasons"]]
    assert any(reasons), "some lead has a reason"
    first = next(r for r in reasons if r)[0]
    assert {"field", "phrase", "direction", "contribution"} <= set(first)


def test_a_bad_row_names_its_line_and_leaves_no_output(
    model: LeadModel, leads: pd.DataFrame, tmp_path: Path
) -> None:
    broken = leads.head(300).copy()
    broken["arrived_at"] = broken["arrived_at"].astype(str)
    broken.loc[250, "arrived_at"] = "yesterday-ish"
    source = tmp_path / "broken.csv"
    broken.to_csv(source, index=False)
    out = tmp_path / "scores.parquet"
    with pytest.raises(DatasetError) as caught:
        score_file(model, load_spec("demo"), source, out, chunk_rows=100)
    problems = caught.value.problems
    assert any(p.row == 252 and p.column == "arrived_at" for p in problems), problems
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]


def test_the_scoring_spec_reads_no_outcome_and_nothing_known_later() -> None:
    spec = scoring_spec(load_spec("demo"), KnownAt.ARRIVAL)
    assert spec.targets == {}
    assert {f.known_at for f in spec.features} == {KnownAt.ARRIVAL}
    with pytest.raises(DatasetError, match="no such file"):
        list(read_chunks(spec, Path("/nonexistent/leads.parquet"), 10))
