"""The funnel's transition rules, stages and labels, checked exhaustively."""

from __future__ import annotations

import itertools

import pytest

from features.funnel import (
    OUTCOME_STATUSES,
    STATUS_NAMES,
    SUCCESS_PATH,
    TERMINAL_STATUSES,
    Stage,
    Status,
    TransitionError,
    allowed_next,
    can_transition,
    check_transition,
    highest_stage,
)

ALL_PAIRS = list(itertools.product(Status, Status))


def _expected_allowed(current: Status, target: Status) -> bool:
    """The rule from DOMAIN.md, restated independently of the implementation."""
    if current in TERMINAL_STATUSES:
        return False
    forward = target in SUCCESS_PATH and SUCCESS_PATH.index(target) > SUCCESS_PATH.index(current)
    return forward or target in OUTCOME_STATUSES


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=lambda s: s.value)
def test_every_transition_follows_the_rule(current: Status, target: Status) -> None:
    expected = _expected_allowed(current, target)
    assert can_transition(current, target) is expected
    if expected:
        check_transition(current, target)
    else:
        with pytest.raises(TransitionError) as caught:
            check_transition(current, target)
        assert caught.value.current is current
        assert caught.value.target is target
        assert caught.value.allowed == allowed_next(current)
        for allowed in caught.value.allowed:
            assert allowed.value in str(caught.value)


def test_the_rule_allows_and_refuses_something() -> None:
    verdicts = {_expected_allowed(c, t) for c, t in ALL_PAIRS}
    assert verdicts == {True, False}


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES), ids=lambda s: s.value)
def test_nothing_leaves_a_terminal_status(status: Status) -> None:
    assert allowed_next(status) == []
    with pytest.raises(TransitionError, match="the lead is closed"):
        check_transition(status, Status.NEW)


def test_refusal_message_lists_what_is_allowed() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(Status.PROPOSAL, Status.DISCUSSING)
    message = str(caught.value)
    assert "'proposal'" in message
    assert "'discussing'" in message
    assert "allowed: contract, won, disqualified, partner, other_department, lost" in message


def test_moving_backwards_or_staying_is_refused() -> None:
    assert not can_transition(Status.SDR_QUALIFYING, Status.NEW)
    assert not can_transition(Status.DISCUSSING, Status.DISCUSSING)


def test_skipping_steps_forward_is_allowed() -> None:
    assert can_transition(Status.NEW, Status.WON)
    assert can_transition(Status.NEW, Status.BRIEF_FILLED)


def test_allowed_next_is_in_funnel_order() -> None:
    order = list(Status)
    for status in Status:
        allowed = allowed_next(status)
        assert allowed == sorted(allowed, key=order.index)


EXPECTED_STAGE = {
    Status.NEW: Stage.LEAD,
    Status.SDR_QUALIFYING: Stage.LEAD,
    Status.AWAITING_MANAGER: Stage.MQL,
    Status.MANAGER_ASSIGNED: Stage.MQL,
    Status.DISCUSSING: Stage.SQL,
    Status.BRIEF_FILLED: Stage.SAL,
    Status.PROPOSAL: Stage.SAL,
    Status.CONTRACT: Stage.SAL,
    Status.WON: Stage.WON,
    Status.DISQUALIFIED: None,
    Status.PARTNER: None,
    Status.OTHER_DEPARTMENT: None,
    Status.LOST: None,
}


def test_expected_stage_table_covers_every_status() -> None:
    assert set(EXPECTED_STAGE) == set(Status)


@pytest.mark.parametrize(("status", "stage"), EXPECTED_STAGE.items(), ids=lambda s: str(s))
def test_stage_of_each_status(status: Status, stage: Stage | None) -> None:
    assert status.stage is stage
    assert status.is_terminal is (status in TERMINAL_STATUSES)


def test_stage_ranks_follow_the_funnel() -> None:
    assert [s.rank for s in (Stage.LEAD, Stage.MQL, Stage.SQL, Stage.SAL, Stage.WON)] == [
        0,
        1,
        2,
        3,
        4,
    ]


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], Stage.LEAD),
        ([Status.NEW], Stage.LEAD),
        ([Status.NEW, Status.SDR_QUALIFYING, Status.AWAITING_MANAGER], Stage.MQL),
        ([Status.NEW, Status.DISCUSSING, Status.LOST], Stage.SQL),
        ([Status.NEW, Status.BRIEF_FILLED, Status.PROPOSAL, Status.DISQUALIFIED], Stage.SAL),
        ([Status.NEW, Status.DISQUALIFIED], Stage.LEAD),
        (list(SUCCESS_PATH), Stage.WON),
        ([Status.DISCUSSING, Status.AWAITING_MANAGER], Stage.SQL),  # order does not lower it
    ],
)
def test_highest_stage(history: list[Status], expected: Stage) -> None:
    assert highest_stage(history) is expected


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_every_status_has_a_russian_and_an_english_name(status: Status) -> None:
    russian, english = status.label("ru"), status.label("en")
    assert status.label_ru == russian
    assert any("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in russian)
    assert english == STATUS_NAMES[status]
    assert english.isascii()
    assert status.label() == english  # English by default


def test_russian_labels_of_the_success_path_match_the_domain() -> None:
    assert Status.NEW.label_ru == "Новая"
    assert Status.WON.label_ru == "Конверсия заявки"
    assert len({status.label("ru") for status in Status}) == len(Status)
    assert len({status.label("en") for status in Status}) == len(Status)
