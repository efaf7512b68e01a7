"""Retraining logic: labels at the maturity boundaries, the window, the gates, tiers, and one
real retrain cycle on a temporary MLflow store (promote, no-op repeat, refusal, aliases)."""

from __future__ import annotations

import json
from datetime import UTC, date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.lead import BANT_COLUMNS
from features.spec import KnownAt, load_spec
from training.metrics import Metrics, expected_calibration_error
from training.registry import (
    PREVIOUS,
    PromotionError,
    champion_version,
    load_champion,
    promote,
    rollback,
)
from training.retraining import cycle
from training.retraining.cycle import Action, MlflowTarget, RetrainConfig, retrain
from training.retraining.drift import FeaturePsi
from training.retraining.policy import (
    Gates,
    choose_window,
    cold_start,
    ece_noise,
    evaluate_gates,
    evaluation_window,
    label_settled,
    tier_changes,
    utc_timestamp,
)
from training.settings import TrainingSettings
from training.tiers import Tiers

AS_OF = pd.Timestamp("2026-06-01", tz=UTC)
CUTOFF = AS_OF - pd.Timedelta(days=90)  # 2026-03-03: open leads from then on are too young
SECOND = pd.Timedelta(seconds=1)


def _history(*changes: tuple[str, pd.Timestamp]) -> str:
    return json.dumps([{"status": s, "at": at.isoformat()} for s, at in changes])


def _case(
    arrived: pd.Timestamp, changes: list[tuple[str, pd.Timestamp]], stage: str
) -> dict[str, Any]:
    status, at = changes[-1]
    closed = status in {"won", "lost", "disqualified", "partner", "other_department"}
    return {
        "arrived_at": arrived,
        "status": status,
        "stage_reached": stage,
        "status_history": _history(*changes),
        "closed_at": at if closed else pd.NaT,
    }


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


CASES: dict[str, dict[str, Any]] = {
    # closed at exactly as_of: counts
    "closed_at_as_of": _case(
        _day("2026-05-20"),
        [("new", _day("2026-05-20")), ("sdr_qualifying", _day("2026-05-21")), ("lost", AS_OF)],
        "lead",
    ),
    # won a second after as_of: at as_of it was an SQL, still open
    "won_after": _case(
        _day("2026-05-20"),
        [
            ("new", _day("2026-05-20")),
            ("sdr_qualifying", _day("2026-05-21")),
            ("awaiting_manager", _day("2026-05-25")),
            ("discussing", _day("2026-05-30")),
            ("won", AS_OF + SECOND),
        ],
        "won",
    ),
    # open, arrived exactly at the maturity boundary: counts, not converted
    "mature_exactly": _case(
        CUTOFF, [("new", CUTOFF), ("sdr_qualifying", CUTOFF + pd.Timedelta(days=1))], "lead"
    ),
    # open, one second younger: left out
    "young_by_a_second": _case(CUTOFF + SECOND, [("new", CUTOFF + SECOND)], "lead"),
    # arrived after as_of: left out
    "future": _case(AS_OF + SECOND, [("new", AS_OF + SECOND)], "lead"),
    # old and open; it reached SQL only after as_of: as of then an MQL, not converted
    "sql_later": _case(
        _day("2026-02-01"),
        [
            ("new", _day("2026-02-01")),
            ("sdr_qualifying", _day("2026-02-02")),
            ("awaiting_manager", _day("2026-02-05")),
            ("discussing", _day("2026-06-10")),
            ("proposal", _day("2026-06-20")),
        ],
        "sal",
    ),
    # won before as_of
    "won_before": _case(
        _day("2026-04-01"),
        [
            ("new", _day("2026-04-01")),
            ("sdr_qualifying", _day("2026-04-01 10:00")),
            ("discussing", _day("2026-04-10")),
            ("won", _day("2026-05-10")),
        ],
        "won",
    ),
}


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    """Real demo rows (every spec column) with the outcomes of CASES written over them."""
    frame, _truth = generate_leads(n=len(CASES), seed=1, end=date(2026, 6, 30), months=6)
    frame["external_id"] = list(CASES)
    for column in ("arrived_at", "status", "stage_reached", "status_history", "closed_at"):
        values = [case[column] for case in CASES.values()]
        frame[column] = pd.Series(values, dtype=frame[column].dtype)
    return frame


def _labels(frame: pd.DataFrame, target: str) -> dict[str, int]:
    data = prepare_frame(load_spec("demo"), frame, source="cases")
    return dict(zip(data.ids, data.targets[target].tolist(), strict=True))


def test_maturity_window_at_its_boundaries(cases: pd.DataFrame) -> None:
    sql = label_settled(cases, AS_OF, 90, reach="sql")
    assert _labels(sql.frame, "sql") == {
        "closed_at_as_of": 0,
        "won_after": 1,  # an SQL stays an SQL: settled for this target
        "mature_exactly": 0,
        "sql_later": 0,  # no label from the future
        "won_before": 1,
    }
    assert (sql.closed, sql.reached, sql.matured, sql.too_young, sql.future) == (2, 1, 2, 1, 1)
    later = sql.frame.set_index("external_id").loc["sql_later"]
    assert (later["status"], later["stage_reached"]) == ("awaiting_manager", "mql")
    assert pd.isna(later["closed_at"])
    assert set(sql.open_frame["external_id"]) == {
        "won_after",
        "mature_exactly",
        "young_by_a_second",
        "sql_later",
    }

    won = label_settled(cases, AS_OF, 90, reach="won")
    assert _labels(won.frame, "won") == {
        "closed_at_as_of": 0,
        "mature_exactly": 0,
        "sql_later": 0,
        "won_before": 1,
    }  # won_after is still open and young for a deal
    assert won.too_young == 2

    # a day later the lead closed at as_of + 1s counts as won
    assert (
        _labels(label_settled(cases, AS_OF + SECOND, 90, reach="won").frame, "won")["won_after"]
        == 1
    )
    # a shorter maturity window takes the younger open lead in
    assert "young_by_a_second" in set(label_settled(cases, AS_OF, 89).frame["external_id"])


def test_targets_share_one_validation_and_keep_their_own_leads(cases: pd.DataFrame) -> None:
    both = cycle.settle_targets(load_spec("demo"), cases, ["sql", "won"], AS_OF, 90)
    for target, reach in (("sql", "sql"), ("won", "won")):
        settled, data = both[target]
        assert data is not None
        alone = _labels(label_settled(cases, AS_OF, 90, reach=reach).frame, target)
        assert dict(zip(data.ids, data.targets[target].tolist(), strict=True)) == alone
        assert settled.reach == reach
    assert both["won"][0].too_young == 2


def test_without_a_history_leads_closed_later_are_left_out(cases: pd.DataFrame) -> None:
    settled = label_settled(cases.drop(columns=["status_history"]), AS_OF, 90, reach="won")
    assert "won_after" not in set(settled.frame["external_id"])
    assert any("closed after as_of" in note for note in settled.notes)
    assert {"closed_at_as_of", "won_before"} <= set(settled.frame["external_id"])


def test_label_settled_rejects_bad_input(cases: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="maturity_days"):
        label_settled(cases, AS_OF, -1)
    with pytest.raises(ValueError, match="no time column 'created'"):
        label_settled(cases, AS_OF, time_column="created")


def test_evaluation_window_is_the_last_complete_months() -> None:
    june = evaluation_window("2026-07-01")
    assert (june.start, june.end, june.label) == (_day("2026-06-01"), _day("2026-07-01"), "2026-06")
    assert evaluation_window(_day("2026-07-31 23:59:59")).label == "2026-06"
    assert evaluation_window(date(2026, 1, 15), months=3).label == "2025-10..2025-12"
    with pytest.raises(ValueError, match="at least 1 month"):
        evaluation_window("2026-07-01", months=0)


def test_window_moves_back_past_months_that_have_not_settled() -> None:
    """June: half its leads still open; May: 95% closed. May judges the models."""
    rows = []
    for month, closed in (("2026-05", 95), ("2026-06", 50)):
        for i in range(100):
            arrived = _day(f"{month}-10") + pd.Timedelta(hours=i)
            done = i < closed
            rows.append(
                {
                    "arrived_at": arrived,
                    "status": "lost" if done else "sdr_qualifying",
                    "closed_at": arrived + pd.Timedelta(days=2) if done else pd.NaT,
                }
            )
    settled = label_settled(pd.DataFrame(rows), "2026-07-02", 90)
    choice = choose_window(settled)
    assert choice.window.label == "2026-05"
    assert (choice.leads, choice.settled) == (100, 95)
    assert choice.skipped == [("2026-06", 0.5)]
    assert "2026-06 50%" in choice.summary()
    assert choose_window(settled, min_settled_share=0.5).window.label == "2026-06"


def _metrics(auc: float, loss: float, ece: float, positives: int = 60, rows: int = 600) -> Metrics:
    return Metrics(
        rows=rows,
        positives=positives,
        base_rate=positives / rows,
        roc_auc=auc,
        pr_auc=0.3,
        log_loss=loss,
        brier=0.1,
        ece=ece,
        lift_10=2.0,
        lift_20=1.8,
        capture_10=0.2,
        capture_20=0.36,
    )


def _gates(decision: Any) -> dict[str, bool]:
    return {r.name: r.passed for r in decision.reasons}


STABLE = [FeaturePsi("channel", "channel", 0.05)]


def test_first_model_needs_no_champion() -> None:
    decision = evaluate_gates(_metrics(0.7, 0.4, 0.02), None, (100, 400), STABLE, Gates())
    assert decision.passed
    assert "no champion yet" in decision.reasons[2].message
    assert decision.summary() == "promote: every gate passed"


def test_auc_tolerance_and_improvement() -> None:
    champion = _metrics(0.80, 0.40, 0.02)
    worse = evaluate_gates(_metrics(0.79, 0.38, 0.02), champion, (100, 400), STABLE, Gates())
    assert _gates(worse)["ROC-AUC vs champion"] is False
    assert "-0.0100" in worse.failed[0].message
    within = evaluate_gates(_metrics(0.798, 0.39, 0.02), champion, (100, 400), STABLE, Gates())
    assert within.passed  # trails by 0.002 < 0.005, better on log loss
    assert "better on log loss" in within.reasons[3].message
    same = evaluate_gates(_metrics(0.80, 0.40, 0.02), champion, (100, 400), STABLE, Gates())
    assert _gates(same) == {**_gates(same), "better than champion": False}
    assert not same.passed  # the same model again promotes nothing
    looser = Gates(auc_tolerance=0.02)
    assert _gates(evaluate_gates(_metrics(0.79, 0.38, 0.02), champion, (100, 400), STABLE, looser))[
        "ROC-AUC vs champion"
    ]


def test_calibration_bound_counts_sampling_noise() -> None:
    gates = Gates(max_ece=0.03)
    assert evaluate_gates(
        _metrics(0.7, 0.4, 0.045), None, (100, 400), STABLE, gates, noise=0.02
    ).passed
    refused = evaluate_gates(_metrics(0.7, 0.4, 0.06), None, (100, 400), STABLE, gates, noise=0.02)
    assert [r.name for r in refused.failed] == ["calibration (ECE)"]
    assert refused.failed[0].threshold == pytest.approx(0.05)
    assert "0.0200 expected from sampling 600 leads" in refused.failed[0].message


def test_ece_noise_is_what_a_calibrated_model_shows() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.5, size=600)
    observed = [expected_calibration_error(rng.random(600) < p, p) for _ in range(300)]
    assert ece_noise(p) == pytest.approx(np.mean(observed), rel=0.15)
    assert ece_noise(np.repeat(p, 100)) == pytest.approx(ece_noise(p) / 10, rel=0.05)


def test_drift_gate_names_fields_and_honours_the_allow_list() -> None:
    rows = [
        FeaturePsi("channel", "channel", 0.05),
        FeaturePsi("email_kind", "email", 0.9),
        FeaturePsi("arrived_at_month", "arrived_at", 5.0, seasonal=True),
    ]
    refused = evaluate_gates(_metrics(0.7, 0.4, 0.02), None, (100, 400), rows, Gates())
    assert [r.name for r in refused.failed] == ["feature drift (PSI)"]
    assert "email_kind (email) 0.900" in refused.failed[0].message
    assert "arrived_at_month" not in refused.failed[0].message  # calendar parts never gate
    allowed = evaluate_gates(
        _metrics(0.7, 0.4, 0.02), None, (100, 400), rows, Gates(allow_drift=("email",))
    )
    assert allowed.passed
    assert "allowed: email_kind 0.900" in allowed.reasons[-1].message


def test_window_positives_and_cold_start() -> None:
    few = evaluate_gates(_metrics(0.7, 0.4, 0.02, positives=5), None, (100, 400), STABLE, Gates())
    assert [r.name for r in few.failed] == ["window positives"]
    gate = cold_start(12, 300, Gates(), "sql")
    assert not gate.passed
    assert "only 12 positive and 300 negative" in gate.message
    assert "28 more positive outcome(s) needed" in gate.message
    assert "fallback rule" in gate.message
    assert cold_start(40, 40, Gates(), "sql").passed
    assert "25 more negative" in cold_start(50, 15, Gates(), "won").message


def test_gate_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_ece"):
        Gates(max_ece=0)
    with pytest.raises(ValueError, match="at least 1"):
        Gates(min_positives=0)
    assert Gates().digest() != Gates(allow_drift=("email",)).digest()


def test_tier_changes_under_fixed_cutoffs() -> None:
    before = np.array([0.6, 0.3, 0.05, 0.2, 0.9])
    after = np.array([0.4, 0.3, 0.15, 0.26, 0.95])
    changes = tier_changes(before, after, Tiers(0.5, 0.25, 0.1))
    assert (changes.leads, changes.changed, changes.up, changes.down) == (5, 3, 2, 1)
    assert changes.matrix.loc["A", "B"] == 1
    assert changes.matrix.loc["D", "C"] == 1
    assert changes.matrix.to_numpy().sum() == 5
    assert changes.summary() == "3 of 5 open leads (60.0%) would change tier: 2 up, 1 down"


# --------------------------------------------------------------------------- a real cycle


def test_a_retrain_cycle_on_a_real_registry(
    mlflow_settings: TrainingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, _truth = generate_leads(n=3600, seed=11, end=date(2026, 6, 30), months=6)
    spec = load_spec("demo")
    target = MlflowTarget(
        mlflow_settings.tracking_uri, "retrain-test", mlflow_settings.artifact_root
    )
    pairs = [(KnownAt.ARRIVAL, "sql")]
    config = RetrainConfig(as_of=utc_timestamp("2026-06-15"), params={"learning_rate": 0.1})
    name = "leadscore-arrival-sql"

    dry = retrain(frame, spec, pairs, RetrainConfig(**{**config.__dict__, "dry_run": True}), target)
    assert dry[0].action is Action.WOULD_PROMOTE
    assert champion_version(target.tracking_uri, name) is None  # a dry run registers nothing

    [first] = retrain(frame, spec, pairs, config, target)
    assert first.action is Action.PROMOTED, first.message
    assert first.version == "1"
    assert champion_version(target.tracking_uri, name) == "1"
    client = MlflowClient(tracking_uri=target.tracking_uri, registry_uri=target.tracking_uri)
    assert first.run_id is not None
    tags = client.get_run(first.run_id).data.tags
    assert tags["retrain.decision"] == "promoted"
    assert tags["retrain.window"] == "2026-05"
    assert tags["gate.calibration_ece"] == "pass"
    assert tags["retrain.trained_until"].startswith("2026-05-01")
    path = client.download_artifacts(first.run_id, "decision.json", str(mlflow_settings.data_dir))
    decision = json.loads(Path(path).read_text())
    assert decision["action"] == "promoted"
    assert [g["passed"] for g in decision["decision"]["reasons"]] == [True] * 6
    assert decision["tier_changes"]["leads"] > 0
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"decision.json", "drift.md", "drift.html", "tier_changes.csv"} <= artifacts

    champion = load_champion(target.tracking_uri, name)
    assert champion is not None
    known_later = [c for c in champion.model.input_columns if c in BANT_COLUMNS or c[:2] == "q_"]
    assert known_later == []  # the arrival model never reads qualification answers

    [again] = retrain(frame, spec, pairs, config, target)
    assert again.action is Action.UNCHANGED
    assert again.run_id == first.run_id

    # forced: the same data gives the same model, which is not better: refused, registered
    [forced] = retrain(
        frame, spec, pairs, RetrainConfig(**{**config.__dict__, "force": True}), target
    )
    assert forced.action is Action.REFUSED
    assert forced.decision is not None
    assert [r.name for r in forced.decision.failed] == ["better than champion"]
    assert forced.version == "2"
    assert champion_version(target.tracking_uri, name) == "1"
    assert client.get_model_version(name, "2").tags["retrain.decision"] == "refused"

    # the aliases by hand: promote a refused version after review, then roll back twice
    change = promote(target.tracking_uri, name, "2")
    assert (change.champion, change.replaced) == ("2", "1")
    assert champion_version(target.tracking_uri, name, PREVIOUS) == "1"
    back = rollback(target.tracking_uri, name)
    assert (back.champion, back.replaced, back.previous) == ("1", "2", None)
    assert champion_version(target.tracking_uri, name, PREVIOUS) is None
    with pytest.raises(PromotionError, match="no 'previous' version"):
        rollback(target.tracking_uri, name)
    with pytest.raises(PromotionError, match="has no version 7; versions: 1, 2"):
        promote(target.tracking_uri, name, "7")

    # on large data the production recipe is fitted alone (here: pretend 100 rows is large)
    monkeypatch.setattr(cycle, "FULL_TRAINING_MAX_ROWS", 100)
    [lean] = retrain(
        frame, spec, pairs, RetrainConfig(**{**config.__dict__, "force": True}), target
    )
    assert lean.version == "3"
    assert any("production recipe was fitted alone" in note for note in lean.notes)
    assert lean.challenger_kind == "lightgbm"
    assert lean.challenger is not None
    assert first.challenger is not None
    assert lean.challenger.rows == first.challenger.rows  # the same window
    assert lean.decision is not None
    assert lean.action is (Action.PROMOTED if lean.decision.passed else Action.REFUSED)


def test_a_champion_fitted_on_the_window_is_judged_by_its_own_test(
    mlflow_settings: TrainingSettings,
) -> None:
    """`leadscore train` fits the final model on every lead, the window's too: scored there
    it would look better than any challenger. It is compared by its logged test instead."""
    from training.registry import ensure_experiment
    from training.tracking.runs import log_training_run, training_record
    from training.trainer import TrainOptions, train_model

    frame, _truth = generate_leads(n=3600, seed=12, end=date(2026, 6, 30), months=6)
    spec = load_spec("demo")
    target = MlflowTarget(mlflow_settings.tracking_uri, "in-sample", mlflow_settings.artifact_root)
    ensure_experiment(target.tracking_uri, target.experiment, target.artifact_root)
    data = prepare_frame(spec, frame, source="demo")
    trained = train_model(data, TrainOptions(params={"learning_rate": 0.1}))  # refit on all
    assert data.times is not None
    assert trained.trained_until == data.times.max().isoformat()
    log_training_run(
        trained,
        data_digest="all",
        tracking_uri=target.tracking_uri,
        experiment=target.experiment,
        artifact_root=target.artifact_root,
    )
    champion = load_champion(target.tracking_uri, "leadscore-arrival-sql")
    assert champion is not None
    assert training_record(target.tracking_uri, champion.name, "1").fitted_until == (
        data.times.max()
    )

    config = RetrainConfig(
        as_of=utc_timestamp("2026-06-15"), params={"learning_rate": 0.1}, dry_run=True
    )
    [report] = retrain(frame, spec, [(KnownAt.ARRIVAL, "sql")], config, target)
    assert report.champion is not None
    assert report.champion.roc_auc == pytest.approx(trained.headline.roc_auc)
    assert report.champion.rows == trained.headline.rows
    [note] = [n for n in report.notes if "in-sample" in n]
    assert "window 2026-05" in note
    assert "its own out-of-time test" in note
    # the challenger is judged against that figure, whichever way it goes
    auc_gate = next(g for g in report.decision.reasons if g.name == "ROC-AUC vs champion")
    assert f"{trained.headline.roc_auc:.4f}" in auc_gate.message
