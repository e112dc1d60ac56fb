"""The interview engine under every policy: it asks only what matters for this pupil under this
policy, cites the clause behind each question, and stops as soon as a stop is certain."""

from __future__ import annotations

from datetime import date

import pytest

from conversations import ConversationState, IncompleteCase, respond, shown_decision, start_conversation
from rules import UnknownPolicy, evaluate, known_policy_ids
from rules.citations import quote_is_in
from tests.unit.chat import BASIC, DERBY_COMPLETE, TODAY, Chat

POLICIES = known_policy_ids()


# --------------------------------------------------------------------------- the start
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_starts_by_asking_the_year_group(policy: str) -> None:
    chat = Chat(policy)

    assert chat.fact == "pupil.year_group"
    assert chat.last.kind == "choice"
    assert [c.value for c in chat.last.choices][:2] == ["R", "Y1"]
    assert chat.last.progress is not None and chat.last.progress.label.startswith("question 1 of about ")
    assert chat.text.startswith("Let's check a part-time timetable against the")
    assert not chat.turn.finished and chat.turn.decision is None


def test_a_question_as_a_form_asks_it_leaves_its_progress_and_listed_choices_to_the_form() -> None:
    chat = Chat("derby-city").say("Y5")
    assert chat.fact == "reasons"
    assert chat.last.text.startswith("Question 2 of about") and "\n1. Physical health" in chat.last.text
    assert chat.last.prompt == "Why is a part-time timetable being considered? Choose one or more."


def test_only_a_typed_answer_keeps_its_typing_hint_in_the_form_s_question() -> None:
    chat = Chat("derby-city").say("skip")
    assert chat.fact == "pupil.date_of_birth" and "(e.g. 01/05/2016)" in chat.last.text
    assert chat.last.prompt == "What is the pupil's date of birth? I'll work out the year group from it."
    chat.answer({**DERBY_COMPLETE, "pupil.date_of_birth": "01/05/2016"}, until="plan.hours_per_week")
    assert chat.fact == "plan.hours_per_week"
    assert chat.last.prompt is not None and chat.last.prompt.endswith("(e.g. 12.5 or 12h30; 'skip' if not decided)")


def test_a_question_answered_before_says_the_earlier_answer_in_the_form_too() -> None:
    chat = Chat("derby-city").say("Y5", "change year group")
    assert chat.fact == "pupil.year_group"
    assert chat.last.prompt == "Which year group is the pupil in? Your answer was: Year 5."


def test_every_question_a_picker_or_yes_and_no_cannot_leave_open_offers_an_answer_that_does() -> None:
    from conversations.questions import CHECKLIST_QUESTIONS

    for question in CHECKLIST_QUESTIONS.values():
        says_not_yet = any(o.value in ("not_yet", "not_done", "not_contacted") for o in question.options)
        if question.skippable and not says_not_yet:
            assert question.skip is not None, question.id


SKIPPED_ON_THE_WAY = {**DERBY_COMPLETE, "pupil.year_group": "skip", "pupil.date_of_birth": "01/05/2016"}


@pytest.mark.parametrize("fact", ["pupil.year_group", "pupil.date_of_birth", "plan.start_date", "plan.end_date",
                                  "plan.hours_per_week", "calendar.closures", "steps.planning_meeting_held"])
@pytest.mark.parametrize("sent", ["value", "label"])
def test_a_question_s_own_skip_answer_is_taken_as_its_value_or_its_label_typed(fact: str, sent: str) -> None:
    chat = Chat("derby-city").answer(SKIPPED_ON_THE_WAY, default="no", until=fact)
    assert chat.fact == fact and chat.last.skip is not None
    skip = chat.last.skip
    chat.say(skip.value if sent == "value" else skip.label)
    assert not chat.last.error, chat.last.text
    assert chat.state.answers[fact] in (None, [])


def test_the_year_group_s_own_skip_answer_brings_the_date_of_birth() -> None:
    chat = Chat("derby-city")
    assert chat.last.skip is not None and chat.last.skip.label == "Don't know: ask the date of birth"
    chat.say(chat.last.skip.value)
    assert chat.fact == "pupil.date_of_birth" and not chat.last.error


def test_an_unknown_policy_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownPolicy, match="derby-city"):
        start_conversation("nowhere", TODAY)


def test_a_skipped_year_group_brings_the_date_of_birth_and_then_the_start_date() -> None:
    chat = Chat("derby-city").say("don't know")
    assert chat.fact == "pupil.date_of_birth"

    chat.say("01/05/2016")
    assert chat.fact == "plan.start_date"

    chat.say("12/01/2026")
    assert "will be in Year 5" in chat.text
    assert chat.fact == "reasons"


def test_a_given_year_group_means_the_date_of_birth_is_never_asked() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)

    assert chat.turn.finished
    assert "pupil.date_of_birth" not in chat.asked


# --------------------------------------------------------------------------- only what matters
def test_looked_after_child_is_asked_about_the_virtual_school() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"circumstances.looked_after": "yes"}, default="absent")

    assert "consultations.virtual_school" in chat.asked


@pytest.mark.parametrize("policy", POLICIES)
def test_a_child_who_is_not_looked_after_is_never_asked_about_the_virtual_school(policy: str) -> None:
    chat = Chat(policy).answer(BASIC, default="absent")

    assert chat.turn.finished
    assert "consultations.virtual_school" not in chat.asked


def test_previously_looked_after_is_asked_only_where_the_policy_cares() -> None:
    derby = Chat("derby-city").answer(BASIC, default="absent")
    bath = Chat("bath-wells-mat").answer(BASIC, default="absent")

    assert "circumstances.previously_looked_after" not in derby.asked
    assert "circumstances.previously_looked_after" in bath.asked


def test_a_previously_looked_after_child_under_the_trust_is_asked_about_the_virtual_school() -> None:
    chat = Chat("bath-wells-mat").answer(
        BASIC | {"circumstances.previously_looked_after": "yes"},
        default="absent",
    )

    assert "consultations.virtual_school" in chat.asked


@pytest.mark.parametrize(
    ("policy", "never"),
    [
        ("derbyshire", {"circumstances.medical_needs", "circumstances.too_unwell_for_school",
                        "circumstances.youth_justice", "circumstances.previously_looked_after"}),
        ("derby-city", {"circumstances.too_unwell_for_school", "circumstances.early_help",
                        "circumstances.previously_looked_after"}),
        ("bath-wells-mat", {"circumstances.too_unwell_for_school"}),
        ("achieving-for-children", {"circumstances.medical_needs"}),
    ],
)
def test_a_circumstance_no_rule_of_the_policy_mentions_is_never_asked(policy: str, never: set[str]) -> None:
    chat = Chat(policy).answer(BASIC, default="absent")

    assert chat.turn.finished
    assert never.isdisjoint(chat.asked)


def test_a_later_circumstance_that_could_change_nothing_is_not_asked() -> None:
    chat = Chat("derby-city").answer(
        BASIC | {"circumstances.child_protection_plan": "yes"},
        default="absent",
    )

    assert "circumstances.child_in_need_plan" not in chat.asked
    assert "consultations.social_worker" in chat.asked


def test_too_unwell_for_school_is_asked_only_under_achieving_for_children() -> None:
    afc = Chat("achieving-for-children").answer(BASIC, default="absent")

    assert "circumstances.too_unwell_for_school" in afc.asked


def test_the_healthcare_plan_step_is_asked_only_for_a_pupil_with_medical_needs() -> None:
    without = Chat("derby-city").answer(DERBY_COMPLETE, default="absent")
    with_needs = Chat("derby-city").answer(DERBY_COMPLETE | {"circumstances.medical_needs": "yes"}, default="absent")

    assert "steps.healthcare_plan" not in without.asked
    assert "steps.healthcare_plan" in with_needs.asked
    assert with_needs.turn.decision.outcome == "not_yet"


def test_a_step_no_rule_of_the_policy_requires_is_never_asked() -> None:
    chat = Chat("derbyshire").answer(BASIC, default="absent")

    asked_steps = {f for f in chat.asked if f.startswith("steps.")}
    assert asked_steps == {"steps.parent_consent", "steps.risk_assessment", "steps.planning_meeting_held",
                           "steps.written_plan"}


def test_consultations_are_asked_exactly_for_the_roles_the_decision_names() -> None:
    answers = DERBY_COMPLETE | {"circumstances.ehcp": "yes", "circumstances.youth_justice": "yes"}
    chat = Chat("derby-city").answer(answers, default="absent")

    asked_roles = {f.partition(".")[2] for f in chat.asked if f.startswith("consultations.")}
    assert asked_roles == {c.role for c in chat.turn.decision.consultees}
    assert asked_roles == {"send_officer", "education_welfare", "youth_justice"}


def test_the_closures_question_is_not_asked_without_a_start_date() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"plan.start_date": "skip"}, default="absent")

    assert "calendar.closures" not in chat.asked
    assert chat.turn.decision.outcome == "not_yet"
    assert "start_date_missing" in {r.code for r in chat.turn.decision.reasons}


# --------------------------------------------------------------------------- stopping early
@pytest.mark.parametrize("policy", POLICIES)
def test_refused_consent_stops_at_once_under_every_policy(policy: str) -> None:
    chat = Chat(policy).answer(
        {"pupil.year_group": "Y5", "reasons": "mental health", "plan.start_date": "12/01/2026",
         "plan.end_date": "30/01/2026", "steps.parent_consent": "refused"},
        default="absent",
    )

    assert chat.turn.finished
    assert chat.state.phase == "stopped"
    assert chat.asked[-1] == "steps.parent_consent"
    assert chat.turn.decision.outcome == "must_not_proceed"
    assert [r.code for r in chat.turn.decision.stops()] == ["parent_consent_refused"]
    assert chat.last.why == chat.turn.decision.stops()[0].citation


@pytest.mark.parametrize("policy", POLICIES)
def test_no_end_date_stops_as_soon_as_it_is_given(policy: str) -> None:
    chat = Chat(policy).answer(
        BASIC | {"plan.end_date": "none"}, default="absent",
    )

    assert chat.asked[-1] == "plan.end_date"
    assert chat.turn.decision.outcome == "must_not_proceed"
    assert "end_date_missing" in {r.code for r in chat.turn.decision.stops()}


def test_achieving_for_children_rules_out_behaviour_straight_after_the_reasons_and_says_what_instead() -> None:
    chat = Chat("achieving-for-children").say("Y8", "behaviour")

    assert chat.state.phase == "stopped"
    assert chat.asked == ["pupil.year_group", "reasons"]
    assert "Early Help Hub" in chat.text


def test_derby_city_does_not_stop_for_send_placement_until_it_knows_about_the_ehcp() -> None:
    chat = Chat("derby-city").say("Y6", "send placement")

    assert chat.state.phase == "checklist"
    chat.answer({"circumstances.looked_after": "no", "circumstances.child_protection_plan": "no",
                 "circumstances.child_in_need_plan": "no", "circumstances.ehcp": "no"})
    assert chat.state.phase == "stopped"
    assert chat.asked[-1] == "circumstances.ehcp"
    assert "reason_not_exceptional" in {r.code for r in chat.turn.decision.stops()}


def test_a_plan_too_long_in_calendar_weeks_stops_before_the_closures_question() -> None:
    chat = Chat("bath-wells-mat").answer(
        {"pupil.year_group": "Y5", "reasons": "mental health", "plan.start_date": "12/01/2026",
         "plan.end_date": "27/03/2026"},
        default="absent",
    )

    assert chat.asked[-1] == "plan.end_date"
    assert "plan_too_long" in {r.code for r in chat.turn.decision.stops()}


def test_a_plan_too_long_in_school_weeks_waits_for_the_closures_which_may_make_it_fit() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"plan.end_date": "27/02/2026"}, until="calendar.closures")
    assert chat.fact == "calendar.closures"

    chat.say("16/02/2026-20/02/2026")
    assert chat.fact == "steps.parent_consent"

    chat.say("back", "none")
    assert chat.turn.decision.outcome == "must_not_proceed"


def test_an_unmitigated_risk_stops_where_the_policy_says_so_and_is_outstanding_in_derby_city() -> None:
    answers = DERBY_COMPLETE | {"steps.risk_assessment": "concerns not yet mitigated"}
    derby = Chat("derby-city").answer(answers, default="absent")
    derbyshire = Chat("derbyshire").answer(answers, default="absent")

    assert derby.turn.decision.outcome == "not_yet"
    assert derbyshire.turn.decision.outcome == "must_not_proceed"
    assert derbyshire.asked[-1] == "steps.risk_assessment"


def test_a_declined_agreement_that_is_required_stops_with_the_clause() -> None:
    chat = Chat("derby-city").answer(
        DERBY_COMPLETE | {"circumstances.looked_after": "yes", "consultations.virtual_school": "declined"},
        default="absent",
    )

    assert chat.turn.decision.outcome == "must_not_proceed"
    assert chat.asked[-1] == "consultations.virtual_school"
    assert chat.last.why.section == "Vulnerable groups"


def test_an_early_stop_gives_only_the_certain_reasons_not_guesses_about_unasked_facts() -> None:
    chat = Chat("derby-city").say("Y8", "behaviour")

    codes = {r.code for r in chat.turn.decision.reasons}
    assert "reason_not_exceptional" in codes
    assert not codes & {"end_date_missing", "parent_consent_missing", "start_date_missing"}
    assert "no end date" not in chat.text


# --------------------------------------------------------------------------- every question
@pytest.mark.parametrize("policy", POLICIES)
def test_every_question_cites_a_clause_quoted_verbatim(policy: str, policy_texts: dict[str, str]) -> None:
    answers = {"pupil.year_group": "Y5", "reasons": "mental health, semh", "plan.start_date": "12/01/2026",
               "plan.end_date": "30/01/2026"}
    chat = Chat(policy)
    seen = 0
    while not chat.turn.finished and seen < 60:
        question = chat.last
        assert question.why is not None, question.text
        assert quote_is_in(question.why.quote, policy_texts[policy]), question.why
        seen += 1
        fallback = {"yes_no": "yes" if question.fact.startswith("steps.") else "no", "date": "skip", "number": "10",
                    "text": "none"}.get(question.kind, "1")
        chat.say(answers.get(question.fact, fallback))
        assert not chat.last.error, chat.last.text
    assert chat.turn.finished
    assert seen > 10


@pytest.mark.parametrize("policy", POLICIES)
def test_the_last_reply_of_every_turn_is_the_question_awaiting_an_answer_or_the_decision(policy: str) -> None:
    chat = Chat(policy)
    for _ in range(60):
        if chat.turn.finished:
            break
        assert chat.last.fact == chat.state.pending
        kind = chat.last.kind
        chat.say("1" if kind in ("choice", "multi_choice") else "no" if kind == "yes_no" else "skip")
        assert not chat.last.error, chat.last.text
    assert chat.turn.decision is not None
    assert chat.last.fact is None


def test_a_bad_answer_says_what_is_wrong_and_asks_the_same_question_losing_nothing() -> None:
    chat = Chat("derby-city").say("Y5", "mental health", "no")
    before = dict(chat.state.answers)

    chat.say("sometimes")

    assert chat.last.error
    assert "yes or no" in chat.last.text
    assert chat.fact == "circumstances.child_protection_plan"
    assert chat.state.answers == before
    assert chat.turn.answer_log[-1].model_dump() == {"fact": "circumstances.child_protection_plan",
                                                      "raw_text": "sometimes", "accepted": False}


def test_an_end_date_before_the_start_is_refused() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE)
    chat.say("change end date", "01/01/2026")

    assert chat.last.error
    assert "before the start date" in chat.last.text


def test_json_literals_answer_any_question_as_machine_clients_send_them() -> None:
    chat = Chat("derby-city").say('"Y5"', '["mental_health"]', "true", "false", "false", "false", "false", "false",
                                  '"2026-01-12"', "null")

    assert chat.state.answers["reasons"] == ["mental_health"]
    assert chat.state.answers["circumstances.looked_after"] is True
    assert chat.state.answers["plan.end_date"] is None
    assert chat.turn.decision.outcome == "must_not_proceed"


# --------------------------------------------------------------------------- state and case
def test_the_state_round_trips_through_json_and_gives_the_contract_case() -> None:
    chat = Chat("derby-city", closures=[(date(2026, 2, 16), date(2026, 2, 20))]).answer(DERBY_COMPLETE)

    data = chat.state.model_dump(mode="json")
    again = ConversationState.model_validate(data)
    assert again == ConversationState.model_validate(again.model_dump(mode="json"))
    case = again.to_case()
    assert case.pupil.year_group == "Y5"
    assert case.plan.hours_per_week == 12
    assert [(c.from_, c.to) for c in case.calendar.closures] == [(date(2026, 2, 16), date(2026, 2, 20))]
    assert evaluate(case).outcome == chat.turn.decision.outcome == "may_proceed"


def test_the_schools_configured_closures_move_the_latest_end_date() -> None:
    plain = Chat("derby-city").answer(DERBY_COMPLETE)
    closed = Chat("derby-city", closures=[(date(2026, 2, 16), date(2026, 2, 20))]).answer(DERBY_COMPLETE)

    assert plain.turn.decision.latest_end_date == date(2026, 2, 20)
    assert closed.turn.decision.latest_end_date == date(2026, 2, 27)


def test_the_case_cannot_be_made_before_a_reason_is_given() -> None:
    chat = Chat("derby-city").say("Y5")

    with pytest.raises(IncompleteCase):
        chat.state.to_case()


def test_responding_never_changes_the_state_it_is_given() -> None:
    chat = Chat("derby-city").say("Y5", "mental health")
    state = chat.state
    frozen = state.model_dump(mode="json")

    respond(state, "yes", TODAY)
    respond(state, "back", TODAY)
    respond(state, "restart", TODAY)

    assert state.model_dump(mode="json") == frozen


def test_the_answer_log_records_each_message_and_whether_it_was_taken() -> None:
    chat = Chat("derby-city").say("Y5")
    log = chat.turn.answer_log
    assert [r.model_dump() for r in log] == [{"fact": "pupil.year_group", "raw_text": "Y5", "accepted": True}]

    chat.say("summary")
    assert [r.model_dump() for r in chat.turn.answer_log] == [{"fact": None, "raw_text": "summary", "accepted": True}]


# --------------------------------------------------------------------------- the decision from the state
@pytest.mark.parametrize("policy", POLICIES)
def test_the_decision_follows_from_the_state_alone_at_every_turn(policy: str) -> None:
    chat = Chat(policy)
    answers = DERBY_COMPLETE | {"circumstances.looked_after": "yes"}
    seen_decided = False
    for _ in range(60):
        assert shown_decision(chat.state) == chat.turn.decision
        if chat.turn.finished:
            seen_decided = True
            break
        chat.say(answers.get(chat.fact or "", "no" if chat.last.kind == "yes_no" else "1"))
    assert seen_decided


def test_after_an_early_stop_the_state_gives_only_the_certain_reasons_too() -> None:
    chat = Chat("derby-city").say("Y8", "behaviour")

    decision = shown_decision(ConversationState.model_validate(chat.state.model_dump(mode="json")))
    assert decision == chat.turn.decision
    assert decision is not None and "end_date_missing" not in {r.code for r in decision.reasons}


def test_no_end_date_yet_stops_the_check_and_says_how_to_go_on_once_one_is_agreed() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"plan.end_date": "none"})

    assert chat.turn.decision.outcome == "must_not_proceed"
    assert "once an end date is agreed, reply 'change end date'" in chat.text
    chat.say("change end date", "13/02/2026").answer(DERBY_COMPLETE)  # and the questions the stop spared
    assert chat.turn.decision.outcome == "may_proceed"


def test_a_plan_too_long_says_an_earlier_end_date_would_change_the_decision() -> None:
    chat = Chat("derby-city").answer(DERBY_COMPLETE | {"plan.end_date": "27/03/2026"})

    assert [r.code for r in chat.turn.decision.stops()] == ["plan_too_long"]
    assert "An earlier end date, within the policy's limit, would change this" in chat.text
