"""Expected value: the deal-value model on demo won deals, the ordering by expected value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.deal import deal_values
from features.demo import generate_leads
from features.spec import load_spec
from training.value import (
    ValueOptions,
    captured_value,
    expected_value,
    fit_service_medians,
    fit_value_model,
    mape,
)


@pytest.fixture(scope="module")
def demo_frame() -> pd.DataFrame:
    frame, _ = generate_leads(n=8_000, seed=4, timing=True)
    return frame.sort_values("arrived_at", kind="stable").reset_index(drop=True)


def test_ordering_by_expected_value_captures_the_big_deals() -> None:
    # three small likely deals and two big unlikely ones; the queue's top 40% is two leads
    p_won = np.array([0.5, 0.45, 0.4, 0.2, 0.15])
    value_if_won = np.array([1.0, 1.0, 1.0, 10.0, 8.0])
    realised = np.array([1.0, 0.0, 1.0, 10.0, 0.0])  # who actually signed, and for how much
    ev = expected_value(p_won, value_if_won)
    assert ev.tolist() == pytest.approx([0.5, 0.45, 0.4, 2.0, 1.2])
    assert captured_value(p_won, realised, share=0.4) == 1.0
    assert captured_value(ev, realised, share=0.4) == 10.0
    with pytest.raises(ValueError, match="share"):
        captured_value(ev, realised, share=0.0)


def test_mape_and_the_median_per_service_baseline() -> None:
    assert mape(np.array([100.0, 200.0]), np.array([110.0, 100.0])) == pytest.approx(0.3)
    baseline = fit_service_medians(["seo", "seo", "seo", "ppc", None], np.array([1, 2, 9, 5, 7.0]))
    assert baseline.predict(["seo", "ppc", None, "web"]).tolist() == [2.0, 5.0, 7.0, 5.0]
    with pytest.raises(ValueError, match="positive"):
        mape(np.array([0.0]), np.array([1.0]))


def test_deal_values_convert_to_the_base_currency() -> None:
    frame = pd.DataFrame({"deal_value": [100.0, 10.0, None], "deal_currency": ["RUB", "usd", None]})
    assert deal_values(frame, load_spec("demo")).values[:2].tolist() == [100.0, 900.0]


def test_value_model_beats_the_service_median_and_orders_by_value(
    demo_frame: pd.DataFrame,
) -> None:
    spec = load_spec("demo")
    values = deal_values(demo_frame, spec).values
    won = np.isfinite(values)
    won_rows = np.flatnonzero(won)
    cut = int(len(won_rows) * 0.7)
    fit_rows, test_rows = won_rows[:cut], won_rows[cut:]
    model = fit_value_model(
        spec, demo_frame.iloc[fit_rows], values[fit_rows], ValueOptions(known_at="qualified")
    )
    test = demo_frame.iloc[test_rows]
    baseline = fit_service_medians(
        list(demo_frame["need_service"].iloc[fit_rows]), values[fit_rows]
    )
    model_mape = mape(values[test_rows], model.median(test))
    assert model_mape < mape(values[test_rows], baseline.predict(list(test["need_service"])))
    low, high = model.value_range(test).values()
    assert (low <= model.median(test) + 1e-6).mean() > 0.9
    assert (model.median(test) <= high + 1e-6).mean() > 0.9
    assert (model.expected(test) > model.median(test)).all()  # the smeared mean
    # over every lead: true P(won) x predicted value puts more realised value on top
    p_won = demo_frame["true_p_won"].to_numpy()
    realised = np.nan_to_num(values)
    by_ev = captured_value(expected_value(p_won, model.expected(demo_frame)), realised)
    assert by_ev > 1.3 * captured_value(demo_frame["true_p_sql"].to_numpy(), realised)


def test_value_model_refuses_bad_values(demo_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 20"):
        fit_value_model(load_spec("demo"), demo_frame.iloc[:5], np.ones(5))
    with pytest.raises(ValueError, match="positive"):
        fit_value_model(load_spec("demo"), demo_frame.iloc[:30], -np.ones(30))
