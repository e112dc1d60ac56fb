"""What a reminder DM's buttons do: record the review as held, or snooze the reminder a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from assistant.services.auth import can_change_school, can_see_school
from assistant.services.plans import PlanError, record_review
from conversations.wording import long_date
from rules.reminder_schedule import due_at_utc
from storage.db import SessionFactory
from storage.models import SNOOZE_SUFFIX, Plan, PlanStatus, Reminder, ReminderStatus, User, snoozed_from
from storage.types import utcnow
from storage.uow import UnitOfWork


class NotAllowed(PermissionError):
    """The person may not act on this reminder; the message says why."""


def _reminder_and_plan(unit: UnitOfWork, reminder_id: int) -> tuple[Reminder, Plan]:
    reminder = unit.session.get(Reminder, reminder_id)
    if reminder is None or reminder.plan_id is None:
        raise PlanError("That reminder no longer exists.")
    plan = unit.plans.get(reminder.plan_id)
    if plan.status == PlanStatus.CLOSED:
        raise PlanError("That plan is closed: there is nothing left to do for this reminder.")
    return reminder, plan


def record_review_held(session_factory: SessionFactory, reminder_id: int, user: User, *, held_on: date,
                       now: datetime | None = None) -> Plan:
    """The review the reminder was about took place today and the plan continues as it is."""
    with UnitOfWork(session_factory) as unit:
        reminder, plan = _reminder_and_plan(unit, reminder_id)
        if reminder.kind != "review_due":
            raise PlanError("This reminder is not about a review.")
        if not can_change_school(user, plan.school_id):
            raise NotAllowed("Only the school's own staff can record a review.")
        plan_id = plan.id
        due_on = date.fromisoformat(reminder.subject)
    assert plan_id is not None
    return record_review(session_factory, plan_id, outcome="continue", held_on=held_on, actor_user_id=user.id,
                         notes="Recorded from a Slack reminder.", review_due_on=due_on, now=now)


def snooze(session_factory: SessionFactory, reminder_id: int, user: User, *, today: date,
           now: datetime | None = None) -> date:
    """Remind this person again tomorrow; the reminder itself stops escalating meanwhile."""
    now = now or utcnow()
    tomorrow = today + timedelta(days=1)
    with UnitOfWork(session_factory) as unit:
        reminder, plan = _reminder_and_plan(unit, reminder_id)
        # The school's own staff, or whoever the reminder was sent to (an escalation reaches the
        # EWO): seeing a school's plans is not enough to put off its reminders.
        # Someone who has since left the school is neither.
        addressed = can_see_school(unit.session, user, plan.school_id) and (
            reminder.recipient_user_id == user.id or reminder.recipient_role == user.role)
        if not (can_change_school(user, plan.school_id) or addressed):
            raise NotAllowed("That reminder is not for you.")
        if reminder.resolved_at is not None:
            # Resolved by a snooze, or because its matter was dealt with (a review held, an
            # agreement given): a new reminder would chase what is done.
            until = unit.reminders.snoozed_until(reminder)
            if until is not None:
                raise PlanError(f"That reminder is snoozed already, until {long_date(until)}.")
            raise PlanError("That reminder has already been dealt with.")
        unit.reminders.resolve(plan.id, ids=[reminder.id], now=now)
        # A snooze of a snooze is keyed by the reminder first snoozed: the key stays short.
        key = f"{snoozed_from(reminder.idempotency_key)}{SNOOZE_SUFFIX}{tomorrow.isoformat()}"
        unit.reminders.schedule([{
            "plan_id": plan.id, "kind": reminder.kind, "subject": reminder.subject, "due_at": due_at_utc(tomorrow),
            "idempotency_key": key, "status": ReminderStatus.PENDING.value, "attempts": 0,
            "escalation_level": reminder.escalation_level, "recipient_user_id": user.id,
            "recipient_role": reminder.recipient_role, "channel": "slack", "parent_id": reminder.parent_id,
            "created_at": now,
        }])
        unit.audit.record("update", "reminder", reminder.id, actor_user_id=user.id, school_id=plan.school_id,
                          at=now, detail={"summary": f"Snoozed until {tomorrow.isoformat()} from Slack."})
        unit.commit()
    return tomorrow
