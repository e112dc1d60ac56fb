"""The graduated timetable rises steadily to full time, and hours are read as people write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conversations.timetable import (
    GraduatedTimetable,
    Pattern,
    Session,
    build_graduated_timetable,
    mark_off_site,
    parse_hours,
)

MONDAY = date(2026, 1, 12)


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def weekdays_except(*closed: date) -> Callable[[date], bool]:
    def is_school_day(day: date) -> bool:
        return day.weekday() < 5 and day not in closed

    return is_school_day


def five_weeks(
    starting_hours: float = 12.5,
    session_hours: tuple[float, float] | None = None,
    pattern: Pattern = "mornings_first",
    away_location: str = "Home",
    away_with_whom: str = "Parent/carer",
) -> GraduatedTimetable:
    """Monday 12 January to Friday 13 February 2026, full time 32.5 hours."""
    return build_graduated_timetable(
        MONDAY, MONDAY + timedelta(days=32), starting_hours, 32.5, weekdays, session_hours,
        pattern=pattern, away_location=away_location, away_with_whom=away_with_whom,
    )


def in_school_slots(timetable: GraduatedTimetable, week: int) -> list[str]:
    return [s.label for s in timetable.weeks[week].sessions if s.in_school]


def test_a_five_week_plan_starts_at_the_starting_hours_and_ends_at_full_time() -> None:
    timetable = five_weeks()

    assert [week.hours for week in timetable.weeks] == [12.5, 17.5, 22.5, 27.5, 32.5]
    assert timetable.final_week.full_time
    assert not timetable.first_week.full_time


def test_percent_of_full_time_is_the_weeks_hours_over_full_time_hours() -> None:
    timetable = five_weeks()

    assert [week.percent_of_full_time for week in timetable.weeks] == [
        38.5, 53.8, 69.2, 84.6, 100.0,
    ]


def test_mornings_are_timetabled_before_any_afternoon() -> None:
    timetable = five_weeks(starting_hours=16.25)

    assert in_school_slots(timetable, 0) == [
        "Monday am", "Tuesday am", "Wednesday am", "Thursday am", "Friday am",
    ]


def test_whole_days_first_fills_monday_before_tuesday() -> None:
    timetable = five_weeks(starting_hours=13, pattern="whole_days_first")

    assert in_school_slots(timetable, 0) == [
        "Monday am", "Monday pm", "Tuesday am", "Tuesday pm",
    ]


def test_hours_that_do_not_fill_a_session_shorten_the_last_session() -> None:
    week = five_weeks(starting_hours=12.5).first_week

    thursday_am = week.session(MONDAY + timedelta(days=3), "am")
    assert thursday_am is not None
    assert thursday_am.in_school and thursday_am.hours == 2.75


def test_sessions_out_of_school_are_authorised_absence_at_home_with_a_parent() -> None:
    week = five_weeks().first_week
    away = [s for s in week.sessions if not s.in_school]

    assert away
    assert {s.register_code for s in away} == {"C2"}
    assert {(s.location, s.with_whom) for s in away} == {("Home", "Parent/carer")}
    assert all(s.register_code is None for s in week.sessions if s.in_school)


def test_where_the_pupil_is_when_away_can_be_named() -> None:
    timetable = five_weeks(away_location="Grandparents' home", away_with_whom="Grandmother")

    away = next(timetable.away_sessions())
    assert (away.location, away.with_whom) == ("Grandparents' home", "Grandmother")


def test_an_approved_off_site_session_is_coded_b_and_school_sessions_are_untouched() -> None:
    timetable = mark_off_site(five_weeks(), 2, "pm", "Riverside Tuition Centre", "Tutor")

    wednesday_pm = [s for s in timetable.all_sessions() if s.weekday == 2 and s.half == "pm"]
    assert {s.register_code for s in wednesday_pm if not s.in_school} == {"B"}
    assert {s.location for s in wednesday_pm if not s.in_school} == {"Riverside Tuition Centre"}
    assert any(s.in_school for s in wednesday_pm)
    assert [w.hours for w in timetable.weeks] == [w.hours for w in five_weeks().weeks]


def test_marking_off_site_needs_a_weekday_and_a_place() -> None:
    with pytest.raises(ValueError, match="weekday"):
        mark_off_site(five_weeks(), 5, "am", "Tuition centre")
    with pytest.raises(ValueError, match="where"):
        mark_off_site(five_weeks(), 1, "am", "  ")


def test_a_day_the_school_is_closed_has_no_sessions_and_is_listed() -> None:
    inset = MONDAY + timedelta(days=9)
    timetable = build_graduated_timetable(
        MONDAY, MONDAY + timedelta(days=32), 12.5, 32.5, weekdays_except(inset)
    )

    assert inset in timetable.weeks[1].closed_days
    assert all(session.day != inset for session in timetable.all_sessions())
    assert timetable.weeks[1].hours < timetable.weeks[1].planned_hours


def test_a_week_when_the_school_is_closed_every_day_has_no_row() -> None:
    half_term = [MONDAY + timedelta(days=14 + offset) for offset in range(5)]
    timetable = build_graduated_timetable(
        MONDAY, MONDAY + timedelta(days=32), 12.5, 32.5, weekdays_except(*half_term)
    )

    assert timetable.closed_weeks == (half_term[0],)
    assert [week.week_beginning for week in timetable.weeks] == [
        MONDAY, MONDAY + timedelta(days=7), MONDAY + timedelta(days=21),
        MONDAY + timedelta(days=28),
    ]
    assert timetable.final_week.full_time


def test_a_plan_starting_midweek_has_no_sessions_before_its_start() -> None:
    wednesday = MONDAY + timedelta(days=2)
    timetable = build_graduated_timetable(
        wednesday, wednesday + timedelta(days=20), 10, 25, weekdays
    )

    assert timetable.first_week.week_beginning == MONDAY
    assert min(session.day for session in timetable.all_sessions()) == wednesday


def test_a_plan_within_one_week_is_full_time_in_that_week() -> None:
    timetable = build_graduated_timetable(MONDAY, MONDAY + timedelta(days=4), 10, 25, weekdays)

    assert len(timetable.weeks) == 1
    assert timetable.final_week.full_time and timetable.final_week.hours == 25


def test_given_session_lengths_shape_each_morning_and_afternoon() -> None:
    timetable = five_weeks(session_hours=(3.5, 3.0))

    final = timetable.final_week.sessions
    assert {s.hours for s in final if s.half == "am"} == {3.5}
    assert {s.hours for s in final if s.half == "pm"} == {3.0}
    assert timetable.session_hours == (3.5, 3.0)


def test_session_lengths_that_do_not_make_full_time_are_refused() -> None:
    with pytest.raises(ValueError, match=r"make 27.5 h a week, but full time is 32.5 h"):
        five_weeks(session_hours=(3.0, 2.5))


@pytest.mark.parametrize(
    ("start", "end", "starting", "full", "message"),
    [
        (MONDAY, MONDAY - timedelta(days=1), 10, 25, "before the start"),
        (MONDAY, MONDAY + timedelta(days=20), 30, 25, "starting hours must be between"),
        (MONDAY, MONDAY + timedelta(days=20), -1, 25, "starting hours must be between"),
        (MONDAY, MONDAY + timedelta(days=20), 0, 0, "more than 0"),
        (MONDAY - timedelta(days=2), MONDAY - timedelta(days=1), 10, 25, "not open on any day"),
    ],
)
def test_an_impossible_plan_is_refused_with_a_clear_message(
    start: date, end: date, starting: float, full: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_graduated_timetable(start, end, starting, full, weekdays)


def test_a_session_in_school_cannot_carry_an_absence_code() -> None:
    with pytest.raises(ValidationError, match="attendance mark"):
        Session(day=MONDAY, weekday=0, half="am", in_school=True, hours=3, register_code="C2")


def test_a_session_out_of_school_must_carry_an_absence_code() -> None:
    with pytest.raises(ValidationError, match="needs a register code"):
        Session(day=MONDAY, weekday=0, half="am", in_school=False, hours=0)


def test_a_session_weekday_must_match_its_date() -> None:
    with pytest.raises(ValidationError, match="does not match"):
        Session(day=MONDAY, weekday=3, half="am", in_school=True, hours=3)


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("12.5", 12.5),
        ("12h30", 12.5),
        ("12 h 30", 12.5),
        ("12:30", 12.5),
        ("12 hours", 12.0),
        ("12.5 hours", 12.5),
        ("12,5", 12.5),
        ("12 hours 30 minutes", 12.5),
        ("  12H15 ", 12.25),
        ("25", 25.0),
        ("90 min", 1.5),
    ],
)
def test_hours_are_read_as_people_write_them(text: str, hours: float) -> None:
    assert parse_hours(text) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hours given"),
        ("   ", "no hours given"),
        ("twelve", "not a number of hours: 'twelve'"),
        ("12:75", "minutes must be under 60"),
        ("-3", "cannot be negative"),
        ("12.5.5", "not a number of hours"),
    ],
)
def test_unreadable_hours_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(text)


@st.composite
def plans(draw: st.DrawFn) -> tuple[GraduatedTimetable, set[date], date, date]:
    start = draw(st.dates(min_value=date(2025, 9, 1), max_value=date(2027, 7, 1)))
    end = start + timedelta(days=draw(st.integers(min_value=0, max_value=70)))
    full = draw(st.one_of(
        st.integers(min_value=60, max_value=140).map(lambda quarters: quarters / 4),
        st.floats(min_value=15, max_value=35, allow_nan=False),
    ))
    starting = draw(st.floats(min_value=0, max_value=1)) * full
    span = (end - start).days + 1
    closed = {start + timedelta(days=offset) for offset in draw(
        st.sets(st.integers(min_value=0, max_value=span - 1), max_size=span)
    )}
    if all(day in closed or day.weekday() >= 5 for day in
           (start + timedelta(days=offset) for offset in range(span))):
        closed = set()
        if all(day.weekday() >= 5 for day in (start + timedelta(days=o) for o in range(span))):
            start = start - timedelta(days=start.weekday())  # move onto a Monday
    pattern: Pattern = draw(st.sampled_from(["mornings_first", "whole_days_first"]))
    timetable = build_graduated_timetable(
        start, end, starting, full, lambda day: day.weekday() < 5 and day not in closed,
        pattern=pattern,
    )
    return timetable, closed, start, end


@settings(max_examples=300, deadline=None)
@given(plans())
def test_hours_never_exceed_full_time(plan: tuple[GraduatedTimetable, set[date], date, date]) -> None:
    timetable = plan[0]
    for week in timetable.weeks:
        assert week.hours <= timetable.full_time_hours
        assert week.planned_hours <= timetable.full_time_hours
        assert 0 <= week.percent_of_full_time <= 100


@settings(max_examples=300, deadline=None)
@given(plans())
def test_the_timetable_never_falls_from_one_week_to_the_next(
    plan: tuple[GraduatedTimetable, set[date], date, date],
) -> None:
    timetable = plan[0]
    planned = [week.planned_hours for week in timetable.weeks]
    assert planned == sorted(planned)
    full_weeks = [week.hours for week in timetable.weeks if len(week.days) == 5]
    assert full_weeks == sorted(full_weeks)
    slot_hours: dict[tuple[int, str], float] = {}
    for session in timetable.all_sessions():
        slot = (session.weekday, session.half)
        assert session.hours >= slot_hours.get(slot, 0)
        slot_hours[slot] = session.hours


@settings(max_examples=300, deadline=None)
@given(plans())
def test_the_last_week_is_full_time(
    plan: tuple[GraduatedTimetable, set[date], date, date],
) -> None:
    timetable = plan[0]
    final = timetable.final_week
    assert final.full_time
    assert final.planned_hours == timetable.full_time_hours
    assert all(session.in_school for session in final.sessions)
    if len(final.days) == 5:
        assert final.hours == timetable.full_time_hours
        assert final.percent_of_full_time == 100


@settings(max_examples=300, deadline=None)
@given(plans())
def test_closed_days_have_no_sessions_and_open_days_have_two(
    plan: tuple[GraduatedTimetable, set[date], date, date],
) -> None:
    timetable, closed, start, end = plan
    sessions_per_day: dict[date, list[str]] = {}
    for session in timetable.all_sessions():
        assert session.day not in closed
        assert start <= session.day <= end
        sessions_per_day.setdefault(session.day, []).append(session.half)
    open_days = {
        start + timedelta(days=offset) for offset in range((end - start).days + 1)
        if (start + timedelta(days=offset)).weekday() < 5
        and start + timedelta(days=offset) not in closed
    }
    assert set(sessions_per_day) == open_days
    assert all(sorted(halves) == ["am", "pm"] for halves in sessions_per_day.values())
    listed_closed = set(timetable.closed_days())
    assert listed_closed <= closed


def test_no_session_is_a_few_minutes_in_school_and_no_week_falls_short_of_the_hours_agreed() -> None:
    # Full time 23.5 h is ten sessions of 2.35 h: 9.5 h would be four mornings and six minutes.
    timetable = build_graduated_timetable(MONDAY, MONDAY + timedelta(days=39), 9.5, 23.5, weekdays)

    shortest = min(s.hours for s in timetable.all_sessions() if s.in_school)
    assert shortest == 0.5
    assert timetable.first_week.hours == pytest.approx(9.9)
    assert timetable.first_week.planned_hours == pytest.approx(9.9)


@settings(max_examples=80, deadline=None)
@given(starting=st.floats(min_value=0, max_value=23.5, allow_nan=False), weeks=st.integers(min_value=1, max_value=12))
def test_every_session_in_school_is_at_least_half_an_hour(starting: float, weeks: int) -> None:
    timetable = build_graduated_timetable(MONDAY, MONDAY + timedelta(weeks=weeks, days=-3), starting, 23.5, weekdays)

    assert all(s.hours >= 0.5 for s in timetable.all_sessions() if s.in_school)
    assert starting <= timetable.first_week.planned_hours + 1 / 120  # to the minute
    if weeks > 1:  # a plan of one week is full time in it
        assert timetable.first_week.planned_hours <= min(starting + 0.5, 23.5) + 1e-9
