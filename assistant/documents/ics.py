"""Calendar (.ics) of each plan's start, review and end dates, and a feed for many plans."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event

from .data import PlanDocumentData
from .text import fmt_hours

PRODID = "-//Part-Time Timetable Assistant//ptt//EN"
UID_DOMAIN = "ptt.invalid"


def plan_ics(data: PlanDocumentData, *, redact: bool = False) -> bytes:
    """One plan's dates as an iCalendar file. ``redact`` shows initials instead of the name."""
    calendar = _calendar(f"Part-time timetable: {_who(data, redact)}")
    for event in plan_events(data, redact=redact):
        calendar.add_component(event)
    return calendar.to_ical()


def feed_ics(plans: Iterable[PlanDocumentData], *, name: str = "Part-time timetables",
             redact: bool = False) -> bytes:
    """Every plan's dates in one calendar, for a subscription feed."""
    calendar = _calendar(name)
    for data in plans:
        for event in plan_events(data, redact=redact):
            calendar.add_component(event)
    return calendar.to_ical()


def plan_events(data: PlanDocumentData, *, redact: bool = False) -> list[Event]:
    """All-day events: the start, each review (with a reminder the day before) and the end.
    A plan closed before its end date ends on the day it closed, without a reminder, and has no
    events after it; one closed on or after its end date ended as planned, back to full time
    unless it closed another way (then without a reminder, saying how)."""
    who = _who(data, redact)
    school = data.school_name
    events = []
    closed_early = data.closed_on if data.closed_on is not None and data.closed_on < data.end_date else None
    if closed_early is None or data.start_date <= closed_early:
        events.append(_event(
            data, "start", data.start_date,
            f"Part-time timetable starts: {who}",
            f"{who} ({school}) starts a part-time timetable of "
            f"{fmt_hours(data.starting_hours)} a week. Named lead: {data.named_lead}.",
            alarm=False,
        ))
    review_dates = sorted({day for day in data.review_dates if closed_early is None or day <= closed_early})
    total = len(review_dates)
    held = dict(data.reviews_held)
    for number, day in enumerate(review_dates, start=1):
        if day in held:
            # On the day it was held (a week early, say), with nothing left to remind of; the same
            # UID, so a calendar that has it moves it.
            events.append(_event(
                data, f"review-{day.isoformat()}", held[day],
                f"Review {number} of {total} held: part-time timetable, {who}",
                f"Review of {who}'s part-time timetable at {school}, held on {held[day].strftime('%d/%m/%Y')} "
                f"(due {day.strftime('%d/%m/%Y')}). Named lead: {data.named_lead}.",
                alarm=False,
            ))
            continue
        events.append(_event(
            data, f"review-{day.isoformat()}", day,
            f"Review {number} of {total}: part-time timetable, {who}",
            f"Review of {who}'s part-time timetable at {school} with the pupil, "
            f"parents/carers and professionals. Named lead: {data.named_lead}. "
            f"Plan ends {data.end_date.strftime('%d/%m/%Y')}.",
            alarm=True,
        ))
    # Closed early, or run its course without the pupil going back to full time here: the end
    # says how it ended. The same UID as the planned end: a calendar that has the plan moves it.
    ended_otherwise = data.closed_on is not None and data.closure_route not in ("", "returned_full_time")
    if closed_early is not None or ended_otherwise:
        day, verb = (closed_early, "closed") if closed_early is not None else (data.end_date, "ended")
        events.append(_event(
            data, "end", day,
            f"Part-time timetable {verb}: {who}",
            f"{who}'s part-time timetable at {school} {verb} on {day.strftime('%d/%m/%Y')}"
            + (f": {data.closure}." if data.closure else "."),
            alarm=False,
        ))
        return events
    events.append(_event(
        data, "end", data.end_date,
        f"Part-time timetable ends: {who} back to full time",
        f"{who} ({school}) returns to full-time education "
        f"({fmt_hours(data.full_time_hours)} a week). Tell the LA and everyone notified "
        f"that the timetable has ended. Named lead: {data.named_lead}.",
        alarm=True,
    ))
    return events


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", " ".join(name.split()))
    return calendar


def _event(data: PlanDocumentData, kind: str, day: date, summary: str, description: str,
           *, alarm: bool) -> Event:
    event = Event()
    event.add("uid", f"{data.slug}-{kind}@{UID_DOMAIN}")
    event.add("dtstamp", datetime.combine(data.prepared_on or data.start_date, time(), UTC))
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    # A summary is one line; what a school typed may hold line breaks (icalendar refuses them there).
    summary = " ".join(summary.split())
    event.add("summary", summary)
    event.add("description", description)
    event.add("categories", ["Part-time timetable"])
    event.add("transp", "TRANSPARENT")
    if alarm:
        reminder = Alarm()
        reminder.add("action", "DISPLAY")
        reminder.add("description", summary)
        reminder.add("trigger", timedelta(days=-1))
        event.add_component(reminder)
    return event


def _who(data: PlanDocumentData, redact: bool) -> str:
    return (data.pupil_initials or "pupil") if redact else data.pupil_name
