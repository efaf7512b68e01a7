"""Display labels in specs: the label models, readable defaults, the shipped specs' labels,
and the profile's list of unlabelled features."""

from __future__ import annotations

import gzip
import pickle
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.labels import (
    LABEL_KEYS,
    LocalText,
    field_label,
    missing_of,
    readable_default,
    unit_of,
    unlabelled,
    value_label,
)
from features.pipeline import LeadFeaturizer
from features.profile import profile
from features.spec import SHIPPED_SPECS, FeatureSpec, load_spec, upgraded

OLD_PICKLE = Path(__file__).parent / "data" / "featurizer_before_split.pickle.gz"


@pytest.mark.parametrize(
    ("column", "words"),
    [
        ("utm_campaign", "UTM campaign"),
        ("landing_page", "Landing page"),
        ("is_decision_maker", "Decision maker"),
        ("q_has_analytics", "Has analytics"),
        ("first_touch_at", "First touch"),
        ("TotalVisits", "Total visits"),
        ("Lead Source", "Lead source"),
        ("mql_id", "MQL"),
        ("x", "X"),
    ],
)
def test_readable_default(column: str, words: str) -> None:
    assert readable_default(column) == words


def test_feature_labels_parse_from_a_spec_mapping() -> None:
    feature = FeatureSpec.model_validate(
        {
            "column": "budget_amount",
            "type": "numeric",
            "label": {"ru": "Бюджет", "en": "Budget"},
            "unit": "₽",
            "value_labels": {"lt_100k": {"ru": "до 100 тыс.", "en": "under 100k"}, "x": "икс"},
            "missing": {"en": "budget not asked yet"},
        }
    )
    assert field_label(feature, feature.column, "ru") == "Бюджет"
    assert field_label(feature, feature.column, "en") == "Budget"
    assert unit_of(feature, "en") == unit_of(feature, "ru") == "₽"  # one text for both
    assert value_label(feature, "LT_100K", "en") == "under 100k"  # case-insensitive match
    assert value_label(feature, "gt_3m", "ru") == "gt_3m"  # unlabelled value: the data itself
    assert missing_of(feature, "ru") == "budget not asked yet"  # ru falls back to English
    unlabelled_feature = FeatureSpec.model_validate({"column": "utm_campaign", "type": "text"})
    assert field_label(unlabelled_feature, "utm_campaign", "ru") == "UTM campaign"


def test_english_never_shows_russian_only_words() -> None:
    feature = FeatureSpec.model_validate(
        {"column": "region", "type": "categorical", "value_labels": {"Moscow": {"ru": "Москва"}}}
    )
    assert value_label(feature, "Moscow", "ru") == "Москва"
    assert value_label(feature, "Moscow", "en") == "Moscow"


@pytest.mark.parametrize(
    "bad",
    [{}, {"en": ""}, {"de": "Budget"}],
)
def test_a_label_needs_words_in_a_known_language(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        LocalText.model_validate(bad)
    with pytest.raises(ValidationError, match="label"):
        FeatureSpec.model_validate({"column": "c", "type": "numeric", "label": bad})


@pytest.mark.parametrize("name", ["demo", "x_education", "olist", "bank_marketing"])
def test_shipped_specs_label_every_feature_in_both_languages(name: str) -> None:
    spec = load_spec(name)
    assert unlabelled((f.column, f) for f in spec.features) == []
    for feature in spec.features:
        assert feature.label is not None
        assert feature.label.en, feature.column
        assert feature.label.ru, feature.column


def test_demo_spec_labels_its_answers() -> None:
    features = {f.column: f for f in load_spec("demo").features}
    assert value_label(features["timeframe"], "lt_3m", "ru") == "в ближайшие 3 мес."
    assert value_label(features["channel"], "referral", "en") == "referral"
    assert value_label(features["contact_type"], "call", "ru") == "звонок"
    assert "crm_sales" in SHIPPED_SPECS  # shipped without labels: the defaults apply


def test_profile_lists_unlabelled_features() -> None:
    spec = load_spec("demo")
    frame, _truth = generate_leads(n=300, seed=3)
    assert profile(prepare_frame(spec, frame, source="demo")).unlabelled == []
    stripped = spec.model_copy(
        update={
            "features": [
                f.model_copy(update={"label": None}) if f.column in {"region", "phone"} else f
                for f in spec.features
            ]
        }
    )
    facts = profile(prepare_frame(stripped, frame, source="demo"))
    assert facts.unlabelled == ["region", "phone"]


def test_a_featurizer_pickled_before_labels_gets_the_labels_of_its_spec() -> None:
    featurizer = pickle.loads(gzip.decompress(OLD_PICKLE.read_bytes()))
    assert isinstance(featurizer, LeadFeaturizer)
    shipped = {f.column: f for f in load_spec("demo").features}
    for feature in featurizer.spec.features:
        assert feature.label == shipped[feature.column].label


def test_an_old_spec_without_a_readable_file_keeps_the_defaults(tmp_path: Path) -> None:
    spec = load_spec("demo")
    gone = spec.model_copy(update={"name": "gone", "source_path": tmp_path / "gone.yaml"})
    for feature in gone.features:
        for key in LABEL_KEYS:
            feature.__dict__.pop(key, None)
    restored = upgraded(gone)
    assert [f.label for f in restored.features] == [None] * len(spec.features)
    assert field_label(restored.features[2], "utm_campaign", "en") == "UTM campaign"


@pytest.mark.parametrize(
    ("joins", "problem"),
    [
        ({"phone": "phone"}, "explained_with 'phone' is not another feature"),
        ({"phone": "fax"}, "explained_with 'fax' is not another feature"),
        ({"phone": "email", "email": "message"}, "which itself joins 'message'"),
    ],
)
def test_explained_with_names_another_feature(joins: dict[str, str], problem: str) -> None:
    raw = load_spec("demo").model_dump(exclude_none=True)
    for feature in raw["features"]:
        if feature["column"] in joins:
            feature["explained_with"] = joins[feature["column"]]
    with pytest.raises(ValidationError, match=re.escape(problem)):
        type(load_spec("demo")).model_validate(raw)
