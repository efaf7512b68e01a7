"""Reasons in percentage points: effects add up to p - baseline, the threshold, merging per
source field and the "not given" rule, on real LightGBM / logistic models fitted on demo
leads (one thread, small data) and on the fallback rule."""

from __future__ import annotations

import pickle
import re

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.demo import generate_leads
from features.pipeline import LeadFeaturizer
from features.reason import Reason
from features.spec import DatasetSpec, load_spec
from training.baselines import fit_logistic
from training.calibration import fit_calibrator
from training.model import ChainEstimator, Estimator, GbmEstimator, LeadModel, Member
from training.reasons import Wording, merged, scaled_effects, shown
from training.rules import explain_rule, points_to_probability, rule_points

ROWS = 2500
PARAMS = {
    "objective": "binary",
    "verbosity": -1,
    "num_threads": 1,
    "learning_rate": 0.2,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "deterministic": True,
    "seed": 0,
}


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, DatasetSpec]:
    frame, _truth = generate_leads(n=ROWS, seed=11)
    return frame, load_spec("demo")


def _target(frame: pd.DataFrame, stage: str) -> np.ndarray:
    order = ["lead", "mql", "sql", "sal", "won"]
    reached = frame["stage_reached"].map(order.index).to_numpy()
    return (reached >= order.index(stage)).astype(int)


def _booster(matrix: np.ndarray, y: np.ndarray, categorical: list[int]) -> lgb.Booster:
    data = lgb.Dataset(matrix, y, categorical_feature=categorical, free_raw_data=False)
    return lgb.train(PARAMS, data, num_boost_round=40)


def _model(frame: pd.DataFrame, spec: DatasetSpec, known_at: str, kind: str) -> LeadModel:
    featurizer = LeadFeaturizer(spec, known_at)
    matrix = featurizer.fit_transform(frame)
    cats = featurizer.categorical_indices_
    sql = _target(frame, "sql")
    estimator: Estimator
    if kind == "lightgbm":
        estimator = GbmEstimator(_booster(matrix, sql, cats))
    elif kind == "chain":
        won = _target(frame, "won")
        reached = sql == 1
        then = _booster(matrix[reached], won[reached], cats)
        estimator = ChainEstimator(GbmEstimator(_booster(matrix, sql, cats)), GbmEstimator(then))
    else:
        estimator = fit_logistic(matrix, sql, cats)
    target = won if kind == "chain" else sql
    member = Member(estimator, fit_calibrator(estimator.raw_score(matrix), target))
    return LeadModel("demo", known_at, "won" if kind == "chain" else "sql", featurizer, [member])


@pytest.fixture(scope="module")
def models(demo: tuple[pd.DataFrame, DatasetSpec]) -> dict[str, LeadModel]:
    frame, spec = demo
    return {
        "lightgbm-arrival": _model(frame, spec, "arrival", "lightgbm"),
        "lightgbm-qualified": _model(frame, spec, "qualified", "lightgbm"),
        "chain-qualified": _model(frame, spec, "qualified", "chain"),
        "logistic-qualified": _model(frame, spec, "qualified", "logistic"),
    }


@pytest.mark.parametrize(
    "name", ["lightgbm-arrival", "lightgbm-qualified", "chain-qualified", "logistic-qualified"]
)
def test_effects_add_up_to_probability_minus_baseline(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec], name: str
) -> None:
    model = models[name]
    frame, _spec = demo
    matrix = model.transform(frame.head(300))
    probability, baseline, effects = model.effects(matrix)
    np.testing.assert_allclose(probability, model.probabilities(matrix))
    np.testing.assert_allclose(effects.sum(axis=1), 100 * (probability - baseline), atol=1e-9)
    assert np.ptp(baseline) < 1e-12  # one baseline for every lead: the average lead
    # effects keep the sign of the contributions they come from (per column)
    contributions = model.contributions(matrix)
    strong = np.abs(effects) > 0.5
    agree = np.sign(effects[strong]) == np.sign(contributions[strong])
    assert agree.mean() > 0.95
    # and the scored leads carry the same numbers, per source field
    scored = model.score(frame.head(20), Wording(top_k=50, threshold_pp=0.0))
    for lead, row in zip(scored, effects[:20], strict=True):
        assert lead.baseline == pytest.approx(baseline[0])
        assert sum(r.effect_pp or 0 for r in lead.reasons) == pytest.approx(row.sum(), abs=1e-6)


@pytest.mark.parametrize("name", ["lightgbm-arrival", "chain-qualified", "logistic-qualified"])
def test_one_pass_explains_the_same_raw_score_and_contributions(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec], name: str
) -> None:
    estimator = models[name].members[0].estimator
    matrix = models[name].transform(demo[0].head(200))
    raw, contributions = estimator.explain(matrix)
    np.testing.assert_allclose(raw, estimator.raw_score(matrix), rtol=0, atol=1e-9)
    np.testing.assert_allclose(contributions, estimator.contributions(matrix), atol=1e-12)


class _CountedBooster:
    """A real booster whose TreeSHAP passes are counted."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster, self.contrib_passes = booster, 0

    def predict(self, matrix: np.ndarray, **kwargs: object) -> np.ndarray:
        self.contrib_passes += bool(kwargs.get("pred_contrib"))
        return np.asarray(self.booster.predict(matrix, **kwargs))


def test_treeshap_bias_is_learnt_once_even_by_models_pickled_without_it(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec]
) -> None:
    model = models["lightgbm-arrival"]
    original = model.members[0].estimator
    assert isinstance(original, GbmEstimator)
    old = pickle.loads(pickle.dumps(original))
    old.__dict__.pop("bias", None)  # as pickled before the bias was kept (or before it was learnt)
    counted = _CountedBooster(original.booster)
    old.booster = counted  # type: ignore[assignment]
    assert old.bias is None
    matrix = model.transform(demo[0].head(5))
    expected = original.booster.predict(matrix[:1], pred_contrib=True)[0, -1]
    for row in matrix:  # leads scored one by one, as the API does
        one = row[None, :]
        _raw, _contrib = old.explain(one)
        assert old.baseline_raw(one)[0] == pytest.approx(expected, abs=1e-12)
    assert counted.contrib_passes == len(matrix)  # one TreeSHAP pass per lead, not two


def test_shown_reasons_reach_the_threshold(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec]
) -> None:
    model = models["lightgbm-qualified"]
    leads = demo[0].head(200)
    everything = model.score(leads, Wording(top_k=3, threshold_pp=0.0))
    default = model.score(leads, Wording(top_k=3))
    tight_set = model.score(leads, Wording(top_k=3, threshold_pp=5.0))
    for loose, mid, tight in zip(everything, default, tight_set, strict=True):
        assert all(abs(r.effect_pp or 0) >= 1.0 for r in mid.reasons)
        assert all(abs(r.effect_pp or 0) >= 5.0 for r in tight.reasons)
        assert [r.field for r in mid.reasons] == [
            r.field for r in loose.reasons if abs(r.effect_pp or 0) >= 1.0
        ]
        assert sum(r.direction == "+" for r in mid.reasons) <= 3
        assert mid.probability == loose.probability
    counts = [sum(len(s.reasons) for s in run) for run in (everything, default, tight_set)]
    assert counts[0] > counts[1] > counts[2] > 0  # the threshold leaves the big ones


def test_one_reason_per_source_field_and_no_column_names(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec]
) -> None:
    model = models["lightgbm-qualified"]
    # budget_amount has two outputs (amount in RUB, how it was given): one reason
    assert model.featurizer.feature_sources_.count("budget_amount") == 2
    columns = [c for c in demo[0].columns if "_" in c]
    for locale in ("en", "ru"):
        wording = Wording(top_k=50, threshold_pp=0.0, locale=locale)
        for lead in model.score(demo[0].head(150), wording):
            fields = [r.field for r in lead.reasons]
            assert len(fields) == len(set(fields))
            for reason in lead.reasons:
                assert not any(re.search(rf"\b{c}\b", reason.phrase) for c in columns), reason


def test_a_feature_explained_with_another_is_one_reason(
    demo: tuple[pd.DataFrame, DatasetSpec],
) -> None:
    frame, spec = demo
    features = [
        f.model_copy(update={"explained_with": "email"}) if f.column == "phone" else f
        for f in spec.features
    ]
    model = _model(frame, spec.model_copy(update={"features": features}), "arrival", "lightgbm")
    assert "phone" not in model.reason_fields()
    scored = model.score(frame.head(100), Wording(top_k=50, threshold_pp=0.0))
    matrix = model.transform(frame.head(100))
    _p, _p0, effects = model.effects(matrix)
    sources = model.featurizer.feature_sources_
    joined = [j for j, s in enumerate(sources) if s in {"email", "phone"}]
    for lead, row in zip(scored, effects, strict=True):
        assert all(r.field != "phone" for r in lead.reasons)
        email = [r for r in lead.reasons if r.field == "email"]
        assert len(email) == 1
        assert email[0].effect_pp == pytest.approx(row[joined].sum())
        assert "e-mail" in email[0].phrase
        assert "phone" in email[0].phrase  # "corporate e-mail; phone number given"


def test_not_given_only_past_the_threshold_and_as_an_action(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec]
) -> None:
    model = models["lightgbm-qualified"]
    leads = demo[0].head(300).copy()
    leads.loc[leads.index[:150], ["budget_amount", "budget_bracket", "budget_currency"]] = None
    scored = model.score(leads, Wording(top_k=3))
    shown_missing = [r for lead in scored for r in lead.reasons if r.missing]
    every_missing = [
        r
        for lead in model.score(leads, Wording(top_k=50, threshold_pp=0.0))
        for r in lead.reasons
        if r.missing
    ]
    assert every_missing
    assert len(shown_missing) < len(every_missing)
    assert all(abs(r.effect_pp or 0) >= 1.0 for r in shown_missing)
    budget = [r for r in every_missing if r.field == "budget_amount"]
    assert budget
    assert {r.phrase for r in budget} == {"Budget: not asked yet"}
    russian = model.score(leads.head(150), Wording(top_k=50, threshold_pp=0.0, locale="ru"))
    phrases = {r.phrase for lead in russian for r in lead.reasons if r.field == "budget_amount"}
    assert phrases == {"Бюджет: ещё не спросили"}


def test_scaled_effects_are_exact_even_when_the_linearisation_is_off() -> None:
    contributions = np.array([[1.0, -0.5, 0.25], [0.5, -0.5, 0.0], [1.0, 1.0, -0.5], [0, 0, 0.0]])
    change = np.array([0.12, 0.03, -0.02, 0.0])  # row 2: flat sum; row 3: the other sign
    effects = scaled_effects(contributions, change)
    np.testing.assert_allclose(effects.sum(axis=1), change, atol=1e-15)
    np.testing.assert_allclose(effects[0], contributions[0] * 0.12 / 0.75)
    assert np.all(effects[3] == 0)


def test_merged_adds_one_fields_lines() -> None:
    lines = [
        Reason("message", "urgent", 10, 2.0),
        Reason("email", "corporate", 10, 2.5),
        Reason("message", "tender", 10, 1.5),
    ]
    out = merged(lines)
    assert [(r.field, r.phrase, r.contribution, r.effect_pp) for r in out] == [
        ("message", "urgent; tender", 20, 3.5),
        ("email", "corporate", 10, 2.5),
    ]
    assert shown(out, top_k=1, threshold_pp=3.0) == [out[0]]


def test_the_rule_explains_in_percentage_points_per_field() -> None:
    record = {
        "channel": "referral",
        "email": "ceo@acme-industries.ru",
        "phone": "+7 999 123-45-67",
        "message": "Срочно: тендер на продвижение, какая цена?",
        "budget_bracket": "1m_3m",
        "is_decision_maker": True,
        "need_fit": "strong",
        "timeframe": "now",
    }
    points, lines = rule_points(record)
    assert sum(line.field == "message" for line in lines) == 3  # urgent, price, tender
    reasons = explain_rule(record, Wording(top_k=10, threshold_pp=0.0))
    assert [r.field for r in reasons].count("message") == 1
    p, p0 = float(points_to_probability(points)), float(points_to_probability(0.0))
    assert sum(r.effect_pp or 0 for r in reasons) == pytest.approx(100 * (p - p0))
    phrases = {r.field: r.phrase for r in reasons}
    assert phrases["channel"] == "Channel: referral"
    assert phrases["message"] == "Message mentions urgency, price, and a tender"
    assert phrases["budget_amount"] == "Budget: about RUB\u00a01,800,000 (bracket)"
    russian = {r.field: r.phrase for r in explain_rule(record, Wording(10, 0.0, locale="ru"))}
    assert russian["channel"] == "Канал: рекомендация"
    assert russian["budget_amount"] == "Бюджет: около 1,8\u00a0млн\u00a0₽ (диапазон)"
    shown_by_default = explain_rule(record)
    assert all(abs(r.effect_pp or 0) >= 1.0 for r in shown_by_default)
    assert len(shown_by_default) < len(reasons)


def test_models_pickled_before_labels_load_and_speak_with_their_spec_s_labels(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec]
) -> None:
    model = models["lightgbm-arrival"]
    old = pickle.loads(pickle.dumps(model))
    for feature in old.featurizer.spec.features:  # what a pickle from before labels holds
        for key in ("label", "value_labels", "unit", "missing"):
            feature.__dict__.pop(key, None)
    loaded = pickle.loads(pickle.dumps(old))
    scored = loaded.score(demo[0].head(5))
    expected = model.score(demo[0].head(5))
    assert [s.probability for s in scored] == [s.probability for s in expected]
    assert [[(r.phrase, r.effect_pp) for r in s.reasons] for s in scored] == [
        [(r.phrase, r.effect_pp) for r in s.reasons] for s in expected
    ]
    # the labels came back from the model's spec file
    assert loaded.featurizer.spec.features[0].label == model.featurizer.spec.features[0].label


@pytest.mark.parametrize("name", ["lightgbm-arrival", "logistic-qualified"])
def test_each_reason_sums_its_fields_columns_and_the_layout_is_not_pickled(
    models: dict[str, LeadModel], demo: tuple[pd.DataFrame, DatasetSpec], name: str
) -> None:
    model = models[name]
    rows = demo[0].head(30)
    scored = model.score(rows, Wording(top_k=50, threshold_pp=0.0))
    contributions = model.contributions(model.transform(rows))
    groups = model.reason_fields()
    for lead, row in zip(scored, contributions, strict=True):
        for reason in lead.reasons:
            columns = [j for j, group in enumerate(groups) if group == reason.field]
            assert reason.contribution == pytest.approx(row[columns].sum(), abs=1e-9)
    assert "reason_layout" in model.__dict__  # worked out once, on the first score
    again = pickle.loads(pickle.dumps(model))
    assert "reason_layout" not in again.__dict__
    assert [s.reasons for s in again.score(rows)] == [s.reasons for s in model.score(rows)]
