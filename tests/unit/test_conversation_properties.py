"""For any case, a client answering the engine's questions from the case's facts reaches the
same outcome as ``ptt check`` on that case, and is never asked a fact the rules could not use."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conversations import ConversationState
from rules import Case, evaluate
from tests.unit.conversation_client import drive, usable_facts
from tests.unit.strategies import cases

TODAY = date(2025, 8, 1)


@st.composite
def sparse_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Contract cases with some facts left out (absent = false / not done / not contacted)."""
    case = copy.deepcopy(draw(cases()))
    for group in ("circumstances", "steps"):
        for name in list(case[group]):
            if draw(st.integers(0, 3)) == 0:
                del case[group][name]
    if draw(st.booleans()):
        case["circumstances"] = {name: value for name, value in case["circumstances"].items() if value}
    for name in ("hours_per_week", "start_date"):
        if draw(st.integers(0, 5)) == 0:
            case["plan"].pop(name, None)
    if draw(st.integers(0, 4)) == 0:
        case["pupil"] = {}
    return case


@settings(max_examples=400, deadline=None)
@given(st.one_of(cases(), sparse_cases()))
def test_a_client_answering_from_a_case_reaches_the_outcome_of_ptt_check(case: dict[str, Any]) -> None:
    turn, _ = drive(case, TODAY)

    expected = evaluate(Case.model_validate(case))
    assert turn.finished
    assert turn.decision is not None
    assert turn.decision.outcome == expected.outcome


@settings(max_examples=400, deadline=None)
@given(st.one_of(cases(), sparse_cases()))
def test_a_client_is_never_asked_a_fact_the_rules_could_not_use(case: dict[str, Any]) -> None:
    _, asked = drive(case, TODAY)

    assert set(asked) <= usable_facts(case)
    assert len(asked) == len(set(asked)), "a question was asked twice"


@settings(max_examples=200, deadline=None)
@given(st.one_of(cases(), sparse_cases()))
def test_the_state_gives_a_case_that_ptt_check_decides_the_same_way(case: dict[str, Any]) -> None:
    turn, _ = drive(case, TODAY)

    state = ConversationState.model_validate(turn.state.model_dump(mode="json"))
    assert evaluate(state.to_case()).outcome == turn.decision.outcome


@settings(max_examples=200, deadline=None)
@given(st.one_of(cases(), sparse_cases()))
def test_every_question_carries_its_fact_kind_choices_and_the_clause_behind_it(case: dict[str, Any]) -> None:
    from conversations import respond, start_conversation
    from tests.unit.conversation_client import answer_for

    turn = start_conversation(case["policy"], TODAY)
    while not turn.finished:
        question = turn.replies[-1]
        assert question.fact and question.kind and question.why is not None and question.progress is not None
        assert question.question_id == question.fact
        if question.kind in ("choice", "multi_choice"):
            assert question.choices
        assert question.progress.asked <= question.progress.estimated_total
        turn = respond(turn.state, answer_for(case, question.fact), TODAY)
