"""The conversion clock and value truth: added without changing any earlier column."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from features.demo import generate_leads
from features.demo.stories import story
from features.demo.timing import SQL_HORIZONS, WON_HORIZONS, timing_story, won_within
from features.spec import load_spec
from tests.features.demo.conftest import END

#: sha256 of ``pd.util.hash_pandas_object`` of ``generate_leads(400, seed=3)`` in canonical form
#: (see ``canonical_digest``), computed with the generator as it stood before the conversion
#: clock was added (commit 612812a; its last column then was ``true_p_won_arrival``), and
#: updated for generator 1.1 (``deal_value`` by service and company size).
BEFORE_TIMING = "56b11de45edc2207b88b3f62c3f799e369acf7887bbea66a5a8d30ab7f14a8d2"
NEW_COLUMNS = [
    "true_days_to_sql",
    "true_days_to_won",
    *(f"true_p_sql_{h}d{s}" for h in SQL_HORIZONS for s in ("", "_arrival")),
    *(f"true_p_won_{h}d{s}" for h in WON_HORIZONS for s in ("", "_arrival")),
    "true_deal_value",
    "true_expected_value",
]


def canonical_digest(frame: pd.DataFrame) -> str:
    """sha256 of the frame with floats rounded to 6 decimals; text, dates and flags exact.

    numpy picks its SIMD kernels by CPU: on AVX-512 machines ``exp``/``log`` differ from other
    machines in the last bits, so a digest of the raw floats holds on one kind of CPU only.
    """
    floats = frame.select_dtypes("float").columns
    rounded = frame.assign(**{column: frame[column].round(6) for column in floats})
    return hashlib.sha256(
        pd.util.hash_pandas_object(rounded, index=True).to_numpy().tobytes()
    ).hexdigest()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_leads(12_000, seed=11, timing=True)[0]


def test_earlier_columns_are_unchanged_for_a_seed() -> None:
    timed, facts = generate_leads(400, seed=3, timing=True)
    plain, plain_facts = generate_leads(400, seed=3)
    old = timed.iloc[:, : plain.shape[1]]
    assert canonical_digest(old) == BEFORE_TIMING
    pd.testing.assert_frame_equal(old, plain)
    assert facts == plain_facts
    assert list(timed.columns[plain.shape[1] :]) == NEW_COLUMNS


def test_conversions_follow_the_truth(frame: pd.DataFrame) -> None:
    to_sql, to_won = frame["true_days_to_sql"], frame["true_days_to_won"]
    assert (to_won.notna() <= to_sql.notna()).all()  # won implies SQL
    assert (to_won.dropna() >= to_sql[to_won.notna()]).all()  # and comes after it
    assert (to_sql.dropna() > 0).all()
    # some converters convert after the export's end: an export shows them open (censored)
    late = frame["arrived_at"] + pd.to_timedelta(to_sql, unit="D") >= END
    assert 0 < late.sum() < to_sql.notna().sum()


def test_horizon_probabilities_match_the_realised_conversions(frame: pd.DataFrame) -> None:
    for target, horizons in (("sql", SQL_HORIZONS), ("won", WON_HORIZONS)):
        previous = np.zeros(len(frame))
        for h in horizons:
            p = frame[f"true_p_{target}_{h}d"].to_numpy()
            assert (p >= previous - 1e-12).all()
            assert (p <= frame[f"true_p_{target}"] + 1e-12).all()
            realised = (frame[f"true_days_to_{target}"] <= h).mean()
            sd = np.sqrt(p.mean() * (1 - p.mean()) / len(frame))
            assert abs(realised - p.mean()) < 4 * sd
            assert abs(frame[f"true_p_{target}_{h}d_arrival"].mean() - p.mean()) < 4 * sd
            previous = p


def test_delays_depend_on_the_channel(frame: pd.DataFrame) -> None:
    medians = frame.groupby("channel")["true_days_to_sql"].median()
    assert medians["referral"] < 0.5 * medians["events"]
    expected = {name: d.median for name, d in timing_story().sql_days.items()}
    for channel, median in medians.items():
        assert median == pytest.approx(expected[str(channel)], rel=0.35)


def test_won_within_is_the_convolution_of_the_two_delays() -> None:
    t = timing_story()
    channel, size = 4, 5  # social, 1000+: slow to SQL, slow to sign
    sql = list(t.sql_days.values())[channel]
    cycle = list(t.sales_cycle_days.values())[size]
    rng = np.random.default_rng(0)
    total = sql.median * np.exp(sql.sigma * rng.normal(size=400_000)) + cycle.median * np.exp(
        cycle.sigma * rng.normal(size=400_000)
    )
    for h in (90, 180):
        got = won_within(np.array([channel]), np.array([size]), h)[0]
        assert got == pytest.approx((total <= h).mean(), abs=3e-3)
    assert story().channel_names[channel] == "social"


def test_true_deal_value_is_the_mean_of_the_realised_one(frame: pd.DataFrame) -> None:
    rates = next(f for f in load_spec("demo").features if f.rates).rates or {}
    won = frame["deal_value"].notna()
    rub = frame.loc[won, "deal_value"] * frame.loc[won, "deal_currency"].map(rates)
    ratio = rub.sum() / frame.loc[won, "true_deal_value"].sum()
    assert ratio == pytest.approx(1.0, abs=0.08)
    ev = frame["true_p_won"] * frame["true_deal_value"]
    assert np.allclose(frame["true_expected_value"], ev)
