"""Review dates a school chooses for itself, checked against the policy's review cadence.

Each policy sets how often a part-time timetable must be reviewed (its ``reviews`` rule: "at
least fortnightly", "every two weeks"...), and the evaluator proposes dates on that cadence
(:func:`rules.evaluator.evaluate`, ``Decision.review_dates``). A school may hold its reviews on
other days, for example on the day the pupil's key worker is in, but never less often than the
policy requires: :func:`review_dates_problem` says why a choice falls short, citing the rule.

Less often means a longer stretch without a review than any in the policy's own dates, counted
as the policy counts (school days for school weeks, days for weeks), from the start of the plan,
between reviews, and up to the policy's last review date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from rules.calendar import SchoolCalendar
from rules.packs import ReviewRule


def review_dates_problem(
    chosen: Sequence[date], *, proposed: Sequence[date], start: date, end: date | None,
    calendar: SchoolCalendar, cadence: ReviewRule,
) -> str | None:
    """Why ``chosen`` cannot replace the policy's ``proposed`` review dates for a plan running
    from ``start`` to ``end``; None when it can. Implements the policy's review rule
    (``cadence``, whose citation the message names)."""
    dates = sorted(set(chosen))
    if not dates:
        return "Give at least one review date."
    for day in dates:
        if day < start:
            return f"{_uk(day)} is before the plan starts ({_uk(start)})."
        # The policy's own dates run to its latest end date, which may be after the plan's end date.
        if end is not None and day > max([end, *proposed]):
            return f"{_uk(day)} is after the plan's end date ({_uk(end)})."
        if not calendar.is_school_day(day):
            return f"{_uk(day)} is not a school day."
    proposed = [day for day in proposed if end is None or day <= end]
    if not proposed:
        return None
    longest = max(_gaps(sorted(proposed), start, calendar, cadence))
    horizon = max(proposed)
    points = dates + ([horizon] if dates[-1] < horizon else [])
    for (before, after), gap in zip(_pairs(points), _gaps(points, start, calendar, cadence), strict=True):
        if gap > longest:
            since = f"after the review on {_uk(before)}" if before is not None else f"from the start ({_uk(start)})"
            until = (f"the next is not until {_uk(after)}" if after in dates
                     else f"there is none by {_uk(after)}, when the policy's last review falls")
            return f"{_rule(cadence)}: {since} {until}."
    return None


def scheduled_review_held(held_on: date, scheduled: Sequence[date], cadence: ReviewRule) -> date | None:
    """Which of the ``scheduled`` review dates (not yet held) a review held on ``held_on`` stands
    for: the earliest, when the review was held on or after it, or brought forward by no more
    than half the policy's cadence (a week, for fortnightly reviews). None when it was held
    earlier than that: it is an extra review (after an incident, say), and the scheduled one
    stays, so that the plan is not left longer without a review than the policy allows."""
    if not scheduled:
        return None
    earliest = min(scheduled)
    brought_forward_at_most = timedelta(days=cadence.every_weeks * 7 / 2)
    return earliest if held_on >= earliest - brought_forward_at_most else None


def _pairs(points: Sequence[date]) -> list[tuple[date | None, date]]:
    return [(points[i - 1] if i else None, day) for i, day in enumerate(points)]


def _gaps(points: Sequence[date], start: date, calendar: SchoolCalendar, cadence: ReviewRule) -> list[int]:
    """How long each stretch without a review lasts, from the start and then between reviews:
    school days for a cadence in school weeks, days otherwise."""
    gaps = []
    previous: date | None = None
    for day in points:
        first = start if previous is None else previous + timedelta(days=1)
        if cadence.counted_in == "school_weeks":
            gaps.append(calendar.school_days_between(first, day))
        else:
            gaps.append((day - first).days + 1)
        previous = day
    return gaps


def _rule(cadence: ReviewRule) -> str:
    weeks = f"{cadence.every_weeks:g} {'school ' if cadence.counted_in == 'school_weeks' else ''}week"
    weeks += "" if cadence.every_weeks == 1 else "s"
    where = f" ({cadence.citation.document}, {cadence.citation.section})" if cadence.citation else ""
    return f"The policy asks for a review at least every {weeks}{where}"


def _uk(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
