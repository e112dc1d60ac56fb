"""A new plan is written at once (storage.plan_writes), on SQLite and PostgreSQL: one statement
on PostgreSQL, and every row it is stored with reads back through the ORM as it was built."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from assistant.services import PupilDetails, create_plan
from assistant.services.conversations import SharedUnitOfWork
from storage.models import AuditLog, Consultation, Plan, PlanVersion, Pupil
from storage.plan_writes import NewPlan
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff, statements_run
from tests.integration.test_storage_plan_lifecycle import DERBY_CASE

NOW = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)


def _create(session: Session, staff: Staff, pupil: PupilDetails | int) -> Plan:
    return create_plan(SharedUnitOfWork(session), case=copy.deepcopy(DERBY_CASE), school_id=staff.school_id,
                       pupil=pupil, actor_user_id=staff.lead_id, now=NOW,
                       timetable={"written": {"review_dates": []}})


def test_a_new_plan_is_one_statement_on_postgresql_and_one_per_table_on_sqlite(
    engine: Engine, session_factory: sessionmaker[Session], staff: Staff, backend: str
) -> None:
    with session_factory() as session:
        connection = session.connection()  # the transaction's own statements are not the plan's
        if backend == "postgresql":
            with statements_run(engine) as run:
                _create(session, staff, PupilDetails("Jo", "Smith"))
        else:  # on SQLite the plan goes to the driver's cursor, beneath SQLAlchemy: ask sqlite3
            run = []
            driver_connection = connection.connection.driver_connection
            driver_connection.set_trace_callback(run.append)
            try:
                _create(session, staff, PupilDetails("Jo", "Smith"))
            finally:
                driver_connection.set_trace_callback(None)
        session.commit()
    if backend == "postgresql":
        assert len(run) == 1 and run[0].lstrip().startswith("WITH new_pupil AS")
    else:
        written = [statement.split()[2] for statement in run if statement.lstrip().upper().startswith("INSERT")]
        tables = ["pupils", "plans", "consultations", "reviews", "reminders", "plan_versions", "audit_log"]
        # executemany runs a table's statement once per row: one statement per table, in this order
        assert [table for n, table in enumerate(written) if n == 0 or written[n - 1] != table] == tables
        assert len(run) == len(written)  # nothing else: no SELECT, no flush of the unit of work


def test_a_new_plans_pupil_version_consultations_and_audit_row_read_back_as_built(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        plan = _create(session, staff, PupilDetails("Jo", "Smith", date_of_birth=date(2017, 5, 1)))
        session.commit()
        plan_id, pupil_id = plan.id, plan.pupil_id

    with session_factory() as session:
        pupil = session.get(Pupil, pupil_id)
        assert pupil is not None
        assert (pupil.first_name, pupil.last_name, pupil.date_of_birth, pupil.school_id) == (
            "Jo", "Smith", date(2017, 5, 1), staff.school_id)
        stored = session.get(Plan, plan_id)
        assert stored is not None and stored.timetable_json == {"written": {"review_dates": []}}
        (version,) = session.exec(select(PlanVersion).where(PlanVersion.plan_id == plan_id)).all()
        assert (version.version, version.changed_by, version.changed_at) == (1, staff.lead_id, NOW)
        assert version.change_summary == "Plan created (awaiting)."
        assert version.snapshot_json["status"] == "awaiting"
        assert version.snapshot_json["decision"] == stored.decision_json
        assert version.snapshot_json["start_date"] == "2026-03-02"
        consultations = session.exec(select(Consultation).where(Consultation.plan_id == plan_id)
                                     .order_by(col(Consultation.role))).all()
        assert [(c.role, c.requirement, c.status, c.created_at) for c in consultations] == [
            ("education_welfare", "consult", "consulted", NOW), ("virtual_school", "agree", "consulted", NOW)]
        (audit,) = session.exec(select(AuditLog).where(AuditLog.entity == "plan",
                                                       AuditLog.entity_id == str(plan_id))).all()
        assert (audit.action, audit.actor_user_id, audit.school_id, audit.at) == (
            "create", staff.lead_id, staff.school_id, NOW)
        assert audit.detail_json == {"summary": "Plan created (awaiting).", "outcome": "not_yet"}


def test_a_plan_for_a_pupil_on_the_roll_takes_that_pupil(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with UnitOfWork(session_factory) as uow:
        pupil = uow.pupils.add(Pupil(first_name="Sam", last_name="Lee", school_id=staff.school_id))
        uow.commit()
        pupil_id = pupil.id
    assert pupil_id is not None

    with session_factory() as session:
        plan = _create(session, staff, pupil_id)
        session.commit()
        assert plan.pupil_id == pupil_id
        assert session.exec(select(Pupil)).all() == [session.get(Pupil, pupil_id)]


def test_the_plan_returned_is_the_sessions_record_of_the_row_written(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        plan = _create(session, staff, PupilDetails("Jo", "Smith"))
        assert plan in session and plan.id is not None
        plan.closure_route = "noted in the same transaction"
        session.commit()
        plan_id = plan.id
    with session_factory() as session:
        assert [p.closure_route for p in session.exec(select(Plan)).all()] == ["noted in the same transaction"]
        assert session.get(Plan, plan_id) is not None


def test_a_new_plan_names_either_a_new_pupil_or_one_on_the_roll() -> None:
    rows = {"plan": {}, "consultations": [], "review_dates": [], "reminders": [], "version": {}, "audit": {}}
    with pytest.raises(ValueError, match="either"):
        NewPlan(pupil=None, pupil_id=None, **rows)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either"):
        NewPlan(pupil={"first_name": "Jo"}, pupil_id=3, **rows)  # type: ignore[arg-type]
