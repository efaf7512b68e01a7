"""Money in the installation's currency, through the settings and the real app.

A model keeps the rates (and their date) it was trained with; ``LEADSCORE_DISPLAY_CURRENCY``
only changes how the service says an amount, converted with those same rates. The app tests
train a small qualified model on generated demo leads and score real leads on SQLite.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.i18n import Phrasebook
from features.i18n.fields import describe_field
from features.pipeline import LeadFeaturizer
from features.spec import KnownAt, load_spec
from features.tiers import Tiers
from serving.app import create_app
from serving.modelset import MemoryLoader, ModelSet
from serving.scoring import Scorer
from serving.settings import ServingSettings
from tests.features.test_money import _budget, _write
from tests.serving.conftest import SEO_BANT, headers, make_lead, serving_settings
from training.reasons import Wording
from training.registry import VersionedModel, model_name
from training.trainer import TrainOptions, TrainResult, train_model

NBSP = "\u00a0"
USD_BUDGET = {"amount": 50_000, "currency": "USD"}


def test_the_featurizer_keeps_its_training_rates_after_the_rates_and_settings_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "date: 2026-11-30\nbase: RUB\nrates: {USD: 90.0}\n")
    rows = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "channel": ["x", "y", "x"],
            "budget": [50_000.0, 300_000.0, 1_000.0],
            "currency": ["USD", "RUB", "USD"],
        }
    )
    fitted = LeadFeaturizer(load_spec(path)).fit(rows)
    before = fitted.transform(rows)
    stored = pickle.dumps(fitted)

    # the rates file moves on and the installation now shows dollars
    _write(tmp_path, "date: 2027-01-31\nbase: RUB\nrates: {USD: 120.0}\n")
    monkeypatch.setenv("LEADSCORE_DISPLAY_CURRENCY", "USD")
    settings = ServingSettings()
    assert settings.display_currency == "USD"

    loaded = pickle.loads(stored)
    after = loaded.transform(rows)
    assert after.tolist() == before.tolist()
    assert after[0, 1] == 4_500_000.0  # 50,000 USD at the training rate of 90
    budget = _budget(loaded.spec, "budget")
    assert (budget.rates, budget.rates_date) == ({"RUB": 1.0, "USD": 90.0}, date(2026, 11, 30))
    fresh = LeadFeaturizer(load_spec(path)).fit(rows).transform(rows)
    assert fresh[0, 1] == 6_000_000.0  # only a model trained on the new file sees them

    phrase = describe_field(
        budget,
        {"budget_rub": float(after[1, 1])},
        rows.iloc[1].to_dict(),
        {},
        Phrasebook("en", "UTC", settings.display_currency),
    )
    assert phrase == ("Budget: ≈ $3,333 at the rates of 30 Nov 2026", False)  # 300,000 / 90


def test_the_display_currency_setting_is_checked() -> None:
    assert ServingSettings(display_currency=" eur").display_currency == "EUR"
    assert ServingSettings().display_currency is None
    with pytest.raises(ValueError, match="display_currency"):
        ServingSettings(display_currency="euro")


# ------------------------------------------------------------------------ the scorer


def test_the_scorer_says_money_in_its_currency_with_the_models_rates(
    qualified_model: TrainResult,
) -> None:
    served = VersionedModel(model_name("qualified", "sql", "demo"), "1", qualified_model.model)
    models = ModelSet({("qualified", "sql"): served.name}, {("qualified", "sql"): served})
    records = [
        {"channel": "referral", "budget_amount": 50_000, "budget_currency": "USD"},
        {"channel": "referral", "budget_amount": 300_000, "budget_currency": "RUB"},
        {"channel": "referral", "budget_bracket": "1m_3m"},
    ]
    said: dict[str | None, list[str]] = {}
    for currency in (None, "USD"):
        scorer = Scorer(Tiers(0.5, 0.25, 0.1), Wording(20, 0.0, "en", "UTC", currency))
        batch = scorer.score_batch(models, "qualified", "sql", records, with_reasons=True)
        assert batch.is_fallback is False
        assert batch.reasons is not None
        said[currency] = [
            next(r.phrase for r in reasons if r.field == "budget_amount")
            for reasons in batch.reasons
        ]
        others = [[(r.field, r.effect_pp) for r in reasons] for reasons in batch.reasons]
        if currency is None:
            rouble_others = others
        else:  # the same reasons with the same effects: only the money is said otherwise
            assert others == rouble_others
    assert said[None] == [
        f"Budget: ≈ RUB{NBSP}4,500,000 at the rates of 30 Nov 2026",
        f"Budget: RUB{NBSP}300,000",
        f"Budget: about RUB{NBSP}1,800,000 (bracket)",
    ]
    assert said["USD"] == [
        "Budget: $50,000",
        "Budget: ≈ $3,333 at the rates of 30 Nov 2026",
        "Budget: about $20,000 (bracket) at the rates of 30 Nov 2026",
    ]


# ------------------------------------------------------------------------ the real app


@pytest.fixture(scope="module")
def qualified_model() -> TrainResult:
    frame, _truth = generate_leads(n=1500, seed=5)
    data: LeadData = prepare_frame(load_spec("demo"), frame, source="demo(n=1500, seed=5)")
    options = TrainOptions(known_at=KnownAt.QUALIFIED, params={"learning_rate": 0.2}, refit=False)
    return train_model(data, options)


def _client(root: Path, model: TrainResult, **update: Any) -> Iterator[TestClient]:
    settings = serving_settings(root).model_copy(
        update={"reasons_top_k": 20, "reason_threshold_pp": 0.0, **update}
    )
    loader = MemoryLoader()
    loader.publish(model_name("qualified", "sql", "demo"), "1", model.model)
    with TestClient(create_app(settings, loader=loader)) as client:
        yield client


def _budget_reason(client: TestClient, budget: dict[str, Any]) -> str:
    lead = client.post("/leads", json=make_lead(channel="referral"), headers=headers())
    assert lead.status_code == 201, lead.text
    bant = {**SEO_BANT, "budget": budget}
    answer = client.put(
        f"/leads/{lead.json()['id']}/qualification", json={"bant": bant}, headers=headers()
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["name"] == "leadscore-qualified-sql"
    assert body["is_fallback"] is False
    phrases = [r["phrase"] for r in body["reasons"] if r["field"] == "budget_amount"]
    assert len(phrases) == 1, body["reasons"]
    return str(phrases[0])


def test_a_rouble_installation_says_a_usd_budget_with_the_rates_date(
    tmp_path: Path, qualified_model: TrainResult
) -> None:
    for client in _client(tmp_path, qualified_model):
        assert _budget_reason(client, USD_BUDGET) == (
            f"Budget: ≈ RUB{NBSP}4,500,000 at the rates of 30 Nov 2026"
        )
        unknown = {"amount": 50_000, "currency": "GBP"}  # no rate for it: said, never a 500
        assert _budget_reason(client, unknown) == "Budget: amount in an unknown currency"


@pytest.mark.parametrize(
    ("locale", "dollars", "converted"),
    [
        ("en", "Budget: $50,000", "Budget: ≈ $3,333 at the rates of 30 Nov 2026"),
        (
            "ru",
            f"Бюджет: 50{NBSP}тыс.{NBSP}$",
            f"Бюджет: ≈ 3{NBSP}333{NBSP}$ по курсу на 30 ноября 2026",
        ),
    ],
)
def test_a_usd_installation_says_a_usd_budget_in_dollars(
    tmp_path: Path, qualified_model: TrainResult, locale: str, dollars: str, converted: str
) -> None:
    for client in _client(tmp_path, qualified_model, display_currency="USD", locale=locale):
        assert _budget_reason(client, USD_BUDGET) == dollars
        assert _budget_reason(client, {"amount": 300_000, "currency": "RUB"}) == converted
