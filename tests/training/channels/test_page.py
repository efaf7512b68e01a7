"""The report as files: a self-contained HTML page and CSV tables, logged to MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from tests.training.channels.demo_model import Demo
from training.channels.funnel import ALL_LEADS, TOO_FEW, Thresholds
from training.channels.leads import leads_from_records
from training.channels.page import HTML_NAME, log_report, render_html, write_report
from training.channels.report import ChannelReport, build_channel_report
from training.settings import TrainingSettings


def test_report_files_are_self_contained_and_logged_to_mlflow(
    report: ChannelReport, tmp_path: Path
) -> None:
    files = write_report(report, tmp_path / "report")
    page = files.html.read_text(encoding="utf-8")
    assert files.html.name == HTML_NAME
    assert page.count("src='data:image/png;base64,") >= 5
    assert "http://" not in page
    assert "https://" not in page
    assert "paid_search" in page
    assert TOO_FEW in page
    for name, table in report.tables().items():
        read = pd.read_csv(files.csvs[name])
        assert len(read) == len(table), name
    assert json.loads(json.dumps(report.to_json()))["tables"]["summary"][0]["channel"] == ALL_LEADS

    settings = TrainingSettings(data_dir=tmp_path / "data")
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    settings.artifact_root.mkdir(parents=True)
    experiment = client.create_experiment("reports", settings.artifact_root.as_uri())
    run = client.create_run(experiment)
    uri = log_report(settings.tracking_uri, run.info.run_id, files.folder, "channel_report/all")
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "channel_report/all")}
    assert f"channel_report/all/{HTML_NAME}" in logged
    assert "channel_report/all/funnel_channel.csv" in logged
    assert uri.endswith("channel_report/all")


def test_a_report_without_a_model_is_still_a_page(demo: Demo) -> None:
    """Judged channels without drivers: each channel's section has no driver phrases."""
    frame, _truth, _model = demo
    leads = leads_from_records(frame.head(2000))
    report = build_channel_report(leads, None, thresholds=Thresholds(30, 3))
    assert (report.funnel_channel["verdict"] == "ok").sum() > 1
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "no model: only the funnel is reported" in page
    assert "<h3>paid_search</h3><ul class='phrases'></ul>" in page
