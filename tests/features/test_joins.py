"""`joins:` lookup tables: prefixed columns in the export's row order, match rates, unmatched
keys reported, inner joins leaving rows out, repeated keys refused with their lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.coerce import as_object_array
from features.dataset import DatasetError, load_dataset
from features.spec import DatasetSpec, SpecError, load_spec

PIPELINE = [
    "opportunity_id,agent,product,account,stage",
    "o1,Ann,GTX Pro,Acme,Won",  # line 2
    "o2,Bob,GTXPro,Beta,Lost",  # line 3: the pipeline's spelling of GTX Pro
    "o3,Ann,MG,,Won",  # line 4: no account
    "o4,Cid,MG,Acme,Lost",  # line 5
]
PRODUCTS = ["product,series,price", "GTX Pro,GTX,4821", "MG,MG,55"]
ACCOUNTS = ["account;region;sector", "Acme;west;retail", "Beta;east;medical"]

SPEC = """\
name: deals
data: pipeline.csv
id_column: opportunity_id
joins:
  - {path: products.csv, on: product, prefix: "product_"}
  - path: accounts.csv
    on: account
    prefix: "account_"
    columns: [sector]
targets:
  won: {kind: status, column: stage, positive: [Won], negative: [Lost]}
features:
  - {column: agent, type: categorical}
  - {column: product_series, type: categorical}
  - {column: product_price, type: numeric}
  - {column: account_sector, type: categorical}
"""


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spec(tmp_path: Path, text: str = SPEC, **files: list[str]) -> DatasetSpec:
    tables: dict[str, list[str]] = {
        "pipeline.csv": PIPELINE,
        "products.csv": PRODUCTS,
        "accounts.csv": ACCOUNTS,
    }
    tables.update({f"{k}.csv": v for k, v in files.items()})
    for name, lines in tables.items():
        _write(tmp_path, name, lines)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def _texts(column: pd.Series) -> list[object]:
    """A text column's values, missing ones as None (pandas' ``str`` holds them as NaN)."""
    return as_object_array(column).tolist()


def test_lookup_columns_are_joined_with_their_prefix(tmp_path: Path) -> None:
    data = load_dataset(_spec(tmp_path))
    frame = data.frame
    assert _texts(frame["product_series"]) == ["GTX", None, "MG", "MG"]
    assert _texts(frame["product_price"]) == ["4821", None, "55", "55"]
    assert _texts(frame["account_sector"]) == ["retail", "medical", None, "retail"]
    assert "account_region" not in frame  # only the columns asked for
    products, accounts = data.joins
    assert (products.matched, products.rows, products.missing_key) == (3, 4, 0)
    assert (accounts.matched, accounts.missing_key) == (3, 1)
    assert accounts.rate == pytest.approx(0.75)


def test_an_unmatched_key_is_reported_with_its_line(tmp_path: Path) -> None:
    data = load_dataset(_spec(tmp_path))
    [warning] = [w for w in data.warnings if w.column == "product"]
    assert "1 rows have a key not in" in warning.message
    assert "'GTXPro' (line 3)" in warning.message


def test_unmatched_error_makes_it_a_problem(tmp_path: Path) -> None:
    text = SPEC.replace('prefix: "product_"}', 'prefix: "product_", unmatched: error}')
    with pytest.raises(DatasetError, match="'GTXPro' \\(line 3\\)"):
        load_dataset(_spec(tmp_path, text))


def test_an_inner_join_leaves_unmatched_rows_out_and_keeps_their_lines(tmp_path: Path) -> None:
    text = SPEC.replace('prefix: "product_"}', 'prefix: "product_", how: inner}')
    pipeline = [*PIPELINE, "o5,Ann,MG,Acme,Maybe"]  # line 6: an unknown status
    with pytest.raises(DatasetError) as caught:
        load_dataset(_spec(tmp_path, text, pipeline=pipeline))
    assert [(p.row, p.column) for p in caught.value.problems] == [(6, "stage")]
    data = load_dataset(_spec(tmp_path, text))
    assert list(data.ids) == ["o1", "o3", "o4"]


def test_a_repeated_lookup_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    products = [*PRODUCTS, "MG,MG2,60"]  # line 4 repeats line 3
    with pytest.raises(DatasetError) as caught:
        load_dataset(_spec(tmp_path, products=products))
    [problem] = [p for p in caught.value.problems if "repeats" in p.message]
    assert problem.file.endswith("products.csv")
    assert problem.row == 4
    assert "key 'MG' repeats line 3" in problem.message


def test_missing_key_columns_are_named_in_either_file(tmp_path: Path) -> None:
    products = ["name,series,price", "MG,MG,55"]
    with pytest.raises(DatasetError) as caught:
        load_dataset(_spec(tmp_path, products=products))
    named = {(Path(p.file).name, p.column) for p in caught.value.problems}
    assert ("products.csv", "product") in named
    text = SPEC.replace("on: product,", "on: sku,")
    with pytest.raises(DatasetError, match="needed as a key of the join"):
        load_dataset(_spec(tmp_path, text))


def test_a_missing_lookup_file_is_named(tmp_path: Path) -> None:
    text = SPEC.replace("path: accounts.csv", "path: accts.csv")
    with pytest.raises(DatasetError, match=r"accts\.csv: lookup of a join: no such file"):
        load_dataset(_spec(tmp_path, text))


def test_a_column_clash_asks_for_a_prefix(tmp_path: Path) -> None:
    text = SPEC.replace('prefix: "product_"', 'prefix: ""').replace(
        "columns: [sector]", "columns: [sector]\n    prefix: ''"
    )
    text = text.replace('    prefix: "account_"\n', "")
    pipeline = [line + ",x" for line in PIPELINE]
    pipeline[0] = PIPELINE[0] + ",series"
    with pytest.raises(DatasetError, match="would add column\\(s\\) series the data already has"):
        load_dataset(_spec(tmp_path, text, pipeline=pipeline))


def test_keys_as_a_mapping_of_differently_named_columns(tmp_path: Path) -> None:
    text = SPEC.replace("on: product,", "on: {product: sku},")
    products = ["sku,series,price", "GTX Pro,GTX,4821", "MG,MG,55"]
    data = load_dataset(_spec(tmp_path, text, products=products))
    assert _texts(data.frame["product_series"]) == ["GTX", None, "MG", "MG"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("how: inner", "how: outer"), "joins.0.how"),
        (("on: product,", "on: [],"), "on needs at least one key column"),
        (("how: inner}", "how: inner, key: x}"), "Extra inputs"),
    ],
)
def test_broken_joins_name_the_spec_line(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = SPEC.replace('prefix: "product_"}', 'prefix: "product_", how: inner}')
    text = text.replace(*change)
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, text)
    assert expected in str(caught.value)
    assert "spec.yaml:5: joins.0" in str(caught.value)
