"""The queue's exploration boost: a random share of arrivals goes to the front whatever its
score, the draw and its propensity are logged on the arrival scores; on both stores."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import Store
from tests.serving.conftest import headers, make_lead, serving_settings, with_outlook
from tests.serving.web.conftest import sign_in
from training.outlook import Outlook


@pytest.fixture
def exploring(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app with a 40% exploration share; each test sets the draws it needs."""
    settings = serving_settings(tmp_path, database_url=database_url).model_copy(
        update={"exploration_share": 0.4}
    )
    with TestClient(create_app(settings, loader=MemoryLoader())) as client:
        yield client


def _draws(client: TestClient, draws: list[float]) -> None:
    client.app.state.services.draw = iter(draws).__next__  # type: ignore[attr-defined]


def _post(client: TestClient, **source: object) -> int:
    response = client.post("/leads", json=make_lead(**source), headers=headers())
    assert response.status_code == 201, response.text
    lead_id: int = response.json()["id"]
    return lead_id


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    return store


def test_an_explored_lead_goes_to_the_front_whatever_its_score(exploring: TestClient) -> None:
    # the draw below the share explores; the weak lead gets it, the strong one does not
    _draws(exploring, [0.9, 0.1])
    strong = _post(exploring, channel="referral")
    weak = _post(exploring, channel="display", message=None, email=None)
    queue = exploring.get("/queue", headers=headers("marketing")).json()["items"]
    by_id = {item["lead_id"]: item for item in queue}
    assert by_id[weak]["probability"] < by_id[strong]["probability"]
    assert [item["lead_id"] for item in queue] == [weak, strong]
    assert by_id[weak]["explored"] is True
    assert by_id[strong]["explored"] is False
    claimed = exploring.post("/queue/claim", headers=headers())
    assert claimed.json()["lead"]["id"] == weak


def test_the_draw_and_its_propensity_are_logged_on_the_arrival_scores(
    exploring: TestClient,
) -> None:
    _draws(exploring, [0.05, 0.75])
    boosted = _post(exploring, channel="display")
    plain = _post(exploring, channel="display")
    store = _store(exploring)
    for lead_id, explored in ((boosted, True), (plain, False)):
        row = store.lead(lead_id)
        assert row.explored is explored
        assert row.scores
        assert {(score.explored, score.propensity) for score in row.scores} == {(explored, 0.4)}


def test_a_qualified_score_carries_no_draw(exploring: TestClient) -> None:
    _draws(exploring, [0.99])
    lead_id = _post(exploring, channel="referral")
    answers = {"bant": {"is_decision_maker": True, "need_service": "seo"}}
    response = exploring.put(f"/leads/{lead_id}/qualification", json=answers, headers=headers())
    assert response.status_code == 200, response.text
    scores = _store(exploring).lead(lead_id).scores
    qualified = [score for score in scores if score.kind == "qualified"]
    assert qualified
    assert all(score.explored is None and score.propensity is None for score in qualified)


def test_no_exploration_leaves_the_queue_by_score(client: TestClient) -> None:
    # the suite runs with LEADSCORE_EXPLORATION_SHARE=0: no draw can boost a lead
    _draws(client, [0.0, 0.0])
    strong = _post(client, channel="referral")
    weak = _post(client, channel="display", message=None, email=None)
    queue = client.get("/queue", headers=headers("marketing")).json()["items"]
    assert [item["lead_id"] for item in queue] == [strong, weak]
    assert not any(item["explored"] for item in queue)
    assert {score.propensity for score in _store(client).lead(weak).scores} == {0.0}


@pytest.mark.parametrize("share", [-0.1, 0.6])
def test_an_exploration_share_out_of_range_is_refused(share: float) -> None:
    with pytest.raises(ValidationError, match="exploration_share"):
        ServingSettings(exploration_share=share)


def test_the_store_frame_carries_the_draw_and_the_live_scores(exploring: TestClient) -> None:
    from serving.store.outcomes import store_frame

    _draws(exploring, [0.2, 0.8])
    boosted = exploring.get(f"/leads/{_post(exploring, channel='seo')}", headers=headers())
    plain = exploring.get(f"/leads/{_post(exploring, channel='seo')}", headers=headers())
    frame = store_frame(_store(exploring)).set_index("external_id")
    for lead, explored in ((boosted.json(), True), (plain.json(), False)):
        row = frame.loc[lead["external_id"]]
        assert bool(row["explored"]) is explored
        assert row["propensity"] == 0.4
        arrival = {s["target"]: s["probability"] for s in lead["scores"] if s["stage"] == "arrival"}
        assert arrival
        for target, probability in arrival.items():
            assert row[f"arrival_score_{target}"] == probability


def test_the_queue_page_marks_an_exploration_pick(exploring: TestClient) -> None:
    _draws(exploring, [0.1, 0.9])
    picked = _post(exploring, channel="display")
    plain = _post(exploring, channel="display")
    sign_in(exploring, "sdr")
    page = exploring.get("/app/queue").text
    rows = {
        int(match.group(1)): match.group(2)
        for match in re.finditer(r'<tr data-lead-id="(\d+)">(.*?)</tr>', page, re.S)
    }
    assert "exploration pick" in rows[picked]
    assert "exploration pick" not in rows[plain]
    exploring.cookies.set("lang", "ru")
    assert "случайный выбор" in exploring.get("/app/queue").text


def test_the_boost_holds_in_the_expected_value_order(
    database_url: str, tmp_path: Path, outlook: Outlook
) -> None:
    with with_outlook(
        tmp_path, database_url, outlook, exploration_share=0.4, queue_order="expected_value"
    ) as client:
        _draws(client, [0.9, 0.1])
        strong = _post(client, channel="referral", company_size="1000+")
        weak = _post(client, channel="display", message=None, email=None)
        queue = client.get("/queue", headers=headers("marketing")).json()["items"]
        by_id = {item["lead_id"]: item for item in queue}
        value = {lead: by_id[lead]["outlook"]["expected_value"] for lead in (strong, weak)}
        assert value[weak] < value[strong]
        assert [item["lead_id"] for item in queue] == [weak, strong]
        assert by_id[weak]["explored"] is True
        claimed = client.post("/queue/claim", headers=headers())
        assert claimed.json()["lead"]["id"] == weak
