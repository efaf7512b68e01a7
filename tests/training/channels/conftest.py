"""The demo leads and model every channel-review test shares (trained once per package)."""

from __future__ import annotations

import pytest

from features.spec import load_spec
from tests.training.channels.demo_model import Demo, make_demo
from training.channels.leads import leads_from_records
from training.channels.report import ChannelReport, build_channel_report

SMALL_ROWS = 6_000


@pytest.fixture(scope="package")
def demo() -> Demo:
    """6,000 demo leads, their ground truth and a model trained on them."""
    return make_demo(SMALL_ROWS, seed=3)


@pytest.fixture(scope="package")
def report(demo: Demo) -> ChannelReport:
    frame, _truth, model = demo
    leads = leads_from_records(frame, spec=load_spec("demo"), source="demo")
    return build_channel_report(
        leads, model, model_name="demo-qualified-sql", model_version="1", explain_per_group=150
    )
