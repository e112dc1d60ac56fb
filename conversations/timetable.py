"""The graduated part-time timetable: am/pm sessions rising week by week to full time.

Pure: no I/O, no clock. Which days the school is open comes in as ``is_school_day`` (the real
calendar is ``rules.calendar``; tests pass a weekdays-only function).

Arithmetic is done in whole minutes so that a week never drifts above full time through
floating-point error. A week's *pattern* (which sessions the pupil attends, in a normal five-day
week) only ever grows: once a session is in school it stays in school. The hours actually
timetabled in a week are the pattern's hours on the days the school is open, so a week with a
bank holiday or INSET day may show fewer hours than its pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Half = Literal["am", "pm"]
RegisterCode = Literal["C2", "B"]
Pattern = Literal["mornings_first", "whole_days_first"]

WEEKDAY_NAMES: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
HALVES: tuple[Half, Half] = ("am", "pm")

# Interior weeks' targets are rounded to this many minutes (a quarter of an hour).
TARGET_STEP_MINUTES = 15
# A shortened session is at least this long: a few minutes in school is no session. Where the
# minutes left over are fewer, the session is lengthened to this, so the week has a little more
# than its target, never less: the hours agreed with the parent are the least the pupil gets.
SHORTEST_SESSION_MINUTES = 30
# How far five days of the given session hours may be from full time before it is an error.
SESSION_HOURS_TOLERANCE = 0.05

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Session(BaseModel):
    """One registration session (morning or afternoon) of one school day in the plan."""

    model_config = _FROZEN

    day: date
    weekday: int = Field(ge=0, le=4)
    half: Half
    in_school: bool
    hours: float = Field(ge=0, description="Hours in school during this session; 0 when away.")
    location: str | None = None
    with_whom: str | None = None
    register_code: RegisterCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Session:
        if self.day.weekday() != self.weekday:
            raise ValueError(
                f"weekday {self.weekday} does not match {self.day.isoformat()} "
                f"({self.day.strftime('%A')})"
            )
        if self.in_school != (self.hours > 0):
            raise ValueError("a session is in school exactly when it has hours in school")
        if self.in_school and self.register_code is not None:
            raise ValueError(
                f"a session in school takes the attendance mark, not {self.register_code}"
            )
        if not self.in_school and self.register_code is None:
            raise ValueError(
                "a session out of school needs a register code: C2 (part-time timetable) "
                "or B (approved off-site education)"
            )
        return self

    @property
    def label(self) -> str:
        """``Monday am``."""
        return f"{WEEKDAY_NAMES[self.weekday]} {self.half}"


class TimetableWeek(BaseModel):
    """One school week of the plan. Closed days and days outside the plan have no sessions."""

    model_config = _FROZEN

    week_beginning: date
    sessions: tuple[Session, ...]
    hours: float = Field(ge=0)
    percent_of_full_time: float = Field(ge=0, le=100)
    planned_hours: float = Field(
        ge=0, description="The week's pattern in a normal five-day week, before closures."
    )
    closed_days: tuple[date, ...] = ()
    full_time: bool = Field(description="Every open session of the week is in school, in full.")

    @model_validator(mode="after")
    def _within_week(self) -> TimetableWeek:
        if self.week_beginning.weekday() != 0:
            raise ValueError(f"week_beginning {self.week_beginning.isoformat()} is not a Monday")
        friday = self.week_beginning + timedelta(days=4)
        for session in self.sessions:
            if not self.week_beginning <= session.day <= friday:
                raise ValueError(
                    f"session on {session.day.isoformat()} is outside the week beginning "
                    f"{self.week_beginning.isoformat()}"
                )
        return self

    def session(self, day: date, half: Half) -> Session | None:
        for session in self.sessions:
            if session.day == day and session.half == half:
                return session
        return None

    @property
    def days(self) -> tuple[date, ...]:
        """The open plan days of this week, in order."""
        return tuple(sorted({session.day for session in self.sessions}))


class GraduatedTimetable(BaseModel):
    """A part-time timetable that rises steadily to full time by its final week."""

    model_config = _FROZEN

    start: date
    end: date
    starting_hours: float = Field(ge=0)
    full_time_hours: float = Field(gt=0)
    session_hours: tuple[float, float]
    pattern: Pattern = "mornings_first"
    weeks: tuple[TimetableWeek, ...] = Field(min_length=1)
    closed_weeks: tuple[date, ...] = Field(
        default=(), description="Mondays of plan weeks on which the school is closed every day."
    )

    @property
    def final_week(self) -> TimetableWeek:
        return self.weeks[-1]

    @property
    def first_week(self) -> TimetableWeek:
        return self.weeks[0]

    def all_sessions(self) -> Iterator[Session]:
        for week in self.weeks:
            yield from week.sessions

    def away_sessions(self) -> Iterator[Session]:
        return (session for session in self.all_sessions() if not session.in_school)

    def closed_days(self) -> tuple[date, ...]:
        return tuple(day for week in self.weeks for day in week.closed_days)

    def week_of(self, day: date) -> TimetableWeek | None:
        """The plan week ``day`` falls in (Monday to Sunday); None outside the plan or in a week
        the school is closed."""
        monday = day - timedelta(days=day.weekday())
        return next((week for week in self.weeks if week.week_beginning == monday), None)


def timetable_until(timetable: GraduatedTimetable, last_day: date) -> GraduatedTimetable | None:
    """The timetable as it ran to ``last_day`` (a plan closed early): the weeks after it dropped,
    and its own week's sessions after it left out, with that week's hours as it ran. None when
    it closed before its first session; the timetable itself when it closed on or after its end."""
    if last_day >= timetable.end:
        return timetable
    weeks: list[TimetableWeek] = []
    for week in timetable.weeks:
        sessions = tuple(s for s in week.sessions if s.day <= last_day)
        if not sessions:
            break
        if len(sessions) < len(week.sessions):
            hours = sum(s.hours for s in sessions)
            week = week.model_copy(update={
                "sessions": sessions, "hours": hours,
                "percent_of_full_time": _percent_of(hours, timetable.full_time_hours),
                "closed_days": tuple(d for d in week.closed_days if d <= last_day),
                "full_time": week.full_time and all(s.in_school for s in sessions),
            })
        weeks.append(week)
    if not weeks:
        return None
    return timetable.model_copy(update={
        "end": last_day, "weeks": tuple(weeks),
        "closed_weeks": tuple(monday for monday in timetable.closed_weeks if monday <= last_day),
    })


def build_graduated_timetable(
    start: date,
    end: date,
    starting_hours: float,
    full_time_hours: float,
    is_school_day: Callable[[date], bool],
    session_hours: tuple[float, float] | None = None,
    *,
    pattern: Pattern = "mornings_first",
    away_location: str = "Home",
    away_with_whom: str | None = "Parent/carer",
    away_register_code: RegisterCode = "C2",
) -> GraduatedTimetable:
    """Sessions for each open weekday from ``start`` to ``end``, rising steadily to full time.

    Week 1 timetables ``starting_hours``; the final week is full time; the weeks between rise in
    equal steps (rounded to the quarter hour) and never fall. With ``mornings_first`` the pupil
    attends mornings Monday to Friday before afternoons are added; with ``whole_days_first`` whole
    days are added from Monday. A week's last session may be a shortened one (``hours`` below the
    session's length), of at least half an hour: rather than a few minutes in school, the pupil
    has up to half an hour more than the week's target, never less. ``session_hours`` is the
    (morning, afternoon) length of a normal school day; by default full time is split evenly over
    ten sessions.
    Out-of-school sessions are marked C2 at ``away_location`` with ``away_with_whom``; use
    :func:`mark_off_site` for B sessions.

    A plan whose school days all fall in one week is full time in that week. Weeks in which the
    school is closed every day have no row and are listed in ``closed_weeks``.
    """
    if end < start:
        raise ValueError(f"the end date {end.isoformat()} is before the start {start.isoformat()}")
    if not full_time_hours > 0:
        raise ValueError(f"full-time hours must be more than 0, not {full_time_hours}")
    if not 0 <= starting_hours <= full_time_hours:
        raise ValueError(
            f"starting hours must be between 0 and full time ({_fmt(full_time_hours)} h), "
            f"not {_fmt(starting_hours)}"
        )
    total = round(full_time_hours * 60)
    if total < len(WEEKDAY_NAMES) * len(HALVES):
        raise ValueError(f"full-time hours {_fmt(full_time_hours)} is too few for ten sessions")
    slots = _slot_order(pattern)
    slot_minutes = _slot_minutes(total, session_hours, slots)

    monday = start - timedelta(days=start.weekday())
    plan_weeks: list[tuple[date, list[date], list[date]]] = []
    closed_weeks: list[date] = []
    while monday <= end:
        open_days: list[date] = []
        closed: list[date] = []
        for offset in range(len(WEEKDAY_NAMES)):
            day = monday + timedelta(days=offset)
            if not start <= day <= end:
                continue
            (open_days if is_school_day(day) else closed).append(day)
        if open_days:
            plan_weeks.append((monday, open_days, closed))
        elif closed:
            closed_weeks.append(monday)
        monday += timedelta(days=7)
    if not plan_weeks:
        raise ValueError(
            f"the school is not open on any day from {start.isoformat()} to {end.isoformat()}"
        )

    targets = _weekly_targets(min(round(starting_hours * 60), total), total, len(plan_weeks))
    weeks: list[TimetableWeek] = []
    for (week_beginning, open_days, closed), target in zip(plan_weeks, targets, strict=True):
        pattern_minutes = _fill(target, slots, slot_minutes)
        sessions: list[Session] = []
        week_minutes = 0
        all_in = True
        for day in open_days:
            for half in HALVES:
                slot = (day.weekday(), half)
                minutes = pattern_minutes[slot]
                week_minutes += minutes
                all_in = all_in and minutes == slot_minutes[slot]
                sessions.append(
                    Session(
                        day=day,
                        weekday=day.weekday(),
                        half=half,
                        in_school=minutes > 0,
                        hours=minutes / 60,
                        location=None if minutes else away_location,
                        with_whom=None if minutes else away_with_whom,
                        register_code=None if minutes else away_register_code,
                    )
                )
        hours = full_time_hours if week_minutes == total else week_minutes / 60
        planned_minutes = sum(pattern_minutes.values())
        planned = full_time_hours if planned_minutes == total else planned_minutes / 60
        weeks.append(
            TimetableWeek(
                week_beginning=week_beginning,
                sessions=tuple(sessions),
                hours=hours,
                percent_of_full_time=_percent_of(hours, full_time_hours),
                planned_hours=planned,
                closed_days=tuple(closed),
                full_time=all_in,
            )
        )
    return GraduatedTimetable(
        start=start,
        end=end,
        starting_hours=min(starting_hours, full_time_hours),
        full_time_hours=full_time_hours,
        session_hours=(slot_minutes[(0, "am")] / 60, slot_minutes[(0, "pm")] / 60),
        pattern=pattern,
        weeks=tuple(weeks),
        closed_weeks=tuple(closed_weeks),
    )


def hours_in_force(timetable: GraduatedTimetable, day: date) -> float:
    """The weekly hours the timetable plans for the week of ``day`` (its pattern, before
    closures). Before the timetable starts: its first week's; after it ends: its last part-time
    week's, as the pupil has not gone back full time if the plan is still open."""
    week = timetable.week_of(day)
    if week is not None:
        return week.planned_hours
    if day < timetable.start:
        return timetable.first_week.planned_hours
    before = [week for week in timetable.weeks if week.week_beginning <= day]
    part_time = [week for week in before if week.planned_hours < timetable.full_time_hours]
    return (part_time or before or list(timetable.weeks))[-1].planned_hours


def replan_from(
    timetable: GraduatedTimetable,
    restart: date,
    end: date,
    starting_hours: float,
    is_school_day: Callable[[date], bool],
) -> GraduatedTimetable:
    """The timetable after a review changed it: every session before ``restart`` as it was (those
    days are past, and the register already holds them), and from ``restart`` to ``end`` a new
    graduated return starting at ``starting_hours`` and rising to full time by its final week.

    The new part keeps the timetable's session lengths and pattern, and where the pupil is when
    not in school: each out-of-school session takes the place, person and register code its
    weekday and half had in the old timetable (so B sessions at an alternative provision stay B),
    or the timetable's usual C2 arrangement for a session that was never out of school. A week
    that ``restart`` falls in keeps its earlier days and takes the new part's for the rest.

    Raises ``ValueError`` when ``restart`` is after ``end`` (nothing is left to re-plan) or the
    school is not open on any day from ``restart`` to ``end``."""
    if restart > end:
        raise ValueError(
            f"nothing is left to re-plan: {restart.isoformat()} is after the end date {end.isoformat()}"
        )
    restart = max(restart, timetable.start)
    # Where most of the time out of school is approved education off site (B), a session newly
    # out of school is too; else it is the usual authorised absence (C2).
    away = list(timetable.away_sessions())
    codes = Counter(s.register_code for s in away)
    usual_code: RegisterCode = "B" if codes and codes.most_common(1)[0][0] == "B" else "C2"
    usual_away = _usual_arrangement(away, usual_code) or next(
        ((s.location, s.with_whom) for s in away), (None, "Parent/carer"))
    new = build_graduated_timetable(
        restart, end, min(starting_hours, timetable.full_time_hours), timetable.full_time_hours,
        is_school_day, timetable.session_hours, pattern=timetable.pattern,
        away_location=usual_away[0] or "Home", away_with_whom=usual_away[1], away_register_code=usual_code,
    )
    away_by_slot = {(s.weekday, s.half): s for s in away if s.day < restart}
    new_weeks = [_away_as_before(week, away_by_slot) for week in new.weeks]

    weeks: list[TimetableWeek] = []
    for week in timetable.weeks:
        earlier = tuple(s for s in week.sessions if s.day < restart)
        if not earlier:
            continue
        if new_weeks and new_weeks[0].week_beginning == week.week_beginning:
            weeks.append(_join(timetable, week, earlier, new_weeks.pop(0), restart))
        elif len(earlier) == len(week.sessions):
            weeks.append(week)
        else:
            weeks.append(_join(timetable, week, earlier, None, restart))
    weeks.extend(new_weeks)
    with_rows = {week.week_beginning for week in weeks}
    closed_weeks = tuple(sorted(
        ({monday for monday in timetable.closed_weeks if monday + timedelta(days=4) < restart}
         | set(new.closed_weeks)) - with_rows  # a week the pupil attended before the restart is not closed
    ))
    changes: dict[str, object] = {"end": end, "weeks": tuple(weeks), "closed_weeks": closed_weeks}
    if restart <= timetable.start:  # nothing kept: it starts as the new plan does
        changes["starting_hours"] = new.starting_hours
    return timetable.model_copy(update=changes)


def _away_as_before(week: TimetableWeek, away_by_slot: dict[tuple[int, str], Session]) -> TimetableWeek:
    sessions = tuple(
        session.model_copy(update={"location": before.location, "with_whom": before.with_whom,
                                   "register_code": before.register_code})
        if not session.in_school and (before := away_by_slot.get((session.weekday, session.half)))
        else session
        for session in week.sessions
    )
    return week.model_copy(update={"sessions": sessions})


def _join(timetable: GraduatedTimetable, old: TimetableWeek, earlier: tuple[Session, ...],
          new: TimetableWeek | None, restart: date) -> TimetableWeek:
    """One week of ``timetable`` made of ``old``'s sessions before the restart and ``new``'s
    from it on."""
    sessions = earlier + (new.sessions if new is not None else ())
    hours = sum(session.hours for session in sessions)
    # A session's length may differ by a minute from the timetable's, where full time's minutes
    # do not divide evenly into ten sessions.
    in_full = all(
        session.hours >= timetable.session_hours[0 if session.half == "am" else 1] - 1.5 / 60
        for session in earlier
    )
    closed = tuple(sorted({d for d in old.closed_days if d < restart}
                          | set(new.closed_days if new is not None else ())))
    return TimetableWeek(
        week_beginning=old.week_beginning,
        sessions=sessions,
        hours=hours,
        percent_of_full_time=_percent_of(hours, timetable.full_time_hours),
        planned_hours=new.planned_hours if new is not None else old.planned_hours,
        closed_days=closed,
        full_time=in_full and (new is None or new.full_time),
    )


def mark_off_site(
    timetable: GraduatedTimetable,
    weekday: int,
    half: Half,
    location: str,
    with_whom: str | None = None,
    *,
    register_code: RegisterCode = "B",
) -> GraduatedTimetable:
    """Place every out-of-school ``weekday``/``half`` session at ``location``.

    ``B`` (the default) is for approved, supervised off-site education (alternative provision,
    tuition); ``C2`` keeps the session as authorised absence, e.g. at home with a grandparent.
    Sessions in school are left as they are.
    """
    if not 0 <= weekday <= 4:
        raise ValueError(f"weekday must be 0 (Monday) to 4 (Friday), not {weekday}")
    if not location.strip():
        raise ValueError("say where the pupil will be")
    weeks: list[TimetableWeek] = []
    for week in timetable.weeks:
        sessions = tuple(
            session.model_copy(
                update={
                    "location": location.strip(),
                    "with_whom": with_whom,
                    "register_code": register_code,
                }
            )
            if not session.in_school and session.weekday == weekday and session.half == half
            else session
            for session in week.sessions
        )
        weeks.append(week.model_copy(update={"sessions": sessions}))
    return timetable.model_copy(update={"weeks": tuple(weeks)})


def usual_authorised_absence(timetable: GraduatedTimetable, from_day: date | None = None,
                             ) -> tuple[str | None, str | None] | None:
    """Where, and with whom, the pupil usually is in the timetable's C2 sessions (those from
    ``from_day`` on, where given): the arrangement most of them have, the earliest of equals
    (None without any)."""
    return _usual_arrangement((s for s in timetable.away_sessions() if from_day is None or s.day >= from_day), "C2")


def _usual_arrangement(away: Iterable[Session], code: RegisterCode) -> tuple[str | None, str | None] | None:
    """The (place, with whom) most of the ``away`` sessions coded ``code`` have, the earliest of
    equals; None without any."""
    arrangements = Counter((s.location, s.with_whom) for s in away if s.register_code == code)
    return arrangements.most_common(1)[0][0] if arrangements else None


def move_authorised_absence(
    timetable: GraduatedTimetable,
    after: tuple[str | None, str | None],
    from_day: date,
    *,
    written_before: tuple[str | None, str | None] | None = None,
) -> GraduatedTimetable:
    """The timetable with its usual C2 arrangement from ``from_day`` on moved to ``after``
    (place, with whom): the plan's usual arrangement out of school changed. The usual one is
    ``written_before`` (what the written plan said until now), else the one most C2 sessions of
    the whole timetable have, else the one most of those from ``from_day`` have
    (:func:`usual_authorised_absence`): the first of these that sessions from ``from_day`` have.
    Days before stay as they were; B sessions (approved off-site education) and C2 sessions
    placed elsewhere one by one are arrangements of their own, and stay too."""
    later_c2 = {(s.location, s.with_whom) for s in timetable.away_sessions()
                if s.register_code == "C2" and s.day >= from_day}
    candidates = (written_before, usual_authorised_absence(timetable), usual_authorised_absence(timetable, from_day))
    before = next((c for c in candidates if c is not None and c in later_c2), None)
    if before is None or before == after:
        return timetable
    location, with_whom = after
    weeks = tuple(
        week.model_copy(update={"sessions": tuple(
            session.model_copy(update={"location": location, "with_whom": with_whom})
            if (session.register_code == "C2" and session.day >= from_day
                and (session.location, session.with_whom) == before)
            else session
            for session in week.sessions
        )})
        for week in timetable.weeks
    )
    return timetable.model_copy(update={"weeks": weeks})


_DECIMAL = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(?:h|hrs?|hours?)?\.?$")
_HOURS_MINUTES = re.compile(
    r"^(\d+)\s*(?:h|hrs?|hours?|:)\s*(?:and\s+)?(\d{1,2})\s*(?:m|mins?|minutes?)?\.?$"
)
_MINUTES_ONLY = re.compile(r"^(\d+)\s*(?:m|mins?|minutes?)\.?$")
_EXAMPLES = "e.g. 12.5, 12h30, 12:30 or 12 hours"


def parse_hours(text: str) -> float:
    """Hours written as a person writes them: ``12.5``, ``12h30``, ``12 h 30``, ``12:30``,
    ``12 hours``, ``12 hours 30 minutes``, ``12,5``. Raises ``ValueError`` saying what is wrong."""
    cleaned = " ".join(str(text).strip().lower().split())
    if not cleaned:
        raise ValueError(f"no hours given: write a number of hours, {_EXAMPLES}")
    if cleaned.startswith("-"):
        raise ValueError(f"hours cannot be negative: {text.strip()!r}")
    match = _DECIMAL.match(cleaned)
    if match:
        return float(match.group(1).replace(",", "."))
    match = _HOURS_MINUTES.match(cleaned)
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes >= 60:
            raise ValueError(f"minutes must be under 60 in {text.strip()!r}")
        return hours + minutes / 60
    match = _MINUTES_ONLY.match(cleaned)
    if match:
        return int(match.group(1)) / 60
    raise ValueError(f"not a number of hours: {text.strip()!r} ({_EXAMPLES})")


Slot = tuple[int, Half]


def _slot_order(pattern: Pattern) -> list[Slot]:
    if pattern == "mornings_first":
        return [(d, half) for half in HALVES for d in range(len(WEEKDAY_NAMES))]
    if pattern == "whole_days_first":
        return [(d, half) for d in range(len(WEEKDAY_NAMES)) for half in HALVES]
    raise ValueError(f"unknown pattern {pattern!r}: mornings_first or whole_days_first")


def _slot_minutes(
    total: int, session_hours: tuple[float, float] | None, slots: list[Slot]
) -> dict[Slot, int]:
    """Minutes of each of the ten sessions of a normal week, adding up to ``total`` exactly."""
    days = len(WEEKDAY_NAMES)
    if session_hours is None:
        morning = afternoon = total // (days * 2)
    else:
        am, pm = session_hours
        if am <= 0 or pm <= 0:
            raise ValueError(f"session hours must both be more than 0, not {am} and {pm}")
        week = days * (am + pm)
        if abs(week - total / 60) > SESSION_HOURS_TOLERANCE:
            raise ValueError(
                f"sessions of {_fmt(am)} h (am) and {_fmt(pm)} h (pm) make {_fmt(week)} h a week, "
                f"but full time is {_fmt(total / 60)} h"
            )
        morning, afternoon = round(am * 60), round(pm * 60)
    minutes = {slot: morning if slot[1] == "am" else afternoon for slot in slots}
    difference = total - sum(minutes.values())
    step = 1 if difference > 0 else -1
    index = 0
    while difference:
        minutes[slots[index % len(slots)]] += step
        difference -= step
        index += 1
    return minutes


def _weekly_targets(first: int, total: int, weeks: int) -> list[int]:
    """Minutes per week: ``first``, equal rises rounded to the quarter hour, then ``total``."""
    if weeks == 1:
        return [total]
    targets = [first]
    for index in range(1, weeks - 1):
        raw = first + (total - first) * index / (weeks - 1)
        rounded = round(raw / TARGET_STEP_MINUTES) * TARGET_STEP_MINUTES
        targets.append(min(total, max(targets[-1], rounded)))
    targets.append(total)
    return targets


def _fill(target: int, slots: list[Slot], slot_minutes: dict[Slot, int]) -> dict[Slot, int]:
    """Whole sessions in ``slots`` order, then what is left as one shortened session of at least
    :data:`SHORTEST_SESSION_MINUTES` (so a week may have up to that much over its target)."""
    remaining = target
    filled: dict[Slot, int] = {}
    for slot in slots:
        taken = min(slot_minutes[slot], remaining)
        if 0 < taken < SHORTEST_SESSION_MINUTES:
            taken = min(slot_minutes[slot], SHORTEST_SESSION_MINUTES)
        filled[slot] = taken
        remaining = max(0, remaining - taken)
    return filled


def _percent_of(hours: float, full_time_hours: float) -> float:
    """A week's hours as a share of full time, to a tenth of a per cent and never over 100."""
    return min(100.0, round(hours / full_time_hours * 100, 1))


def _fmt(hours: float) -> str:
    return f"{hours:g}"
