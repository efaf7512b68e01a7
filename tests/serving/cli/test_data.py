"""`leadscore check-data`: the one-screen profile, the joins' match rates and the split."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.cli.main import app

SPEC = """\
name: deals
id_column: opportunity_id
time_column: engaged
joins:
  - {path: products.csv, on: product, prefix: "product_"}
drop:
  - {column: close_value, reason: "leakage: 0 for lost deals"}
targets:
  won: {kind: status, column: stage, positive: [Won], negative: [Lost], ignore: [Open]}
features:
  - {column: product, type: categorical}
  - {column: product_price, type: numeric}
  - {column: region, type: categorical}
split: {kind: time, test_start: "2024-03-01"}
"""


def _files(tmp_path: Path, test_stage: str = "Won") -> Path:
    rows = ["opportunity_id,engaged,product,stage,region,close_value,note"]
    for i in range(40):
        month = 1 if i < 20 else 3
        product = ["MG", "GTX", "GTXPro", "MG"][i % 4]
        stage = ["Won", "Lost"][i % 2] if month == 1 else [test_stage, "Lost"][i % 2]
        region = "" if i % 5 == 0 else "north"
        rows.append(f"o{i},2024-0{month}-{1 + i % 20:02d},{product},{stage},{region},1,x")
    rows.append("o99,2024-03-05,MG,Open,north,0,x")
    (tmp_path / "deals.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "products.csv").write_text("product,price\nMG,55\nGTX,550\n", encoding="utf-8")
    spec = tmp_path / "deals.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def _run(spec: Path, data: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check-data", "--spec", str(spec), "--data", str(data)])
    return result.exit_code, result.output


def test_profile_shows_rows_joins_features_and_unused_columns(tmp_path: Path) -> None:
    code, output = _run(_files(tmp_path), tmp_path / "deals.csv")
    assert code == 0, output
    assert "deals: 40 leads" in output
    assert "(41 rows read)" in output
    assert "left out: 1 rows by target 'won' ignores Open" in output
    assert "separator ',' detected" in output
    assert "30 of 40 rows matched (75.0%)" in output  # GTXPro is not in products.csv
    lines = {line.split("│")[1].strip(): line for line in output.splitlines() if "│" in line}
    assert "categorical" in lines["region"]
    assert "20.0%" in lines["region"]  # every fifth region is blank
    assert "numeric" in lines["product_price"]
    assert "read but not used: note" in output
    unlabelled = next(line for line in output.splitlines() if line.startswith("no display label"))
    assert "region" in unlabelled  # the test spec labels nothing
    assert "dropped: close_value (leakage: 0 for lost deals)" in output
    assert "test 20 rows (10 positive)" in output
    assert "fewer than 20" in output  # 10 positives in the test period: a noisy AUC


def test_a_test_period_without_positives_fails_the_check(tmp_path: Path) -> None:
    spec = _files(tmp_path, test_stage="Lost")
    code, output = _run(spec, tmp_path / "deals.csv")
    assert code == 1
    assert "problem(s) with the split" in output
    assert "target won: the test period of the time split has 20 leads and 0 positives" in output


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bank_marketing", "bank_marketing: 45211 leads"),
        ("crm_sales", "crm_sales: 6711 leads"),
    ],
)
def test_the_new_shipped_specs_check_as_delivered(name: str, expected: str) -> None:
    shared = Path(__file__).parents[4] / "shared" / "data"
    if not shared.is_dir():
        pytest.skip(f"../shared/data not present: {shared} (real-data tests need it)")
    result = CliRunner().invoke(app, ["check-data", "--spec", name])
    assert result.exit_code == 0, result.output
    assert expected in result.output
    if name == "crm_sales":
        assert "5564 of 6711 rows matched (82.9%)" in result.output
        assert "left out: 2089 rows by target 'won' ignores Engaging, Prospecting" in result.output
    else:
        assert "ordered: train on the first 36169 rows in file order" in result.output


def test_a_deal_column_the_spec_names_must_be_in_the_data(tmp_path: Path) -> None:
    spec = _files(tmp_path)
    text = spec.read_text(encoding="utf-8").replace(
        'drop:\n  - {column: close_value, reason: "leakage: 0 for lost deals"}\n', ""
    )
    spec.write_text(text + "deal: {value_column: close_value, currency: USD}\n", encoding="utf-8")
    code, output = _run(spec, tmp_path / "deals.csv")
    assert code == 0, output
    assert "close_value" not in output  # read as the deal's value: neither unused nor dropped
    spec.write_text(text + "deal: {value_column: amount, currency: USD}\n", encoding="utf-8")
    code, output = _run(spec, tmp_path / "deals.csv")
    assert code == 1
    assert f"{spec}: the deal section names 'amount' (deal.value_column), not in the data" in (
        output.replace("\n", "")
    )
    assert "Traceback" not in output


def test_a_file_of_deals_is_checked_for_its_key_and_columns(tmp_path: Path) -> None:
    spec = _files(tmp_path)
    text = spec.read_text(encoding="utf-8")
    (tmp_path / "won.csv").write_text("opp,won_at\no0,2024-02-01\no2,2024-02-03\n", "utf-8")
    deal = "deal: {path: won.csv, key: opp, closed_at_column: won_at}\n"
    spec.write_text(text + deal, encoding="utf-8")
    code, output = _run(spec, tmp_path / "deals.csv")
    assert code == 0, output
    spec.write_text(text + deal.replace("key: opp", "key: lead"), encoding="utf-8")
    code, output = _run(spec, tmp_path / "deals.csv")
    assert code == 1
    assert "has no column 'lead' (deal.key)" in output.replace("\n", "")
    assert "Traceback" not in output
