"""The school calendar: bank holidays, closures, school weeks, year groups, compulsory school age."""

from __future__ import annotations

from datetime import date

import pytest

from rules.calendar import (
    SchoolCalendar,
    compulsory_school_age_ends,
    compulsory_school_age_starts,
    england_bank_holidays,
    england_bank_holidays_from_package,
    is_of_compulsory_school_age,
    year_group_for,
)


def test_good_friday_and_easter_monday_are_not_school_days() -> None:
    calendar = SchoolCalendar()
    assert not calendar.is_school_day(date(2026, 4, 3))
    assert not calendar.is_school_day(date(2026, 4, 6))
    assert calendar.is_school_day(date(2026, 4, 7))


def test_six_school_weeks_across_easter_skip_the_bank_holidays() -> None:
    assert SchoolCalendar().end_of_school_weeks(date(2026, 3, 2), 6) == date(2026, 4, 14)


def test_may_bank_holidays_are_skipped() -> None:
    calendar = SchoolCalendar()
    assert not calendar.is_school_day(date(2026, 5, 4))
    assert not calendar.is_school_day(date(2026, 5, 25))
    assert calendar.school_days_between(date(2026, 5, 1), date(2026, 5, 29)) == 19


def test_a_half_term_closure_pushes_school_weeks_back_a_week() -> None:
    calendar = SchoolCalendar([(date(2026, 2, 16), date(2026, 2, 20))])
    assert calendar.end_of_school_weeks(date(2026, 1, 12), 6) == date(2026, 2, 27)
    assert not calendar.is_school_day(date(2026, 2, 18))


def test_a_start_on_a_weekend_counts_from_the_next_school_day() -> None:
    assert SchoolCalendar().nth_school_day(date(2026, 1, 10), 1) == date(2026, 1, 12)


def test_add_school_days_skips_weekends() -> None:
    assert SchoolCalendar().add_school_days(date(2026, 1, 16), 1) == date(2026, 1, 19)


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027, 2030, 2045])
def test_the_generated_bank_holidays_match_the_holidays_package(year: int) -> None:
    assert england_bank_holidays(year) == england_bank_holidays_from_package(year)


def test_years_outside_the_generated_file_come_from_the_holidays_package() -> None:
    assert date(2099, 12, 25) in england_bank_holidays(2099)


@pytest.mark.parametrize(
    ("birth", "on", "year_group"),
    [
        (date(2012, 11, 20), date(2026, 4, 20), "Y8"),
        (date(2020, 9, 1), date(2025, 9, 3), "R"),
        (date(2021, 8, 31), date(2025, 9, 3), "R"),
        (date(2021, 9, 1), date(2025, 9, 3), None),
        (date(2010, 8, 31), date(2026, 6, 1), "Y11"),
        (date(2009, 8, 31), date(2026, 1, 5), None),
    ],
)
def test_year_group_is_set_by_age_on_31_august(birth: date, on: date, year_group: str | None) -> None:
    assert year_group_for(birth, on) == year_group


@pytest.mark.parametrize(
    ("birth", "starts"),
    [
        (date(2020, 10, 15), date(2025, 12, 31)),
        (date(2021, 1, 10), date(2026, 3, 31)),
        (date(2021, 5, 1), date(2026, 8, 31)),
        (date(2021, 3, 31), date(2026, 3, 31)),
    ],
)
def test_compulsory_school_age_starts_on_the_prescribed_day_after_the_fifth_birthday(birth: date, starts: date) -> None:
    assert compulsory_school_age_starts(birth) == starts


def test_compulsory_school_age_ends_on_the_last_friday_of_june_of_the_year_they_turn_sixteen() -> None:
    assert compulsory_school_age_ends(date(2010, 11, 3)) == date(2027, 6, 25)
    assert compulsory_school_age_ends(date(2011, 3, 3)) == date(2027, 6, 25)
    assert not is_of_compulsory_school_age(date(2010, 11, 3), date(2027, 6, 28))
    assert is_of_compulsory_school_age(date(2010, 11, 3), date(2027, 6, 25))


def test_a_reception_child_under_five_is_not_yet_of_compulsory_school_age() -> None:
    assert not is_of_compulsory_school_age(date(2021, 6, 1), date(2025, 10, 1))
