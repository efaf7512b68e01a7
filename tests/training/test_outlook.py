"""The outlook: event times from a status history, the fitted outlook's chances and values,
and its MLflow run and registered champion (trained by ``train_and_register``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.dataset import LeadData, prepare_frame
from features.funnel import Stage
from features.spec import KnownAt
from training.outlook import (
    EXPECTED_VALUE_HORIZON,
    LeadOutlook,
    OutlookData,
    OutlookOptions,
    OutlookUnavailableError,
    chance_names,
    first_reached,
    fit_outlook,
    horizon_key,
    outlook_data,
    sampled,
)
from training.registry import CHAMPION, champion_version, load_outlook, outlook_name
from training.runner import plan_models, train_and_register
from training.settings import TrainingSettings
from training.survival.expand import FollowUp
from training.trainer import TrainOptions


def test_the_history_says_when_a_stage_was_first_reached() -> None:
    history = json.dumps(
        [
            {"status": "new", "at": "2026-01-01T10:00:00Z"},
            {"status": "discussing", "at": "2026-01-03T10:00:00Z"},  # SQL
            {"status": "brief_filled", "at": "2026-01-04T10:00:00Z"},  # SAL, past SQL
            {"status": "won", "at": "2026-02-01T10:00:00Z"},
        ]
    )
    assert first_reached(history, Stage.SQL) == pd.Timestamp("2026-01-03T10:00:00Z")
    assert first_reached(history, Stage.WON) == pd.Timestamp("2026-02-01T10:00:00Z")
    skipped = json.dumps([{"status": "won", "at": "2026-01-05T00:00:00Z"}])  # straight to won
    assert first_reached(skipped, Stage.SQL) == pd.Timestamp("2026-01-05T00:00:00Z")
    assert (
        first_reached(json.dumps([{"status": "lost", "at": "2026-01-05T00:00:00Z"}]), Stage.SQL)
        is None
    )
    assert first_reached(None, Stage.SQL) is None


def test_open_leads_are_censored_at_the_exports_end(export: tuple[LeadData, pd.DataFrame]) -> None:
    data, raw = export
    d = outlook_data(data, raw.sample(frac=1.0, random_state=0))  # any row order
    assert d.currency == "RUB"
    won = d.follow[Stage.WON]
    reached = raw.set_index("external_id").loc[data.ids, "stage_reached"].to_numpy()
    np.testing.assert_array_equal(won.event, reached == "won")
    assert data.times is not None
    last_arrival = pd.Timestamp(data.times.max())
    assert d.as_of >= last_arrival
    open_days = won.days[~won.event]
    expected = (d.as_of - pd.Series(data.times)[~won.event]).dt.total_seconds() / 86_400
    np.testing.assert_allclose(open_days, expected.to_numpy())
    assert np.isfinite(d.values[won.event]).mean() > 0.99
    assert np.isnan(d.values[~won.event]).all()


def test_an_export_without_a_history_gets_no_outlook(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    with pytest.raises(OutlookUnavailableError, match="status_history"):
        fit_outlook(data, raw.drop(columns=["status_history"]))


def test_the_outlook_ranks_converters_and_prices_the_won_deals(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    train = data.frame.index < 4_500
    part = prepare_frame(data.spec, raw.set_index("external_id").loc[data.ids[train]].reset_index())
    outlook = fit_outlook(part, raw, OutlookOptions(known_at="qualified", num_threads=1))
    later = data.frame.iloc[4_500:]
    got = outlook.predict(later.to_dict("records"))
    assert len(got) == len(later)
    keys = [horizon_key(Stage.SQL, d) for d in (7, 30, 90)]
    keys += [horizon_key(Stage.WON, d) for d in (90, 180)]
    assert list(got[0].within) == keys
    for one in got:
        chances = [one.within[k] for k in keys]
        assert chances[:3] == sorted(chances[:3])  # a longer horizon is never less likely
        assert one.value_low is not None
        assert one.value_high is not None
        assert one.value_low <= one.value_high
        won = one.within[horizon_key(Stage.WON, EXPECTED_VALUE_HORIZON)]
        assert one.expected_value == pytest.approx(won * (one.value_if_won or 0.0))
    # later leads that reached SQL within 30 days had a higher 30-day chance
    stage = raw.set_index("external_id").loc[data.ids[~train], "stage_reached"].to_numpy()
    p30 = np.array([o.within["sql_30d"] for o in got])
    assert p30[np.isin(stage, ["sql", "sal", "won"])].mean() > 2 * p30[stage == "lead"].mean()
    stored = LeadOutlook.from_dict(json.loads(json.dumps(got[0].as_dict())))
    assert stored == got[0]


def test_training_registers_an_outlook_champion_per_known_at(
    export: tuple[LeadData, pd.DataFrame], tmp_path: Path
) -> None:
    data, _raw = export
    settings = TrainingSettings(data_dir=tmp_path / "data")
    said: list[str] = []
    pairs = plan_models(data.spec, [KnownAt.ARRIVAL], ["sql"])
    train_and_register(
        data, "test", settings, pairs, TrainOptions(refit=False), progress=said.append
    )
    name = outlook_name("arrival")
    assert name == "leadscore-arrival-outlook"
    assert champion_version(settings.tracking_uri, name, CHAMPION) == "1"
    assert champion_version(settings.tracking_uri, outlook_name("qualified")) is None
    served = load_outlook(settings.tracking_uri, name)
    assert served is not None
    assert served.version == "1"
    assert served.run_id
    assert served.model.known_at == "arrival"
    assert served.model.value is not None
    assert any(line.startswith(f"outlook {name}: {name} v1: sql_7d") for line in said)
    checked = [line for line in said if "out of time AUC" in line]
    assert checked, said
    assert "sql_30d 0." in checked[0]
    run = MlflowClient(settings.tracking_uri).get_run(served.run_id)
    metrics = run.data.metrics
    assert {f"oot_ece_{chance}" for chance in chance_names(served.model)} <= set(metrics)
    assert 0.6 < metrics["oot_auc_sql_30d"] <= 1.0  # the arrival fields rank the converters
    assert metrics["oot_ece_sql_7d"] < 0.1
    assert metrics["oot_value_mape"] > 0
    notes = MlflowClient(settings.tracking_uri).download_artifacts(served.run_id, "notes.txt")
    assert "out of time: fitted on the" in Path(notes).read_text()
    assert any("out of time:" in note for note in served.model.notes)


def test_a_sample_keeps_each_lead_s_follow_up_value_and_the_export_end() -> None:
    frame = pd.DataFrame({"lead": np.arange(10)})
    follow = {
        Stage.SQL: FollowUp(days=np.arange(10, dtype=float), event=np.arange(10) % 2 == 0),
        Stage.WON: FollowUp(days=np.arange(10, dtype=float) * 2, event=np.arange(10) % 3 == 0),
    }
    d = OutlookData(
        frame,
        follow,
        np.arange(10, dtype=float) * 100,
        np.arange(10) % 3 == 0,
        pd.Series(pd.date_range("2025-06-01", periods=10, freq="D", tz="UTC")),
        pd.Timestamp("2026-01-01", tz="UTC"),
        "RUB",
    )
    assert sampled(d, 0, seed=1) is d
    assert sampled(d, 10, seed=1) is d
    cut = sampled(d, 4, seed=1)
    kept = cut.frame["lead"].to_numpy()
    assert len(kept) == 4
    assert list(kept) == sorted(set(kept))
    assert list(cut.follow[Stage.SQL].days) == list(kept.astype(float))
    assert list(cut.follow[Stage.SQL].event) == list(kept % 2 == 0)
    assert list(cut.follow[Stage.WON].days) == list(kept * 2.0)
    assert list(cut.values) == list(kept * 100.0)
    assert list(cut.won) == list(kept % 3 == 0)
    assert list(cut.arrived) == list(d.arrived.iloc[kept])
    assert cut.as_of == d.as_of
    assert cut.currency == "RUB"
    assert list(sampled(d, 4, seed=1).frame["lead"]) == list(kept)  # seeded


def test_above_max_leads_an_outlook_is_fitted_on_a_sample_and_says_so(
    export: tuple[LeadData, pd.DataFrame],
) -> None:
    data, raw = export
    outlook = fit_outlook(data, raw, OutlookOptions(num_threads=1, max_leads=2_000))
    assert f"fitted on a random 2000 of {len(data)} leads" in outlook.notes
    assert set(outlook.conversion) == {"sql", "won"}
