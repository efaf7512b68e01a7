"""The ground-truth document: its shape and each channel's dominant drivers."""

from __future__ import annotations

from typing import Any

from features.demo.stories import CHANNEL_NAMES, DOMINANT_DRIVERS
from features.spec import load_spec
from tests.features.demo.conftest import SEED, N


def test_ground_truth_shape(truth: dict[str, Any]) -> None:
    spec = load_spec("demo")
    spec_columns = {f.column for f in spec.features}
    assert truth["seed"] == SEED
    assert truth["n"] == N
    assert truth["version"]
    assert truth["start"] == "2025-03-01"
    assert truth["end"] == "2026-10-31"
    assert set(truth["oracle_auc"]) == {
        "sql_qualified",
        "sql_arrival",
        "won_qualified",
        "won_arrival",
    }
    assert set(truth["channels"]) == set(CHANNEL_NAMES)
    for name, channel in truth["channels"].items():
        drivers = channel["drivers"]
        assert 0 < channel["base_sql_rate"] < 1
        assert {d["feature"] for d in drivers} <= spec_columns, name
        assert all(d["direction"] in {"+", "-"} for d in drivers)
        strengths = [d["strength"] for d in drivers]
        assert strengths == sorted(strengths, reverse=True)
    global_columns = {d["feature"] for d in truth["global_drivers"]}
    assert global_columns <= spec_columns
    assert "budget_amount" in global_columns


def test_each_channel_has_its_own_dominant_drivers(truth: dict[str, Any]) -> None:
    pairs = set()
    for name, channel in truth["channels"].items():
        drivers = channel["drivers"]
        top = [d["feature"] for d in drivers[:2]]
        assert set(top) == set(DOMINANT_DRIVERS[name]) == set(channel["dominant_drivers"]), name
        assert drivers[1]["strength"] > 3 * drivers[2]["strength"], name
        pairs.add(frozenset(top))
    assert len(pairs) == len(CHANNEL_NAMES)
    by_name = {
        name: {d["feature"]: d for d in c["drivers"]} for name, c in truth["channels"].items()
    }
    budget = {name: d["budget_amount"]["strength"] for name, d in by_name.items()}
    assert budget["paid_search"] > 5 * budget["referral"]
    assert by_name["social"]["message"]["direction"] == "-"  # job keywords
    assert by_name["paid_search"]["budget_amount"]["direction"] == "+"
    assert by_name["direct"]["contact_type"]["best"] == "call"
