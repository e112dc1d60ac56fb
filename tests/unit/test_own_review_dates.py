"""A school may choose its own review dates, but never reviews less often than its policy asks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import known_policy_ids, load_pack
from rules.calendar import SchoolCalendar
from rules.evaluator import proposed_review_dates
from rules.reviews import review_dates_problem, scheduled_review_held

CALENDAR = SchoolCalendar()
START = date(2026, 1, 12)  # a Monday
END = date(2026, 2, 20)
DERBY = load_pack("derby-city")  # fortnightly, counted in school weeks
BWMAT = load_pack("bath-wells-mat")  # every two weeks, counted in calendar weeks


def derby_proposed() -> list[date]:
    return proposed_review_dates(CALENDAR, START, END, DERBY)


def problem(chosen: list[date], *, pack=DERBY, calendar: SchoolCalendar = CALENDAR, end: date = END) -> str | None:
    return review_dates_problem(chosen, proposed=proposed_review_dates(calendar, START, end, pack), start=START,
                                end=end, calendar=calendar, cadence=pack.reviews)


def test_the_policys_own_dates_are_accepted() -> None:
    assert derby_proposed() == [date(2026, 1, 23), date(2026, 2, 6), date(2026, 2, 20)]
    assert problem(derby_proposed()) is None


def test_reviews_more_often_than_the_policy_asks_are_accepted() -> None:
    weekly = [date(2026, 1, 16) + timedelta(weeks=n) for n in range(6)]
    assert problem(weekly) is None


def test_reviews_a_few_days_earlier_than_proposed_are_accepted() -> None:
    assert problem([date(2026, 1, 19), date(2026, 2, 2), date(2026, 2, 16)]) is None


def test_leaving_out_a_review_is_refused_citing_the_policys_review_rule() -> None:
    message = problem([date(2026, 1, 23), date(2026, 2, 20)])

    assert message is not None
    assert "at least every 2 school weeks" in message
    assert DERBY.reviews.citation is not None and DERBY.reviews.citation.section in message
    assert "after the review on 23 January 2026 the next is not until 20 February 2026" in message


def test_a_first_review_later_than_the_policy_allows_is_refused() -> None:
    message = problem([date(2026, 1, 30), date(2026, 2, 6), date(2026, 2, 20)])

    assert message is not None and "from the start (12 January 2026)" in message


def test_stopping_the_reviews_before_the_policys_last_one_is_refused() -> None:
    message = problem([date(2026, 1, 19), date(2026, 2, 2)])

    assert message is not None and "there is none by 20 February 2026" in message


@pytest.mark.parametrize(("day", "says"), [
    (date(2026, 1, 17), "17 January 2026 is not a school day"),
    (date(2026, 1, 9), "before the plan starts"),
    (date(2026, 2, 27), "after the plan's end date"),
])
def test_a_date_outside_the_plan_or_on_a_closed_day_is_refused(day: date, says: str) -> None:
    message = problem([*derby_proposed(), day])

    assert message is not None and says in message


def test_school_weeks_are_counted_in_school_days_so_a_half_term_is_not_a_gap() -> None:
    half_term = SchoolCalendar([(date(2026, 2, 9), date(2026, 2, 13))])
    proposed = proposed_review_dates(half_term, START, date(2026, 2, 27), DERBY)
    assert proposed == [date(2026, 1, 23), date(2026, 2, 6), date(2026, 2, 27)]

    # Ten school days after 6 February is 27 February: the half term week does not count.
    assert problem([date(2026, 1, 23), date(2026, 2, 6), date(2026, 2, 27)], calendar=half_term,
                   end=date(2026, 2, 27)) is None


def test_a_cadence_in_calendar_weeks_counts_days() -> None:
    proposed = proposed_review_dates(CALENDAR, START, END, BWMAT)
    assert problem(proposed, pack=BWMAT) is None

    late = [proposed[0] + timedelta(days=3), *proposed[1:]]
    message = problem(late, pack=BWMAT)
    assert message is not None and "at least every 2 weeks" in message


@settings(max_examples=150, deadline=None)
@given(policy=st.sampled_from(sorted(known_policy_ids())),
       start=st.dates(min_value=date(2025, 9, 1), max_value=date(2027, 6, 30)),
       length=st.integers(min_value=1, max_value=120))
def test_every_policys_proposed_dates_pass_its_own_check(policy: str, start: date, length: int) -> None:
    pack = load_pack(policy)
    end = start + timedelta(days=length)
    proposed = proposed_review_dates(CALENDAR, start, end, pack)
    if not proposed:
        return
    within = [d for d in proposed if d <= end]
    if not within:
        return
    assert review_dates_problem(within, proposed=within, start=start, end=end, calendar=CALENDAR,
                                cadence=pack.reviews) is None


# --------------------------------------------------------------------------- which review was held
SCHEDULED = [date(2026, 1, 23), date(2026, 2, 6), date(2026, 2, 20)]


def test_a_review_held_on_its_day_or_late_stands_for_the_earliest_scheduled() -> None:
    assert scheduled_review_held(date(2026, 1, 23), SCHEDULED, DERBY.reviews) == date(2026, 1, 23)
    assert scheduled_review_held(date(2026, 1, 28), SCHEDULED, DERBY.reviews) == date(2026, 1, 23)


def test_a_review_brought_forward_by_up_to_a_week_stands_for_the_fortnightly_one() -> None:
    assert scheduled_review_held(date(2026, 1, 16), SCHEDULED, DERBY.reviews) == date(2026, 1, 23)


def test_a_review_held_well_before_the_scheduled_one_is_an_extra_review() -> None:
    assert scheduled_review_held(date(2026, 1, 15), SCHEDULED, DERBY.reviews) is None
    assert scheduled_review_held(date(2026, 1, 14), [], DERBY.reviews) is None
