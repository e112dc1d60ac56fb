"""Repositories: optimistic locking, tokens, answers, audit, reminder keys."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from storage.errors import ConflictError
from storage.models import ApiToken, Plan, Pupil, Reminder
from storage.repositories import hash_token
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff

NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def _plan(session_factory: sessionmaker[Session], staff: Staff) -> int:
    with UnitOfWork(session_factory) as uow:
        pupil = uow.pupils.add(Pupil(first_name="Jo", last_name="Smith", school_id=staff.school_id,
                                     date_of_birth=date(2016, 5, 1)))
        plan = uow.plans.add(Plan(school_id=staff.school_id, pupil_id=pupil.id,
                                  policy_id="derby-city", case_json={"policy": "derby-city"}))
        uow.commit()
        return plan.id


def test_saving_a_plan_bumps_its_version(session_factory: sessionmaker[Session],
                                        staff: Staff) -> None:
    plan_id = _plan(session_factory, staff)
    with UnitOfWork(session_factory) as uow:
        plan = uow.plans.get(plan_id, for_update=True)
        plan.status = "awaiting"
        uow.plans.save(plan, expected_version=1)
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        plan = uow.plans.get(plan_id)
        assert (plan.version, plan.status) == (2, "awaiting")


def test_a_stale_plan_update_is_refused_with_a_message_a_person_understands(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    with UnitOfWork(session_factory) as uow:
        plan = uow.plans.get(plan_id)
        plan.status = "active"
        with pytest.raises(ConflictError) as caught:
            uow.plans.save(plan, expected_version=7)
    assert str(caught.value) == ("This plan was changed by someone else a moment ago; "
                                 "reload to see their change.")
    with UnitOfWork(session_factory) as uow:
        assert uow.plans.get(plan_id).status == "draft"


def test_of_two_people_saving_the_same_plan_version_one_wins_and_one_is_told(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    both_loaded = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def edit(status: str) -> None:
        # Each loads version 1 without a lock, as a web form would, then saves.
        with UnitOfWork(session_factory) as uow:
            seen = uow.plans.get(plan_id).version
            uow.session.commit()
            both_loaded.wait()
            try:
                plan = uow.plans.get(plan_id)
                plan.status = status
                uow.plans.save(plan, expected_version=seen)
                uow.commit()
                outcomes.append("saved")
            except ConflictError:
                outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(s,)) for s in ("awaiting", "active")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    with UnitOfWork(session_factory) as uow:
        assert uow.plans.get(plan_id).version == 2


def test_api_tokens_are_stored_only_as_a_hash_and_find_their_user(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    with UnitOfWork(session_factory) as uow:
        token = uow.directory.issue_token(staff.lead_id)
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        stored = uow.session.exec(select(ApiToken)).one()
        assert stored.token_hash == hash_token(token) != token
        assert uow.directory.user_for_token(token, now=NOW).id == staff.lead_id
        assert uow.directory.user_for_token("not-a-token") is None
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        assert uow.session.exec(select(ApiToken)).one().last_used_at == NOW
        uow.directory.revoke_tokens(staff.lead_id)
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        assert uow.directory.user_for_token(token) is None


def test_users_are_unique_by_email_and_updated_in_place(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    with UnitOfWork(session_factory) as uow:
        again = uow.directory.upsert_user("LEAD@oakprimary.sch.uk ", "headteacher")
        uow.commit()
    assert again.id == staff.lead_id and again.role == "headteacher"
    with UnitOfWork(session_factory) as uow, pytest.raises(ValueError):
        uow.directory.upsert_user("x@y.z", "janitor")


def test_the_audit_log_records_who_did_what_to_which_entity(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    with UnitOfWork(session_factory) as uow:
        uow.audit.record("export", "plan", 42, actor_user_id=staff.dsl_id,
                         school_id=staff.school_id, detail={"format": "pdf"})
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        (row,) = uow.audit.for_entity("plan", 42)
    assert (row.action, row.actor_user_id, row.detail_json) == ("export", staff.dsl_id,
                                                                {"format": "pdf"})


def test_a_reminder_idempotency_key_exists_once_in_the_database(
    session_factory: sessionmaker[Session],
) -> None:
    with UnitOfWork(session_factory) as uow:
        uow.session.add(Reminder(kind="review_due", due_at=NOW, idempotency_key="k1"))
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        uow.session.add(Reminder(kind="review_due", due_at=NOW, idempotency_key="k1"))
        with pytest.raises(IntegrityError):
            uow.commit()


def test_scheduling_a_reminder_twice_keeps_one_row_and_revives_a_cancelled_one(
    session_factory: sessionmaker[Session],
) -> None:
    row = {"kind": "review_due", "subject": "2026-01-23", "due_at": NOW,
           "idempotency_key": "plan:1:review_due:2026-01-23", "status": "pending"}
    with UnitOfWork(session_factory) as uow:
        assert uow.reminders.schedule([row]) == 1
        assert uow.reminders.schedule([row]) == 0
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        reminder = uow.session.exec(select(Reminder)).one()
        reminder.status = "cancelled"
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        assert uow.reminders.schedule([row]) == 1
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        assert [r.status for r in uow.session.exec(select(Reminder))] == ["pending"]
