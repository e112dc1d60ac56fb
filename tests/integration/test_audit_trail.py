"""Reading the audit log back: a plan's trail with its interview's, one person's actions, one
school's, one kind, from a day on; newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from assistant.services.audit_trail import AuditFilter, AuditTrailError, audit_trail
from storage.models import AuditAction, Conversation, Plan, Pupil, Reminder
from storage.repositories import AuditRepository
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff, seed_staff


def _day(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def trail(session_factory: sessionmaker[Session], staff: Staff) -> dict[str, int]:
    """At Oak Primary a plan written through an interview, read and exported, a sign-in, and a
    plan of another pupil; at Elm Primary a read by its own DSL."""
    elm = seed_staff(session_factory, school_name="Elm Primary")
    with UnitOfWork(session_factory) as uow:
        pupils = [uow.pupils.add(Pupil(first_name=name, last_name="Smith", school_id=staff.school_id,
                                       date_of_birth=date(2016, 5, 1))) for name in ("Jo", "Sam")]
        plan, other = (uow.plans.add(Plan(school_id=staff.school_id, pupil_id=p.id, policy_id="derby-city",
                                          case_json={"policy": "derby-city"})) for p in pupils)
        uow.session.add(Conversation(id="interview-1", user_id=staff.lead_id, policy_id="derby-city",
                                     plan_id=plan.id))
        uow.session.add(Conversation(id="interview-2", user_id=staff.lead_id, policy_id="derby-city"))
        reminder = Reminder(plan_id=plan.id, kind="review_due", subject="review:1", due_at=_day(9),
                            idempotency_key=f"plan:{plan.id}:review:1", status="pending", attempts=0,
                            escalation_level=0, recipient_role="dsl", channel="email", created_at=_day(3))
        uow.session.add(reminder)
        uow.session.flush()
        audit = AuditRepository(uow.session)
        oak = {"school_id": staff.school_id}
        audit.record("create", "conversation", "interview-1", actor_user_id=staff.lead_id, at=_day(2), **oak)
        audit.record("update", "conversation", "interview-2", actor_user_id=staff.lead_id, at=_day(2), **oak)
        audit.record("create", "plan", plan.id, actor_user_id=staff.lead_id, at=_day(3), **oak)
        audit.record("read", "plan", plan.id, actor_user_id=staff.ewo_id, at=_day(5), **oak,
                     detail={"via": "la"})
        audit.record("export", "plan", plan.id, actor_user_id=staff.dsl_id, at=_day(6), **oak)
        audit.record("read", "plan", other.id, actor_user_id=staff.dsl_id, at=_day(6), **oak)
        audit.record("sign_in", "user", staff.dsl_id, actor_user_id=staff.dsl_id, at=_day(6, 8), **oak,
                     detail={"method": "password", "address": "10.0.0.7"})
        audit.record("read", "plan", "99", actor_user_id=elm.dsl_id, at=_day(7), school_id=elm.school_id)
        audit.record("update", "reminder", reminder.id, actor_user_id=staff.dsl_id, at=_day(9), **oak,
                     detail={"summary": "Reminder review_due acknowledged."})
        uow.commit()
        return {"plan": plan.id, "other": other.id, "reminder": reminder.id}


def _rows(session_factory: sessionmaker[Session], **wanted: object) -> list[tuple[str, str, str | None]]:
    with session_factory() as session:
        return [(e.action, e.entity, e.entity_id) for e in audit_trail(session, AuditFilter(**wanted))]


def test_a_plans_trail_holds_its_own_rows_and_its_interviews_newest_first(
        session_factory: sessionmaker[Session], trail: dict[str, int]) -> None:
    plan = str(trail["plan"])
    assert _rows(session_factory, plan_id=trail["plan"]) == [
        ("update", "reminder", str(trail["reminder"])),
        ("export", "plan", plan), ("read", "plan", plan), ("create", "plan", plan),
        ("create", "conversation", "interview-1"),
    ]


def test_each_entry_names_who_did_it_their_school_and_the_detail(
        session_factory: sessionmaker[Session], staff: Staff, trail: dict[str, int]) -> None:
    with session_factory() as session:
        (entry,) = audit_trail(session, AuditFilter(plan_id=trail["plan"], action=AuditAction.READ))
    assert (entry.actor, entry.school, entry.detail) == ("ewo@derby-city.gov.uk", "Oak Primary", {"via": "la"})
    assert entry.at == _day(5)


def test_a_persons_actions_one_schools_one_kind_and_from_a_day_on(
        session_factory: sessionmaker[Session], staff: Staff, trail: dict[str, int]) -> None:
    plan, other = str(trail["plan"]), str(trail["other"])
    assert _rows(session_factory, actor_email=" DSL@oakprimary.sch.uk ") == [  # at the same time: last recorded first
        ("update", "reminder", str(trail["reminder"])),
        ("read", "plan", other), ("export", "plan", plan), ("sign_in", "user", str(staff.dsl_id))]
    assert _rows(session_factory, school_name="elm primary") == [("read", "plan", "99")]
    assert [r[0] for r in _rows(session_factory, action=AuditAction.SIGN_IN)] == ["sign_in"]
    assert len(_rows(session_factory, since=date(2026, 11, 6))) == 5
    assert len(_rows(session_factory, school_name="Oak Primary", since=date(2026, 11, 6), limit=2)) == 2
    assert len(_rows(session_factory, limit=0)) == 9


def test_since_is_a_day_in_england_summer_time_included(
        session_factory: sessionmaker[Session], staff: Staff) -> None:
    """Half past midnight on 1 July in England is 23:30 on 30 June in UTC."""
    with UnitOfWork(session_factory) as uow:
        for at in (datetime(2026, 6, 30, 22, 59, tzinfo=UTC), datetime(2026, 6, 30, 23, 30, tzinfo=UTC)):
            AuditRepository(uow.session).record("sign_in", "user", staff.dsl_id, actor_user_id=staff.dsl_id, at=at)
        uow.commit()
    with session_factory() as session:
        (entry,) = audit_trail(session, AuditFilter(since=date(2026, 7, 1)))
    assert entry.at == datetime(2026, 6, 30, 23, 30, tzinfo=UTC)


def test_an_unknown_plan_person_or_school_is_an_error_not_an_empty_trail(
        session_factory: sessionmaker[Session], trail: dict[str, int]) -> None:
    with pytest.raises(AuditTrailError, match="no plan 99999"):
        _rows(session_factory, plan_id=99999)
    assert _rows(session_factory, plan_id=99) == [("read", "plan", "99")]  # a plan no longer there keeps its trail
    with pytest.raises(AuditTrailError, match=r"no user 'nobody@oak\.sch\.uk'"):
        _rows(session_factory, actor_email="nobody@oak.sch.uk")
    with pytest.raises(AuditTrailError, match="no school 'Ash Primary'"):
        _rows(session_factory, school_name="Ash Primary")
