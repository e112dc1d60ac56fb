"""Questions about a protocol are answered by quoting it verbatim, or not at all."""

from __future__ import annotations

import pytest

from assistant.services.policy_answers import answer_policy_question
from rules import known_policy_ids, load_pack
from rules.citations import quote_is_in

QUESTIONS = (
    "Can we use a part-time timetable for behaviour?",
    "Who needs to agree for a looked-after child?",
    "How long can it last?",
    "How often must it be reviewed?",
    "What if the parent refuses?",
    "Do we need a risk assessment?",
    "How many hours is full time for year 5?",
    "What happens if a child has an EHCP?",
)


@pytest.mark.parametrize("policy_id", known_policy_ids())
@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_in_every_answer_is_verbatim_from_the_document(
        policy_id: str, question: str, policy_texts: dict[str, str]) -> None:
    answer = answer_policy_question(question, policy_id)
    document = policy_texts[load_pack(policy_id).document]
    for passage in answer.passages:
        assert quote_is_in(passage.quote, document), passage.quote
        assert passage.document == load_pack(policy_id).document and passage.section


def test_behaviour_is_ruled_out_by_achieving_for_children_with_its_own_words() -> None:
    answer = answer_policy_question("Can we use a part-time timetable for behaviour?", "achieving-for-children")
    assert answer.answered and answer.verdict.startswith("*No.*")
    assert answer.passages[0].quote == (
        "Part-time Timetables can not be used to support the management of behaviours that challenge.")


def test_behaviour_is_accepted_by_the_bath_and_wells_trust() -> None:
    answer = answer_policy_question("can we use it for behaviour", "bath-wells-mat")
    assert answer.verdict.startswith("*Yes*")
    assert "challenging behavioural" in answer.passages[0].quote


def test_behaviour_is_not_one_of_derby_citys_exceptional_circumstances() -> None:
    answer = answer_policy_question("Can we use a part-time timetable for behaviour?", "derby-city")
    assert "Not on its own" in answer.verdict
    assert answer.passages[0].quote == "a part-time timetable can only be implemented in exceptional circumstances"


def test_who_must_agree_for_a_looked_after_child_in_derby_city_is_the_virtual_school() -> None:
    answer = answer_policy_question("Who needs to agree for a looked-after child?", "derby-city")
    assert "Agreement is needed from the Virtual School" in answer.verdict
    assert answer.passages[0].section == "Vulnerable groups"
    assert "Virtual Headteacher must be consulted and agree" in answer.passages[0].quote


def test_how_long_gives_the_maximum_with_its_clause() -> None:
    answer = answer_policy_question("How long can it last?", "derby-city")
    assert answer.verdict.startswith("At most 6 school weeks")
    assert answer.passages[0].quote == "This should not exceed 6 school weeks at the maximum."


def test_how_long_where_the_protocol_sets_no_maximum_says_so() -> None:
    answer = answer_policy_question("how long can a part-time timetable last?", "derbyshire")
    assert "sets no maximum" in answer.verdict
    assert answer.passages[0].quote == "Agree an end date for the part-time timetable to end."


def test_misspellings_are_forgiven() -> None:
    answer = answer_policy_question("risk assesment", "derby-city")
    assert answer.answered and any("Risk Assessment" in p.quote or "risk assessment" in p.quote
                                   for p in answer.passages)


@pytest.mark.parametrize("question", ["What is the capital of France?", "Can we use it for swimming lessons?",
                                      "bake bread recipe", ""])
def test_below_the_threshold_it_says_so_instead_of_guessing(question: str) -> None:
    answer = answer_policy_question(question, "derby-city")
    assert not answer.answered and not answer.passages and answer.verdict is None
    assert "won't guess" in answer.as_text() and answer.suggestions


def test_the_text_form_quotes_each_passage_with_its_section() -> None:
    text = answer_policy_question("How long can it last?", "achieving-for-children").as_text()
    assert "> This must not exceed six school weeks at the maximum." in text
    assert "section “Planning, reviewing and monitoring and support arrangements”" in text
