"""Answers are read the way people type them, and the way machine clients send them."""

from __future__ import annotations

from datetime import date

import pytest

from conversations.answers import (
    AnswerError,
    parse_choice,
    parse_closures,
    parse_date,
    parse_hours,
    parse_multi_choice,
    parse_optional_date,
    parse_year_group,
    parse_yes_no,
)
from conversations.questions import CONSENT_OPTIONS, CONSULTATION_OPTIONS, REASON_OPTIONS, RISK_OPTIONS

WEDNESDAY = date(2026, 1, 7)


@pytest.mark.parametrize(
    "text", ["yes", "Yes", "y", "Y", "yeah", "yep", "yup", "true", "YES.", "yes, since 2023", " yes "]
)
def test_yes_in_its_everyday_forms_is_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", ["no", "No", "n", "nope", "nah", "false", "no.", "no, never", "not yet"])
def test_no_in_its_everyday_forms_is_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["maybe", "12/01/2026", "", "sometimes"])
def test_an_answer_that_is_neither_yes_nor_no_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(AnswerError, match="yes or no"):
        parse_yes_no(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/01/2026", date(2026, 1, 12)),
        ("12-01-2026", date(2026, 1, 12)),
        ("12.01.2026", date(2026, 1, 12)),
        ("2026-01-12", date(2026, 1, 12)),
        ("12/1/26", date(2026, 1, 12)),
        ("12 Jan", date(2026, 1, 12)),
        ("12th Jan", date(2026, 1, 12)),
        ("12 January 2026", date(2026, 1, 12)),
        ("12th of January 2026", date(2026, 1, 12)),
        ("Monday 12 January 2026", date(2026, 1, 12)),
        ("next Monday", date(2026, 1, 12)),
        ("Monday", date(2026, 1, 12)),
        ("next wednesday", date(2026, 1, 14)),
        ("today", WEDNESDAY),
        ("Today", WEDNESDAY),
        ("tomorrow", date(2026, 1, 8)),
        ("in 2 weeks", date(2026, 1, 21)),
        ("next week", date(2026, 1, 12)),
        ('"2026-01-12"', date(2026, 1, 12)),
    ],
)
def test_uk_dates_are_read_day_first_and_relative_to_today(text: str, expected: date) -> None:
    assert parse_date(text, WEDNESDAY) == expected


def test_an_iso_date_is_never_read_day_first() -> None:
    assert parse_date("2026-02-01", WEDNESDAY) == date(2026, 2, 1)


def test_a_plan_date_without_a_year_that_would_be_long_past_means_next_year() -> None:
    autumn = date(2026, 11, 20)

    assert parse_date("12 Jan", autumn, prefer_future=True) == date(2027, 1, 12)
    assert parse_date("12 Jan", autumn) == date(2026, 1, 12)
    assert parse_date("12/01/2026", autumn, prefer_future=True) == date(2026, 1, 12)


@pytest.mark.parametrize("text", ["31/02/2026", "13/13/2026", "12", "Jan", "banana", "16-20 Feb", "", "true"])
def test_a_date_that_cannot_be_read_is_refused_with_examples(text: str) -> None:
    with pytest.raises(AnswerError, match="12/01/2026"):
        parse_date(text, WEDNESDAY)


@pytest.mark.parametrize("text", ["none", "no end date", "null", "skip", "don't know"])
def test_none_or_skip_is_no_date(text: str) -> None:
    assert parse_optional_date(text, WEDNESDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", 12.5),
        ("12h30", 12.5),
        ("12 h 30", 12.5),
        ("12:30", 12.5),
        ("12,5", 12.5),
        ("12 hours", 12.0),
        ("12 hours 30 minutes", 12.5),
        ("15", 15.0),
        ("0", 0.0),
        ('"12.5"', 12.5),
    ],
)
def test_hours_are_read_as_decimals_or_hours_and_minutes(text: str, expected: float) -> None:
    assert parse_hours(text) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "problem"), [("-3", "negative"), ("50", "more than 40"), ("lots", "hours")])
def test_impossible_hours_are_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(AnswerError, match=problem):
        parse_hours(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("agreed", "agreed"), ("Agreed", "agreed"), ("AGREED", "agreed"), ("3", "agreed"), ('"agreed"', "agreed"),
     ("Not contacted yet", "not_contacted"), ("not_contacted", "not_contacted"), ("not contacted", "not_contacted"),
     ("Declined / does not agree", "declined"), ("they refused", "declined"), ("1", "not_contacted")],
)
def test_a_choice_is_taken_by_value_label_alias_or_number(text: str, expected: str) -> None:
    assert parse_choice(text, CONSULTATION_OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("given", "given"), ("Given (signed)", "given"), ("signed", "given"), ("refused", "refused"),
     ("not yet", "not_yet"), ("not_yet", "not_yet")],
)
def test_consent_is_read_from_the_words_people_use(text: str, expected: str) -> None:
    assert parse_choice(text, CONSENT_OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("no concerns", "no_concerns"), ("not done", "not_done"), ("concerns_unmitigated", "concerns_unmitigated"),
     ("mitigated", "concerns_mitigated"), ("Done: concerns not yet mitigated", "concerns_unmitigated")],
)
def test_the_risk_assessment_is_read_from_value_label_or_alias(text: str, expected: str) -> None:
    assert parse_choice(text, RISK_OPTIONS) == expected


@pytest.mark.parametrize("text", ["5", "0", "perhaps", '["agreed"]'])
def test_a_choice_that_is_not_offered_is_refused_listing_the_choices(text: str) -> None:
    with pytest.raises(AnswerError, match="Not contacted yet"):
        parse_choice(text, CONSULTATION_OPTIONS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mental health", ["mental_health"]),
        ("mental_health, semh", ["mental_health", "semh"]),
        ("1, 3", ["physical_health", "semh"]),
        ("1 and 2", ["physical_health", "mental_health"]),
        ("physical health and mental health", ["physical_health", "mental_health"]),
        ("Social, emotional and mental health needs (SEMH)", ["semh"]),
        ("Social, emotional and mental health needs (SEMH), behaviour", ["semh", "behaviour"]),
        ("behaviour & send", ["behaviour", "send_placement"]),
        ('["mental_health"]', ["mental_health"]),
        ('["mental_health", "semh"]', ["mental_health", "semh"]),
        ("semh, SEMH, 3", ["semh"]),
        ("Reception child not yet school-ready", ["not_school_ready"]),
    ],
)
def test_several_choices_are_read_from_commas_and_values_labels_and_numbers(text: str, expected: list[str]) -> None:
    assert parse_multi_choice(text, REASON_OPTIONS) == expected


@pytest.mark.parametrize("text", ["foo, semh", "", "[]", '[1]', "10"])
def test_a_multi_choice_with_an_unknown_part_is_refused_naming_it(text: str) -> None:
    with pytest.raises(AnswerError):
        parse_multi_choice(text, REASON_OPTIONS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Y5", "Y5"), ("y5", "Y5"), ("year 5", "Y5"), ("Year 11", "Y11"), ("5", "Y5"), ("yr 5", "Y5"), ("R", "R"),
     ("reception", "R"), ("FS2", "R"), ('"Y5"', "Y5"), ("skip", None), ("don't know", None), ("", None),
     ("null", None)],
)
def test_a_year_group_is_read_by_its_number_not_its_position_in_the_list(text: str, expected: str | None) -> None:
    assert parse_year_group(text) == expected


@pytest.mark.parametrize("text", ["Y12", "year 13", "nursery", "sixth form"])
def test_a_year_group_outside_reception_to_year_11_is_refused(text: str) -> None:
    with pytest.raises(AnswerError, match="R \\(Reception\\) or Y1 to Y11"):
        parse_year_group(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", []),
        ("no", []),
        ("skip", []),
        ("null", []),
        ("[]", []),
        ("16/02/2026-20/02/2026", [("2026-02-16", "2026-02-20")]),
        ("16/02/2026-20/02/2026, 2026-04-03", [("2026-02-16", "2026-02-20"), ("2026-04-03", "2026-04-03")]),
        ("2026-02-16 to 2026-02-20", [("2026-02-16", "2026-02-20")]),
        ("16 Feb - 20 Feb", [("2026-02-16", "2026-02-20")]),
        ("16-20 Feb", [("2026-02-16", "2026-02-20")]),
        ("16th to 20th February 2026", [("2026-02-16", "2026-02-20")]),
        ("16/02/2026 – 20/02/2026; 3 April", [("2026-02-16", "2026-02-20"), ("2026-04-03", "2026-04-03")]),
        ("16/02/2026\n03/04/2026", [("2026-02-16", "2026-02-16"), ("2026-04-03", "2026-04-03")]),
        ('[{"from": "2026-02-16", "to": "2026-02-20"}]', [("2026-02-16", "2026-02-20")]),
        ('{"from": "2026-02-16", "to": "2026-02-20"}', [("2026-02-16", "2026-02-20")]),
        ('[["2026-02-16", "2026-02-20"], "2026-04-03"]', [("2026-02-16", "2026-02-20"), ("2026-04-03", "2026-04-03")]),
    ],
)
def test_closures_are_read_as_dates_ranges_or_the_contract_json(text: str, expected: list[tuple[str, str]]) -> None:
    assert parse_closures(text, WEDNESDAY) == [{"from": a, "to": b} for a, b in expected]


@pytest.mark.parametrize(
    "text",
    ["20/02/2026-16/02/2026", "half term", '[{"from": "2026-02-20", "to": "2026-02-16"}]', '[{"from": "16/02/2026"}]',
     "30-31 Feb"],
)
def test_closures_that_cannot_be_read_or_run_backwards_are_refused(text: str) -> None:
    with pytest.raises(AnswerError):
        parse_closures(text, WEDNESDAY)
