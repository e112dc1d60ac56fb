"""The plan lifecycle: create a plan from a case, record what happens later, review,
close. Cosmic-python style service functions: each takes a unit of work (or a session
factory), does one thing in one transaction, and commits.

Statuses: ``draft`` (the proposal as it stands must not proceed) → ``awaiting`` (steps
or agreements outstanding) → ``active`` (may proceed) → ``closed``. Every change bumps
the plan's version (optimistic locking: pass the version the user saw as
``expected_version`` and a stale one raises :class:`storage.errors.ConflictError`),
writes a :class:`PlanVersion` snapshot and an audit row, and reschedules the plan's
reminders.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from conversations.plan_writing import away_arrangement, plan_timetable
from conversations.questions import STEP_SHORT
from conversations.timetable import GraduatedTimetable, hours_in_force, move_authorised_absence, replan_from
from conversations.wording import capitalised, consultee_label, long_date
from rules import Case, Decision, evaluate, load_pack
from rules.calendar import SchoolCalendar, calendar_for, end_of_calendar_weeks
from rules.packs import Pack
from rules.reminder_schedule import (
    SCHOOL_TIMEZONE,
    LaNotificationDue,
    LaNotificationKind,
    ScheduledReminder,
    due_at_utc,
    plan_reminders,
)
from rules.reviews import review_dates_problem, scheduled_review_held
from storage.db import SessionFactory
from storage.errors import ConflictError
from storage.models import Consultation, Plan, PlanStatus, Reminder, Review, User
from storage.plan_writes import NEW_PLAN_COLUMNS, PLAN_ID, NewPlan
from storage.repositories import merge_consultations
from storage.types import utcnow
from storage.uow import UnitOfWork, as_unit_of_work

ReviewOutcome = Literal["continue", "increase_hours", "extend", "increase_and_extend", "end"]
REVIEW_OUTCOMES: tuple[str, ...] = ("continue", "increase_hours", "extend", "increase_and_extend", "end")
_RAISES = frozenset({"increase_hours", "increase_and_extend"})
_EXTENDS = frozenset({"extend", "increase_and_extend"})
#: How a plan ends, and how the plan page and the calendar say it.
CLOSURE_ROUTES: dict[str, str] = {
    "returned_full_time": "Returned to full-time education",
    "alternative_provision": "Moved to alternative provision",
    "left_school": "Left the school",
    "withdrawn": "Proposal withdrawn",
}

#: Reminder kinds worked out afresh from the plan every time it changes. LA
#: notifications are owed because something happened, so rescheduling leaves them be.
DERIVED_KINDS: tuple[str, ...] = (
    "review_due", "end_date_near", "end_date_passed", "over_maximum", "agreement_missing",
)
#: The evaluator's reason for an end date past the policy maximum.
PLAN_TOO_LONG = "plan_too_long"


class PlanError(ValueError):
    """An operation the plan's state or its policy does not allow; the message says why."""


@dataclass(frozen=True, slots=True)
class PupilDetails:
    """Only what identifies the child on the plan."""

    first_name: str
    last_name: str
    date_of_birth: date | None = None
    upn: str | None = None


UowLike = UnitOfWork | SessionFactory


# --------------------------------------------------------------------------- helpers
def _today(now: datetime) -> date:
    return now.astimezone(SCHOOL_TIMEZONE).date()


def _parse_case(data: Case | Mapping[str, Any]) -> Case:
    if isinstance(data, Case):
        return data
    try:
        return Case.model_validate(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanError(f"{where}: {first['msg']}") from error


def _case_json(case: Case) -> dict[str, Any]:
    """The case as given: a fact nobody gave (a circumstance the policy's checklist never asked
    about) is left out rather than stored as its default, so that the plan's documents can say
    it was not asked instead of answering No for the school. It means the same case."""
    return case.model_dump(mode="json", by_alias=True, exclude_unset=True)


def effective_outcome(decision: Decision, *, extended_beyond_maximum: bool) -> str:
    """The decision's outcome, except that a plan extended past the policy maximum at a
    review (with the rationale and agreement the policy asks for) is not stopped by its
    length alone."""
    if not extended_beyond_maximum:
        return decision.outcome
    reasons = [r for r in decision.reasons if r.code != PLAN_TOO_LONG]
    if any(r.severity == "stop" for r in reasons):
        return "must_not_proceed"
    if any(r.severity == "outstanding" for r in reasons):
        return "not_yet"
    return "may_proceed"


def _status_for(plan: Plan, decision: Decision) -> str:
    if plan.status == PlanStatus.CLOSED:
        return PlanStatus.CLOSED.value
    outcome = effective_outcome(decision, extended_beyond_maximum=plan.extended_beyond_maximum)
    return {
        "may_proceed": PlanStatus.ACTIVE.value,
        "not_yet": PlanStatus.AWAITING.value,
        "must_not_proceed": PlanStatus.DRAFT.value,
    }[outcome]


def _snapshot(plan: Plan) -> dict[str, Any]:
    return {
        "status": plan.status,
        "case": plan.case_json,
        "decision": plan.decision_json,
        "timetable": plan.timetable_json,
        "start_date": plan.start_date.isoformat() if plan.start_date else None,
        "end_date": plan.end_date.isoformat() if plan.end_date else None,
        "latest_end_date": plan.latest_end_date.isoformat() if plan.latest_end_date else None,
        "extended_beyond_maximum": plan.extended_beyond_maximum,
        "lead_user_id": plan.lead_user_id,
        "closed_at": plan.closed_at.isoformat() if plan.closed_at else None,
        "closed_on": plan.closed_on.isoformat() if plan.closed_on else None,
        "closure_route": plan.closure_route,
    }


def _la_notification_kinds(decision: Decision) -> set[str]:
    """Which LA notifications (first / update / closure) the policy asks for."""
    prefix = "la_notification_"
    return {s.code[len(prefix):] for s in decision.next_steps if s.code.startswith(prefix)}


def _written_review_dates(timetable: Mapping[str, Any] | None) -> list[date]:
    written = (timetable or {}).get("written") or {}
    return sorted({date.fromisoformat(d) for d in written.get("review_dates") or ()})


def _own_review_dates(plan: Plan, decision: Decision, pack: Pack, calendar: SchoolCalendar) -> list[date]:
    """The review dates the school chose when it wrote the plan, if it chose its own and they
    still meet the policy's review rule for the plan as it is now (else none)."""
    chosen = _written_review_dates(plan.timetable_json)
    if not chosen or chosen == sorted(decision.review_dates) or plan.start_date is None:
        return []
    problem = review_dates_problem(chosen, proposed=decision.review_dates, start=plan.start_date,
                                   end=plan.end_date, calendar=calendar, cadence=pack.reviews)
    return [] if problem else chosen


def _review_dates(plan: Plan, decision: Decision, pack: Pack, calendar: SchoolCalendar) -> list[date]:
    """The review dates up to the plan's end date: the school's own where it chose them when
    writing the plan (and they still meet the policy), else the pack's. For a plan extended
    past the policy maximum, the pack's cadence carried on to the new end date."""
    dates = _own_review_dates(plan, decision, pack, calendar) or sorted(decision.review_dates)
    end = plan.end_date
    if end is not None and plan.start_date is not None and dates and end > dates[-1]:
        cadence = pack.reviews
        n = len(dates) + 1
        while n < 100:
            weeks = cadence.every_weeks * n
            if cadence.counted_in == "school_weeks":
                due = calendar.end_of_school_weeks(plan.start_date, weeks)
            else:
                due = calendar.last_school_day_on_or_before(
                    end_of_calendar_weeks(plan.start_date, weeks))
            if due > end:
                break
            if due > dates[-1]:
                dates.append(due)
            n += 1
    if end is not None:
        dates = [d for d in dates if d <= end]
    return dates


def _load(uow: UnitOfWork, plan_id: int, expected_version: int | None) -> Plan:
    plan = uow.plans.get(plan_id, for_update=True)
    if expected_version is not None and plan.version != expected_version:
        raise ConflictError("plan")
    return plan


def _write(
    uow: UnitOfWork, plan: Plan, *, loaded_version: int, actor_user_id: int | None,
    summary: str, now: datetime, action: str = "update", detail: dict[str, Any] | None = None,
) -> None:
    uow.plans.save(plan, expected_version=loaded_version, now=now)
    uow.plans.add_version(plan, changed_by=actor_user_id, summary=summary,
                          snapshot=_snapshot(plan), at=now)
    uow.audit.record(action, "plan", plan.id, actor_user_id=actor_user_id,
                     school_id=plan.school_id, at=now,
                     detail={"summary": summary, "version": plan.version, **(detail or {})})


def _take_decision(plan: Plan, case: Case, decision: Decision) -> None:
    """The plan's own fields that follow from its case and decision."""
    plan.case_json = _case_json(case)
    plan.decision_json = decision.model_dump(mode="json")
    plan.start_date = case.plan.start_date
    plan.end_date = case.plan.end_date
    plan.latest_end_date = decision.latest_end_date
    plan.status = _status_for(plan, decision)


def _consultees(decision: Decision) -> list[tuple[str, str, str | None]]:
    """The consultations the decision asks for: (role, requirement, status)."""
    return [(c.role, c.requirement, c.status) for c in decision.consultees]


def _apply_decision(uow: UnitOfWork, plan: Plan, case: Case, decision: Decision, now: datetime) -> None:
    """Store the case and decision and bring consultations, scheduled reviews, status
    and reminders in line with them."""
    _take_decision(plan, case, decision)
    consultations = uow.plans.sync_consultations(plan.id, _consultees(decision), at=now)

    pack = load_pack(case.policy)
    calendar = calendar_for(case)
    review_dates = _review_dates(plan, decision, pack, calendar)
    reviews = uow.plans.reviews(plan.id)
    # A review already held for a date stands for it: scheduling it again would show it overdue.
    held = {r.due_on for r in reviews if r.held_on is not None}
    if plan.status != PlanStatus.CLOSED:
        # A draft (consent refused, say) is not going ahead: it has no reviews to hold, nor to be
        # listed as overdue, until it is agreed.
        wanted = review_dates if plan.status != PlanStatus.DRAFT else []
        scheduled = {r.due_on: r for r in reviews if r.held_on is None}
        for due_on, review in scheduled.items():
            if due_on is not None and due_on not in wanted:
                uow.session.delete(review)
        uow.plans.schedule_reviews(plan.id, [due_on for due_on in wanted
                                             if due_on not in scheduled and due_on not in held])
    uow.session.flush()
    _reschedule(uow, plan, decision, calendar, now, reviews_due=[d for d in review_dates if d not in held],
                consultations=consultations)


def _reminder_row(plan: Plan, r: ScheduledReminder, now: datetime) -> dict[str, Any]:
    return {
        "plan_id": plan.id,
        "kind": r.kind,
        "subject": r.subject,
        "due_at": due_at_utc(r.due_on),
        "idempotency_key": r.idempotency_key,
        "status": "pending",
        "attempts": 0,
        "escalation_level": 0,
        "recipient_role": r.recipient_role,
        "recipient_user_id": plan.lead_user_id if r.recipient_role == "lead" else None,
        "created_at": now,
    }


def _wanted_reminders(plan: Plan, plan_ref: str | int, decision: Decision, calendar: SchoolCalendar,
                      now: datetime, *, reviews_due: list[date], consultations: list[Consultation],
                      ) -> list[ScheduledReminder]:
    """The reminders the plan should have now, their keys naming it ``plan_ref``. A draft or
    closed plan has none of the derived kinds. ``reviews_due``: the plan's review dates not yet
    held; ``consultations``: all of its consultations."""
    if plan.status not in (PlanStatus.AWAITING, PlanStatus.ACTIVE) or plan.start_date is None:
        return []
    missing = {
        c.role: c.created_at.astimezone(SCHOOL_TIMEZONE).date()
        for c in consultations
        if c.requirement == "agree" and c.status not in ("agreed", "declined")
    }
    notifications = []
    if "first" in _la_notification_kinds(decision):
        notifications.append(LaNotificationDue("first", max(plan.start_date, _today(now))))
    return plan_reminders(
        plan_ref, start_date=plan.start_date, end_date=plan.end_date, review_dates=reviews_due,
        latest_end_date=plan.latest_end_date, calendar=calendar,
        la_notifications_due=notifications, missing_agreements=missing, today=_today(now),
    )


def _reschedule(uow: UnitOfWork, plan: Plan, decision: Decision, calendar: SchoolCalendar,
                now: datetime, *, reviews_due: list[date], consultations: list[Consultation]) -> None:
    """Work out the plan's reminders afresh: add new ones, and stop those no longer wanted
    (cancel them if not sent, stop them escalating if sent; ``reviews_due`` and
    ``consultations`` as for :func:`_wanted_reminders`)."""
    assert plan.id is not None
    wanted = _wanted_reminders(plan, plan.id, decision, calendar, now, reviews_due=reviews_due,
                               consultations=consultations)
    uow.reminders.settle_unwanted(plan.id, wanted_keys=[r.idempotency_key for r in wanted], kinds=DERIVED_KINDS,
                                  now=now)
    if plan.status == PlanStatus.DRAFT:
        uow.reminders.cancel_pending(plan.id, kinds=["la_notification_due"], now=now)
    uow.reminders.schedule([_reminder_row(plan, r, now) for r in wanted], count=False)


def _new_plan_rows(plan: Plan, case: Case, decision: Decision, *, pupil: dict[str, Any] | None,
                   pupil_id: int | None, actor_user_id: int | None, summary: str, now: datetime) -> NewPlan:
    """Everything a new plan (its own fields set from ``decision``) is stored with, as
    :func:`_apply_decision`, :func:`_write` and the audit would store it for a plan that had
    nothing yet: consultations for the decision's consultees, the reviews and reminders it
    schedules, its first version and the audit row of its creation."""
    consultations: dict[str, Consultation] = {}
    merge_consultations(consultations, None, _consultees(decision), now)
    calendar = calendar_for(case)
    review_dates = _review_dates(plan, decision, load_pack(case.policy), calendar)
    reminders = _wanted_reminders(plan, PLAN_ID, decision, calendar, now, reviews_due=review_dates,
                                  consultations=list(consultations.values()))
    return NewPlan(
        plan={name: getattr(plan, name) for name in NEW_PLAN_COLUMNS},
        pupil=pupil, pupil_id=pupil_id,
        consultations=[{"role": c.role, "requirement": c.requirement, "status": c.status, "created_at": c.created_at,
                        "updated_at": c.updated_at, "note": c.note}
                       for c in sorted(consultations.values(), key=lambda c: c.role)],
        review_dates=review_dates if plan.status not in (PlanStatus.CLOSED, PlanStatus.DRAFT) else [],
        reminders=[_reminder_row(plan, r, now) for r in reminders],
        version={"version": plan.version, "snapshot_json": _snapshot(plan), "changed_by": actor_user_id,
                 "changed_at": now, "change_summary": summary},
        audit={"at": now, "actor_user_id": actor_user_id, "action": "create", "school_id": plan.school_id,
               "detail_json": {"summary": summary, "outcome": decision.outcome}},
    )


def _owe_la_notification(uow: UnitOfWork, plan: Plan, decision: Decision,
                         kind: LaNotificationKind, on: date, now: datetime) -> None:
    if kind not in _la_notification_kinds(decision):
        return
    calendar = calendar_for(Case.model_validate(plan.case_json))
    (reminder,) = plan_reminders(
        plan.id, start_date=on, end_date=None, review_dates=(), latest_end_date=None,
        calendar=calendar, la_notifications_due=[LaNotificationDue(kind, on)],
    )
    uow.reminders.schedule([_reminder_row(plan, reminder, now)])


def _reevaluate(uow: UnitOfWork, plan: Plan, change: Mapping[str, Any], now: datetime) -> Decision:
    """Apply ``change`` (dotted case paths → values; None: no longer given) to the plan's case
    and evaluate it."""
    data = _deep_copy(plan.case_json)
    for path, value in change.items():
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    case = _parse_case(data)
    decision = evaluate(case)
    outcome_before = (plan.decision_json or {}).get("outcome")
    _apply_decision(uow, plan, case, decision, now)
    _tell_if_the_decision_changed(uow, plan, outcome_before, decision, plan.version, now)
    return decision


def _tell_if_the_decision_changed(
    uow: UnitOfWork, plan: Plan, outcome_before: str | None, decision: Decision, version: int, now: datetime
) -> None:
    """When a recorded step or reply changes the outcome, the plan's lead and the DSL are told
    straight away (a reminder due now, delivered by the sweeper on their usual channel)."""
    if outcome_before is None or outcome_before == decision.outcome:
        return
    subject = f"{outcome_before}:{decision.outcome}"
    lead = uow.session.get(User, plan.lead_user_id) if plan.lead_user_id is not None else None
    roles = ("lead",) if lead is not None and lead.role == "dsl" else ("lead", "dsl")
    rows = []
    for role in roles:
        told = ScheduledReminder("decision_changed", now.date(), f"plan:{plan.id}:decision_changed:v{version}:{role}",
                                 role, subject)
        row = _reminder_row(plan, told, now)
        row["due_at"] = now
        rows.append(row)
    uow.reminders.schedule(rows, count=False)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


@contextmanager
def _changing(uow: UowLike, plan_id: int, expected_version: int | None) -> Iterator[tuple[UnitOfWork, Plan]]:
    """An open plan, loaded and locked in a unit of work for a change, which is committed when
    the block ends without an error (and rolled back otherwise)."""
    unit = as_unit_of_work(uow)
    with unit:
        plan = _load(unit, plan_id, expected_version)
        _open_plan(plan)
        yield unit, plan
        unit.commit()


def _open_plan(plan: Plan) -> None:
    if plan.status == PlanStatus.CLOSED:
        raise PlanError("This plan is closed; start a new plan instead.")


# --------------------------------------------------------------------------- services
def create_plan(
    uow: UowLike,
    *,
    case: Case | Mapping[str, Any],
    school_id: int,
    pupil: PupilDetails | int,
    actor_user_id: int | None,
    lead_user_id: int | None = None,
    decision: Decision | Mapping[str, Any] | None = None,
    timetable: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Plan:
    """Store a new plan for ``case`` (evaluated now unless ``decision`` is given), with
    its consultations, scheduled reviews and reminders. ``pupil`` is a stored pupil's
    id or the details of a new one. The lead defaults to the acting user."""
    unit = as_unit_of_work(uow)
    now = now or utcnow()
    parsed = _parse_case(case)
    if decision is None:
        decision = evaluate(parsed)
    elif not isinstance(decision, Decision):
        decision = Decision.model_validate(dict(decision))
    with unit:
        new_pupil: dict[str, Any] | None = None
        pupil_id: int | None = None
        if isinstance(pupil, PupilDetails):
            new_pupil = {"first_name": pupil.first_name, "last_name": pupil.last_name,
                         "date_of_birth": pupil.date_of_birth, "upn": pupil.upn, "school_id": school_id}
        else:
            stored = unit.pupils.get(pupil)
            if stored.school_id != school_id:
                raise PlanError("That pupil is not on this school's roll.")
            pupil_id = stored.id
        plan = Plan(
            school_id=school_id, pupil_id=pupil_id, policy_id=parsed.policy,
            lead_user_id=lead_user_id if lead_user_id is not None else actor_user_id,
            timetable_json=_written_timetable(timetable) if timetable is not None else None,
            created_at=now, updated_at=now, version=1,
        )
        _take_decision(plan, parsed, decision)
        rows = _new_plan_rows(plan, parsed, decision, pupil=new_pupil, pupil_id=pupil_id,
                              actor_user_id=actor_user_id, summary=f"Plan created ({plan.status}).", now=now)
        unit.plans.add_new(plan, rows)
        unit.commit()
        return plan


def _written_timetable(timetable: Mapping[str, Any]) -> dict[str, Any]:
    """A plan's ``timetable_json``: the timetable under ``"timetable"`` and the written plan
    under ``"written"``. A bare timetable (its weeks at the top) is refused: migration 0011 wrapped
    the last of those."""
    if "weeks" in timetable:
        raise PlanError('A plan\'s timetable is stored as {"timetable": …, "written": …}, not bare.')
    return dict(timetable)


def get_plan(uow: UowLike, plan_id: int) -> Plan:
    with as_unit_of_work(uow) as unit:
        return unit.plans.get(plan_id)


def current_decision(plan: Plan) -> Decision | None:
    return Decision.model_validate(plan.decision_json) if plan.decision_json else None


def _step_said(step: str, value: Any) -> str:
    """A step as the plan's history says it: "Written plan: done", "Parent consent: given"."""
    label = STEP_SHORT.get(step, step.replace("_", " "))
    said = ("done" if value else "not done") if isinstance(value, bool) else str(value).replace("_", " ")
    return f"{capitalised(label)}: {said}"


def _status_change(before: str, after: str) -> str:
    return f"status {before} → {after}" if before != after else f"status still {after}"


def record_step(
    uow: UowLike, plan_id: int, step: str, value: Any, *, actor_user_id: int | None,
    expected_version: int | None = None, now: datetime | None = None,
) -> Plan:
    """Record a step done later ("consent given", "risk assessment: no concerns") and
    re-evaluate the plan against its policy."""
    now = now or utcnow()
    with _changing(uow, plan_id, expected_version) as (unit, plan):
        loaded, before = plan.version, plan.status
        decision = _reevaluate(unit, plan, {f"steps.{step}": value}, now)
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now,
               summary=f"{_step_said(step, value)}; {_status_change(before, plan.status)}.",
               detail={"step": step, "value": value, "outcome": decision.outcome})
    return plan


def record_consultee_reply(
    uow: UowLike, plan_id: int, role: str, status: str, *, actor_user_id: int | None,
    note: str | None = None, expected_version: int | None = None, now: datetime | None = None,
) -> Plan:
    """Record a consultee's reply ("the Virtual School agreed today") and re-evaluate.

    ``status`` is ``consulted``, ``agreed``, ``declined`` or ``not_contacted``. An
    agreement resolves the plan's ``agreement_missing`` reminders for that role.
    """
    now = now or utcnow()
    with _changing(uow, plan_id, expected_version) as (unit, plan):
        loaded, before = plan.version, plan.status
        decision = _reevaluate(unit, plan, {f"consultations.{role}": status}, now)
        unit.plans.upsert_consultation(plan.id, role, status=status, note=note, at=now)
        if status in ("agreed", "declined"):
            unit.reminders.resolve(plan.id, kinds=["agreement_missing"], subjects=[role], now=now)
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now,
               summary=(f"{consultee_label(role)}: {status.replace('_', ' ')}; "
                        f"{_status_change(before, plan.status)}."),
               detail={"role": role, "status": status, "outcome": decision.outcome})
    return plan


def update_timetable(
    uow: UowLike, plan_id: int, timetable: Mapping[str, Any], *, actor_user_id: int | None,
    case_changes: Mapping[str, Any] | None = None, expected_version: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """Replace the plan's written timetable (sessions, targets, work set). ``case_changes``
    (dotted case paths → new values, e.g. from answers changed in the conversation) are applied
    to the plan's case and the plan re-evaluated; facts recorded on the plan since, and not
    changed here, stand."""
    now = now or utcnow()
    with _changing(uow, plan_id, expected_version) as (unit, plan):
        loaded, before = plan.version, plan.status
        summary, detail = "Timetable updated.", None
        timetable, kept_because = _keeping_what_reviews_changed(plan, timetable, case_changes, _today(now))
        if kept_because:
            summary = f"Written plan updated; {kept_because}."
        own_dates_before = _written_review_dates(plan.timetable_json)
        plan.timetable_json = _written_timetable(timetable)  # first: the reviews below follow its review dates
        if case_changes:  # a change the policy cannot take raises, and the unit of work rolls back
            decision = _reevaluate(unit, plan, case_changes, now)
            summary = (f"Timetable updated; changed in the conversation: {', '.join(case_changes)}; "
                       f"status {before} → {plan.status}.")
            detail = {"changes": dict(case_changes), "outcome": decision.outcome}
        elif (_written_review_dates(plan.timetable_json) != own_dates_before
              and (decision := current_decision(plan)) is not None):
            _apply_decision(unit, plan, _parse_case(plan.case_json), decision, now)
            summary = "Timetable and review dates updated."
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now, summary=summary,
               detail=detail)
    return plan


def record_review(
    uow: UowLike,
    plan_id: int,
    *,
    outcome: ReviewOutcome,
    held_on: date,
    actor_user_id: int | None,
    hours_per_week: float | None = None,
    new_end_date: date | None = None,
    rationale: str | None = None,
    parent_agreed: bool | None = None,
    notes: str | None = None,
    closure_route: str = "returned_full_time",
    review_due_on: date | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """Record a review meeting and what it decided: the review scheduled for ``review_due_on``
    when given (a reminder about that review said it was held), else the one the day held says.

    * ``continue`` – the plan carries on as it is.
    * ``increase_hours`` – ``hours_per_week`` goes up (the graduated return).
    * ``extend`` – the end date moves to ``new_end_date``. A rationale and the parent's
      agreement are required (Bath & Wells MAT 5.10: "Any extension to the reduced
      timetable should only be agreed in exceptional circumstances, with parental
      agreement, and the plan revised to reflect why"; Achieving for Children: "The
      rationale for having to do so must be clearly identified in the review report").
      Past the policy maximum it is allowed only where the pack provides for it (an
      extension or escalation clause), and it schedules the ``over_maximum`` reminder
      to the DSL (e.g. Derby City's email to the LA).
    * ``increase_and_extend`` – both at once, with what each needs: a review often finds the
      pupil ready for more hours but not for full time by the end date.
    * ``end`` – the pupil returns to full time: the plan is closed.

    Where the policy asks for an LA update notification on a change (Derbyshire), one
    is scheduled.
    """
    if outcome not in REVIEW_OUTCOMES:
        raise PlanError(f"Unknown review outcome {outcome!r}; choose one of "
                        f"{', '.join(REVIEW_OUTCOMES)}.")
    _check_closure_route(closure_route)
    if hours_per_week is not None and outcome not in _RAISES:
        raise PlanError("New hours are for a review that increases the hours: choose that, or leave the "
                        "hours empty.")
    if new_end_date is not None and outcome not in _EXTENDS:
        raise PlanError("A new end date is for a review that extends the plan: choose that, or leave the "
                        "date empty.")
    now = now or utcnow()
    _not_ahead("A review", held_on, now)
    with _changing(uow, plan_id, expected_version) as (unit, plan):
        if plan.status == PlanStatus.DRAFT:
            raise PlanError("This plan has not been agreed, so there is nothing to review yet.")
        loaded = plan.version
        pack = load_pack(plan.policy_id)
        case = Case.model_validate(plan.case_json)

        reviews = unit.plans.reviews(plan.id)
        scheduled = {r.due_on: r for r in reviews if r.held_on is None and r.due_on is not None}
        if review_due_on is not None:
            _check_still_scheduled(review_due_on, reviews)
            stands_for: date | None = review_due_on
        else:
            # The review held is the earliest one scheduled, unless it was held well before that.
            stands_for = scheduled_review_held(held_on, list(scheduled), pack.reviews)
        review = (scheduled.get(stands_for) if stands_for else None) or Review(plan_id=plan.id)
        review.held_on = held_on
        review.outcome = outcome
        review.hours_per_week = hours_per_week
        review.rationale = rationale
        review.parent_agreed = parent_agreed
        review.notes = notes
        review.recorded_by = actor_user_id
        review.recorded_at = now
        unit.plans.add_review(review)
        if review.due_on is not None:
            unit.reminders.resolve(plan.id, kinds=["review_due"],
                                   subjects=[review.due_on.isoformat()], now=now)

        change: dict[str, Any] = {}
        summary = f"Review held on {long_date(held_on)}: {outcome.replace('_', ' ')}."
        if stands_for is None and scheduled:
            summary += f" An extra review: the one due {long_date(min(scheduled))} stays."
        # The timetable as it stands, to re-plan from the first school day after the review
        # (only a raise or an extension changes it).
        replanning = outcome in _RAISES | _EXTENDS
        timetable = plan_timetable(plan.timetable_json, case, current_decision(plan)) if replanning else None
        restart = review_restart(case, held_on)
        if outcome in _RAISES:
            current = hours_to_raise_from(timetable, case, restart)
            if hours_per_week is None:
                raise PlanError("Give the new number of hours per week.")
            if current is not None and hours_per_week <= current:
                raise PlanError(f"The new hours ({hours_per_week:g}) must be more than the "
                                f"{current:g} hours a week the timetable has from {long_date(restart)}.")
            change["plan.hours_per_week"] = hours_per_week
            summary += f" Hours per week {_hours(current)} → {_hours(hours_per_week)}."
        if outcome in _EXTENDS:
            _check_extension(plan, pack, new_end_date, rationale, parent_agreed)
            assert new_end_date is not None
            review.new_end_date = new_end_date
            change["plan.end_date"] = new_end_date.isoformat()
            if plan.latest_end_date is not None and new_end_date > plan.latest_end_date:
                plan.extended_beyond_maximum = True
                summary += (f" Extended past the policy maximum ({long_date(plan.latest_end_date)}) "
                            f"to {long_date(new_end_date)}: {_sentence(rationale)}")
            else:
                summary += (f" End date {_day_or_none(plan.end_date)} → {long_date(new_end_date)}: "
                            f"{_sentence(rationale)}")

        if outcome == "end":
            decision = current_decision(plan) or evaluate(case)
            _close(unit, plan, decision, route=closure_route, closed_on=held_on, now=now)
        else:
            if change and timetable is not None:
                summary += _replan(plan, timetable, restart, hours_per_week, new_end_date, case)
            decision = _reevaluate(unit, plan, change, now) if change else _refresh(unit, plan, now)
            if change:
                _owe_la_notification(unit, plan, decision, "update", held_on, now)
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now,
               summary=summary, detail={"review_id": review.id, "outcome": outcome})
    return plan


#: The facts of a plan's case its timetable is worked out from.
TIMETABLE_FACTS: dict[str, str] = {
    "plan.start_date": "start date", "plan.end_date": "end date", "plan.hours_per_week": "hours",
    "pupil.year_group": "year group (full time)", "calendar.closures": "closures",
}


def _keeping_what_reviews_changed(plan: Plan, timetable: Mapping[str, Any], case_changes: Mapping[str, Any] | None,
                                  from_day: date) -> tuple[Mapping[str, Any], str | None]:
    """The written timetable to store. Once a review has re-planned the timetable, the
    conversation that wrote the plan still holds it as first planned: the re-planned one stands,
    and the facts it is worked out from are no longer changed from the conversation. Where the
    pupil is when out of school, and with whom, still is: the re-planned sessions follow it from
    ``from_day``. With it, what the history says about the timetable kept (None: the
    conversation's stands)."""
    stored = plan.timetable_json or {}
    replanned_from = stored.get("replanned_from")
    if not replanned_from or not isinstance(stored.get("timetable"), dict):
        return timetable, None
    changed = [label for path, label in TIMETABLE_FACTS.items() if path in (case_changes or {})]
    if changed:
        raise PlanError(f"A review re-planned this timetable from {long_date(date.fromisoformat(replanned_from))}, "
                        f"so its {' and '.join(changed)} can no longer be changed here. Record a review on the "
                        "plan's page to raise the hours or extend it; to change anything else, close the plan "
                        "and write a new one.")
    kept = {**timetable, "timetable": stored["timetable"], "replanned_from": replanned_from}
    kept_because = "the timetable stays as a review re-planned it"
    away = _away(timetable.get("written"))
    if away == _away(stored.get("written")):
        return kept, kept_because
    try:
        reviewed = GraduatedTimetable.model_validate(stored["timetable"])
    except ValidationError:  # kept as stored, as plan_timetable would fall back on its own
        return kept, kept_because
    moved = move_authorised_absence(reviewed, away, from_day, written_before=_away(stored.get("written")))
    if moved == reviewed:
        return kept, kept_because
    return ({**kept, "timetable": moved.model_dump(mode="json")},
            f"{kept_because}, with the pupil out of school at {', with '.join(a for a in away if a)} "
            f"from {long_date(from_day)}")


def _away(written: Any) -> tuple[str, str]:
    """Where, and with whom, a stored written plan (if it is one) has the pupil when not in school."""
    return away_arrangement(written if isinstance(written, Mapping) else {})


def review_restart(case: Case, held_on: date) -> date:
    """The day a review's changes take effect: the first school day after it."""
    return calendar_for(case).next_school_day_on_or_after(held_on + timedelta(days=1))


def hours_to_raise_from(timetable: GraduatedTimetable | None, case: Case, restart: date) -> float | None:
    """What a review that raises the hours must go above: the hours the timetable has from
    ``restart``, or the plan's hours if more (a plan whose hours a review raised before reviews
    re-planned timetables)."""
    candidates = (hours_in_force(timetable, restart) if timetable is not None else None, case.plan.hours_per_week)
    return max((h for h in candidates if h is not None), default=None)


def _replan(plan: Plan, timetable: GraduatedTimetable, restart: date, hours_per_week: float | None,
            new_end_date: date | None, case: Case) -> str:
    """Re-plan the stored timetable after a review raised the hours or moved the end date: the
    sessions before ``restart`` (the first school day after the review) stand, as the register
    holds them, and from ``restart`` the timetable rises from the new hours (or, for an
    extension, the hours it has then) to full time by the end date, so that the grid, the chart,
    the calendar and the sessions for the MIS follow the review. What to add to the history."""
    end = new_end_date or timetable.end
    if restart > end:
        return " The timetable was not re-planned: its last school day has passed."
    starting = hours_per_week if hours_per_week is not None else hours_in_force(timetable, restart)
    replanned = replan_from(timetable, restart, end, starting, calendar_for(case).is_school_day)
    plan.timetable_json = {**(plan.timetable_json or {}), "timetable": replanned.model_dump(mode="json"),
                           "replanned_from": restart.isoformat()}
    return (f" Timetable re-planned from {long_date(restart)}: {_hours(starting)} a week, "
            f"rising to full time ({_hours(replanned.full_time_hours)}) by {long_date(end)}.")


def _sentence(text: str | None) -> str:
    """Typed text as a sentence in the history, which goes on after it."""
    text = (text or "").strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _day_or_none(value: date | None) -> str:
    return long_date(value) if value is not None else "not set"


def _hours(value: float | None) -> str:
    return "not given" if value is None else f"{value:g} h"


def _refresh(unit: UnitOfWork, plan: Plan, now: datetime) -> Decision:
    case = Case.model_validate(plan.case_json)
    decision = evaluate(case)
    _apply_decision(unit, plan, case, decision, now)
    return decision


def _check_extension(plan: Plan, pack: Pack, new_end_date: date | None, rationale: str | None,
                     parent_agreed: bool | None) -> None:
    if new_end_date is None:
        raise PlanError("Give the new end date for the extension.")
    if plan.end_date is not None and new_end_date <= plan.end_date:
        raise PlanError(f"The new end date must be after the current one ({long_date(plan.end_date)}).")
    if not (rationale and rationale.strip()):
        raise PlanError("Record why the timetable is being extended (the rationale).")
    if parent_agreed is not True:
        raise PlanError("An extension needs the parent's or carer's agreement; record it first.")
    beyond = plan.latest_end_date is not None and new_end_date > plan.latest_end_date
    if beyond and pack.extension is None and pack.escalation is None:
        raise PlanError(f"{pack.title} does not allow a timetable past "
                        f"{long_date(plan.latest_end_date)}; consider a different intervention.")


def _check_closure_route(route: str) -> None:
    if route not in CLOSURE_ROUTES:
        raise PlanError(f"Unknown way for a plan to end {route!r}; choose one of {', '.join(CLOSURE_ROUTES)}.")


def _not_ahead(what: str, day: date, now: datetime) -> None:
    """What happened is recorded once it has: a review held, or a plan closed, next week is
    an appointment, and closing a plan ahead would stop its reminders while it still runs."""
    if day > _today(now):
        raise PlanError(f"{what} is recorded on or after the day it happens: {long_date(day)} is "
                        f"after today ({long_date(_today(now))}).")


def _close(unit: UnitOfWork, plan: Plan, decision: Decision, *, route: str, closed_on: date,
           now: datetime) -> None:
    """Close ``plan`` on ``closed_on``, its last day under the part-time timetable: the
    sessions after it stop (MIS sessions, calendar, plan page)."""
    plan.status = PlanStatus.CLOSED.value
    plan.closed_at = now
    plan.closed_on = closed_on
    plan.closure_route = route
    # A notice of a changed decision not yet delivered is stale once the plan is closed.
    unit.reminders.resolve(plan.id, kinds=[*DERIVED_KINDS, "decision_changed"], now=now)
    for review in unit.plans.reviews(plan.id):
        if review.held_on is None:
            unit.session.delete(review)
    _owe_la_notification(unit, plan, decision, "closure", closed_on, now)


def close_plan(
    uow: UowLike, plan_id: int, *, route: str, actor_user_id: int | None,
    closed_on: date | None = None, note: str | None = None,
    expected_version: int | None = None, now: datetime | None = None,
) -> Plan:
    """Close the plan (``route``: e.g. ``returned_full_time``, ``alternative_provision``,
    ``left_school``, ``withdrawn``). Its reminders stop, except an LA closure notification
    where the policy asks for one (Derbyshire's form 3, Achieving for Children, Bath &
    Wells MAT)."""
    _check_closure_route(route)
    now = now or utcnow()
    closed_on = closed_on or _today(now)
    _not_ahead("A closure", closed_on, now)
    with _changing(uow, plan_id, expected_version) as (unit, plan):
        loaded = plan.version
        last_review = max((r.held_on for r in unit.plans.reviews(plan.id) if r.held_on is not None), default=None)
        if last_review is not None and closed_on < last_review:
            raise PlanError(f"A review was held on {long_date(last_review)}, after {long_date(closed_on)}: "
                            "a plan closes on or after its last review.")
        decision = current_decision(plan) or evaluate(Case.model_validate(plan.case_json))
        _close(unit, plan, decision, route=route, closed_on=closed_on, now=now)
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now,
               summary=f"Plan closed on {long_date(closed_on)}: {CLOSURE_ROUTES[route].lower()}."
               + (f" {note}" if note else ""))
    return plan


def record_la_notification(
    uow: UowLike, plan_id: int, kind: LaNotificationKind, *, actor_user_id: int | None,
    sent_on: date | None = None, expected_version: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """Record that the LA was notified (``first``, ``update`` or ``closure``)."""
    unit = as_unit_of_work(uow)
    now = now or utcnow()
    with unit:
        plan = _load(unit, plan_id, expected_version)
        loaded = plan.version
        if kind == "update":
            unit.reminders.resolve(plan.id, kinds=["la_notification_due"],
                                   subject_prefix="update:", now=now)
        else:
            unit.reminders.resolve(plan.id, kinds=["la_notification_due"], subjects=[kind],
                                   now=now)
        when = (sent_on or _today(now)).isoformat()
        _write(unit, plan, loaded_version=loaded, actor_user_id=actor_user_id, now=now,
               summary=f"LA notified ({kind}) on {when}.",
               detail={"la_notification": kind, "sent_on": when})
        unit.commit()
        return plan


def past_the_maximum(plan: Plan, today: date) -> bool:
    """Whether the plan runs, or ran, past its policy's maximum: extended beyond it, an end date
    after it, no end date at all while open (no time limit), or still open after it (the pupil
    may still be part-time). One rule for the plan list, the LA view and the message queries."""
    if plan.extended_beyond_maximum:
        return True
    if plan.latest_end_date is None:
        return False
    if plan.status == PlanStatus.CLOSED:
        last = min(plan.closed_on, plan.end_date) if plan.closed_on and plan.end_date else plan.closed_on
        return (last or plan.end_date or plan.latest_end_date) > plan.latest_end_date
    if plan.end_date is not None and plan.end_date > plan.latest_end_date:
        return True  # as proposed, whether or not agreed yet
    # Running without a time limit, or still running after the maximum: only a plan in force.
    return plan.status == PlanStatus.ACTIVE and (plan.end_date is None or today > plan.latest_end_date)


def past_its_end_date(plan: Plan, today: date) -> bool:
    """In force after its end date: the school has yet to close it or record an extension."""
    return plan.status == PlanStatus.ACTIVE and plan.end_date is not None and plan.end_date < today


def _check_still_scheduled(due_on: date, reviews: Sequence[Review]) -> None:
    """The review due ``due_on`` is on the plan and not yet held (else a reminder's button, say,
    would record another one in its place)."""
    review = next((r for r in reviews if r.due_on == due_on), None)
    if review is None:
        raise PlanError(f"The review due {long_date(due_on)} is no longer on the plan (its dates have "
                        "changed): open the plan to record a review.")
    if review.held_on is not None:
        raise PlanError(f"The review due {long_date(due_on)} was recorded already, as held on "
                        f"{long_date(review.held_on)}.")


def acknowledge_reminder(
    uow: UowLike, reminder_id: int, *, actor_user_id: int | None, now: datetime | None = None,
) -> Reminder:
    """Someone has acted on a reminder: stop it (and its escalations) from escalating."""
    unit = as_unit_of_work(uow)
    now = now or utcnow()
    with unit:
        reminder = unit.session.get(Reminder, reminder_id)
        if reminder is None or reminder.plan_id is None:
            raise PlanError(f"No reminder {reminder_id}.")
        unit.reminders.resolve(reminder.plan_id, kinds=[reminder.kind],
                               subjects=[reminder.subject], now=now)
        plan = unit.plans.get(reminder.plan_id)
        unit.audit.record("update", "reminder", reminder_id, actor_user_id=actor_user_id,
                          school_id=plan.school_id, at=now,
                          detail={"summary": f"Reminder {reminder.kind} acknowledged."})
        unit.commit()
        unit.session.refresh(reminder)
        return reminder
