"""The lean data path of ``prepare_frame``: text columns stay Arrow-backed ``str``, markers
are found without a Python object per row, typed columns are checked without parsing, and
none of it changes what a data set holds, warns about or featurizes to."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.checks import missing_rows, read_columns, text_markers
from features.coerce import as_object_array, is_missing
from features.dataset import DatasetError, LeadData, prepare_frame
from features.demo import generate_leads
from features.pipeline.featurizer import LeadFeaturizer
from features.spec import load_spec

#: every character Python's str.strip() removes (the exotic ones Arrow may not know)
SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


@pytest.fixture(scope="module")
def marked() -> pd.DataFrame:
    """Demo leads with blank markers (plain and exotic whitespace) and unknown ordinals."""
    frame, _ = generate_leads(n=1500, seed=11)
    rng = np.random.default_rng(5)
    blanks = ["", " ", "\t \u3000", "\x1c", "\u2028 \xa0"]
    for column in ("region", "utm_source", "need_service", "message", "company_size"):
        values = frame[column].astype(object)
        pick = rng.random(len(frame)) < 0.1
        values[pick] = rng.choice(blanks, int(pick.sum()))
        frame[column] = pd.array(values, dtype="str")
    sizes = frame["company_size"].astype(object)
    sizes[rng.random(len(frame)) < 0.02] = " huge "
    frame["company_size"] = pd.array(sizes, dtype="str")
    return frame


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as Python objects, missing as None: the frame the checks read before."""
    return pd.DataFrame(
        {c: pd.Series(as_object_array(frame[c]), dtype=object) for c in frame.columns}
    )


def _same_data(lean: LeadData, plain: LeadData) -> None:
    assert list(lean.ids) == list(plain.ids)
    assert lean.times is not None
    assert plain.times is not None
    assert lean.times.equals(plain.times)
    assert {t: v.tolist() for t, v in lean.targets.items()} == {
        t: v.tolist() for t, v in plain.targets.items()
    }
    assert [str(w) for w in lean.warnings] == [str(w) for w in plain.warnings]
    for column in plain.frame.columns:
        assert (
            as_object_array(lean.frame[column]).tolist()
            == as_object_array(plain.frame[column]).tolist()
        ), column


def test_text_markers_read_values_as_str_strip_does() -> None:
    values = ["", " ", SPACES, "a", " a ", "Select", " Select\x1f", "-", None, "x\u3000"]
    series = pd.Series(values, dtype="str")
    markers = ["", "Select", "-"]
    expected = is_missing(as_object_array(series), markers) & ~series.isna().to_numpy()
    assert text_markers(series, markers).tolist() == expected.tolist()
    python = pd.Series(values, dtype=pd.StringDtype("python"))
    assert text_markers(python, markers).tolist() == expected.tolist()
    assert not text_markers(series, []).any()


def test_missing_rows_match_the_object_reading(marked: pd.DataFrame) -> None:
    for column in ("region", "budget_amount", "arrived_at", "is_decision_maker", "message"):
        plain = is_missing(as_object_array(marked[column]), [""])
        assert missing_rows(marked, column, [""]).tolist() == plain.tolist(), column


def test_text_columns_stay_text_with_markers_made_missing(marked: pd.DataFrame) -> None:
    data = prepare_frame(load_spec("demo"), marked)
    assert str(data.frame["region"].dtype) == "str"
    assert str(data.frame["message"].dtype) == "str"
    region = as_object_array(data.frame["region"])
    assert not any(isinstance(v, str) and not v.strip() for v in region)
    assert sum(v is None for v in region) >= 0.1 * len(region)


def test_the_lean_path_holds_warns_and_featurizes_as_the_object_path(
    marked: pd.DataFrame,
) -> None:
    spec = load_spec("demo")
    lean, plain = prepare_frame(spec, marked), prepare_frame(spec, _objects(marked))
    _same_data(lean, plain)
    assert any("'huge' is outside the order" in str(w) for w in lean.warnings)
    for known_at in ("arrival", "qualified"):
        x_lean = LeadFeaturizer(spec, known_at).fit_transform(lean.frame)
        x_plain = LeadFeaturizer(spec, known_at).fit_transform(plain.frame)
        np.testing.assert_array_equal(x_lean, x_plain)


def test_typed_columns_still_report_missing_times(marked: pd.DataFrame) -> None:
    frame = marked.copy()
    frame.loc[[3, 7], "arrived_at"] = pd.NaT
    with pytest.raises(DatasetError) as caught:
        prepare_frame(load_spec("demo"), frame)
    rows = {p.row for p in caught.value.problems if "missing time" in p.message}
    assert rows == {4, 8}


def test_a_frame_given_with_only_the_columns_read_warns_about_the_others(
    marked: pd.DataFrame,
) -> None:
    spec = load_spec("demo")
    extra = marked.assign(crm_note="x")
    whole = prepare_frame(spec, extra)
    only = [c for c in extra.columns if c in read_columns(spec)]
    lean = prepare_frame(spec, extra[only], columns_read=list(extra.columns))
    assert any("crm_note" in str(w) for w in whole.warnings)
    assert [str(w) for w in lean.warnings] == [str(w) for w in whole.warnings]
    assert lean.columns_read == whole.columns_read


def test_only_types_read_from_text_build_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Categorical, text, e-mail, phone and ordinal checks never turn a column into Python
    objects; a number column holding text still does, and its unreadable values are errors."""
    import features.checks as checks
    from features.spec import FeatureSpec

    frame = pd.DataFrame(
        {
            "region": pd.array(["north", "south", None], dtype="str"),
            "message": pd.array(["hello", "", "hi"], dtype="str"),
            "size": pd.array(["small", "huge", None], dtype="str"),
            "amount": pd.array(["1.5", "lots", None], dtype="str"),
        }
    )
    built: list[str] = []
    column_values = checks.column_values

    def counted(frame: pd.DataFrame, column: str) -> np.ndarray:
        built.append(column)
        return column_values(frame, column)

    monkeypatch.setattr(checks, "column_values", counted)
    check = checks.Checker(source="<frame>", first_row=1, markers=[])
    features = [
        FeatureSpec(column="region", type="categorical"),
        FeatureSpec(column="message", type="text"),
        FeatureSpec(column="size", type="ordinal", order=["small", "large"]),
        FeatureSpec(column="amount", type="numeric"),
    ]
    for feature in features:
        checks.check_feature(check, frame, feature, set(frame.columns))
    assert built == ["amount"]
    assert [(p.row, p.column) for p in check.problems] == [(2, "amount")]
    assert [(p.row, p.column) for p in check.warnings] == [(2, "size")]
