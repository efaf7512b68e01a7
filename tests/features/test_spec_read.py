"""Reading an export as delivered: separators, encodings, number marks, no id, no channel,
per-column missing markers; broken `read:` keys fail naming the spec file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from features.dataset import DatasetError, detect_separator, load_dataset
from features.pipeline import LeadFeaturizer
from features.spec import ONE_CHANNEL, DatasetSpec, SpecError, load_spec

ROWS = [
    ["1", "seo", "1.234,5", "-1", "yes"],
    ["2", "ppc", "10,0", "3", "no"],
    ["3", "seo", "7", "-1", "no"],
]
HEADER = ["ref", "channel", "balance", "pdays", "y"]


def _spec(tmp_path: Path, **changes: Any) -> DatasetSpec:
    raw: dict[str, Any] = {
        "name": "bank",
        "data": "leads.csv",
        "targets": {"y": {"kind": "binary", "column": "y", "positive": ["yes"]}},
        "features": [
            {"column": "balance", "type": "numeric"},
            {"column": "pdays", "type": "numeric", "missing_values": ["-1"]},
        ],
        "drop": [{"column": "ref", "reason": "a second id"}],
        "split": {"kind": "ordered", "test_share": 0.34},
        **changes,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def _file(tmp_path: Path, sep: str, encoding: str = "utf-8", quote: bool = False) -> Path:
    def cell(value: str) -> str:
        return f'"{value}"' if quote else value

    lines = [sep.join(cell(v) for v in row) for row in [HEADER, *ROWS]]
    path = tmp_path / "leads.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_semicolon_file_is_detected_and_the_note_says_so(tmp_path: Path) -> None:
    path = _file(tmp_path, ";", quote=True)
    assert detect_separator(path) == ";"
    data = load_dataset(_spec(tmp_path, read={"decimal": ",", "thousands": "."}), path)
    assert len(data) == 3
    assert any("separator ';' detected" in note for note in data.notes)


@pytest.mark.parametrize(("sep", "found"), [("\t", "\t"), ("|", "|"), (",", ",")])
def test_other_separators_are_detected(tmp_path: Path, sep: str, found: str) -> None:
    assert detect_separator(_file(tmp_path, sep)) == found


def test_decimal_and_thousands_marks_are_read(tmp_path: Path) -> None:
    spec = _spec(tmp_path, read={"sep": ";", "decimal": ",", "thousands": "."})
    data = load_dataset(spec, _file(tmp_path, ";"))
    assert list(data.frame["balance"]) == ["1234.5", "10.0", "7"]
    assert data.notes == []  # the separator was given, nothing detected


def test_a_wrong_separator_lists_the_header_and_hints_at_sep(tmp_path: Path) -> None:
    spec = _spec(tmp_path, read={"sep": ","})
    with pytest.raises(DatasetError) as caught:
        load_dataset(spec, _file(tmp_path, ";"))
    header = next(p for p in caught.value.problems if p.column is None)
    assert header.row == 1
    assert "'ref;channel;balance;pdays;y'" in header.message
    assert "read: {sep: ';'}" in header.message
    assert {p.column for p in caught.value.problems} >= {"balance", "pdays", "y"}


def test_encoding_error_names_the_file_and_the_key_and_the_encoding_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes("ref,channel,balance,pdays,y\n1,café,1,2,yes\n2,seo,3,4,no\n".encode("cp1252"))
    with pytest.raises(DatasetError, match=r"cannot be read as utf-8-sig.*read: \{encoding"):
        load_dataset(_spec(tmp_path), path)
    data = load_dataset(_spec(tmp_path, read={"encoding": "cp1252"}), path)
    assert len(data) == 2


def test_no_id_column_numbers_rows_by_line_and_no_channel_is_all(tmp_path: Path) -> None:
    data = load_dataset(
        _spec(tmp_path, read={"decimal": ",", "thousands": "."}), _file(tmp_path, ";")
    )
    assert list(data.ids) == ["2", "3", "4"]  # lines of the file, header = line 1
    assert set(data.channels) == {ONE_CHANNEL}


def test_a_feature_own_marker_is_missing_in_that_column_only(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        read={"decimal": ",", "thousands": "."},
        features=[
            {"column": "balance", "type": "numeric", "missing_values": ["7"]},
            {"column": "pdays", "type": "numeric", "missing_values": ["-1"]},
        ],
    )
    data = load_dataset(spec, _file(tmp_path, ";"))
    assert list(data.frame["pdays"]) == [None, "3", None]
    assert list(data.frame["balance"]) == ["1234.5", "10.0", None]
    featurizer = LeadFeaturizer(spec).fit(data.frame)
    # a served lead sends pdays as a JSON number: -1 is missing there too (no skew)
    served = featurizer.transform([{"balance": 5, "pdays": -1}, {"balance": 7.0, "pdays": 4}])
    assert np.isnan(served[0, 1])
    assert served[1, 1] == 4
    assert np.isnan(served[1, 0])


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        ({"sep": ";;"}, "sep must be one character"),
        ({"encoding": "utf-99"}, "unknown encoding 'utf-99'"),
        ({"decimal": ",", "thousands": ","}, "decimal and thousands must be different"),
        ({"separator": ";"}, "Extra inputs are not permitted"),
    ],
)
def test_broken_read_options_name_the_file_and_line(
    tmp_path: Path, read: dict[str, str], expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, read=read)
    message = str(caught.value)
    assert expected in message
    lines = (tmp_path / "spec.yaml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, text in enumerate(lines, start=1) if text.startswith("read:"))
    named = {f"spec.yaml:{n}: read" for n in range(start, start + len(read) + 1)}
    assert any(where in message for where in named), message


def test_sep_words_are_accepted(tmp_path: Path) -> None:
    assert _spec(tmp_path, read={"sep": "tab"}).read.sep == "\t"
    assert _spec(tmp_path, read={"sep": "semicolon"}).read.sep == ";"
