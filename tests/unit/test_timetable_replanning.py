"""A review that raises the hours or extends the plan re-plans the timetable from the day after
it: the weeks already past stay as the register holds them, and the rest rises to full time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.timetable import (
    GraduatedTimetable,
    build_graduated_timetable,
    hours_in_force,
    mark_off_site,
    move_authorised_absence,
    replan_from,
    timetable_until,
    usual_authorised_absence,
)

MONDAY = date(2026, 1, 12)
FULL_TIME = 25.0


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def six_weeks(starting_hours: float = 10.0) -> GraduatedTimetable:
    """Monday 12 January to Friday 20 February 2026, full time 25 hours."""
    return build_graduated_timetable(MONDAY, MONDAY + timedelta(days=39), starting_hours, FULL_TIME, weekdays)


def sessions_before(timetable: GraduatedTimetable, day: date) -> list:
    return [s for s in timetable.all_sessions() if s.day < day]


def test_sessions_before_the_restart_are_kept_as_they_were() -> None:
    old = six_weeks()
    restart = MONDAY + timedelta(days=16)  # Wednesday of week 3
    new = replan_from(old, restart, old.end, 20.0, weekdays)
    assert sessions_before(new, restart) == sessions_before(old, restart)


def test_raised_hours_start_on_the_restart_and_rise_to_full_time_by_the_end() -> None:
    old = six_weeks()
    restart = MONDAY + timedelta(days=14)  # Monday of week 3
    new = replan_from(old, restart, old.end, 20.0, weekdays)
    assert [w.planned_hours for w in new.weeks[:2]] == [w.planned_hours for w in old.weeks[:2]]
    assert new.weeks[2].planned_hours == 20.0
    assert new.final_week.full_time and new.final_week.hours == FULL_TIME
    rises = [w.planned_hours for w in new.weeks[2:]]
    assert rises == sorted(rises)
    assert old.weeks[2].planned_hours < 20.0  # the change is real


def test_an_extension_adds_weeks_up_to_the_new_end_date() -> None:
    old = six_weeks()
    restart = MONDAY + timedelta(days=29)  # Tuesday of week 5
    new_end = old.end + timedelta(days=14)
    new = replan_from(old, restart, new_end, hours_in_force(old, restart), weekdays)
    assert new.end == new_end
    assert len(new.weeks) == len(old.weeks) + 2
    assert new.final_week.week_beginning == MONDAY + timedelta(weeks=7)
    assert max(s.day for s in new.all_sessions()) == new_end
    # The old final week was full time; now it is still part-time, as the extension means.
    assert not new.weeks[len(old.weeks) - 1].full_time


def test_the_week_of_the_restart_joins_its_earlier_days_to_the_new_plan() -> None:
    old = six_weeks()
    restart = MONDAY + timedelta(days=16)  # Wednesday of week 3
    new = replan_from(old, restart, old.end, 20.0, weekdays)
    week = new.weeks[2]
    assert week.week_beginning == old.weeks[2].week_beginning
    assert [s.day for s in week.sessions] == [s.day for s in old.weeks[2].sessions]
    assert week.hours == pytest.approx(sum(s.hours for s in week.sessions))
    assert week.planned_hours == 20.0
    assert sum(s.hours for s in week.sessions if s.day >= restart) > sum(
        s.hours for s in old.weeks[2].sessions if s.day >= restart)


def test_off_site_sessions_keep_their_place_and_register_code() -> None:
    old = mark_off_site(six_weeks(), 2, "pm", "Riverside Tuition Centre", "Tutor")
    restart = MONDAY + timedelta(days=14)
    new = replan_from(old, restart, old.end + timedelta(days=7), 10.0, weekdays)
    wednesday_afternoons = [s for s in new.all_sessions()
                            if s.day >= restart and s.weekday == 2 and s.half == "pm" and not s.in_school]
    assert wednesday_afternoons
    assert {(s.location, s.register_code) for s in wednesday_afternoons} == {("Riverside Tuition Centre", "B")}
    others = [s for s in new.away_sessions() if s.day >= restart and (s.weekday, s.half) != (2, "pm")]
    assert others and {(s.location, s.with_whom, s.register_code) for s in others} == {("Home", "Parent/carer", "C2")}


def test_a_plan_whose_time_out_of_school_is_all_off_site_education_stays_b_when_re_planned() -> None:
    old = build_graduated_timetable(MONDAY + timedelta(days=2), MONDAY + timedelta(days=39), 10.0, FULL_TIME, weekdays,
                                    away_location="Riverside PRU", away_with_whom="PRU staff", away_register_code="B")
    new = replan_from(old, MONDAY + timedelta(days=4), old.end, 12.0, weekdays)
    assert {(s.location, s.with_whom, s.register_code) for s in new.away_sessions()} == {
        ("Riverside PRU", "PRU staff", "B")}


def test_closed_days_after_the_restart_come_from_the_calendar() -> None:
    old = six_weeks()
    half_term = {MONDAY + timedelta(weeks=6, days=n) for n in range(5)}

    def open_day(day: date) -> bool:
        return weekdays(day) and day not in half_term

    restart = MONDAY + timedelta(days=28)
    new = replan_from(old, restart, old.end + timedelta(weeks=2), 15.0, open_day)
    assert MONDAY + timedelta(weeks=6) in new.closed_weeks
    assert not any(s.day in half_term for s in new.all_sessions())


def test_a_restart_after_the_end_date_leaves_nothing_to_re_plan() -> None:
    old = six_weeks()
    with pytest.raises(ValueError, match="nothing is left to re-plan"):
        replan_from(old, old.end + timedelta(days=3), old.end, 20.0, weekdays)


def test_hours_in_force_are_the_week_s_pattern_and_after_the_end_the_last_part_time_week_s() -> None:
    old = six_weeks()
    assert hours_in_force(old, MONDAY + timedelta(days=17)) == old.weeks[2].planned_hours
    assert hours_in_force(old, MONDAY - timedelta(days=3)) == old.weeks[0].planned_hours
    assert hours_in_force(old, old.end + timedelta(days=10)) == old.weeks[-2].planned_hours


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(min_value=1, max_value=39), extra_days=st.integers(min_value=0, max_value=30),
       hours=st.floats(min_value=0, max_value=FULL_TIME, allow_nan=False))
def test_any_re_plan_keeps_the_past_and_ends_full_time_on_the_new_end(offset: int, extra_days: int,
                                                                     hours: float) -> None:
    old = six_weeks()
    restart = MONDAY + timedelta(days=offset)
    end = old.end + timedelta(days=extra_days)
    if not any(weekdays(restart + timedelta(days=n)) for n in range((end - restart).days + 1)):
        return
    new = replan_from(old, restart, end, hours, weekdays)
    assert sessions_before(new, restart) == sessions_before(old, restart)
    days = [s.day for s in new.all_sessions()]
    assert days == sorted(days) and len(days) == len(set(days)) * 2
    assert new.final_week.full_time
    assert all(w.hours <= FULL_TIME + 1e-9 for w in new.weeks)


def test_a_week_attended_before_a_restart_into_a_closure_is_not_listed_as_closed() -> None:
    old = six_weeks()
    thursday, friday = MONDAY + timedelta(days=17), MONDAY + timedelta(days=18)  # week 3

    def open_day(day: date) -> bool:
        return weekdays(day) and day not in (thursday, friday)

    new = replan_from(old, thursday, old.end, 20.0, open_day)
    week_3 = MONDAY + timedelta(weeks=2)
    assert week_3 not in new.closed_weeks
    assert [s.day for s in new.weeks[2].sessions] == [s.day for s in old.weeks[2].sessions if s.day < thursday]


def test_a_re_plan_from_before_the_start_starts_at_the_new_hours() -> None:
    old = six_weeks(starting_hours=10.0)
    new = replan_from(old, MONDAY - timedelta(days=3), old.end, 15.0, weekdays)
    assert new.starting_hours == 15.0 and new.first_week.planned_hours == 15.0


def test_a_new_usual_place_out_of_school_moves_the_c2_sessions_from_that_day_and_leaves_other_arrangements() -> None:
    timetable = mark_off_site(six_weeks(), 2, "pm", "Riverside Tuition Centre", "Tutor")
    timetable = mark_off_site(timetable, 4, "pm", "Grandparents' house", "Grandmother", register_code="C2")
    assert usual_authorised_absence(timetable) == ("Home", "Parent/carer")
    from_day = MONDAY + timedelta(days=14)

    moved = move_authorised_absence(timetable, ("Aunt's house", "Aunt"), from_day, written_before=("At home", None))

    def arrangements(when: Callable[[date], bool]) -> set[tuple[object, ...]]:
        return {(s.weekday, s.half, s.register_code, s.location, s.with_whom)
                for s in moved.away_sessions() if when(s.day)}

    assert {a[3:] for a in arrangements(lambda day: day < from_day)
            if a[:2] not in ((2, "pm"), (4, "pm"))} == {("Home", "Parent/carer")}
    later = arrangements(lambda day: day >= from_day)
    assert {a[2:] for a in later if a[:2] == (2, "pm")} == {("B", "Riverside Tuition Centre", "Tutor")}
    assert {a[2:] for a in later if a[:2] == (4, "pm")} == {("C2", "Grandparents' house", "Grandmother")}
    assert {a[2:] for a in later if a[:2] not in ((2, "pm"), (4, "pm"))} == {("C2", "Aunt's house", "Aunt")}
    assert [s.in_school for s in moved.all_sessions()] == [s.in_school for s in timetable.all_sessions()]
    assert move_authorised_absence(timetable, ("Home", "Parent/carer"), from_day) is timetable


def test_a_timetable_closed_early_runs_to_its_last_day_with_that_weeks_hours_as_they_ran() -> None:
    timetable = six_weeks()
    last_day = MONDAY + timedelta(days=16)  # Wednesday of week 3

    ran = timetable_until(timetable, last_day)

    assert ran is not None and ran.end == last_day
    assert [w.week_beginning for w in ran.weeks] == [w.week_beginning for w in timetable.weeks[:3]]
    assert list(ran.all_sessions()) == [s for s in timetable.all_sessions() if s.day <= last_day]
    assert ran.weeks[:2] == timetable.weeks[:2]
    assert ran.final_week.hours == sum(s.hours for s in ran.final_week.sessions) < timetable.weeks[2].hours
    assert timetable_until(timetable, timetable.end) is timetable
    assert timetable_until(timetable, MONDAY - timedelta(days=1)) is None


def test_a_second_new_place_out_of_school_moves_the_sessions_the_first_move_left() -> None:
    timetable = six_weeks()
    first, second = MONDAY + timedelta(days=7), MONDAY + timedelta(days=21)

    moved = move_authorised_absence(timetable, ("Aunt's house", "Aunt"), first,
                                    written_before=("Home", "Parent/carer"))
    moved = move_authorised_absence(moved, ("Grandparents' house", "Grandmother"), second,
                                    written_before=("Aunt's house", "Aunt"))

    def places(start: date, end: date) -> set[tuple[str | None, str | None]]:
        return {(s.location, s.with_whom) for s in moved.away_sessions() if start <= s.day < end}

    assert places(MONDAY, first) == {("Home", "Parent/carer")}
    assert places(first, second) == {("Aunt's house", "Aunt")}
    assert places(second, timetable.end + timedelta(days=1)) == {("Grandparents' house", "Grandmother")}
