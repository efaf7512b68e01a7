"""The tiny data set spec the spec and dataset tests write: its name, its data file and its
id, time and channel columns (each test adds its own targets, features and split)."""

from __future__ import annotations

from typing import Any

TINY_SPEC_HEAD: dict[str, Any] = {
    "name": "tiny",
    "data": "leads.csv",
    "id_column": "id",
    "time_column": "arrived",
    "channel_column": "channel",
}
