"""EWO queries in plain words are read into a TimetableQuery; anything else gets suggestions."""

from __future__ import annotations

from datetime import date

import pytest

from conversations.queries import (
    EXAMPLE_QUERIES,
    DateWindow,
    QueryNotUnderstood,
    TimetableQuery,
    parse_timetable_query,
    suggest_queries,
)

WEDNESDAY = date(2026, 3, 11)


def parse(text: str) -> TimetableQuery:
    query = parse_timetable_query(text, today=WEDNESDAY)
    assert isinstance(query, TimetableQuery), query
    return query


def test_active_lists_active_plans() -> None:
    query = parse("active")
    assert query.status == "active" and not query.count_only and query.school_name is None


def test_a_school_after_at_is_kept_as_typed() -> None:
    assert parse("active at Oak Primary").school_name == "Oak Primary"
    assert parse("show me plans at st mary's ce primary").school_name == "St Mary's Ce Primary"
    assert parse("looked after at Oak Primary ending next week").school_name == "Oak Primary"


def test_filters_after_a_school_are_kept_as_filters_not_read_into_its_name() -> None:
    for text in ("active at Oak Primary year 10", "active at Oak Primary in y10"):
        assert (parse(text).school_name, parse(text).year_group) == ("Oak Primary", "Y10"), text
    assert parse("active at Royal School for the Deaf").school_name == "Royal School for the Deaf"
    lac = parse("how many at Oak Primary for LAC")
    assert (lac.school_name, lac.circumstance, lac.count_only) == ("Oak Primary", "looked_after", True)
    assert parse("active at Oak Primary on a CP plan").circumstance == "child_protection_plan"
    year_6 = parse("how many active at Oak Primary in year 6")
    assert (year_6.school_name, year_6.year_group) == ("Oak Primary", "Y6")
    assert parse("active at the minute").school_name is None


@pytest.mark.parametrize(("text", "expected"), [
    ("what's overdue?", {"review_overdue": True}),
    ("are any reviews overdue?", {"review_overdue": True}),
    ("who has a review overdue?", {"review_overdue": True}),
    ("what's ending this week?", {"ending_within": DateWindow(start=date(2026, 3, 9), end=date(2026, 3, 15),
                                                              label="this week")}),
    ("what's active at Oak Primary?", {"status": "active", "school_name": "Oak Primary"}),
    ("reviews past due", {"review_overdue": True}),
])
def test_a_query_asked_as_a_question_is_read_as_the_query(text: str, expected: dict[str, object]) -> None:
    query = parse(text)
    assert {name: getattr(query, name) for name in expected} == expected


@pytest.mark.parametrize("text", ["not active", "not closed", "plans with no end date", "overdu reviews",
                                  "acitve at oak primary"])
def test_a_negation_or_a_mistyped_filter_is_not_guessed_at(text: str) -> None:
    """Read without the "not" or without the mistyped word, each would list the wrong plans."""
    assert isinstance(parse_timetable_query(text, today=WEDNESDAY), QueryNotUnderstood)


@pytest.mark.parametrize("text", ["what is an EHCP?", "what is a looked after child?", "what is early help?"])
def test_a_question_about_what_something_is_goes_to_the_protocol_not_a_list(text: str) -> None:
    assert isinstance(parse_timetable_query(text, today=WEDNESDAY), QueryNotUnderstood)


def test_words_close_to_a_filter_word_but_meaning_something_else_are_not_refused() -> None:
    assert parse("active this week").status == "active"
    assert parse("reviews due later").review_due_within is not None


@pytest.mark.parametrize("text", ["past end date", "plans past their end date", "still open after the end date",
                                  "how many past the end date at Oak Primary",
                                  "plans that have ended but are still open"])
def test_plans_open_after_their_end_date_can_be_asked_for(text: str) -> None:
    query = parse(text)
    assert query.past_end_date and query.ending_within is None and not query.over_maximum
    assert query.status == "open"


def test_still_open_on_its_own_means_every_open_plan() -> None:
    query = parse("how many are still open at Oak Primary")
    assert (query.status, query.past_end_date, query.count_only) == ("open", False, True)


def test_ending_this_week_is_monday_to_sunday_of_the_week_containing_today() -> None:
    assert parse("ending this week").ending_within == DateWindow(
        start=date(2026, 3, 9), end=date(2026, 3, 15), label="this week")


def test_at_the_weekend_this_week_is_the_week_ahead() -> None:
    sunday = date(2026, 3, 15)
    for text in ("ending this week", "reviews due"):
        query = parse_timetable_query(text, today=sunday)
        assert isinstance(query, TimetableQuery)
        window = query.ending_within or query.review_due_within
        assert window is not None and (window.start, window.end) == (date(2026, 3, 16), date(2026, 3, 22))
    next_week = parse_timetable_query("ending next week", today=sunday)
    assert isinstance(next_week, TimetableQuery) and next_week.ending_within is not None
    assert next_week.ending_within.start == date(2026, 3, 23)


def test_ending_next_week_and_within_a_number_of_days() -> None:
    assert parse("ending next week").ending_within.start == date(2026, 3, 16)
    window = parse("plans ending in the next 10 days").ending_within
    assert (window.start, window.end) == (WEDNESDAY, date(2026, 3, 21))
    assert parse("ending within 2 weeks").ending_within.end == date(2026, 3, 25)


def test_reviews_overdue_and_reviews_due() -> None:
    assert parse("reviews overdue").review_overdue
    assert parse("overdue reviews at Elm Academy").school_name == "Elm Academy"
    assert parse("reviews due this week").review_due_within.end == date(2026, 3, 15)


def test_over_six_weeks_means_longer_than_six_weeks() -> None:
    query = parse("over six weeks")
    assert query.over_maximum and query.over_weeks == 6
    assert parse("plans over 6 weeks").over_weeks == 6
    past = parse("past the maximum")
    assert past.over_maximum and past.over_weeks is None


@pytest.mark.parametrize(("text", "circumstance"), [
    ("looked after", "looked_after"),
    ("looked-after pupils", "looked_after"),
    ("children in care", "looked_after"),
    ("CLA", "looked_after"),
    ("previously looked after", "previously_looked_after"),
    ("EHCP", "ehcp"),
    ("pupils with an EHCP", "ehcp"),
    ("child protection", "child_protection_plan"),
    ("CIN", "child_in_need_plan"),
    ("youth justice", "youth_justice"),
])
def test_circumstances_are_recognised_in_their_usual_words(text: str, circumstance: str) -> None:
    assert parse(text).circumstance == circumstance


def test_how_many_counts_instead_of_listing() -> None:
    query = parse("how many looked after at Oak Primary?")
    assert query.count_only and query.circumstance == "looked_after" and query.school_name == "Oak Primary"
    assert query.describe() == "How many plans for looked-after pupils at Oak Primary"


def test_filters_combine() -> None:
    query = parse("how many active EHCP in year 9 ending this month")
    assert (query.status, query.circumstance, query.year_group, query.count_only) == ("active", "ehcp", "Y9", True)
    assert query.ending_within.end == date(2026, 3, 31)


def test_the_default_is_every_open_plan() -> None:
    assert parse("plans").status == "open"
    assert parse("all plans").status == "any"
    assert parse("closed").status == "closed"


@pytest.mark.parametrize("text", ["what's the weather like", "purple monkey dishwasher", "",
                                  "Who needs to agree for a looked-after child?", "how long can it last?"])
def test_anything_else_is_not_understood_and_gets_suggestions(text: str) -> None:
    result = parse_timetable_query(text, today=WEDNESDAY)
    assert isinstance(result, QueryNotUnderstood)
    assert result.suggestions and set(result.suggestions) <= set(EXAMPLE_QUERIES)


def test_suggestions_lean_towards_what_was_typed() -> None:
    assert "reviews overdue" in suggest_queries("reveiws overdew")


def test_every_example_query_is_understood() -> None:
    for example in EXAMPLE_QUERIES:
        assert isinstance(parse_timetable_query(example, today=WEDNESDAY), TimetableQuery), example


def test_parsing_is_pure_today_comes_in() -> None:
    assert parse_timetable_query("ending this week", today=date(2026, 1, 1)) != parse("ending this week")
