"""The pure parts of the pages: the SLA pill, the funnel moves, the chart, the form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from features.funnel import Status
from features.questionnaire import load_catalog
from serving.api.schemas import ModelRef, ScoreOut
from serving.web.forms import field_errors, qualification_form, request_body
from serving.web.views import moves, probability_chart, sla_pill


@pytest.mark.parametrize(
    ("minutes_left", "level", "text"),
    [
        (29.5, "ok", "29 min left"),
        (10.0, "ok", "10 min left"),
        (9.9, "soon", "9 min left"),
        (0.4, "soon", "<1 min left"),
        (119.9, "ok", "119 min left"),
        (150.0, "ok", "2 h left"),
        (3 * 24 * 60 + 5, "ok", "3 d left"),
        (-200.0, "overdue", "overdue 3 h"),
        (-0.2, "overdue", "overdue 1 min"),
        (-12.4, "overdue", "overdue 12 min"),
    ],
)
def test_sla_pill(minutes_left: float, level: str, text: str) -> None:
    assert sla_pill(minutes_left, 30) == (sla_pill(minutes_left, 30).__class__(level, text))


def test_moves_put_the_suggested_route_first_and_offer_only_allowed_ones() -> None:
    found = moves(Status.SDR_QUALIFYING, "partner")
    assert found[0].status is Status.PARTNER
    assert found[0].suggested
    assert {move.status for move in found} == {
        Status.AWAITING_MANAGER, Status.MANAGER_ASSIGNED, Status.DISCUSSING,
        Status.BRIEF_FILLED, Status.PROPOSAL, Status.CONTRACT, Status.WON,
        Status.DISQUALIFIED, Status.PARTNER, Status.OTHER_DEPARTMENT, Status.LOST,
    }  # fmt: skip
    assert [move.needs_deal_value for move in found if move.status is Status.WON] == [True]
    assert moves(Status.WON, "sales") == []


def _score(stage: str, probability: float, minutes: int) -> ScoreOut:
    return ScoreOut(
        stage=stage,
        target="sql",
        probability=probability,
        tier="B",
        reasons=[],
        model=ModelRef(name="m", version="1"),
        is_fallback=False,
        scored_at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=minutes),
    )


def test_the_chart_puts_time_across_and_probability_up() -> None:
    chart = probability_chart([_score("arrival", 0.2, 0), _score("qualified", 0.8, 30)], "sql")
    assert chart is not None
    first, last = chart.points
    assert first.x == chart.pad_left
    assert last.x == chart.width - chart.pad
    assert last.y < first.y  # higher probability, higher on the chart
    assert first.y == pytest.approx(chart.pad + (chart.height - 2 * chart.pad) * 0.8, abs=0.1)
    assert probability_chart([], "sql") is None
    assert probability_chart([_score("arrival", 0.2, 0)], "won") is None


def test_the_form_becomes_the_apis_body_and_errors_find_their_fields() -> None:
    catalog = load_catalog()
    body = request_body(
        catalog,
        {
            "bant.budget.bracket": "300k_1m",
            "bant.is_decision_maker": "no",
            "bant.authority_role": "  ",
            "questionnaire.service": "seo",
            "questionnaire.answers.site_age_years": "2,5",
            "questionnaire.answers.has_analytics": "yes",
            "questionnaire.answers.project_type": "",
        },
    )
    assert body == {
        "bant": {"budget": {"bracket": "300k_1m"}, "is_decision_maker": False},
        "questionnaire": {
            "service": "seo",
            "answers": {"site_age_years": 2.5, "has_analytics": True},
        },
    }
    errors = field_errors(
        [
            {"field": "questionnaire.answers.site_age_years", "message": "expected a number"},
            {"field": "bant.budget", "message": "give budget.amount with budget.currency"},
            {"field": "questionnaire.service", "message": "unknown service"},
        ]
    )
    form = qualification_form(catalog, "seo", {}, errors)
    by_name = {f.name: f for fieldset in form.fieldsets for f in fieldset.fields}
    assert by_name["questionnaire.answers.site_age_years"].error == "expected a number"
    assert by_name["questionnaire.answers.site_age_years"].maximum == 40
    assert [fs.error for fs in form.fieldsets if fs.path == "bant.budget"] == [
        "give budget.amount with budget.currency"
    ]
    assert form.other_errors == ["questionnaire.service: unknown service"]
    assert "questionnaire.answers.followers_k" not in by_name  # an smm question
