"""Writing a demo data set: the data file (Parquet or CSV), the ground truth and a summary."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from features.demo.config import DATA_FORMATS, DEFAULTS, STEPS
from features.demo.generator import ProgressCallback, generate_leads, no_progress


@dataclass(frozen=True)
class ChannelSummary:
    name: str
    leads: int
    sql_rate: float
    won_rate: float


@dataclass(frozen=True)
class DemoSummary:
    """What ``write_demo_data`` wrote."""

    path: Path
    ground_truth_path: Path
    rows: int
    start: date
    end: date
    months: int
    sql_rate: float
    won_rate: float
    channels: tuple[ChannelSummary, ...]
    oracle_auc: dict[str, float | None]
    seconds: float


def ground_truth_path(path: Path) -> Path:
    """``<stem>.ground_truth.json`` beside the data file."""
    return path.with_name(f"{path.stem}.ground_truth.json")


def write_demo_data(
    path: Path,
    n: int = DEFAULTS.n,
    seed: int = DEFAULTS.seed,
    *,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Generate ``n`` leads and write them (Parquet or CSV, by extension) plus the ground truth."""
    fmt = DATA_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path}: unknown data format '{path.suffix}'; expected one of: "
            + ", ".join(DATA_FORMATS)
        )
    began = time.perf_counter()
    frame, truth = generate_leads(n, seed, progress=progress)
    (progress or no_progress)(STEPS[6])
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    truth_path = ground_truth_path(path)
    truth_path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return _summary(path, truth_path, len(frame), truth, time.perf_counter() - began)


def _summary(
    path: Path, truth_path: Path, rows: int, truth: dict[str, Any], seconds: float
) -> DemoSummary:
    return DemoSummary(
        path=path,
        ground_truth_path=truth_path,
        rows=rows,
        start=date.fromisoformat(truth["start"]),
        end=date.fromisoformat(truth["end"]),
        months=truth["months"],
        sql_rate=truth["rates"]["realised_sql"],
        won_rate=truth["rates"]["realised_won"],
        channels=tuple(
            ChannelSummary(
                name, c["leads"], c["realised_sql_rate"] or 0.0, c["realised_won_rate"] or 0.0
            )
            for name, c in truth["channels"].items()
        ),
        oracle_auc=dict(truth["oracle_auc"]),
        seconds=seconds,
    )
