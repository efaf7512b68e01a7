"""Fixtures of the pipeline tests: the demo spec, demo-like records, a fitted featurizer."""

from __future__ import annotations

from typing import Any

import pytest

from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec, load_spec
from tests.features.pipeline.sample import demo_record


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return load_spec("demo")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [demo_record(i) for i in range(60)]


@pytest.fixture(scope="module")
def qualified(spec: DatasetSpec, records: list[dict[str, Any]]) -> LeadFeaturizer:
    return LeadFeaturizer(spec, "qualified").fit(records)
