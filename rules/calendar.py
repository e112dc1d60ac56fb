"""The school calendar: school days, school weeks, year groups and compulsory school age.

School days are weekdays, minus England's bank holidays (from the ``holidays`` package with
``subdiv="ENG"``), minus closures (term holidays and INSET days) given by the case or configured
for an LA or school. Pure: no clock is read; every date comes from the caller.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

DAYS_PER_SCHOOL_WEEK = 5
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def england_bank_holidays(year: int) -> frozenset[date]:
    """England's bank holidays in ``year`` (Easter, May bank holidays, Christmas, substitutes)."""
    from holidays.countries.united_kingdom import UnitedKingdom

    return frozenset(UnitedKingdom(subdiv="ENG", years=year).keys())


class SchoolCalendar:
    """Which days a school is open, and counting in school days and school weeks."""

    __slots__ = ("_closed",)

    def __init__(self, closures: Iterable[tuple[date, date]] = ()) -> None:
        closed: set[date] = set()
        for first, last in closures:
            day = first
            while day <= last:
                closed.add(day)
                day += _ONE_DAY
        self._closed = frozenset(closed)

    def is_school_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self._closed
            and day not in england_bank_holidays(day.year)
        )

    def next_school_day_on_or_after(self, day: date) -> date:
        while not self.is_school_day(day):
            day += _ONE_DAY
        return day

    def last_school_day_on_or_before(self, day: date) -> date:
        while not self.is_school_day(day):
            day -= _ONE_DAY
        return day

    def nth_school_day(self, start: date, n: int) -> date:
        """The n-th school day counting ``start`` (or the first school day after it) as day 1."""
        if n < 1:
            raise ValueError("n counts from 1")
        day = self.next_school_day_on_or_after(start)
        counted = 1
        while counted < n:
            day += _ONE_DAY
            if self.is_school_day(day):
                counted += 1
        return day

    def add_school_days(self, start: date, n: int) -> date:
        """The school day ``n`` school days after ``start`` (``n`` = 0 gives ``start`` itself
        when it is a school day, else the next one)."""
        return self.nth_school_day(start, n + 1)

    def end_of_school_weeks(self, start: date, weeks: float) -> date:
        """The last day of ``weeks`` school weeks that begin on ``start``."""
        return self.nth_school_day(start, max(1, round(weeks * DAYS_PER_SCHOOL_WEEK)))

    def school_days_between(self, first: date, last: date) -> int:
        """School days from ``first`` to ``last``, both included."""
        count = 0
        day = first
        while day <= last:
            if self.is_school_day(day):
                count += 1
            day += _ONE_DAY
        return count

    def school_days(self, first: date, last: date) -> list[date]:
        days: list[date] = []
        day = first
        while day <= last:
            if self.is_school_day(day):
                days.append(day)
            day += _ONE_DAY
        return days


def end_of_calendar_weeks(start: date, weeks: float) -> date:
    """The last day of ``weeks`` calendar weeks that begin on ``start``."""
    return start + timedelta(days=round(weeks * 7) - 1)


def school_year_starting(day: date) -> int:
    """The calendar year in which the school year containing ``day`` began (1 September)."""
    return day.year if day.month >= 9 else day.year - 1


def year_group_for(date_of_birth: date, on: date) -> str | None:
    """The year group (R, Y1 … Y11) for the school year containing ``on``.

    A child starts Reception in the school year in which they turn five: their age on the
    31 August that opens the school year decides it. Outside R–Y11 (nursery, sixth form) is None.
    """
    year = school_year_starting(on)
    age_on_31_august = year - date_of_birth.year - ((date_of_birth.month, date_of_birth.day) > (8, 31))
    grade = age_on_31_august - 4
    if grade == 0:
        return "R"
    if 1 <= grade <= 11:
        return f"Y{grade}"
    return None


def _birthday(date_of_birth: date, age: int) -> date:
    year = date_of_birth.year + age
    if date_of_birth.month == 2 and date_of_birth.day == 29 and not _stdlib_calendar.isleap(year):
        return date(year, 3, 1)
    return date_of_birth.replace(year=year)


def compulsory_school_age_starts(date_of_birth: date) -> date:
    """The prescribed day (31 December, 31 March or 31 August) on or after the fifth birthday."""
    fifth = _birthday(date_of_birth, 5)
    for candidate in (
        date(fifth.year, 3, 31),
        date(fifth.year, 8, 31),
        date(fifth.year, 12, 31),
    ):
        if candidate >= fifth:
            return candidate
    raise AssertionError("31 December is on or after every day of its year")


def last_friday_of_june(year: int) -> date:
    day = date(year, 6, 30)
    while day.weekday() != 4:
        day -= _ONE_DAY
    return day


def compulsory_school_age_ends(date_of_birth: date) -> date:
    """The last Friday in June of the school year in which the child turns 16."""
    sixteenth = _birthday(date_of_birth, 16)
    return last_friday_of_june(school_year_starting(sixteenth) + 1)


def is_of_compulsory_school_age(date_of_birth: date, on: date) -> bool:
    return compulsory_school_age_starts(date_of_birth) <= on <= compulsory_school_age_ends(
        date_of_birth
    )
