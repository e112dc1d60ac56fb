"""Steps and consultees' replies recorded later ("the Virtual School agreed today") re-evaluate
the decision."""

from __future__ import annotations

from datetime import date

import pytest

from conversations import apply_fact
from tests.unit.chat import BASIC, DERBY_COMPLETE, TODAY, Chat

LOOKED_AFTER = DERBY_COMPLETE | {"circumstances.looked_after": "yes", "consultations.virtual_school": "consulted"}


def test_the_virtual_school_agreeing_later_lets_the_timetable_proceed() -> None:
    chat = Chat("derby-city").answer(LOOKED_AFTER)
    assert chat.turn.decision.outcome == "not_yet"

    chat.record("consultations.virtual_school", "agreed")

    assert chat.turn.decision.outcome == "may_proceed"
    assert chat.state.answers["consultations.virtual_school"] == "agreed"
    assert "Recorded: the Virtual School: Agreed." in chat.text
    assert chat.last.question_id == "offer_plan"
    assert [r.model_dump() for r in chat.turn.answer_log] == [
        {"fact": "consultations.virtual_school", "raw_text": "agreed", "accepted": True}
    ]


def test_a_required_agreement_declined_later_stops_the_timetable() -> None:
    chat = Chat("derby-city").answer(LOOKED_AFTER)

    chat.record("consultations.virtual_school", "declined")

    assert chat.turn.decision.outcome == "must_not_proceed"
    assert chat.state.phase == "stopped"


def test_a_step_done_later_is_recorded_from_a_boolean() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"steps.headteacher_signed": "no"})
    assert chat.turn.decision.outcome == "not_yet"

    chat.record("steps.headteacher_signed", True)

    assert chat.turn.decision.outcome == "may_proceed"


def test_a_fact_recorded_while_writing_the_plan_keeps_the_plan_question_waiting() -> None:
    chat = Chat("derby-city").answer(LOOKED_AFTER).say("plan", "Sam")
    assert chat.last.question_id == "write.last_name"

    chat.record("consultations.virtual_school", "agreed")

    assert chat.state.phase == "plan"
    assert chat.turn.decision.outcome == "may_proceed"
    assert chat.last.question_id == "write.last_name"


def test_a_new_circumstance_recorded_after_the_decision_brings_its_questions() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.record("circumstances.ehcp", "yes")

    assert not chat.turn.finished
    assert chat.fact == "steps.ehcp_review_called"
    chat.answer({"steps.ehcp_review_called": "yes", "consultations.send_officer": "agreed"})
    assert chat.turn.decision.outcome == "may_proceed"


def test_a_fact_recorded_during_the_checklist_is_not_asked_later() -> None:
    chat = Chat("derby-city").say("Y5", "mental health")

    chat.record("steps.parent_consent", "given")
    chat.answer(BASIC)

    assert "steps.parent_consent" not in chat.asked
    assert chat.turn.decision is not None


def test_recording_a_fact_that_does_not_apply_stores_nothing_and_says_so() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.record("consultations.social_worker", "agreed")

    assert "does not apply" in chat.text
    assert "consultations.social_worker" not in chat.state.answers
    assert chat.turn.decision.outcome == "may_proceed"


def test_an_unknown_fact_is_a_value_error() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    with pytest.raises(ValueError, match="unknown fact"):
        apply_fact(chat.state, "consultations.head_of_year", "agreed", TODAY)


@pytest.mark.parametrize(("fact", "value"), [("consultations.education_welfare", "maybe"),
                                             ("plan.end_date", "31/02/2026"), ("circumstances.ehcp", 3)])
def test_an_invalid_value_is_a_value_error(fact: str, value: object) -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    with pytest.raises(ValueError):
        apply_fact(chat.state, fact, value, TODAY)


def test_a_date_object_is_accepted_for_a_date_fact() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.record("plan.end_date", date(2026, 2, 6))

    assert chat.state.answers["plan.end_date"] == "2026-02-06"
    assert chat.turn.decision.outcome == "may_proceed"
