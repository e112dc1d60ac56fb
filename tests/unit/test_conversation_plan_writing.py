"""After the decision, the plan: the weekly timetable rising to full time, where the pupil will be
and with whom, the work, the outcome and at least three targets, the lead and the reviews."""

from __future__ import annotations

from datetime import date

import pytest

from conversations.timetable import GraduatedTimetable
from tests.unit.chat import BASIC, DERBY_COMPLETE, Chat

PLAN_ANSWERS = ["Sam", "Smith", "01/05/2016", "10", "At home", "Mum", "no", "Maths and reading packs",
                "Class teacher marks them weekly", "Full time by half term", "Attend every morning",
                "Stay for lunch by week 3", "Join afternoon lessons by week 4", "No refusals; calm mornings",
                "Ms Jones, SENCo", "yes"]


def decided() -> Chat:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)
    assert chat.turn.decision.outcome == "may_proceed"
    return chat


def test_after_the_decision_the_plan_is_offered_and_the_check_is_finished() -> None:
    chat = decided()

    assert chat.turn.finished
    assert chat.state.phase == "decided"
    assert chat.last.question_id == "offer_plan"
    assert "Reply 'plan' to start" in chat.last.text


def test_a_timetable_that_must_not_proceed_offers_no_plan() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"steps.parent_consent": "refused"})

    chat.say("plan")

    assert chat.state.phase == "stopped"
    assert "no plan to write" in chat.text


def test_a_not_yet_decision_can_still_have_its_plan_written() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"steps.written_plan": "no"})
    assert chat.turn.decision.outcome == "not_yet"

    chat.say("plan")

    assert chat.state.phase == "plan"
    assert chat.last.question_id == "write.first_name"


def test_plan_questions_fill_no_case_fact_and_keep_the_check_finished() -> None:
    chat = decided().say("plan")
    for answer in PLAN_ANSWERS[:-1]:
        assert chat.fact is None
        assert chat.last.question_id.startswith("write.")
        assert chat.turn.finished and chat.turn.decision is not None
        chat.say(answer)
        assert not chat.last.error, chat.last.text


def test_the_whole_plan_is_stored_in_the_state() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS)

    plan = chat.state.plan
    assert chat.state.phase == "plan_done"
    assert plan["first_name"] == "Sam" and plan["last_name"] == "Smith"
    assert plan["date_of_birth"] == "2016-05-01"
    assert plan["starting_hours"] == 10.0
    assert plan["full_time_hours"] == 23.5
    assert plan["where_when_not_in_school"] == "At home"
    assert plan["with_whom_when_not_in_school"] == "Mum"
    assert plan["work_set"] == "Maths and reading packs"
    assert plan["work_marking"] == "Class teacher marks them weekly"
    assert plan["long_term_outcome"] == "Full time by half term"
    assert plan["short_term_targets"] == ["Attend every morning", "Stay for lunch by week 3",
                                          "Join afternoon lessons by week 4"]
    assert plan["success_criteria"] == ["No refusals", "calm mornings"]
    assert plan["named_lead"] == "Ms Jones, SENCo"
    assert plan["review_dates"] == ["2026-01-23", "2026-02-06"]  # the plan ends on 13 February
    assert "The plan is written" in chat.text


def test_only_review_dates_within_the_plan_are_offered_though_the_policys_run_to_its_latest_end_date() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS[:-1])

    assert chat.turn.decision.review_dates[-1] == date(2026, 2, 20)  # the decision's: to the latest end date
    assert chat.last.question_id == "write.review_dates"
    assert "Reviews fall on 23/01/2026, 06/02/2026 under this policy" in chat.last.text


def test_the_timetable_rises_week_by_week_to_full_time_showing_hours_and_percent() -> None:
    chat = decided().say("plan", "Sam", "Smith", "01/05/2016", "10")

    assert "Week 1 (from 12/01/2026): 10 h, 42.6% of full time: Mon am, Tue am" in chat.text
    assert "Week 5 (from 09/02/2026): 23.5 h, 100% of full time" in chat.text
    chat.say(*PLAN_ANSWERS[4:])
    timetable = GraduatedTimetable.model_validate(chat.state.plan["timetable"])
    hours = [week.hours for week in timetable.weeks]
    assert hours[0] == 10 and hours[-1] == 23.5
    assert hours == sorted(hours)
    assert {s.location for s in timetable.away_sessions()} == {"At home"}
    assert [w["percent_of_full_time"] for w in chat.state.plan["weeks"]][-1] == 100


def test_starting_hours_above_full_time_are_refused_and_asked_again() -> None:
    chat = decided().say("plan", "Sam", "Smith", "01/05/2016", "30")

    assert chat.last.error
    assert "more than full time (23.5 h)" in chat.last.text
    assert chat.last.question_id == "write.starting_hours"


def test_the_hours_given_in_the_check_can_be_kept_as_the_starting_hours() -> None:
    chat = decided().say("plan", "Sam", "Smith", "01/05/2016")
    assert "Reply 'same' for the 12 h you gave" in chat.last.text

    chat.say("same")

    assert chat.state.plan["starting_hours"] == 12.0


def test_time_out_of_school_is_authorised_absence_c2_unless_it_is_approved_education_off_site_b() -> None:
    """Since August 2024 a part-time timetable's sessions out of school are C2; B is for approved,
    supervised education off site (alternative provision, tuition)."""
    def away_codes(answer: str) -> set[str | None]:
        answers = [*PLAN_ANSWERS[:4], "Riverside Tuition Centre", "Tutor", answer, *PLAN_ANSWERS[7:]]
        chat = decided().say("plan", *answers)
        timetable = GraduatedTimetable.model_validate(chat.state.plan["timetable"])
        away = list(timetable.away_sessions())
        assert away and {(s.location, s.with_whom) for s in away} == {("Riverside Tuition Centre", "Tutor")}
        return {s.register_code for s in away}

    assert away_codes("yes") == {"B"}
    assert away_codes("no") == {"C2"}


def test_targets_are_asked_for_until_there_are_at_least_three() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS[:10])
    numbers = []
    while chat.last.question_id == "write.short_term_targets":
        numbers.append(chat.last.text.split("Short-term target ")[1].split(" ")[0])
        chat.say(f"target {len(numbers)}")

    assert numbers == ["1", "2", "3"]
    assert chat.state.plan["short_term_targets"] == ["target 1", "target 2", "target 3"]


def test_several_targets_can_come_in_one_message() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS[:10], "one\ntwo\nthree")

    assert chat.state.plan["short_term_targets"] == ["one", "two", "three"]
    assert chat.last.question_id == "write.success_criteria"


def test_the_date_of_birth_is_not_asked_again_when_the_check_had_it() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"pupil.year_group": "skip", "pupil.date_of_birth": "01/05/2016"})
    assert chat.turn.decision.outcome == "may_proceed"

    chat.say("plan", "Sam", "Smith")

    assert chat.last.question_id == "write.starting_hours"


def test_full_time_hours_are_asked_when_the_year_group_is_unknown() -> None:
    chat = Chat("derbyshire").answer(BASIC | {"pupil.year_group": "skip", "pupil.date_of_birth": "skip"})
    assert chat.turn.decision.full_time_hours is None

    chat.say("plan", "Sam", "Smith", "01/05/2016")

    assert chat.last.question_id == "write.full_time_hours"
    chat.say("25", "10")
    assert "rising to full time (25 h)" in chat.text


def test_the_plan_needs_a_start_date_and_asks_for_it_first() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"plan.start_date": "skip"})
    assert chat.turn.decision.outcome == "not_yet"

    chat.say("plan")

    assert chat.fact == "plan.start_date"
    assert "needs a start date" in chat.text
    chat.say("12/01/2026", "none", "plan")
    assert chat.last.question_id == "write.first_name"


def test_own_review_dates_can_replace_the_policys() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS[:-1], "no")
    assert chat.last.error

    chat.say("19/01/2026, 2 Feb")

    assert not chat.last.error, chat.last.text
    assert chat.state.plan["review_dates"] == ["2026-01-19", "2026-02-02"]


def test_own_review_dates_less_often_than_the_policy_asks_are_refused_and_asked_again() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS[:-1], "23 Jan, 20 Feb")

    assert chat.last.error
    assert "at least every 2 school weeks" in chat.last.text
    assert "after the review on 23 January 2026 the next is not until 20 February 2026" in chat.last.text
    assert "review_dates" not in chat.state.plan
    assert chat.state.phase == "plan"

    chat.say("yes")
    assert chat.state.plan["review_dates"] == ["2026-01-23", "2026-02-06"]


def test_back_in_the_plan_undoes_one_plan_answer() -> None:
    chat = decided().say("plan", "Sam", "Smith", "back")

    assert chat.last.question_id == "write.last_name"
    assert "last_name" not in chat.state.plan
    assert chat.state.plan["first_name"] == "Sam"


def test_back_from_the_first_plan_question_returns_to_the_offer() -> None:
    chat = decided().say("plan", "back")

    assert chat.state.phase == "decided"
    assert chat.last.question_id == "offer_plan"


def test_changing_a_checklist_answer_after_the_plan_rebuilds_the_timetable() -> None:
    chat = decided().say("plan", *PLAN_ANSWERS)
    first = chat.state.plan["weeks"]

    chat.say("change end date", "06/02/2026")
    assert chat.state.phase == "decided"
    chat.say("plan")

    assert chat.state.phase == "plan_done"
    assert len(chat.state.plan["weeks"]) == len(first) - 1
    assert chat.state.plan["weeks"][-1]["percent_of_full_time"] == 100


@pytest.mark.parametrize("text", ["", " "])
def test_a_blank_plan_answer_is_refused(text: str) -> None:
    chat = decided().say("plan", text)

    assert chat.last.error
    assert chat.last.question_id == "write.first_name"


def test_the_plan_is_written_from_a_start_in_the_school_year_that_today_is_in() -> None:
    chat = Chat("bath-wells-mat", today=date(2026, 9, 1)).answer(
        {"pupil.year_group": "Y2", "reasons": "physical health", "plan.start_date": "14 Sep", "plan.end_date": "9 Oct",
         "steps.parent_consent": "given", "steps.risk_assessment": "no concerns",
         "steps.alternatives_exhausted": "yes", "steps.written_plan": "yes", "steps.healthcare_plan": "yes"},
    )
    assert chat.turn.decision.outcome == "may_proceed"

    chat.say("plan", "Ann", "Lee", "03/03/2019", "8")

    assert "rising to full time (21 h)" in chat.text
    assert "Week 1 (from 14/09/2026): 8 h" in chat.text


def test_a_date_of_birth_in_another_year_group_is_pointed_out_and_kept() -> None:
    chat = decided().say("plan", "Sam", "Smith", "01/05/2013")  # Year 8 in January 2026; the check said Year 5

    assert not chat.last.error
    assert chat.state.plan["date_of_birth"] == "2013-05-01"
    assert ("Born on 01/05/2013, the pupil would be in Year 8 on 12/01/2026, but the check was given Year 5"
            in chat.text)
    assert chat.last.question_id == "write.starting_hours"
    assert chat.say("change date of birth").last.question_id == "write.date_of_birth"


def test_a_date_of_birth_that_fits_the_year_group_passes_without_remark() -> None:
    chat = decided().say("plan", "Sam", "Smith", "01/05/2016")

    assert "would be in" not in chat.text
