"""The boundary cases of the label tests as a fixture (built once per module)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.training.retraining.cases import case_frame


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    """Real demo rows (every spec column) with the outcomes of CASES written over them."""
    return case_frame()
