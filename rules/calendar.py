"""The school calendar: school days, school weeks, year groups and compulsory school age.

School days are weekdays, minus England's bank holidays (from the ``holidays`` package with
``subdiv="ENG"``), minus closures (term holidays and INSET days) given by the case or configured
for an LA or school. Pure: no clock is read; every date comes from the caller.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.models import Case

DAYS_PER_SCHOOL_WEEK = 5
_ONE_DAY = timedelta(days=1)


_BANK_HOLIDAYS_FILE = Path(__file__).parent / "data" / "bank_holidays_england.json"


@cache
def _generated_bank_holidays() -> dict[str, list[str]]:
    # Generated from the ``holidays`` package by scripts/generate_bank_holidays.py and kept equal
    # to it by a unit test; reading it spares ``ptt check`` the package's slow import.
    return json.loads(_BANK_HOLIDAYS_FILE.read_text(encoding="utf-8"))


def england_bank_holidays_from_package(year: int) -> frozenset[date]:
    from holidays.countries.united_kingdom import UnitedKingdom

    return frozenset(UnitedKingdom(subdiv="ENG", years=year).keys())


@lru_cache(maxsize=128)
def england_bank_holidays(year: int) -> frozenset[date]:
    """England's bank holidays in ``year`` (Easter, May bank holidays, Christmas, substitutes),
    from the ``holidays`` package with ``subdiv="ENG"``."""
    listed = _generated_bank_holidays().get(str(year))
    if listed is None:
        return england_bank_holidays_from_package(year)
    return frozenset(date.fromisoformat(day) for day in listed)


@cache
def _working_days() -> tuple[list[int], frozenset[int], int, int]:
    """Ordinals of every weekday that is not a bank holiday over the generated years, sorted.

    Counting school days then becomes a bisection instead of a walk, which keeps an evaluation
    in the tens of microseconds.
    """
    years = sorted(int(year) for year in _generated_bank_holidays())
    first, last = date(years[0], 1, 1).toordinal(), date(years[-1], 12, 31).toordinal()
    holidays = {date.fromisoformat(day).toordinal() for days in _generated_bank_holidays().values() for day in days}
    # date(1, 1, 1) is a Monday, so an ordinal's weekday is (ordinal - 1) % 7.
    working = [o for o in range(first, last + 1) if (o - 1) % 7 < 5 and o not in holidays]
    return working, frozenset(working), first, last


class SchoolCalendar:
    """Which days a school is open, and counting in school days and school weeks."""

    __slots__ = ("_closed",)

    def __init__(self, closures: Iterable[tuple[date, date]] = ()) -> None:
        closed: set[int] = set()
        for first, last in closures:
            closed.update(range(first.toordinal(), last.toordinal() + 1))
        self._closed = frozenset(closed)

    def _slow_is_school_day(self, day: date) -> bool:
        return day.weekday() < 5 and day.toordinal() not in self._closed and day not in england_bank_holidays(day.year)

    def is_school_day(self, day: date) -> bool:
        _, working_set, first, last = _working_days()
        ordinal = day.toordinal()
        if first <= ordinal <= last:
            return ordinal in working_set and ordinal not in self._closed
        return self._slow_is_school_day(day)

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
        working, _, first, _ = _working_days()
        ordinal = start.toordinal()
        index = bisect_left(working, ordinal)
        if first <= ordinal and index + n + len(self._closed) < len(working):
            if not self._closed:
                return date.fromordinal(working[index + n - 1])
            counted = 0
            closed = self._closed
            while True:
                candidate = working[index]
                if candidate not in closed:
                    counted += 1
                    if counted == n:
                        return date.fromordinal(candidate)
                index += 1
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
        if last < first:
            return 0
        working, _, lowest, highest = _working_days()
        low, high = first.toordinal(), last.toordinal()
        if lowest <= low and high <= highest:
            count = bisect_right(working, high) - bisect_left(working, low)
            if self._closed:
                working_set = _working_days()[1]
                count -= sum(1 for o in self._closed if low <= o <= high and o in working_set)
            return count
        return sum(1 for day in self.school_days(first, last))

    def school_days(self, first: date, last: date) -> list[date]:
        days: list[date] = []
        day = first
        while day <= last:
            if self.is_school_day(day):
                days.append(day)
            day += _ONE_DAY
        return days


def calendar_for(case: Case) -> SchoolCalendar:
    """The calendar a case is counted in: weekdays that are not England's bank holidays, less
    the school's own closures given with the case."""
    return SchoolCalendar((c.from_, c.to) for c in case.calendar.closures)


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
    return compulsory_school_age_starts(date_of_birth) <= on <= compulsory_school_age_ends(date_of_birth)
