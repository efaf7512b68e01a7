"""Demo-like raw records and small specs the pipeline tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec

T0 = datetime(2024, 3, 5, 14, 20, tzinfo=UTC)  # a Tuesday

CHANNELS = ["paid_search", "referral", "social", "events"]
MESSAGES = [
    "Здравствуйте! Срочно нужна цена на продвижение сайта",
    "Hi, please send a quote for SEO asap",
    "Ищу работу, вот резюме",
    "Объявлен тендер на SMM",
    "Call me back",
    None,
]


def demo_record(i: int) -> dict[str, Any]:
    """A demo-like record; every column takes missing forms (absent key, None, NaN, "")."""
    rng = np.random.default_rng(i)
    record: dict[str, Any] = {
        "external_id": f"L{i}",
        "arrived_at": T0 + timedelta(hours=int(rng.integers(0, 24 * 60))),
        "channel": CHANNELS[i % len(CHANNELS)],
        "utm_source": ["google", "yandex", None, ""][i % 4],
        "utm_campaign": f"camp{i % 7}",
        "landing_page": "/seo" if i % 3 else float("nan"),
        "contact_type": ["form", "chat", "call"][i % 3],
        "region": ["Moscow", "Kazan", "Almaty"][i % 3],
        "company_industry": ["retail", "it", None][i % 3],
        "company_size": ["1-10", "51-200", "201-1000", None][i % 4],
        "email": ["ivan@acme.ru", "x@gmail.com", "broken@", None][i % 4],
        "phone": ["+7 999 123-45-67", None, "n/a"][i % 3],
        "message": MESSAGES[i % len(MESSAGES)],
        "first_touch_at": (T0 - timedelta(days=int(rng.integers(0, 40)))) if i % 2 else None,
        "budget_amount": [1000.0, None, 250000.0, float("nan")][i % 4],
        "budget_currency": ["USD", None, "RUB", None][i % 4],
        "budget_bracket": [None, "300k_1m", None, None][i % 4],
        "authority_role": ["CEO", "marketer", None][i % 3],
        "is_decision_maker": [True, False, None][i % 3],
        "need_service": ["seo", "ppc", "web"][i % 3],
        "need_fit": ["strong", "partial", "none", None][i % 4],
        "timeframe": ["now", "lt_3m", "unknown", None][i % 4],
        "q_project_type": ["new", "existing", None][i % 3],
        "q_promotion_region": "local",
        "q_site_age_years": [3, None, 2.5][i % 3],
        "q_has_analytics": [True, None, False][i % 3],
        "q_monthly_ad_spend": None,
        "q_ad_platform": ["yandex", None][i % 2],
        "q_followers_k": 1.5,
        "q_has_content_team": None,
        "q_pages_count": [10, None][i % 2],
        "q_has_design": [False, None][i % 2],
    }
    for key in ("utm_campaign", "q_monthly_ad_spend", "q_ad_platform")[: i % 4]:
        del record[key]  # absent keys are missing values (serving)
    return record


def frame_of(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """The same rows as a DataFrame (pandas 3 gives text columns the ``str`` dtype)."""
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in records], columns=columns)


def spec_of(features: list[dict[str, Any]], **extra: Any) -> DatasetSpec:
    """A one-target spec with these features (``extra``: more spec keys)."""
    return DatasetSpec.model_validate(
        {
            "name": "t",
            "id_column": "id",
            "time_column": "arrived_at",
            "channel_column": "channel",
            "targets": {"won": {"kind": "binary", "column": "won"}},
            "features": features,
            **extra,
        }
    )


def output_column(featurizer: LeadFeaturizer, rows: Any, name: str) -> np.ndarray:
    """The output column ``name`` of the transformed ``rows``."""
    matrix = featurizer.transform(rows)
    return matrix[:, featurizer.feature_names_.index(name)]


def category_code(featurizer: LeadFeaturizer, name: str, label: str) -> float:
    """The code of category ``label`` in the categorical output ``name``."""
    return float(featurizer.categories_[name].index(label))
