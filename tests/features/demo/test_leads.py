"""Generated rows (frame or CSV) re-assembled into valid leads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.demo import frame_row_to_lead, generate_leads, write_demo_data
from features.lead import lead_to_record
from features.questionnaire import load_catalog, validate_answers


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
