"""Demo data: synthetic leads with full status histories and known ground truth."""

from features.demo.generator import (
    DATA_FORMATS,
    STEPS,
    DemoSummary,
    frame_row_to_lead,
    generate_leads,
    write_demo_data,
)

__all__ = [
    "DATA_FORMATS",
    "STEPS",
    "DemoSummary",
    "frame_row_to_lead",
    "generate_leads",
    "write_demo_data",
]
