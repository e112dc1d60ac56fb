"""Commands work anywhere: back, change, summary, why, help, restart, stop."""

from __future__ import annotations

from tests.unit.chat import BASIC, DERBY_COMPLETE, Chat


def test_back_undoes_the_last_answer_and_asks_it_again() -> None:
    chat = Chat("derby-city").say("Y5", "mental health", "yes")
    assert chat.fact == "circumstances.child_protection_plan"

    chat.say("back")

    assert chat.fact == "circumstances.looked_after"
    assert "circumstances.looked_after" not in chat.state.answers
    assert chat.state.history == ["pupil.year_group", "reasons"]


def test_back_at_the_first_question_says_there_is_nothing_to_undo() -> None:
    chat = Chat("derby-city").say("back")

    assert "nothing to go back to" in chat.text
    assert chat.fact == "pupil.year_group"


def test_back_after_the_decision_reopens_the_last_checklist_question() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)
    assert chat.turn.finished

    chat.say("back")

    assert not chat.turn.finished
    assert chat.turn.decision is None
    assert chat.fact == "consultations.education_welfare"


def test_change_by_fact_name_reasks_it_showing_the_answer_then_returns_to_the_decision() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.say("change plan.hours_per_week")
    assert chat.fact == "plan.hours_per_week"
    assert "Your answer was: 12 h" in chat.last.text

    chat.say("15")
    assert chat.turn.finished
    assert chat.turn.decision.percent_of_full_time == round(100 * 15 / 23.5, 1)


def test_change_by_question_number_follows_the_summary_numbering() -> None:
    chat = Chat("derby-city").say("Y5", "mental health", "no")

    chat.say("change 2")

    assert chat.fact == "reasons"


def test_change_by_a_word_of_the_question_finds_it() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.say("change consent")

    assert chat.fact == "steps.parent_consent"


def test_an_ambiguous_change_asks_which_one_and_keeps_the_question() -> None:
    chat = Chat("derby-city").answer(BASIC, until="plan.hours_per_week")

    chat.say("change date")

    assert chat.last.error
    assert "Which one?" in chat.last.text and "'start date', 'end date'" in chat.last.text
    assert chat.fact == "plan.hours_per_week"


def test_changing_an_answer_drops_the_answers_that_no_longer_apply() -> None:
    chat = Chat("derby-city").answer(BASIC | {"circumstances.looked_after": "yes",
                                              "consultations.virtual_school": "agreed"})
    assert chat.state.answers["consultations.virtual_school"] == "agreed"

    chat.say("change looked after", "no")

    assert "consultations.virtual_school" not in chat.state.answers
    assert "no longer apply" in chat.text
    assert chat.turn.finished


def test_changing_the_start_past_the_end_date_asks_for_the_end_date_again() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.say("change start date", "01/03/2026")

    assert chat.fact == "plan.end_date"
    assert "plan.end_date" not in chat.state.answers


def test_change_to_a_question_that_does_not_apply_is_refused() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.say("change virtual school")

    assert "does not apply" in chat.text
    assert chat.turn.finished


def test_summary_lists_the_answers_and_asks_the_question_again() -> None:
    chat = Chat("derby-city").say("Y5", "mental health, semh", "summary")

    assert "1. Year group: Year 5" in chat.text
    assert "2. Reasons: Mental health; Social, emotional and mental health needs (SEMH)" in chat.text
    assert chat.fact == "circumstances.looked_after"


def test_why_quotes_the_clause_behind_the_question() -> None:
    chat = Chat("derby-city").say("Y5", "mental health", "yes", "no", "no", "no", "no", "no")
    assert chat.fact == "plan.start_date"
    chat.answer({"plan.start_date": "12/01/2026", "plan.end_date": "13/02/2026", "plan.hours_per_week": "10",
                 "calendar.closures": "none", "steps.parent_consent": "given", "steps.risk_assessment": "no concerns",
                 "steps.alternatives_exhausted": "yes", "steps.needs_assessment": "yes",
                 "steps.planning_meeting_held": "yes", "steps.written_plan": "yes", "steps.headteacher_signed": "yes"},
                until="consultations.virtual_school")

    chat.say("why")

    assert "For Children in Care the Virtual Headteacher must be consulted and agree" in chat.text
    assert chat.turn.replies[0].why.section == "Vulnerable groups"
    assert chat.fact == "consultations.virtual_school"


def test_why_after_the_decision_gives_the_clauses_it_rests_on() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"steps.headteacher_signed": "no"})

    chat.say("why")

    assert "The decision rests on" in chat.text
    assert "signature of Headteacher" in chat.text


def test_help_lists_the_commands_and_asks_the_question_again() -> None:
    chat = Chat("derby-city").say("help")

    assert "change <question>" in chat.text and "summary" in chat.text and "restart" in chat.text
    assert chat.fact == "pupil.year_group"


def test_stop_pauses_and_any_later_message_resumes_with_the_pending_question() -> None:
    chat = Chat("derby-city").say("Y5", "stop")
    assert chat.state.paused
    assert chat.fact is None

    chat.say("hello again")

    assert not chat.state.paused
    assert chat.fact == "reasons"
    assert "reasons" not in chat.state.answers


def test_restart_begins_again_with_nothing_kept() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    chat.say("restart")

    assert chat.fact == "pupil.year_group"
    assert chat.state.answers == {}
    assert chat.state.phase == "checklist"
    assert not chat.turn.finished


def test_a_plan_answer_that_begins_with_change_is_taken_as_text() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE).say("plan", "Sam", "Smith", "01/05/2016", "10", "home", "mum",
                                                         "no")
    assert chat.last.question_id == "write.work_set"

    chat.say("Change of scenery: reading at the library")

    assert chat.state.plan["work_set"] == "Change of scenery: reading at the library"
