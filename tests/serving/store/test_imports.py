"""Importing a CRM export into a real lead store (SQLite and PostgreSQL): counts, histories,
outcomes, idempotency, refused rows, whole batches, the queue kept free of history, and
what retraining and the channel review read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from features.dataset import prepare_frame
from features.deal import DealSection
from features.demo import generate_leads
from features.funnel import Status
from features.spec import load_spec
from serving.queue import Sla
from serving.reports import store_leads as report_store_leads
from serving.settings import ServingSettings
from serving.store.imports import (
    ImportRefusedError,
    plan_import,
    read_export,
    store_leads,
)
from serving.store.leads import Store
from serving.store.outcomes import store_frame
from serving.store.tables import LeadRow, StatusChangeRow
from training.channels.leads import Period
from training.channels.review import ReviewOptions, channel_review

SHARED_DATA = Path(__file__).parents[4] / "shared" / "data"
SLA = 30.0
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    """A small demo export, as `leadscore demo-data` writes it (every column as text)."""
    frame, _truth = generate_leads(150, seed=7, end=NOW.date())
    return frame


@pytest.fixture
def export_csv(export: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "crm_export.csv"
    export.to_csv(path, index=False)
    return path


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _import(store: Store, path: Path, batch_size: int = 64) -> tuple[int, int, int]:
    plan = read_export(load_spec("demo"), path, NOW)
    result = store_leads(
        store,
        plan.leads,
        NOW,
        sla=Sla(SLA),
        queue_within=timedelta(minutes=SLA),
        batch_size=batch_size,
    )
    return result.imported, result.already_stored, len(plan.refused)


def _count(store: Store, table: type[LeadRow] | type[StatusChangeRow]) -> int:
    with store.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_demo_export_is_imported_with_its_histories_and_outcomes(
    store: Store, export: pd.DataFrame, export_csv: Path
) -> None:
    assert _import(store, export_csv) == (len(export), 0, 0)
    frame = store_frame(store).set_index("external_id")
    file = export.set_index("external_id")
    assert sorted(frame.index) == sorted(file.index)
    assert (frame["status"] == file.loc[frame.index, "status"]).all()
    assert (frame["stage_reached"] == file.loc[frame.index, "stage_reached"]).all()
    changes = sum(len(json.loads(h)) for h in export["status_history"])
    assert _count(store, StatusChangeRow) == changes
    one = export.iloc[0]
    stored = store.lead_by_external(str(one["external_id"]))
    assert stored is not None
    expected = [(c["status"], pd.Timestamp(c["at"])) for c in json.loads(one["status_history"])]
    assert [(c.status, pd.Timestamp(c.at)) for c in stored.history] == expected
    assert stored.sla_deadline == stored.arrived_at + timedelta(minutes=SLA)
    assert stored.probability is None  # not scored at import
    assert stored.rank_probability == 1.0
    won = file[file["status"] == "won"].dropna(subset=["deal_value"])
    assert len(won) > 0
    deals = frame.loc[won.index, "deal_value"].astype(float)
    assert deals.round(2).tolist() == won["deal_value"].astype(float).round(2).tolist()


def test_a_re_run_imports_nothing_twice(store: Store, export_csv: Path) -> None:
    first = _import(store, export_csv)
    leads, changes = _count(store, LeadRow), _count(store, StatusChangeRow)
    assert _import(store, export_csv, batch_size=100) == (0, first[0], 0)
    assert (_count(store, LeadRow), _count(store, StatusChangeRow)) == (leads, changes)


def test_bad_rows_are_refused_by_line_and_column_and_the_rest_is_imported(
    store: Store, export: pd.DataFrame, tmp_path: Path
) -> None:
    broken = export.copy()
    broken["arrived_at"] = broken["arrived_at"].astype(str)
    broken.loc[3, "arrived_at"] = "next tuesday"
    broken.loc[5, "status_history"] = '[{"status": "won", "at": "2025-01-01T00:00:00Z"}, ' + (
        '{"status": "new", "at": "2025-01-02T00:00:00Z"}]'
    )
    broken.loc[8, "external_id"] = broken.loc[9, "external_id"]
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)
    plan = read_export(load_spec("demo"), path, NOW)
    where = {(p.row, p.column) for p in plan.refused}
    # line = row position + 2 (the header is line 1)
    assert where == {(5, "arrived_at"), (7, "status_history"), (11, "external_id")}
    assert "next tuesday" in str(plan.refused[0])
    result = store_leads(store, plan.leads, NOW, sla=Sla(SLA), queue_within=timedelta(minutes=SLA))
    assert result.imported == len(export) - 3
    assert store.lead_by_external(str(broken.loc[5, "external_id"])) is None


def test_a_problem_of_the_whole_file_refuses_the_import(
    export: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "no_channel.csv"
    export.drop(columns=["channel"]).to_csv(path, index=False)
    with pytest.raises(ImportRefusedError) as refused:
        read_export(load_spec("demo"), path, NOW)
    assert any(p.column == "channel" and p.row is None for p in refused.value.problems)


def test_a_failing_batch_leaves_nothing_of_itself_behind(
    store: Store, export: pd.DataFrame
) -> None:
    plan = plan_import(load_spec("demo"), export, "<export>", NOW)
    leads = list(plan.leads[:10])
    # the 2nd batch holds one id twice: the unique constraint fails that whole batch
    batch = [*leads[:5], *leads[5:9], replace(leads[9], external_id=leads[5].external_id)]
    with pytest.raises(IntegrityError):
        store_leads(store, batch, NOW, sla=Sla(SLA), queue_within=timedelta(0), batch_size=5)
    assert _count(store, LeadRow) == 5
    assert _count(store, StatusChangeRow) == sum(len(lead.history) for lead in leads[:5])


def test_only_open_leads_that_arrived_within_the_window_are_queued(
    store: Store, export: pd.DataFrame
) -> None:
    base = plan_import(load_spec("demo"), export, "<export>", NOW).leads[0]

    def lead(external_id: str, minutes_ago: float, *later: Status, dated: bool = True) -> Any:
        at = NOW - timedelta(minutes=minutes_ago)
        history = [(Status.NEW, at), *((status, at) for status in later)]
        return replace(base, external_id=external_id, arrived_at=at, history=history, dated=dated)

    leads = [
        lead("recent", 5),
        lead("old", 3 * 24 * 60),
        lead("recent-but-closed", 1, Status.LOST),
        lead("undated", 0, dated=False),
    ]
    store_leads(store, leads, NOW, sla=Sla(SLA), queue_within=timedelta(minutes=SLA))
    assert {entry.external_id for entry in store.queue_entries()} == {"recent"}
    assert store.lead_id_of("old") is not None


def test_retraining_and_the_channel_review_read_the_imported_leads(
    store: Store, database_url: str, export: pd.DataFrame, export_csv: Path, tmp_path: Path
) -> None:
    _import(store, export_csv)
    spec = load_spec("demo")
    columns = [c for f in spec.features for c in f.input_columns]
    frame = store_frame(store, columns)
    data = prepare_frame(spec, frame)  # what `leadscore retrain` validates
    assert len(data) == len(export)
    reached = data.targets["sql"].sum()
    assert reached == export["stage_reached"].isin(["sql", "sal", "won"]).sum()
    settings = ServingSettings(database_url=database_url, data_dir=tmp_path / "data")
    leads = report_store_leads(store, settings, Period("all"))
    report = channel_review(leads, None, ReviewOptions())
    assert report.lead_count == len(export)
    by_channel = report.funnel_channel.set_index("channel")["leads"]
    for channel, count in export["channel"].value_counts().items():
        assert by_channel[channel] == count


def test_an_export_s_deals_are_read_from_the_columns_its_spec_names(
    store: Store, export: pd.DataFrame, database_url: str, tmp_path: Path
) -> None:
    renamed = export.rename(columns={"deal_value": "amount", "deal_currency": "amount_cur"})
    renamed["amount_cur"] = renamed["amount_cur"].where(renamed.index % 2 == 0, None)
    deal = DealSection(value_column="amount", currency_column="amount_cur", currency="RUB")
    spec = load_spec("demo").model_copy(update={"deal": deal})
    plan = plan_import(spec, renamed, "<export>", NOW)
    by_id = export.set_index("external_id")
    won = [lead for lead in plan.leads if lead.deal_value is not None]
    assert len(won) == int(export["deal_value"].notna().sum()) > 0
    for lead in won:
        row = by_id.loc[lead.external_id]
        assert lead.deal_value == pytest.approx(float(row["deal_value"]), abs=0.01)
        blank = renamed.loc[renamed["external_id"] == lead.external_id, "amount_cur"].isna().all()
        assert lead.deal_currency == ("RUB" if blank else row["deal_currency"])
    # the store holds them as deal_value in deal_currency: the channel review reads them so
    store_leads(store, plan.leads, NOW, sla=Sla(SLA), queue_within=timedelta(0))
    settings = ServingSettings(database_url=database_url, data_dir=tmp_path / "data")
    leads = report_store_leads(store, settings, Period("all")).report_leads()
    assert leads.deal_value is not None
    assert int(np.isfinite(leads.deal_value).sum()) > 0


# ------------------------------------------------------------------ the real exports


def _real_spec(name: str) -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present: {SHARED_DATA} (real-data tests need it)")
    path = load_spec(name).data_path()
    assert path is not None
    return path


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "leads", "won"), [("x_education", 9240, 3561), ("olist", 8000, 842)]
)
def test_a_real_export_into_a_fresh_store_matches_the_files_counts(
    name: str, leads: int, won: int, tmp_path: Path
) -> None:
    path = _real_spec(name)
    rows = len(pd.read_csv(path, dtype=str))
    store = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        plan = read_export(load_spec(name), path, NOW)
        result = store_leads(
            store, plan.leads, NOW, sla=Sla(SLA), queue_within=timedelta(minutes=SLA)
        )
        assert (rows, result.imported, len(plan.refused)) == (leads, leads, 0)
        frame = store_frame(store)
        assert len(frame) == leads
        assert int((frame["status"] == "won").sum()) == won
        assert frame["external_id"].nunique() == leads
        assert store.queue_entries() == []  # history never enters the SDR queue
    finally:
        store.close()
