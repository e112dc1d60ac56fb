"""Which reminders a part-time timetable needs, and when. Pure: no clock, no I/O.

Given a plan's dates (as the evaluator worked them out) and a school calendar, this
returns the reminders to store. Each has an idempotency key derived from the plan and
what the reminder is about, so scheduling the same plan twice never duplicates one,
while a changed date (an extended end date, a moved review) gets a new key.

Kinds:

* ``review_due`` – before each review date on the pack's cadence (every policy asks
  for regular reviews: fortnightly in Derby City, Achieving for Children and the Bath
  & Wells MAT, "approximately after 6 weeks" in Derbyshire).
* ``end_date_near`` – three school days before the plan's end date, so the return to
  full time (or a review) is planned while there is still time.
* ``end_date_passed`` – the first school day after the end date; cancelled when the
  plan is closed, so it only goes out for a plan left open past its time limit.
* ``over_maximum`` – the first school day past the policy's latest end date when the
  plan runs beyond it (e.g. Derby City: "Should it be the case that a Part-Time
  Timetable process needs to exceed the 6 week maximum, an email should be sent to
  iyfa@derby.gov.uk"). It goes to the DSL, not only the plan's lead.
* ``la_notification_due`` – a notification to the LA (first / update / closure, e.g.
  Derbyshire's three forms).
* ``agreement_missing`` – a consultee whose agreement the policy requires has not
  agreed N school days (default 5) after it was sought.

Ignored reminders escalate: from the plan's lead to the DSL, then to the Education
Welfare Officer (:func:`next_escalation_role`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol, get_args
from zoneinfo import ZoneInfo

ReminderKind = Literal[
    "review_due",
    "end_date_near",
    "end_date_passed",
    "over_maximum",
    "la_notification_due",
    "agreement_missing",
    "decision_changed",
]
REMINDER_KINDS: tuple[str, ...] = get_args(ReminderKind)
LaNotificationKind = Literal["first", "update", "closure"]

#: Who a reminder goes to, in escalation order. "lead" is the plan's lead member of staff.
ESCALATION_CHAIN: tuple[str, ...] = ("lead", "dsl", "ewo")
#: Kinds that escalate when nobody acts on them. ``end_date_near`` is a heads-up only:
#: if the end date then passes with the plan open, ``end_date_passed`` escalates.
ESCALATING_KINDS: frozenset[str] = frozenset(REMINDER_KINDS) - {"end_date_near", "decision_changed"}

DEFAULT_END_DATE_NEAR_SCHOOL_DAYS = 3
DEFAULT_AGREEMENT_GRACE_SCHOOL_DAYS = 5
DEFAULT_REVIEW_NOTICE_SCHOOL_DAYS = 2
SCHOOL_TIMEZONE = ZoneInfo("Europe/London")
DEFAULT_SEND_TIME = time(7, 30)

_DAY = timedelta(days=1)


class SchoolDays(Protocol):
    """What the schedule needs of :class:`rules.calendar.SchoolCalendar`."""

    def is_school_day(self, day: date) -> bool: ...


@dataclass(frozen=True, slots=True)
class LaNotificationDue:
    """A notification the school owes the local authority, due on ``due_on``."""

    kind: LaNotificationKind
    due_on: date

    @property
    def subject(self) -> str:
        return self.kind if self.kind != "update" else f"update:{self.due_on.isoformat()}"


@dataclass(frozen=True, slots=True)
class ScheduledReminder:
    kind: ReminderKind
    due_on: date
    idempotency_key: str
    recipient_role: str
    subject: str


def next_escalation_role(current_role: str | None, kind: str) -> str | None:
    """Who an ignored reminder goes to next, or None when it does not escalate further."""
    if kind not in ESCALATING_KINDS:
        return None
    role = current_role or "lead"
    if role not in ESCALATION_CHAIN:
        return None
    position = ESCALATION_CHAIN.index(role)
    return ESCALATION_CHAIN[position + 1] if position + 1 < len(ESCALATION_CHAIN) else None


def due_at_utc(due_on: date, *, at: time = DEFAULT_SEND_TIME, zone: ZoneInfo = SCHOOL_TIMEZONE) -> datetime:
    """The moment (UTC) a reminder due on ``due_on`` goes out: early morning, UK time."""
    return datetime.combine(due_on, at, tzinfo=zone).astimezone(UTC)


def first_school_day_on_or_after(calendar: SchoolDays, day: date) -> date:
    for _ in range(400):
        if calendar.is_school_day(day):
            return day
        day += _DAY
    raise ValueError(f"no school day within 400 days of {day.isoformat()}")


def school_days_after(calendar: SchoolDays, day: date, n: int) -> date:
    """The ``n``-th school day after ``day`` (``day`` itself not counted)."""
    counted = 0
    while counted < n:
        day += _DAY
        if calendar.is_school_day(day):
            counted += 1
    return day


def school_days_before(calendar: SchoolDays, day: date, n: int) -> date:
    """The ``n``-th school day before ``day`` (``day`` itself not counted)."""
    counted = 0
    while counted < n:
        day -= _DAY
        if calendar.is_school_day(day):
            counted += 1
    return day


def plan_reminders(
    plan_ref: str | int,
    *,
    start_date: date,
    end_date: date | None,
    review_dates: Iterable[date],
    latest_end_date: date | None,
    calendar: SchoolDays,
    la_notifications_due: Sequence[LaNotificationDue] = (),
    missing_agreements: Mapping[str, date] | None = None,
    today: date | None = None,
    end_date_near_school_days: int = DEFAULT_END_DATE_NEAR_SCHOOL_DAYS,
    agreement_grace_school_days: int = DEFAULT_AGREEMENT_GRACE_SCHOOL_DAYS,
    review_notice_school_days: int = DEFAULT_REVIEW_NOTICE_SCHOOL_DAYS,
) -> list[ScheduledReminder]:
    """The reminders for one plan, sorted by due date.

    ``missing_agreements`` maps a consultee role whose agreement is required but not yet
    given to the date it was sought. ``today``, when given, drops the end-date heads-up
    for an end date already past (``end_date_passed`` covers it). Due dates always fall
    on school days, and never before the plan starts.
    """
    prefix = f"plan:{plan_ref}"
    found: list[ScheduledReminder] = []

    def add(kind: ReminderKind, due_on: date, subject: str, role: str = "lead") -> None:
        due_on = first_school_day_on_or_after(calendar, due_on)
        found.append(ScheduledReminder(kind, due_on, f"{prefix}:{kind}:{subject}", role, subject))

    def not_before_start(day: date) -> date:
        return max(day, start_date)

    for review_on in sorted(set(review_dates)):
        notice = school_days_before(calendar, review_on, review_notice_school_days)
        add("review_due", not_before_start(notice), review_on.isoformat())

    if end_date is not None:
        if today is None or today <= end_date:
            near = school_days_before(calendar, end_date, end_date_near_school_days)
            add("end_date_near", not_before_start(near), end_date.isoformat())
        add("end_date_passed", end_date + _DAY, end_date.isoformat())

    if latest_end_date is not None and (end_date is None or end_date > latest_end_date):
        add("over_maximum", latest_end_date + _DAY, latest_end_date.isoformat(), role="dsl")

    for notification in la_notifications_due:
        add("la_notification_due", notification.due_on, notification.subject)

    for role, sought_on in sorted((missing_agreements or {}).items()):
        due = school_days_after(calendar, sought_on, agreement_grace_school_days)
        add("agreement_missing", due, role)

    found.sort(key=lambda r: (r.due_on, REMINDER_KINDS.index(r.kind), r.subject))
    return found
