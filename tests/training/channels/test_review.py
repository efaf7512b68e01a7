"""The one orchestration every caller uses: the leads (in the lead store's shape, or a CRM
export loaded with its spec), a registered model or none, and the options, to the report."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from features.dataset import load_dataset, prepare_frame
from features.spec import load_spec
from tests.training.channels.demo_model import Demo
from training.channels.funnel import ALL_LEADS, Thresholds
from training.channels.leads import Period, leads_from_data, leads_from_records
from training.channels.page import render_html
from training.channels.report import ChannelReport, build_channel_report
from training.channels.review import (
    ExportLeads,
    ReviewOptions,
    StoreLeads,
    channel_review,
    registered_model,
    save_review,
)
from training.outlook import OutlookOptions, fit_outlook
from training.registry import VersionedModel, VersionedOutlook
from training.settings import TrainingSettings

OPTIONS = ReviewOptions(Period.parse("2026-10"), Thresholds(30, 3), 50, "Channel review: test")


def _same(report: ChannelReport) -> dict[str, Any]:
    body = report.to_json()
    body.pop("generated_at")
    return body


def _built(leads: Any, served: VersionedModel) -> ChannelReport:
    """The report built directly, with the same options."""
    asked = {f.name: getattr(OPTIONS, f.name) for f in fields(OPTIONS)}
    name, version = served.name, served.version
    return build_channel_report(
        leads, served.model, model_name=name, model_version=version, **asked
    )


def test_store_leads_are_reviewed_as_the_report_built_from_them(demo: Demo) -> None:
    frame, _truth, model = demo
    served = VersionedModel("leadscore-qualified-sql", "4", model)
    spec = load_spec("demo")
    report = channel_review(StoreLeads(frame, spec), served, OPTIONS)
    direct = _built(leads_from_records(frame, spec=spec, source="lead store"), served)
    assert _same(report) == _same(direct)
    assert report.model is not None
    assert (report.model.name, report.model.version) == ("leadscore-qualified-sql", "4")
    october = (frame["arrived_at"] >= "2026-10-01") & (frame["arrived_at"] < "2026-11-01")
    assert report.lead_count == october.sum()


def test_an_export_keeps_the_outcome_columns_the_spec_drops(demo: Demo, tmp_path: Path) -> None:
    frame, _truth, model = demo
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    data = load_dataset(load_spec("demo"), path)
    served = VersionedModel("leadscore-qualified-sql", "4", model)
    report = channel_review(ExportLeads(data), served, OPTIONS)
    assert report.source == str(path)
    assert {"mql", "sql", "sal", "won", "open"} <= set(report.funnel_channel.columns)
    direct = _built(leads_from_data(data, frame), served)
    assert _same(report) == _same(direct)


def test_without_a_champion_there_is_no_model_and_the_files_are_not_logged(
    demo: Demo, tmp_path: Path
) -> None:
    frame, _truth, _model = demo
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    found = registered_model(tracking, None, dataset="demo", target="sql")
    assert found is None
    report = channel_review(StoreLeads(frame.head(2000)), found, ReviewOptions())
    saved = save_review(report, tmp_path / "report", found, tracking)
    assert saved.run_id is None
    assert saved.files.html.exists()
    assert report.title == "Channel review"


def test_reports_logged_to_one_run_never_overwrite_each_other(demo: Demo, tmp_path: Path) -> None:
    frame, _truth, model = demo
    settings = TrainingSettings(data_dir=tmp_path / "data")
    settings.artifact_root.mkdir(parents=True)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.create_run(client.create_experiment("reports", settings.artifact_root.as_uri()))
    served = VersionedModel("leadscore-qualified-sql", "4", model, run.info.run_id)
    report = channel_review(StoreLeads(frame, load_spec("demo")), served, OPTIONS)
    first = save_review(report, tmp_path / "first", served, settings.tracking_uri)
    time.sleep(1.1)  # the folder names carry the time to the second
    second = save_review(report, tmp_path / "second", served, settings.tracking_uri)
    assert first.earlier == ()
    assert first.artifact_uri != second.artifact_uri
    assert second.artifact_uri is not None
    assert "/channel_report/2026-10_qualified_sql_" in second.artifact_uri
    assert first.artifact_uri is not None
    assert second.earlier == ("channel_report/" + first.artifact_uri.rsplit("/", 1)[1],)
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "channel_report")}
    assert len(logged) == 2


def test_a_stored_answer_too_large_for_a_number_reads_as_missing(demo: Demo) -> None:
    """One 400-digit questionnaire answer in the lead store (stored before input refused
    it) made every review fail (OverflowError); it now reads as a missing answer."""
    frame, _truth, model = demo
    served = VersionedModel("leadscore-qualified-sql", "4", model)
    spec = load_spec("demo")
    october = frame.index[(frame["arrived_at"] >= "2026-10-01") & (frame["arrived_at"] < "2026-11")]
    huge, missing = frame.copy(), frame.copy()
    for copy, value in ((huge, 10**400), (missing, None)):
        copy["q_monthly_ad_spend"] = copy["q_monthly_ad_spend"].astype(object)
        copy.loc[october[:3], "q_monthly_ad_spend"] = value
    report = channel_review(StoreLeads(huge, spec), served, OPTIONS)
    assert _same(report) == _same(channel_review(StoreLeads(missing, spec), served, OPTIONS))
    assert "<html" in render_html(report)


def test_with_an_outlook_each_group_carries_its_open_leads_expected_value(demo: Demo) -> None:
    frame, _truth, model = demo
    spec = load_spec("demo")
    data = prepare_frame(spec, frame, source="demo")
    fitted = fit_outlook(data, frame, OutlookOptions(known_at="qualified", max_leads=3_000))
    outlook = VersionedOutlook("leadscore-qualified-outlook", "1", fitted)
    served = VersionedModel("leadscore-qualified-sql", "4", model)
    options = ReviewOptions(Period("all"), Thresholds(30, 3), 50, "Channel review: test")
    report = channel_review(StoreLeads(frame, spec), served, options, outlook)
    by_channel = report.funnel_channel.set_index("channel")
    column = "expected_pipeline_value"
    total = float(by_channel.loc[ALL_LEADS, column])
    assert total > 0
    assert total == pytest.approx(by_channel.drop(index=ALL_LEADS)[column].sum(), rel=1e-9)
    campaigns = report.funnel_campaign.groupby("channel")[column].sum()
    for channel, value in campaigns.items():
        assert value == pytest.approx(by_channel.loc[channel, column], rel=1e-9)
    assert "Expected pipeline value" in render_html(report)
    plain = channel_review(StoreLeads(frame, spec), served, options)
    assert column not in plain.funnel_channel.columns
