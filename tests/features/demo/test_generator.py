"""The demo data generator: determinism, the story's marginals, histories, truth, CLI, leads."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo.generator import (
    CHANNEL_NAMES,
    DETAILS,
    DOMINANT_DRIVERS,
    KEYWORD_PHRASES,
    OPENERS,
    SIGNOFFS,
    frame_row_to_lead,
    generate_leads,
    ground_truth_path,
    write_demo_data,
)
from features.funnel import Stage, Status, can_transition, highest_stage
from features.lead import RECORD_COLUMNS, lead_to_record
from features.questionnaire import load_catalog, validate_answers
from features.spec import DroppedColumn, StatusTarget, load_spec
from serving.cli.main import app

N = 20_000
SEED = 11
END = pd.Timestamp("2026-11-01", tz="UTC")  # export time: the day after the default end
TERMINAL = {s.value for s in Status if s.is_terminal}


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, dict[str, Any]]:
    return generate_leads(N, SEED)


@pytest.fixture(scope="module")
def frame(demo: tuple[pd.DataFrame, dict[str, Any]]) -> pd.DataFrame:
    return demo[0]


@pytest.fixture(scope="module")
def truth(demo: tuple[pd.DataFrame, dict[str, Any]]) -> dict[str, Any]:
    return demo[1]


def _rank(frame: pd.DataFrame) -> np.ndarray:
    return frame["stage_reached"].map({s.value: s.rank for s in Stage}).to_numpy()


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def _histories(frame: pd.DataFrame) -> list[list[dict[str, str]]]:
    return [json.loads(text) for text in frame["status_history"]]


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_the_same_frame_and_truth() -> None:
    first, truth_a = generate_leads(3_000, 5)
    second, truth_b = generate_leads(3_000, 5)
    pd.testing.assert_frame_equal(first, second)
    assert truth_a == truth_b


def test_a_different_seed_gives_different_leads() -> None:
    first, _ = generate_leads(3_000, 5)
    other, _ = generate_leads(3_000, 6)
    assert not first["arrived_at"].equals(other["arrived_at"])
    assert not first["true_p_sql"].equals(other["true_p_sql"])
    assert (first["channel"] != other["channel"]).mean() > 0.5


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_demo_data(tmp_path / name / "leads.parquet", 1_500, 9)
        write_demo_data(tmp_path / name / "leads.csv", 1_500, 9)
    for file in ("leads.parquet", "leads.csv", "leads.ground_truth.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_bad_sizes_are_rejected_with_the_parameter_named() -> None:
    with pytest.raises(ValueError, match="n must be at least 1"):
        generate_leads(0, 1)
    with pytest.raises(ValueError, match="months must be at least 1"):
        generate_leads(10, 1, months=0)


# --- shape: the spec's columns and the domain model --------------------------------------


def test_columns_match_the_demo_spec_exactly(frame: pd.DataFrame) -> None:
    spec = load_spec("demo")
    declared = {spec.id_column, spec.time_column}
    declared |= {c for f in spec.features for c in f.input_columns}
    declared |= {t.column for t in spec.targets.values() if isinstance(t, StatusTarget)}
    dropped = [d for d in spec.drop if not d.column.endswith("*")]
    declared |= {d.column for d in dropped}
    wildcard = [d for d in spec.drop if d.column.endswith("*")]
    undeclared = [c for c in frame.columns if c not in declared and not _matches_any(wildcard, c)]
    assert undeclared == []
    assert sorted(declared - set(frame.columns)) == []
    assert {"true_p_sql", "true_p_won", "true_p_sql_arrival", "true_p_won_arrival"} <= set(
        frame.columns
    )
    catalog_columns = ["q_" + key for key in load_catalog().all_questions()]
    assert list(frame.columns[: len(RECORD_COLUMNS) + len(catalog_columns)]) == [
        *RECORD_COLUMNS,
        *catalog_columns,
    ]


def _matches_any(patterns: list[DroppedColumn], column: str) -> bool:
    return any(p.matches(column) for p in patterns)


def test_value_types(frame: pd.DataFrame) -> None:
    assert str(frame["arrived_at"].dt.tz) == "UTC"
    assert str(frame["first_touch_at"].dt.tz) == "UTC"
    assert str(frame["closed_at"].dt.tz) == "UTC"
    assert frame["external_id"].is_unique
    assert frame["arrived_at"].is_monotonic_increasing
    assert frame["is_decision_maker"].dtype == "boolean"
    for column in ("channel", "email", "message", "status", "status_history"):
        assert frame[column].dtype == "str", column
    probabilities = frame[[c for c in frame.columns if c.startswith("true_p_")]]
    assert ((probabilities > 0) & (probabilities < 1)).all().all()
    assert (frame["true_p_won"] <= frame["true_p_sql"]).all()
    assert (frame["true_p_won_arrival"] <= frame["true_p_sql_arrival"]).all()


# --- marginals ---------------------------------------------------------------------------


def test_arrivals_cover_the_window_with_seasonality(frame: pd.DataFrame) -> None:
    arrived = frame["arrived_at"]
    assert arrived.min() >= pd.Timestamp("2025-03-01", tz="UTC")
    assert arrived.max() < END
    assert arrived.dt.strftime("%Y-%m").nunique() == 20
    assert (arrived.max() - arrived.min()).days >= 18 * 30
    local = arrived + pd.Timedelta(hours=3)
    weekend = local.dt.day_of_week >= 5
    assert weekend.mean() < 0.15  # 2/7 = 0.29 if there were no weekly pattern
    office = local.dt.hour.between(9, 18)
    assert office.mean() > 0.6
    monthly = arrived.dt.month.value_counts()
    assert monthly[10] > 1.3 * monthly[7]  # autumn peak vs summer lull


def test_overall_rates_and_channel_quality(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    rank = _rank(frame)
    assert 0.15 <= (rank >= Stage.SQL.rank).mean() <= 0.25
    assert 0.03 <= (rank >= Stage.WON.rank).mean() <= 0.08
    sql_rate = pd.Series(rank >= Stage.SQL.rank).groupby(frame["channel"].to_numpy()).mean()
    assert set(sql_rate.index) == set(CHANNEL_NAMES)
    assert sql_rate.max() - sql_rate.min() > 0.2
    assert sql_rate["referral"] > 2 * sql_rate["paid_search"] > 2 * sql_rate["display"]
    for name, channel in truth["channels"].items():
        assert channel["base_sql_rate"] == pytest.approx(sql_rate[name], abs=0.05), name


def test_outcomes_are_draws_from_the_truth(frame: pd.DataFrame) -> None:
    """On settled leads, the realised SQL rate matches true_p_sql in every quintile."""
    settled = frame[frame["arrived_at"] < END - pd.Timedelta(days=120)]
    sql = _rank(settled) >= Stage.SQL.rank
    quintile = pd.qcut(settled["true_p_sql"], 5, labels=False).to_numpy()
    for q in range(5):
        rows = quintile == q
        expected = settled["true_p_sql"].to_numpy()[rows].mean()
        assert sql[rows].mean() == pytest.approx(expected, abs=0.03), q


def test_oracle_auc_is_realistic(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    sql = _rank(frame) >= Stage.SQL.rank
    qualified = _auc(sql, frame["true_p_sql"].to_numpy())
    arrival = _auc(sql, frame["true_p_sql_arrival"].to_numpy())
    assert 0.75 <= qualified <= 0.9
    assert 0.65 <= arrival <= qualified - 0.04
    assert truth["oracle_auc"]["sql_qualified"] == pytest.approx(qualified, abs=1e-9)
    assert truth["oracle_auc"]["sql_arrival"] == pytest.approx(arrival, abs=1e-9)


def test_arrival_fields_look_like_real_requests(frame: pd.DataFrame) -> None:
    domain = frame["email"].dropna().str.split("@").str[1]
    free = domain.isin(["gmail.com", "mail.ru", "yandex.ru", "bk.ru", "list.ru", "inbox.ru"])
    assert 0.2 < free.mean() < 0.8
    assert 0.05 < frame["email"].isna().mean() < 0.3
    assert 0.1 < frame["phone"].isna().mean() < 0.5
    assert 0.15 < frame["first_touch_at"].notna().mean() < 0.6
    touched = frame.dropna(subset=["first_touch_at"])
    assert (touched["first_touch_at"] <= touched["arrived_at"]).all()
    assert frame["landing_page"].nunique() >= 20
    message = frame["message"].dropna()
    cyrillic = message.str.contains("[а-яё]", regex=True)
    assert 0.7 < cyrillic.mean() < 0.99
    paid = frame[frame["channel"] == "paid_search"]
    assert paid["utm_campaign"].nunique() >= 6
    assert paid["utm_campaign"].dropna().str.startswith("ps_").all()
    assert frame.loc[frame["channel"] == "direct", "utm_source"].isna().all()


def test_job_keywords_kill_conversion_in_social(frame: pd.DataFrame) -> None:
    social = frame[frame["channel"] == "social"]
    job = social["message"].fillna("").str.contains("вакансия|резюме|job|vacancy|internship")
    sql = _rank(social) >= Stage.SQL.rank
    assert job.mean() > 0.05
    assert sql[job.to_numpy()].mean() < 0.25 * sql[~job.to_numpy()].mean()
    routed = social.loc[job, "status"].value_counts(normalize=True)
    assert routed.get("other_department", 0) > 0.5  # job seekers go to HR


def test_budget_is_an_amount_or_a_bracket_or_missing(frame: pd.DataFrame) -> None:
    amount = frame["budget_amount"].notna()
    bracket = frame["budget_bracket"].notna()
    assert not (amount & bracket).any()
    assert (frame["budget_currency"].notna() == amount).all()
    currencies = frame["budget_currency"].value_counts(normalize=True)
    assert currencies.index[0] == "RUB"
    assert currencies["RUB"] > 0.8
    assert set(currencies.index) == {"RUB", "USD", "EUR", "KZT"}
    assert 0.15 < (~amount & ~bracket).mean() < 0.5
    assert (frame["budget_amount"].dropna() > 0).all()


def test_missing_budget_lowers_conversion_in_paid_search(frame: pd.DataFrame) -> None:
    paid = frame[frame["channel"] == "paid_search"]
    missing = (paid["budget_amount"].isna() & paid["budget_bracket"].isna()).to_numpy()
    sql = _rank(paid) >= Stage.SQL.rank
    assert sql[missing].mean() < 0.5 * sql[~missing].mean()


def test_questionnaire_answers_only_for_the_leads_service(frame: pd.DataFrame) -> None:
    catalog = load_catalog()
    for service, questions in catalog.services.items():
        for question in questions:
            answered = frame["q_" + question.key].notna()
            assert answered.any(), question.key
            assert (frame.loc[answered, "need_service"] == service).all(), question.key
    common = frame["q_project_type"].notna()
    assert frame.loc[common, "need_service"].notna().all()
    assert set(frame["q_ad_platform"].dropna()) <= {"yandex", "google", "vk", "none"}


# --- status histories --------------------------------------------------------------------


def test_histories_obey_the_funnel(frame: pd.DataFrame) -> None:
    for row, history in zip(frame.itertuples(), _histories(frame), strict=True):
        statuses = [Status(change["status"]) for change in history]
        times = [pd.Timestamp(change["at"]) for change in history]
        assert statuses[0] is Status.NEW
        assert times[0] == row.arrived_at
        assert all(can_transition(a, b) for a, b in itertools.pairwise(statuses))
        assert all(a < b for a, b in itertools.pairwise(times))
        assert times[-1] < END
        assert row.status == statuses[-1].value
        assert row.stage_reached == highest_stage(statuses).value
        if Status.DISCUSSING in statuses:  # SQL implies MQL
            assert Status.AWAITING_MANAGER in statuses
        if statuses[-1].is_terminal:
            assert row.closed_at == times[-1]
        else:
            assert pd.isna(row.closed_at)


def test_won_leads_have_a_deal_and_every_outcome_occurs(frame: pd.DataFrame) -> None:
    won = (frame["status"] == "won").to_numpy()
    assert (won == (_rank(frame) == Stage.WON.rank)).all()
    assert (frame["deal_value"].notna().to_numpy() == won).all()
    assert (frame["deal_value"].dropna() > 0).all()
    assert set(frame.loc[won, "deal_currency"]) <= {"RUB", "USD", "EUR", "KZT"}
    assert frame.loc[~won, "deal_currency"].isna().all()
    statuses = frame["status"].value_counts(normalize=True)
    for outcome in ("partner", "other_department", "disqualified", "lost", "won"):
        assert statuses[outcome] > 0.01, outcome
    lost_at = frame.loc[frame["status"] == "lost", "stage_reached"]
    assert {"lead", "mql", "sql", "sal"} <= set(lost_at)


def test_old_leads_are_settled_and_new_ones_may_be_open(frame: pd.DataFrame) -> None:
    age = END - frame["arrived_at"]
    terminal = frame["status"].isin(TERMINAL)
    assert terminal[age > pd.Timedelta(days=90)].mean() > 0.95
    assert terminal[age < pd.Timedelta(days=14)].mean() < 0.8


def test_the_sdr_reacts_within_minutes_in_business_hours(frame: pd.DataFrame) -> None:
    touched = [
        (row.arrived_at, pd.Timestamp(history[1]["at"]))
        for row, history in zip(frame.itertuples(), _histories(frame), strict=True)
        if len(history) > 1 and history[1]["status"] == "sdr_qualifying"
    ]
    arrived = pd.Series([a for a, _ in touched])
    delay = pd.Series([b - a for a, b in touched])
    assert (delay > pd.Timedelta(0)).all()
    local = arrived + pd.Timedelta(hours=3)
    office = (local.dt.day_of_week < 5) & local.dt.hour.between(9, 17)
    assert delay[office].median() < pd.Timedelta(minutes=60)
    assert delay[~office].median() > pd.Timedelta(hours=4)  # night and weekend requests wait


# --- ground truth ------------------------------------------------------------------------


def test_ground_truth_shape(truth: dict[str, Any]) -> None:
    spec = load_spec("demo")
    spec_columns = {f.column for f in spec.features}
    assert truth["seed"] == SEED
    assert truth["n"] == N
    assert truth["version"]
    assert truth["start"] == "2025-03-01"
    assert truth["end"] == "2026-10-31"
    assert set(truth["oracle_auc"]) == {
        "sql_qualified",
        "sql_arrival",
        "won_qualified",
        "won_arrival",
    }
    assert set(truth["channels"]) == set(CHANNEL_NAMES)
    for name, channel in truth["channels"].items():
        drivers = channel["drivers"]
        assert 0 < channel["base_sql_rate"] < 1
        assert {d["feature"] for d in drivers} <= spec_columns, name
        assert all(d["direction"] in {"+", "-"} for d in drivers)
        strengths = [d["strength"] for d in drivers]
        assert strengths == sorted(strengths, reverse=True)
    global_columns = {d["feature"] for d in truth["global_drivers"]}
    assert global_columns <= spec_columns
    assert "budget_amount" in global_columns


def test_each_channel_has_its_own_dominant_drivers(truth: dict[str, Any]) -> None:
    pairs = set()
    for name, channel in truth["channels"].items():
        drivers = channel["drivers"]
        top = [d["feature"] for d in drivers[:2]]
        assert set(top) == set(DOMINANT_DRIVERS[name]) == set(channel["dominant_drivers"]), name
        assert drivers[1]["strength"] > 3 * drivers[2]["strength"], name
        pairs.add(frozenset(top))
    assert len(pairs) == len(CHANNEL_NAMES)
    by_name = {
        name: {d["feature"]: d for d in c["drivers"]} for name, c in truth["channels"].items()
    }
    budget = {name: d["budget_amount"]["strength"] for name, d in by_name.items()}
    assert budget["paid_search"] > 5 * budget["referral"]
    assert by_name["social"]["message"]["direction"] == "-"  # job keywords
    assert by_name["paid_search"]["budget_amount"]["direction"] == "+"
    assert by_name["direct"]["contact_type"]["best"] == "call"


def test_dominant_drivers_show_in_the_realised_outcomes(frame: pd.DataFrame) -> None:
    sql = pd.Series(_rank(frame) >= Stage.SQL.rank, index=frame.index)
    for channel in ("events", "partner"):
        rows = frame["channel"] == channel
        by_dm = sql[rows].groupby(frame.loc[rows, "is_decision_maker"].astype(object)).mean()
        assert by_dm[True] > 2 * by_dm[False], channel


# --- files and the CLI -------------------------------------------------------------------


def test_cli_writes_parquet_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo" / "leads.parquet"
    result = CliRunner().invoke(app, ["demo-data", "--n", "2000", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "paid_search" in result.output
    assert "oracle ROC-AUC" in result.output
    written = pd.read_parquet(out)
    expected, truth = generate_leads(2_000, 3)
    pd.testing.assert_frame_equal(written, expected)
    stored = json.loads(ground_truth_path(out).read_text(encoding="utf-8"))
    assert ground_truth_path(out).name == "leads.ground_truth.json"
    assert stored == json.loads(json.dumps(truth))


def test_cli_writes_csv_by_extension(tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    result = CliRunner().invoke(app, ["demo-data", "--n", "1500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    expected, _ = generate_leads(1_500, 42)
    assert list(written.columns) == list(expected.columns)
    assert written["external_id"].tolist() == expected["external_id"].tolist()
    assert (pd.to_datetime(written["arrived_at"]) == expected["arrived_at"]).all()
    np.testing.assert_allclose(written["true_p_sql"], expected["true_p_sql"], rtol=1e-12)
    assert (tmp_path / "leads.ground_truth.json").exists()


def test_cli_default_path_comes_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "store"))
    result = CliRunner().invoke(app, ["demo-data", "--n", "500"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "store" / "demo" / "leads.parquet").exists()
    assert (tmp_path / "store" / "demo" / "leads.ground_truth.json").exists()


def test_cli_rejects_an_unknown_extension(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo-data", "--n", "10", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "--out" in result.output
    assert ".parquet" in result.output
    assert not (tmp_path / "x.json").exists()


def test_write_rejects_an_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown data format '\.txt'"):
        write_demo_data(tmp_path / "leads.txt", 10, 1)


# --- rows as leads -----------------------------------------------------------------------


def test_rows_reassemble_into_valid_leads(frame: pd.DataFrame) -> None:
    catalog = load_catalog()
    sample = frame.sample(200, random_state=0)
    with_answers = 0
    for row in sample.to_dict("records"):
        lead = frame_row_to_lead(row, catalog)
        assert lead.status.value == row["status"]
        assert lead.stage_reached.value == row["stage_reached"]
        if lead.questionnaire is not None:
            validate_answers(catalog, lead.questionnaire)
            with_answers += 1
        record = lead_to_record(lead)
        for column, value in record.items():
            original = row[column]
            if pd.isna(original):
                assert value is None, column
            else:
                assert value == original, column
    assert with_answers > 50


def test_csv_rows_reassemble_into_the_same_leads(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_demo_data(path, 300, 4)
    frame, _ = generate_leads(300, 4)
    from_csv = pd.read_csv(path, dtype={"external_id": str}).to_dict("records")
    for csv_row, row in zip(from_csv, frame.to_dict("records"), strict=True):
        assert frame_row_to_lead(csv_row) == frame_row_to_lead(row)


# --- templates ---------------------------------------------------------------------------


def test_message_templates_carry_exactly_their_keywords() -> None:
    message = next(f for f in load_spec("demo").features if f.column == "message")
    keywords = message.keywords or {}
    assert set(keywords) == {"urgent", "price", "tender", "job"}

    def flags(text: str) -> set[str]:
        lower = text.lower()
        return {flag for flag, words in keywords.items() if any(w in lower for w in words)}

    for language, phrases in KEYWORD_PHRASES.items():
        for flag, sentences in phrases.items():
            for sentence in sentences:
                assert flags(sentence) == {flag}, (language, sentence)
    neutral = [
        *(s for groups in OPENERS.values() for texts in groups.values() for s in texts),
        *(s for texts in DETAILS.values() for s in texts),
        *(s for texts in SIGNOFFS.values() for s in texts),
    ]
    assert [s for s in neutral if flags(s)] == []


def test_a_shorter_window_ends_where_asked() -> None:
    frame, truth = generate_leads(1_000, 2, end=date(2024, 2, 15), months=3)
    assert frame["arrived_at"].min() >= pd.Timestamp("2023-12-01", tz="UTC")
    assert frame["arrived_at"].max() < pd.Timestamp("2024-02-16", tz="UTC")
    assert truth["start"] == "2023-12-01"
    assert truth["months"] == 3


def test_cli_defaults_are_the_generators() -> None:
    from features.demo import generator as demo
    from serving.cli import data as cli

    assert cli.DEMO_DEFAULT_N == demo.DEFAULT_N
    assert cli.DEMO_DEFAULT_SEED == demo.DEFAULT_SEED
