"""POST /score and /score/csv: batch scoring without storing anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from tests.serving.conftest import headers, make_lead
from training.rules import rule_probability

RECORDS = [
    {"external_id": "r1", "channel": "referral", "email": "a@acme.io", "phone": "+7"},
    {"external_id": "r2", "channel": "display", "message": "ищу вакансию"},
    {"channel": "unheard_of_channel", "budget_amount": "500 000", "budget_currency": "RUB"},
]


def test_score_records_in_order_without_storing(client: TestClient) -> None:
    response = client.post("/score", json={"records": RECORDS}, headers=headers("sales"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stage"] == "arrival"
    assert body["target"] == "sql"
    assert body["is_fallback"] is True
    assert body["model"]["version"] == "fallback"
    probabilities = [row["probability"] for row in body["rows"]]
    arrival_only = [{k: v for k, v in r.items() if not k.startswith("budget")} for r in RECORDS]
    assert probabilities == list(rule_probability(arrival_only))
    assert [row["external_id"] for row in body["rows"]] == ["r1", "r2", None]
    # 35 points: referral, corporate e-mail, phone, no message
    assert body["rows"][0]["tier"] == "C"
    assert body["rows"][1]["tier"] == "D"
    assert all(row["reasons"] is None for row in body["rows"])
    assert client.get("/queue", headers=headers()).json()["total"] == 0


def test_qualified_stage_uses_answers_and_reasons_on_request(client: TestClient) -> None:
    params = {"stage": "qualified", "reasons": True}
    body = client.post("/score", json={"records": RECORDS}, params=params, headers=headers()).json()
    assert body["stage"] == "qualified"
    third = body["rows"][2]
    budget = [r for r in third["reasons"] if r["field"] == "budget_amount"]
    assert [r["phrase"] for r in budget] == ["Budget: RUB\u00a0500,000"]
    assert budget[0]["effect_pp"] >= 1.0  # shown from 1 percentage point
    assert all(r["direction"] in "+-" for row in body["rows"] for r in row["reasons"])


def test_score_full_leads(client: TestClient) -> None:
    leads = [make_lead("l1", channel="referral"), make_lead("l2", channel="display")]
    body = client.post("/score", json={"leads": leads}, headers=headers()).json()
    assert [row["external_id"] for row in body["rows"]] == ["l1", "l2"]
    assert body["rows"][0]["probability"] > body["rows"][1]["probability"]


def test_bad_records_name_row_and_column(client: TestClient) -> None:
    records = [
        {"channel": "seo"},
        {"channel": "seo", "budget_amount": "lots", "arrived_at": "someday"},
        {"channel": "seo", "is_decision_maker": "perhaps", "q_site_age_years": "old"},
    ]
    response = client.post("/score", json={"records": records}, headers=headers())
    assert response.status_code == 422
    errors = {error["field"]: error for error in response.json()["errors"]}
    assert set(errors) == {
        "records[1].budget_amount",
        "records[1].arrived_at",
        "records[2].is_decision_maker",
        "records[2].q_site_age_years",
    }
    assert errors["records[1].budget_amount"]["message"] == "expected a number"
    assert errors["records[1].budget_amount"]["input"] == "lots"
    assert errors["records[2].is_decision_maker"]["row"] == 2
    assert "ISO 8601" in errors["records[1].arrived_at"]["message"]


def test_request_shape_errors(client: TestClient) -> None:
    both = client.post("/score", json={"records": RECORDS, "leads": []}, headers=headers())
    assert both.status_code == 422
    assert "exactly one of 'leads' or 'records'" in both.json()["detail"]
    empty = client.post("/score", json={"records": []}, headers=headers())
    assert "nothing to score" in empty.json()["detail"]
    stage = client.post(
        "/score", json={"records": RECORDS}, params={"stage": "x"}, headers=headers()
    )
    assert stage.json()["errors"][0]["field"] == "stage"


@pytest.fixture
def settings_client_small_batch(settings: ServingSettings) -> Iterator[TestClient]:
    small = settings.model_copy(update={"max_score_rows": 2})
    with TestClient(create_app(small, loader=MemoryLoader())) as client:
        yield client


def test_row_limit(settings_client_small_batch: TestClient) -> None:
    response = settings_client_small_batch.post(
        "/score", json={"records": RECORDS}, headers=headers()
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "records"
    assert "at most 2 rows" in response.json()["detail"]


CSV = (
    "external_id;channel;email;budget_amount;crm_owner\n"
    "c1;referral;anna@acme.ru;;Olga\n"
    "c2;display;;100;Olga\n"
)


def test_score_csv_upload(client: TestClient) -> None:
    files = {"file": ("leads.csv", CSV.encode(), "text/csv")}
    response = client.post("/score/csv", files=files, params={"reasons": True}, headers=headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row["external_id"] for row in body["rows"]] == ["c1", "c2"]
    assert body["ignored_columns"] == ["crm_owner"]
    assert body["rows"][0]["probability"] > body["rows"][1]["probability"]
    assert body["rows"][0]["reasons"][0]["field"] == "channel"


def test_csv_errors_name_row_line_and_column(client: TestClient) -> None:
    bad = "channel,is_decision_maker,first_touch_at\nseo,yes,2026-01-01\nppc,maybe,never\n"
    files = {"file": ("leads.csv", bad.encode(), "text/csv")}
    response = client.post("/score/csv", files=files, headers=headers())
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["line"], e["column"]) for e in errors] == [
        ("rows[1].is_decision_maker", 3, "is_decision_maker"),
        ("rows[1].first_touch_at", 3, "first_touch_at"),
    ]
    ragged = client.post(
        "/score/csv",
        files={"file": ("x.csv", b"channel\nseo,extra\n", "text/csv")},
        headers=headers(),
    )
    assert ragged.status_code == 422
    assert "line 2 has more values than the header" in ragged.json()["detail"]
    binary = client.post(
        "/score/csv", files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}, headers=headers()
    )
    assert "not UTF-8" in binary.json()["detail"]
    missing = client.post("/score/csv", headers=headers())
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"
