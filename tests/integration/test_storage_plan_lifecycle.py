"""The plan lifecycle service (assistant.services.plans) on a real database."""

from __future__ import annotations

import copy
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from assistant.reminders import ConsoleDeliverer, run_once
from assistant.services import (
    PlanError,
    PupilDetails,
    acknowledge_reminder,
    close_plan,
    create_plan,
    record_consultee_reply,
    record_la_notification,
    record_review,
    record_step,
    update_timetable,
)
from conversations.plan_writing import plan_timetable
from conversations.timetable import GraduatedTimetable, hours_in_force
from rules import Case, Decision
from storage.errors import ConflictError
from storage.models import AuditLog, Plan, Reminder
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff, seed_staff

NOW = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)


def _that_evening(day: date) -> datetime:
    """When a review held on ``day`` is recorded: reviews are recorded once they are held."""
    return datetime.combine(day, time(17), tzinfo=UTC)

#: Derby City, a looked-after child: every step done, the Virtual School only consulted.
DERBY_CASE: dict[str, Any] = {
    "policy": "derby-city",
    "pupil": {"year_group": "Y4"},
    "circumstances": {"looked_after": True},
    "reasons": ["semh"],
    "plan": {"start_date": "2026-03-02", "end_date": "2026-03-27", "hours_per_week": 15},
    "steps": {"parent_consent": "given", "risk_assessment": "no_concerns",
              "alternatives_exhausted": True, "needs_assessment": True,
              "planning_meeting_held": True, "written_plan": True, "headteacher_signed": True},
    "consultations": {"virtual_school": "consulted", "education_welfare": "consulted"},
}

#: Derbyshire, Early Help involved, ready to go; the policy asks for first / update /
#: closure notifications to the LA.
DERBYSHIRE_CASE: dict[str, Any] = {
    "policy": "derbyshire",
    "pupil": {"year_group": "Y9"},
    "circumstances": {"early_help": True},
    "reasons": ["mental_health"],
    "plan": {"start_date": "2026-06-01", "end_date": "2026-07-03", "hours_per_week": 10},
    "steps": {"parent_consent": "given", "risk_assessment": "no_concerns",
              "planning_meeting_held": True, "written_plan": True},
    "consultations": {"early_help_worker": "consulted"},
}


def _new_plan(session_factory: sessionmaker[Session], staff: Staff,
              case: dict[str, Any] | None = None) -> Plan:
    return create_plan(session_factory, case=copy.deepcopy(case or DERBY_CASE),
                       school_id=staff.school_id, pupil=PupilDetails("Jo", "Smith"),
                       actor_user_id=staff.lead_id, now=NOW)


def _reminders(session_factory: sessionmaker[Session], plan_id: int) -> dict[str, Reminder]:
    with UnitOfWork(session_factory) as uow:
        return {r.idempotency_key: r for r in uow.reminders.for_plan(plan_id)}


def _pending(session_factory: sessionmaker[Session], plan_id: int) -> set[tuple[str, str]]:
    return {(r.kind, r.subject) for r in _reminders(session_factory, plan_id).values()
            if r.status == "pending"}


def test_a_new_plan_stores_its_case_decision_consultees_reviews_and_reminders(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    assert (plan.status, plan.version, plan.lead_user_id) == ("awaiting", 1, staff.lead_id)
    assert plan.decision_json["outcome"] == "not_yet"
    assert plan.start_date == date(2026, 3, 2) and plan.end_date == date(2026, 3, 27)
    assert plan.latest_end_date is not None
    with UnitOfWork(session_factory) as uow:
        consultations = {c.role: (c.requirement, c.status)
                         for c in uow.plans.consultations(plan.id)}
        reviews = [r.due_on for r in uow.plans.reviews(plan.id)]
    assert consultations["virtual_school"] == ("agree", "consulted")
    assert reviews == [date(2026, 3, 13), date(2026, 3, 27)]
    assert _pending(session_factory, plan.id) == {
        ("agreement_missing", "virtual_school"),
        ("la_notification_due", "first"),
        ("review_due", "2026-03-13"),
        ("review_due", "2026-03-27"),
        ("end_date_near", "2026-03-27"),
        ("end_date_passed", "2026-03-27"),
    }
    reminders = _reminders(session_factory, plan.id)
    chase = reminders[f"plan:{plan.id}:agreement_missing:virtual_school"]
    # Sought on Friday 20 February; five school days later is Friday 27 February.
    assert chase.due_at == datetime(2026, 2, 27, 7, 30, tzinfo=UTC)
    assert chase.recipient_user_id == staff.lead_id


def test_the_virtual_school_agreeing_later_activates_the_plan_and_stops_the_chase(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    plan = record_consultee_reply(session_factory, plan.id, "virtual_school", "agreed",
                                  actor_user_id=staff.lead_id, note="Email from the VSH",
                                  expected_version=1, now=NOW)
    assert (plan.status, plan.version) == ("active", 2)
    assert plan.decision_json["outcome"] == "may_proceed"
    assert ("agreement_missing", "virtual_school") not in _pending(session_factory, plan.id)
    with UnitOfWork(session_factory) as uow:
        vs = next(c for c in uow.plans.consultations(plan.id) if c.role == "virtual_school")
    assert (vs.status, vs.note) == ("agreed", "Email from the VSH")


def test_every_change_writes_a_plan_version_and_an_audit_row(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    record_consultee_reply(session_factory, plan.id, "virtual_school", "agreed",
                           actor_user_id=staff.dsl_id, now=NOW)
    record_step(session_factory, plan.id, "healthcare_plan", True, actor_user_id=staff.lead_id,
                now=NOW)
    with UnitOfWork(session_factory) as uow:
        versions = uow.plans.versions(plan.id)
        audit = uow.audit.for_entity("plan", plan.id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.changed_by for v in versions] == [staff.lead_id, staff.dsl_id, staff.lead_id]
    assert "awaiting → active" in versions[1].change_summary
    # The history reads in words, not the case's keys and values.
    assert versions[1].change_summary.startswith("The Virtual School: agreed; ")
    assert versions[2].change_summary == "Healthcare plan: done; status still active."
    assert versions[2].snapshot_json["case"]["steps"]["healthcare_plan"] is True
    assert [a.action for a in audit] == ["create", "update", "update"]
    assert all(a.school_id == staff.school_id for a in audit)


def test_a_change_based_on_a_stale_version_is_refused_and_nothing_is_written(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    record_step(session_factory, plan.id, "healthcare_plan", True, actor_user_id=staff.dsl_id,
                expected_version=1, now=NOW)
    with pytest.raises(ConflictError, match="changed by someone else a moment ago"):
        record_consultee_reply(session_factory, plan.id, "virtual_school", "agreed",
                               actor_user_id=staff.lead_id, expected_version=1, now=NOW)
    with UnitOfWork(session_factory) as uow:
        stored = uow.plans.get(plan.id)
        assert (stored.version, stored.status) == (2, "awaiting")
        assert len(uow.audit.for_entity("plan", plan.id)) == 2


def test_refused_consent_sends_the_plan_back_to_draft_and_stops_its_reminders_and_reviews(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    plan = record_step(session_factory, plan.id, "parent_consent", "refused",
                       actor_user_id=staff.lead_id, now=NOW)
    assert plan.status == "draft"
    assert plan.decision_json["outcome"] == "must_not_proceed"
    # Only the notice that the decision changed is still to go out.
    assert _pending(session_factory, plan.id) == {("decision_changed", "not_yet:must_not_proceed")}
    # A timetable that is not going ahead has no reviews to hold (nor to show as overdue).
    with UnitOfWork(session_factory) as uow:
        assert uow.plans.reviews(plan.id) == []
    plan = record_step(session_factory, plan.id, "parent_consent", "given", actor_user_id=staff.lead_id, now=NOW)
    with UnitOfWork(session_factory) as uow:
        assert [r.due_on for r in uow.plans.reviews(plan.id)] == [date(2026, 3, 13), date(2026, 3, 27)]


def test_an_unknown_step_value_is_refused_with_the_field_named(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    with pytest.raises(PlanError, match=r"steps\.parent_consent"):
        record_step(session_factory, plan.id, "parent_consent", "maybe",
                    actor_user_id=staff.lead_id, now=NOW)


def _active_derby_plan(session_factory: sessionmaker[Session], staff: Staff) -> Plan:
    plan = _new_plan(session_factory, staff)
    return record_consultee_reply(session_factory, plan.id, "virtual_school", "agreed",
                                  actor_user_id=staff.lead_id, now=NOW)


def test_a_review_that_increases_the_hours_is_recorded_and_re_evaluated(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    plan = record_review(session_factory, plan.id, outcome="increase_hours",
                         held_on=date(2026, 3, 13), hours_per_week=22,
                         actor_user_id=staff.lead_id, notes="Going well", now=_that_evening(date(2026, 3, 13)))
    assert plan.case_json["plan"]["hours_per_week"] == 22
    assert plan.status == "active"
    with UnitOfWork(session_factory) as uow:
        held = [r for r in uow.plans.reviews(plan.id) if r.held_on]
    assert [(r.due_on, r.outcome, r.hours_per_week) for r in held] == [
        (date(2026, 3, 13), "increase_hours", 22)]
    reminder = _reminders(session_factory, plan.id)[f"plan:{plan.id}:review_due:2026-03-13"]
    assert reminder.status == "cancelled"
    with pytest.raises(PlanError, match="must be more than"):
        record_review(session_factory, plan.id, outcome="increase_hours",
                      held_on=date(2026, 3, 27), hours_per_week=18,
                      actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 27)))


def test_a_review_that_raises_the_hours_stores_the_timetable_re_planned_from_the_next_day(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    assert plan.timetable_json is None  # a plan made without the interview: its timetable is worked out
    before = plan_timetable(None, Case.model_validate(plan.case_json), Decision.model_validate(plan.decision_json))
    assert before is not None and hours_in_force(before, date(2026, 3, 16)) < 22
    plan = record_review(session_factory, plan.id, outcome="increase_hours",
                         held_on=date(2026, 3, 13), hours_per_week=22,
                         actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    after = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    assert [s for s in after.all_sessions() if s.day <= date(2026, 3, 13)] == [
        s for s in before.all_sessions() if s.day <= date(2026, 3, 13)]
    assert hours_in_force(after, date(2026, 3, 16)) == 22
    assert after.end == plan.end_date and after.final_week.full_time
    with UnitOfWork(session_factory) as uow:
        latest = uow.plans.versions(plan.id)[-1]
    assert latest.snapshot_json["timetable"] == plan.timetable_json
    # Held on a Friday: the new hours start on the Monday.
    assert "Timetable re-planned from 16 Mar 2026: 22 h a week" in latest.change_summary


def test_an_extension_stretches_the_stored_timetable_to_the_new_end_date(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    plan = record_review(session_factory, plan.id, outcome="extend", held_on=date(2026, 3, 13),
                         new_end_date=date(2026, 4, 10), rationale="Anxiety about the move",
                         parent_agreed=True, actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    after = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    assert after.end == date(2026, 4, 10)
    assert max(s.day for s in after.all_sessions()) <= date(2026, 4, 10)
    assert after.final_week.planned_hours == after.full_time_hours > after.weeks[-2].planned_hours


def test_one_review_may_raise_the_hours_and_extend_the_plan_re_planning_the_timetable_once(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    base = dict(outcome="increase_and_extend", held_on=date(2026, 3, 13), hours_per_week=22,
                new_end_date=date(2026, 4, 10), actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    with pytest.raises(PlanError, match="rationale"):
        record_review(session_factory, plan.id, parent_agreed=True, **base)  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="must be more than"):
        record_review(session_factory, plan.id, **{**base, "hours_per_week": 5},  # type: ignore[arg-type]
                      rationale="Anxiety about the move", parent_agreed=True)
    plan = record_review(session_factory, plan.id, rationale="Anxiety about the move", parent_agreed=True,
                         **base)  # type: ignore[arg-type]

    assert (plan.case_json["plan"]["hours_per_week"], plan.end_date) == (22, date(2026, 4, 10))
    after = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    assert hours_in_force(after, date(2026, 3, 16)) == 22
    assert after.end == date(2026, 4, 10) and after.final_week.full_time
    with UnitOfWork(session_factory) as uow:
        held = [r for r in uow.plans.reviews(plan.id) if r.held_on]
        summary = uow.plans.versions(plan.id)[-1].change_summary
    assert [(r.outcome, r.hours_per_week, r.new_end_date) for r in held] == [
        ("increase_and_extend", 22, date(2026, 4, 10))]
    assert summary.count("Timetable re-planned") == 1
    assert "Hours per week" in summary and "→ 10 Apr 2026: Anxiety about the move. Timetable re-planned" in summary


def test_a_review_refuses_hours_or_an_end_date_given_for_another_outcome(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    with pytest.raises(PlanError, match="A new end date is for a review that extends the plan"):
        record_review(session_factory, plan.id, outcome="increase_hours", held_on=date(2026, 3, 13),
                      hours_per_week=22, new_end_date=date(2026, 4, 24), actor_user_id=staff.lead_id,
                      now=_that_evening(date(2026, 3, 13)))
    with pytest.raises(PlanError, match="New hours are for a review that increases the hours"):
        record_review(session_factory, plan.id, outcome="extend", held_on=date(2026, 3, 13), hours_per_week=12,
                      new_end_date=date(2026, 4, 10), rationale="Anxiety", parent_agreed=True,
                      actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))


def test_a_review_after_the_plans_last_school_day_says_the_timetable_was_not_re_planned(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)  # ends Friday 27 March
    plan = record_review(session_factory, plan.id, outcome="increase_hours", held_on=date(2026, 3, 27),
                         hours_per_week=23, actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 27)))
    assert plan.timetable_json is None
    with UnitOfWork(session_factory) as uow:
        summary = uow.plans.versions(plan.id)[-1].change_summary
    assert "The timetable was not re-planned: its last school day has passed." in summary


def test_a_conversation_may_still_replace_a_timetable_no_review_re_planned(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    # Hours raised by a review that could not re-plan (held on the last day; as before re-planning existed)
    record_review(session_factory, plan.id, outcome="increase_hours", held_on=date(2026, 3, 27), hours_per_week=23,
                  actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 27)))
    written = {"timetable": {"weeks": "from the conversation"}, "written": {"named_lead": "Ms Patel"}}
    plan = update_timetable(session_factory, plan.id, written, actor_user_id=staff.lead_id, now=NOW)
    assert plan.timetable_json == written


def test_a_held_review_is_not_scheduled_again_for_the_same_date(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    plan = record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 3, 13),
                         actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    with UnitOfWork(session_factory) as uow:
        reviews = uow.plans.reviews(plan.id)
    on_the_day = [r for r in reviews if r.due_on == date(2026, 3, 13)]
    assert len(on_the_day) == 1
    assert on_the_day[0].held_on == date(2026, 3, 13)


def test_a_review_held_well_before_the_next_one_is_an_extra_review_and_the_next_one_stays(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)  # reviews due 13 and 27 March
    plan = record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 3, 4),
                         notes="After the incident on Tuesday", actor_user_id=staff.lead_id,
                         now=_that_evening(date(2026, 3, 4)))
    with UnitOfWork(session_factory) as uow:
        reviews = uow.plans.reviews(plan.id)
    assert [(r.due_on, r.held_on) for r in reviews] == [
        (date(2026, 3, 13), None), (date(2026, 3, 27), None), (None, date(2026, 3, 4))]
    assert _reminders(session_factory, plan.id)[f"plan:{plan.id}:review_due:2026-03-13"].status == "pending"
    with UnitOfWork(session_factory) as uow:
        assert "An extra review: the one due 13 Mar 2026 stays." in uow.plans.versions(plan.id)[-1].change_summary
    # Brought forward by a few days, the next review is the one held.
    record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 3, 10),
                  actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 10)))
    with UnitOfWork(session_factory) as uow:
        held = {r.due_on: r.held_on for r in uow.plans.reviews(plan.id) if r.held_on}
    assert held == {None: date(2026, 3, 4), date(2026, 3, 13): date(2026, 3, 10)}
    assert _reminders(session_factory, plan.id)[f"plan:{plan.id}:review_due:2026-03-13"].status == "cancelled"


def test_an_extension_needs_a_later_end_date_a_rationale_and_the_parents_agreement(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    base = dict(outcome="extend", held_on=date(2026, 3, 13), actor_user_id=staff.lead_id,
                now=_that_evening(date(2026, 3, 13)))
    with pytest.raises(PlanError, match="rationale"):
        record_review(session_factory, plan.id, new_end_date=date(2026, 4, 10),
                      parent_agreed=True, **base)
    with pytest.raises(PlanError, match="parent"):
        record_review(session_factory, plan.id, new_end_date=date(2026, 4, 10),
                      rationale="Anxiety about the move", parent_agreed=False, **base)
    with pytest.raises(PlanError, match="after the current"):
        record_review(session_factory, plan.id, new_end_date=date(2026, 3, 20),
                      rationale="x", parent_agreed=True, **base)
    plan = record_review(session_factory, plan.id, new_end_date=date(2026, 4, 10),
                         rationale="Anxiety about the move", parent_agreed=True, **base)
    assert plan.end_date == date(2026, 4, 10)
    assert plan.extended_beyond_maximum is False and plan.status == "active"
    pending = _pending(session_factory, plan.id)
    assert ("end_date_near", "2026-04-10") in pending
    assert ("end_date_near", "2026-03-27") not in pending


def test_extending_past_the_policy_maximum_keeps_the_plan_active_and_escalates_to_the_dsl(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    latest = plan.latest_end_date
    assert latest is not None
    plan = record_review(session_factory, plan.id, outcome="extend", held_on=date(2026, 3, 27),
                         new_end_date=date(2026, 5, 1), rationale="Awaiting CAMHS assessment",
                         parent_agreed=True, actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 27)))
    assert plan.extended_beyond_maximum is True
    assert plan.status == "active"
    assert plan.decision_json["outcome"] == "must_not_proceed"  # the evaluator's own view
    over = _reminders(session_factory, plan.id)[f"plan:{plan.id}:over_maximum:{latest}"]
    assert (over.status, over.recipient_role, over.recipient_user_id) == ("pending", "dsl", None)
    assert over.due_at.date() > latest
    with UnitOfWork(session_factory) as uow:
        upcoming = [r.due_on for r in uow.plans.reviews(plan.id) if r.held_on is None]
    assert upcoming and max(upcoming) <= date(2026, 5, 1) and max(upcoming) > latest


def test_a_review_that_ends_the_plan_closes_it_and_owes_the_la_a_closure_notice(
    session_factory: sessionmaker[Session],
) -> None:
    staff = seed_staff(session_factory, "derbyshire", "Ash Academy")
    plan = _new_plan(session_factory, staff, DERBYSHIRE_CASE)
    assert plan.status == "active"
    plan = record_review(session_factory, plan.id, outcome="end", held_on=date(2026, 6, 26),
                         actor_user_id=staff.lead_id, notes="Back full time", now=_that_evening(date(2026, 6, 26)))
    assert (plan.status, plan.closure_route) == ("closed", "returned_full_time")
    assert (plan.closed_on, plan.closed_at) == (date(2026, 6, 26), _that_evening(date(2026, 6, 26)))
    assert _pending(session_factory, plan.id) == {
        ("la_notification_due", "first"), ("la_notification_due", "closure")}
    with pytest.raises(PlanError, match="closed"):
        record_step(session_factory, plan.id, "written_plan", True, actor_user_id=staff.lead_id)


def test_derbyshire_is_owed_an_update_when_a_review_changes_the_plan(
    session_factory: sessionmaker[Session],
) -> None:
    staff = seed_staff(session_factory, "derbyshire", "Ash Academy")
    plan = _new_plan(session_factory, staff, DERBYSHIRE_CASE)
    plan = record_review(session_factory, plan.id, outcome="increase_hours",
                         held_on=date(2026, 6, 15), hours_per_week=20,  # week 3 of 10 h rising to full time
                         actor_user_id=staff.lead_id, now=_that_evening(date(2026, 6, 15)))
    assert ("la_notification_due", "update:2026-06-15") in _pending(session_factory, plan.id)
    record_la_notification(session_factory, plan.id, "update", actor_user_id=staff.lead_id,
                           now=NOW)
    record_la_notification(session_factory, plan.id, "first", actor_user_id=staff.lead_id,
                           now=NOW)
    assert not {k for k, _ in _pending(session_factory, plan.id) if k == "la_notification_due"}


def test_closing_a_plan_stops_its_reminders(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    plan = close_plan(session_factory, plan.id, route="alternative_provision",
                      actor_user_id=staff.dsl_id, note="Place at the PRU", now=NOW)
    assert (plan.status, plan.closure_route) == ("closed", "alternative_provision")
    # Derby City asks for no closure notice; the first notification is still owed.
    assert _pending(session_factory, plan.id) == {("la_notification_due", "first")}
    with UnitOfWork(session_factory) as uow:
        assert [r for r in uow.plans.reviews(plan.id) if r.held_on is None] == []
        assert "Place at the PRU" in uow.plans.versions(plan.id)[-1].change_summary
    assert plan.closed_on == NOW.date()


def test_a_plan_is_closed_on_the_day_given_not_ahead_of_it_nor_before_its_last_review(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    with pytest.raises(PlanError, match=r"27 Feb 2026 is after today \(20 Feb 2026\)"):
        close_plan(session_factory, plan.id, route="returned_full_time", actor_user_id=staff.dsl_id,
                   closed_on=date(2026, 2, 27), now=NOW)
    with pytest.raises(PlanError, match="A review is recorded on or after the day it happens"):
        record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 2, 27),
                      actor_user_id=staff.lead_id, now=NOW)
    record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 2, 16),
                  actor_user_id=staff.lead_id, now=NOW)
    with pytest.raises(PlanError, match="A review was held on 16 Feb 2026, after 13 Feb 2026"):
        close_plan(session_factory, plan.id, route="returned_full_time", actor_user_id=staff.dsl_id,
                   closed_on=date(2026, 2, 13), now=NOW)
    plan = close_plan(session_factory, plan.id, route="returned_full_time", actor_user_id=staff.dsl_id,
                      closed_on=date(2026, 2, 18), now=NOW)
    assert (plan.closed_on, plan.closed_at) == (date(2026, 2, 18), NOW)
    with UnitOfWork(session_factory) as uow:
        summary = uow.plans.versions(plan.id)[-1].change_summary
    assert summary == "Plan closed on 18 Feb 2026: returned to full-time education."


def _as_sent(uow: UnitOfWork, key: str, sent_at: datetime, **fields: Any) -> Reminder:
    """The reminder ``key`` as the sweeper leaves it once delivered (commit ``uow`` to keep it)."""
    reminder = uow.session.exec(select(Reminder).where(Reminder.idempotency_key == key)).one()
    reminder.status, reminder.sent_at = "sent", sent_at
    for name, value in fields.items():
        setattr(reminder, name, value)
    return reminder


def test_a_snoozed_reminder_and_an_escalation_go_on_when_the_plan_changes_until_their_review_is_held(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    key = f"plan:{plan.id}:review_due:2026-03-13"
    with UnitOfWork(session_factory) as uow:
        reminder = _as_sent(uow, key, NOW, resolved_at=NOW)  # and snoozed a day
        uow.reminders.schedule([{
            "plan_id": plan.id, "kind": "review_due", "subject": "2026-03-13", "due_at": NOW,
            "idempotency_key": f"{key}{suffix}", "status": "pending", "parent_id": reminder.id,
            "recipient_role": role} for suffix, role in ((":snoozed:2026-03-12", "lead"), (":escalation-1", "dsl"))])
        uow.commit()
    waiting = {f"{key}:snoozed:2026-03-12", f"{key}:escalation-1"}

    record_consultee_reply(session_factory, plan.id, "education_welfare", "agreed", actor_user_id=staff.lead_id,
                           now=NOW)
    reminders = _reminders(session_factory, plan.id)
    assert {k: reminders[k].status for k in waiting} == dict.fromkeys(waiting, "pending")

    record_review(session_factory, plan.id, outcome="continue", held_on=date(2026, 3, 13),
                  actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    reminders = _reminders(session_factory, plan.id)
    assert {k: reminders[k].status for k in waiting} == dict.fromkeys(waiting, "cancelled")


def test_extending_a_plan_stops_the_end_date_reminder_already_sent_from_escalating(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    key = f"plan:{plan.id}:end_date_passed:2026-03-27"
    sent_on = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    with UnitOfWork(session_factory) as uow:
        _as_sent(uow, key, sent_on, escalate_at=sent_on + timedelta(days=3))
        uow.commit()

    record_review(session_factory, plan.id, outcome="extend", held_on=date(2026, 3, 30),
                  new_end_date=date(2026, 4, 17), rationale="Still settling", parent_agreed=True,
                  actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 30)))

    reminders = _reminders(session_factory, plan.id)
    assert (reminders[key].escalate_at, reminders[key].resolved_at) == (None, _that_evening(date(2026, 3, 30)))
    assert reminders[f"plan:{plan.id}:end_date_passed:2026-04-17"].status == "pending"


def test_acknowledging_a_sent_reminder_stops_it_escalating(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    key = f"plan:{plan.id}:la_notification_due:first"
    with UnitOfWork(session_factory) as uow:
        reminder = _as_sent(uow, key, NOW, escalate_at=NOW)
        uow.commit()
    acknowledged = acknowledge_reminder(session_factory, reminder.id, actor_user_id=staff.lead_id,
                                        now=NOW)
    assert acknowledged.escalate_at is None and acknowledged.resolved_at == NOW
    with UnitOfWork(session_factory) as uow:
        assert uow.session.exec(select(AuditLog).where(AuditLog.entity == "reminder")).one()


def test_a_reply_that_changes_the_decision_tells_the_lead_and_the_dsl_straight_away(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    assert plan.decision_json["outcome"] == "not_yet"
    plan = record_consultee_reply(session_factory, plan.id, "virtual_school", "agreed",
                                  actor_user_id=staff.lead_id, now=NOW)
    assert plan.decision_json["outcome"] == "may_proceed"
    told = {(r.kind, r.subject, r.recipient_role) for r in _reminders(session_factory, plan.id).values()
            if r.kind == "decision_changed"}
    assert told == {("decision_changed", "not_yet:may_proceed", "lead"),
                    ("decision_changed", "not_yet:may_proceed", "dsl")}

    stream = io.StringIO()
    run_once(session_factory, NOW, {"console": ConsoleDeliverer(stream)})
    assert "Decision changed to 'may proceed'" in stream.getvalue()


def test_a_step_that_leaves_the_decision_as_it_was_tells_nobody(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    record_step(session_factory, plan.id, "healthcare_plan", True, actor_user_id=staff.lead_id, now=NOW)
    assert not [r for r in _reminders(session_factory, plan.id).values() if r.kind == "decision_changed"]


def _written(*review_dates: str) -> dict[str, Any]:
    return {"timetable": None, "written": {"review_dates": list(review_dates)}}


def _reviews(session_factory: sessionmaker[Session], plan_id: int) -> list[date | None]:
    with UnitOfWork(session_factory) as uow:
        return [r.due_on for r in uow.plans.reviews(plan_id)]


def test_the_schools_own_review_dates_are_the_plans_reviews_and_reminders(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    """Derby City's fortnightly dates would be 13 and 27 March; the school holds its reviews on
    Wednesdays, which is at least as often."""
    plan = create_plan(session_factory, case=copy.deepcopy(DERBY_CASE), school_id=staff.school_id,
                       pupil=PupilDetails("Jo", "Smith"), actor_user_id=staff.lead_id, now=NOW,
                       timetable=_written("2026-03-11", "2026-03-25"))

    assert _reviews(session_factory, plan.id) == [date(2026, 3, 11), date(2026, 3, 25)]
    assert {s for kind, s in _pending(session_factory, plan.id) if kind == "review_due"} == {
        "2026-03-11", "2026-03-25"}


def test_own_review_dates_that_do_not_meet_the_policy_give_way_to_the_policys(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = create_plan(session_factory, case=copy.deepcopy(DERBY_CASE), school_id=staff.school_id,
                       pupil=PupilDetails("Jo", "Smith"), actor_user_id=staff.lead_id, now=NOW,
                       timetable=_written("2026-03-27"))

    assert _reviews(session_factory, plan.id) == [date(2026, 3, 13), date(2026, 3, 27)]


def test_changing_the_own_review_dates_in_the_written_plan_moves_the_reviews_and_their_reminders(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    assert _reviews(session_factory, plan.id) == [date(2026, 3, 13), date(2026, 3, 27)]

    plan = update_timetable(session_factory, plan.id, _written("2026-03-10", "2026-03-24"),
                            actor_user_id=staff.lead_id, now=NOW)

    assert _reviews(session_factory, plan.id) == [date(2026, 3, 10), date(2026, 3, 24)]
    reviews_due = {s for kind, s in _pending(session_factory, plan.id) if kind == "review_due"}
    assert reviews_due == {"2026-03-10", "2026-03-24"}


def _raised_to_22_hours_on_13_march(session_factory: sessionmaker[Session], staff: Staff) -> Plan:
    """An active Derby City plan whose review on Friday 13 March re-planned it from the Monday."""
    plan = _active_derby_plan(session_factory, staff)
    return record_review(session_factory, plan.id, outcome="increase_hours", held_on=date(2026, 3, 13),
                         hours_per_week=22, actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))


def test_after_a_review_re_planned_the_timetable_a_new_place_out_of_school_reaches_its_sessions(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _active_derby_plan(session_factory, staff)
    plan = record_review(session_factory, plan.id, outcome="extend", held_on=date(2026, 3, 13),
                         new_end_date=date(2026, 4, 24), rationale="Anxiety about the move", parent_agreed=True,
                         actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 13)))
    reviewed = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    written = {"named_lead": "Ms Patel", "where_when_not_in_school": "Aunt's house",
               "with_whom_when_not_in_school": "Aunt"}
    plan = update_timetable(session_factory, plan.id, {"timetable": {}, "written": written},
                            actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 17)))

    after = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    changed = date(2026, 3, 17)
    assert {(s.location, s.with_whom) for s in after.away_sessions() if s.day >= changed} == {("Aunt's house", "Aunt")}
    assert [s for s in after.all_sessions() if s.day < changed] == [
        s for s in reviewed.all_sessions() if s.day < changed]  # where the pupil was stays as it was
    assert [(s.day, s.half, s.hours) for s in after.all_sessions()] == [
        (s.day, s.half, s.hours) for s in reviewed.all_sessions()]
    with UnitOfWork(session_factory) as uow:
        summary = uow.plans.versions(plan.id)[-1].change_summary
    assert summary == ("Written plan updated; the timetable stays as a review re-planned it, "
                       "with the pupil out of school at Aunt's house, with Aunt from 17 Mar 2026.")
    again = {**written, "where_when_not_in_school": "Grandparents' house", "with_whom_when_not_in_school": "Gran"}
    plan = update_timetable(session_factory, plan.id, {"timetable": {}, "written": again},
                            actor_user_id=staff.lead_id, now=_that_evening(date(2026, 3, 18)))
    moved_twice = GraduatedTimetable.model_validate(plan.timetable_json["timetable"])
    assert {(s.location, s.with_whom) for s in moved_twice.away_sessions()
            if s.day >= date(2026, 3, 18)} == {("Grandparents' house", "Gran")}


def test_after_a_review_re_planned_the_timetable_the_conversation_changes_the_written_plan_but_not_the_timetable(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _raised_to_22_hours_on_13_march(session_factory, staff)
    reviewed = plan.timetable_json["timetable"]
    as_first_planned = {"timetable": {"weeks": "as the conversation built it"},
                        "written": {"named_lead": "Ms Patel", "review_dates": ["2026-03-13", "2026-03-27"]}}
    plan = update_timetable(session_factory, plan.id, as_first_planned, actor_user_id=staff.lead_id, now=NOW)
    assert plan.timetable_json == {"timetable": reviewed, "written": as_first_planned["written"],
                                   "replanned_from": "2026-03-16"}
    with pytest.raises(PlanError, match="A review re-planned this timetable from 16 Mar 2026, so its end date can "
                                        "no longer be changed here"):
        update_timetable(session_factory, plan.id, as_first_planned, actor_user_id=staff.lead_id, now=NOW,
                         case_changes={"plan.end_date": "2026-04-03"})


def test_a_timetable_given_bare_is_refused_so_every_plan_stores_one_shape(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan = _new_plan(session_factory, staff)
    bare = {"start": "2026-03-02", "weeks": []}
    with pytest.raises(PlanError, match="not bare"):
        create_plan(session_factory, case=copy.deepcopy(DERBY_CASE), school_id=staff.school_id,
                    pupil=PupilDetails("Sam", "Jones"), actor_user_id=staff.lead_id, timetable=bare, now=NOW)
    with pytest.raises(PlanError, match="not bare"):
        update_timetable(session_factory, plan.id, bare, actor_user_id=staff.lead_id, now=NOW)
