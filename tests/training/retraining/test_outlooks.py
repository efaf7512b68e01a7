"""The outlooks' monthly retrain: the gates against known cases, and real retrains on a
demo export with a temporary MLflow store (first champion, a judged challenger, a dry run,
an export without status histories)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features.dataset import LeadData
from features.spec import KnownAt
from training.outlook_check import ChanceCheck, OutlookCheck
from training.registry import CHAMPION, champion_version, outlook_name
from training.retraining.config import Gates, MlflowTarget
from training.retraining.outlooks import champion_check, outlook_gates, retrain_outlooks
from training.retraining.report import Action


def _check(auc: float, ece: float) -> OutlookCheck:
    chances = tuple(
        ChanceCheck(name, leads=500, auc=auc, ece=ece, rate=0.1, mean_p=0.1)
        for name in ("sql_7d", "sql_30d")
    )
    day = pd.Timestamp("2026-01-01", tz="UTC")
    return OutlookCheck(day, day, 1_000, 500, chances)


def test_without_a_champion_only_calibration_decides() -> None:
    assert outlook_gates(_check(0.70, 0.01), None, Gates()).passed
    refused = outlook_gates(_check(0.90, 0.05), None, Gates(max_ece=0.03))
    assert not refused.passed
    assert [r.name for r in refused.failed] == ["calibration (ECE)"]
    noisy = replace(
        _check(0.90, 0.05),
        chances=tuple(replace(c, noise=0.025) for c in _check(0.90, 0.05).chances),
    )
    assert outlook_gates(noisy, None, Gates(max_ece=0.03)).passed  # 0.05 <= 0.03 + 0.025
    assert "no champion" in refused.reasons[1].message


def test_a_challenger_ranking_worse_than_the_champions_own_check_is_refused() -> None:
    champion = {"oot_auc_sql_7d": 0.80, "oot_auc_sql_30d": 0.80, "oot_ece_sql_7d": 0.01}
    gates = Gates(auc_tolerance=0.005)
    assert outlook_gates(_check(0.796, 0.01), champion, gates).passed  # within tolerance
    refused = outlook_gates(_check(0.79, 0.01), champion, gates)
    assert not refused.passed
    [ranking] = refused.failed
    assert ranking.value == pytest.approx(0.79)
    assert ranking.threshold == pytest.approx(0.795)
    assert "sql_30d, sql_7d" in ranking.message
    unchecked = outlook_gates(_check(0.5, 0.01), {}, gates)  # a champion without a check
    assert unchecked.passed
    assert "no out-of-time check" in unchecked.reasons[1].message


def test_a_retrain_promotes_the_first_outlook_then_judges_the_next(
    export: tuple[LeadData, pd.DataFrame], tmp_path: Path
) -> None:
    data, frame = export
    where = MlflowTarget(f"sqlite:///{tmp_path / 'mlflow.db'}", "leadscore", tmp_path / "art")
    name = outlook_name("arrival")
    said: list[str] = []
    [first] = retrain_outlooks(
        frame, data.spec, [KnownAt.ARRIVAL], Gates(), where, progress=said.append
    )
    assert first.action is Action.PROMOTED, first.message
    assert first.version == "1"
    assert champion_version(where.tracking_uri, name, CHAMPION) == "1"
    assert any(note.startswith("out of time: fitted on the") for note in first.notes)
    assert any("checking a challenger out of time" in line for line in said)
    version, metrics = champion_check(where.tracking_uri, name)
    assert version == "1"
    assert metrics is not None
    assert 0.6 < metrics["oot_auc_sql_30d"] <= 1.0

    [dry] = retrain_outlooks(frame, data.spec, [KnownAt.ARRIVAL], Gates(), where, dry_run=True)
    assert dry.action is Action.WOULD_PROMOTE  # the same data: the same check, no worse
    assert dry.version is None
    assert champion_version(where.tracking_uri, name, CHAMPION) == "1"

    strict = Gates(max_ece=0.0001)
    [refused] = retrain_outlooks(frame, data.spec, [KnownAt.ARRIVAL], strict, where)
    assert refused.action is Action.REFUSED
    assert refused.version == "2"
    assert "not promoted" in refused.message
    assert champion_version(where.tracking_uri, name, CHAMPION) == "1"

    [second] = retrain_outlooks(frame, data.spec, [KnownAt.ARRIVAL], Gates(), where)
    assert second.action is Action.PROMOTED, second.message
    assert second.version == "3"
    assert "previous: version 1" in second.message
    assert champion_version(where.tracking_uri, name, CHAMPION) == "3"


def test_an_export_without_status_histories_gets_a_cold_start(
    export: tuple[LeadData, pd.DataFrame], tmp_path: Path
) -> None:
    data, frame = export
    where = MlflowTarget(f"sqlite:///{tmp_path / 'mlflow.db'}", "leadscore", None)
    bare = frame.drop(columns=["status_history"])
    reports = retrain_outlooks(
        bare, data.spec, [KnownAt.ARRIVAL, KnownAt.QUALIFIED], Gates(), where
    )
    assert [r.action for r in reports] == [Action.COLD_START, Action.COLD_START]
    assert all("status_history" in r.message for r in reports)
    assert champion_version(where.tracking_uri, outlook_name("arrival")) is None


def test_a_retrain_as_of_an_earlier_day_sees_only_what_was_known_then(
    export: tuple[LeadData, pd.DataFrame], tmp_path: Path
) -> None:
    data, frame = export
    where = MlflowTarget(f"sqlite:///{tmp_path / 'mlflow.db'}", "leadscore", None)
    end = pd.Timestamp(frame["arrived_at"].max())
    as_of = (end - pd.Timedelta(days=60)).tz_convert("UTC")
    [now] = retrain_outlooks(frame, data.spec, [KnownAt.ARRIVAL], Gates(), where, dry_run=True)
    [then] = retrain_outlooks(
        frame, data.spec, [KnownAt.ARRIVAL], Gates(), where, as_of=as_of, dry_run=True
    )
    fitted_to = as_of - pd.Timedelta(days=210)
    assert then.notes[0].startswith("out of time: fitted on the")
    assert f"up to {fitted_to:%Y-%m-%d} as they stood then" in then.notes[0]
    assert then.notes[0] != now.notes[0]
