"""The report as a whole: without a model, and with a model for another funnel."""

from __future__ import annotations

import pytest

from tests.training.channels.demo_model import Demo
from training.channels.leads import (
    ReportError,
    ReportLeads,
    leads_from_records,
)
from training.channels.report import build_channel_report


def test_without_a_model_only_the_funnel_is_reported(
    demo: Demo,
) -> None:
    frame, _truth, _model = demo
    report = build_channel_report(leads_from_records(frame.head(2000)), None)
    assert report.target == "won"
    assert report.drivers.empty
    assert report.global_drivers.empty
    assert "mean_predicted" not in report.funnel_channel
    assert any("no model" in note for note in report.notes)


def test_a_model_for_another_funnel_is_refused(
    demo: Demo,
) -> None:
    frame, _truth, model = demo
    leads = leads_from_records(frame.head(500))
    other = ReportLeads(
        frame=leads.frame,
        channels=leads.channels,
        campaigns=None,
        times=leads.times,
        stages={"converted": leads.stages["won"]},
    )
    with pytest.raises(ReportError, match="predicts 'sql', which is not a stage"):
        build_channel_report(other, model)
