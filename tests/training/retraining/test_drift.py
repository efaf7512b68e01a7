"""PSI on distributions whose answer is known, per-feature drift, and the report."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from features.demo import generate_leads
from features.pipeline import LeadFeaturizer
from features.spec import load_spec
from training.retraining.drift import (
    SMOOTHING,
    DriftReport,
    Flag,
    Sample,
    by_source,
    channel_conversion,
    feature_psi,
    flag_of,
    psi,
    render_html,
    render_markdown,
)


def _exact(ref: np.ndarray, cur: np.ndarray) -> float:
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def test_same_distribution_is_stable() -> None:
    rng = np.random.default_rng(0)
    value = psi(rng.normal(size=50_000), rng.normal(size=50_000))
    assert 0 <= value < 0.005
    assert flag_of(value) is Flag.OK


def test_normal_mean_shift_matches_the_binned_formula() -> None:
    """N(0, 1) vs N(0.5, 1) on the reference deciles: PSI is known in closed form."""
    rng = np.random.default_rng(1)
    reference, current = rng.normal(size=200_000), rng.normal(0.5, 1, size=200_000)
    edges = norm.ppf(np.linspace(0, 1, 11)[1:-1])
    cdf = norm.cdf(np.concatenate([[-np.inf], edges, [np.inf]]) - 0.5)
    expected = _exact(np.full(10, 0.1), np.diff(cdf))
    assert expected == pytest.approx(0.2377, abs=1e-4)
    assert psi(reference, current) == pytest.approx(expected, abs=0.01)


def test_categorical_shares_give_the_exact_index() -> None:
    ref = np.repeat([0.0, 1.0, 2.0], [5000, 3000, 2000])
    cur = np.repeat([0.0, 1.0, 2.0], [2000, 3000, 5000])
    value = psi(ref, cur, categorical=True)
    assert value == pytest.approx(
        _exact(np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])), abs=1e-3
    )
    assert value == pytest.approx(0.5498, abs=1e-3)
    assert flag_of(value) is Flag.DRIFT


def test_few_distinct_numbers_are_binned_by_value() -> None:
    """A 0/1 flag (no deciles possible): 50/50 -> 80/20."""
    ref = np.repeat([0.0, 1.0], [5000, 5000])
    cur = np.repeat([0.0, 1.0], [8000, 2000])
    assert psi(ref, cur) == pytest.approx(
        _exact(np.array([0.5, 0.5]), np.array([0.8, 0.2])), abs=1e-3
    )


def test_missing_values_are_a_bin_of_their_own() -> None:
    """A field that stops arriving is drift, even if the values that do arrive look alike."""
    rng = np.random.default_rng(2)
    ref = rng.normal(size=10_000)
    cur = rng.normal(size=10_000)
    cur[:3000] = np.nan
    value = psi(ref, cur)
    # 30% moved into a bin the reference has (almost) nothing in
    smoothed = SMOOTHING / (10_000 + 12 * SMOOTHING)
    assert value > 0.3 * np.log(0.3 / smoothed) - 0.3
    assert flag_of(value) is Flag.DRIFT


def test_rare_and_unseen_categories_share_one_bin() -> None:
    ref = np.concatenate([np.zeros(5000), np.ones(4990), np.full(10, 7.0)])  # 7 is rare (0.1%)
    cur_same = np.concatenate([np.zeros(5000), np.ones(4990), np.full(10, 9.0)])  # unseen 9
    assert psi(ref, cur_same, categorical=True) < 0.001  # rare 7 and unseen 9 pool together
    cur_new = np.concatenate([np.zeros(4000), np.ones(4000), np.full(2000, 9.0)])
    assert psi(ref, cur_new, categorical=True) > 0.25


def test_empty_sample_is_not_measurable() -> None:
    assert np.isnan(psi([], [1.0, 2.0]))
    assert flag_of(float("nan")) is Flag.OK


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        (0.0, Flag.OK),
        (0.0999, Flag.OK),
        (0.1, Flag.WATCH),
        (0.25, Flag.WATCH),
        (0.2501, Flag.DRIFT),
    ],
)
def test_flags_at_0_1_and_0_25(value: float, flag: Flag) -> None:
    assert flag_of(value) is flag


@pytest.fixture(scope="module")
def months() -> tuple[LeadFeaturizer, pd.DataFrame, pd.DataFrame]:
    frame, _truth = generate_leads(n=3000, seed=9, end=date(2026, 6, 30), months=6)
    before = frame[frame["arrived_at"] < pd.Timestamp("2026-06-01", tz="UTC")]
    june = frame[frame["arrived_at"] >= pd.Timestamp("2026-06-01", tz="UTC")].copy()
    june["email"] = None  # the CRM stopped sending it
    featurizer = LeadFeaturizer(load_spec("demo"), known_at="arrival").fit(before)
    return featurizer, before, june


def test_feature_psi_names_the_field_and_spares_the_calendar(
    months: tuple[LeadFeaturizer, pd.DataFrame, pd.DataFrame],
) -> None:
    featurizer, before, june = months
    rows = feature_psi(featurizer, featurizer.transform(before), featurizer.transform(june))
    assert [r.feature for r in rows] == list(featurizer.feature_names_)
    by_name = {r.feature: r for r in rows}
    assert by_name["email_kind"].source == "email"
    assert by_name["email_kind"].flag is Flag.DRIFT
    month = by_name["arrived_at_month"]
    assert month.seasonal
    assert month.psi > 0.25  # June is not among January..May: drift by construction
    assert not by_name["arrived_at_hour"].seasonal
    assert by_name["channel"].flag is not Flag.DRIFT
    worst = by_source(rows)
    assert len(worst) == len({r.source for r in rows})
    assert worst[0].source == "email"  # the worst on top
    arrival_time = next(r for r in worst if r.source == "arrived_at")
    assert not arrival_time.seasonal  # a field is judged by its non-calendar outputs


def test_report_renders_markdown_and_escaped_html(
    months: tuple[LeadFeaturizer, pd.DataFrame, pd.DataFrame],
) -> None:
    featurizer, before, june = months
    rows = feature_psi(featurizer, featurizer.transform(before), featurizer.transform(june))
    channels = channel_conversion(
        np.array(["referral", "<b>ads</b>", "referral"]),
        np.array([1, 0, 0]),
        np.array(["referral"]),
        np.array([1]),
    )
    assert list(channels["channel"]) == ["referral", "<b>ads</b>"]
    assert channels.loc[0, "conversion_then"] == pytest.approx(0.5)
    assert channels.loc[0, "change"] == pytest.approx(0.5)
    assert channels.loc[1, "leads_now"] == 0
    report = DriftReport(
        title="Drift of leadscore-arrival-sql",
        reference=Sample("training", len(before), 100),
        current=Sample("June", len(june), 50),
        features=rows,
        score_psi=0.12,
        channels=channels,
        target="sql",
        notes=["a note"],
    )
    assert [r.source for r in report.drifted] == ["email"]
    markdown = render_markdown(report)
    assert "# Drift of leadscore-arrival-sql" in markdown
    assert "Score PSI: 0.120 (watch)" in markdown
    assert "| email | email_kind |" in markdown
    assert "never gated): arrived_at_month" in markdown
    assert "| referral | 2 | 50.0% | 1 | 100.0% | +50.0 pp |" in markdown
    page = render_html(report)
    assert "&lt;b&gt;ads&lt;/b&gt;" in page
    assert "<b>ads</b>" not in page
    assert "background:#fde2e1" in page  # the drifted row is coloured
