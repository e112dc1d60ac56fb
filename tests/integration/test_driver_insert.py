"""An INSERT on the driver's cursor (storage.driver) writes exactly what SQLAlchemy's Core
``insert()`` writes for the same row, on SQLite and PostgreSQL: dates, UTC timestamps, JSON,
booleans and the columns' Python-side defaults; and a driver error is SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from storage.driver import DriverInsert, driver_insert
from storage.models import AuditLog, Plan, Pupil, Reminder
from tests.integration.conftest import Staff

LONDON_SUMMER = timezone(timedelta(hours=1))
AT = datetime(2026, 7, 1, 0, 30, tzinfo=LONDON_SUMMER)  # 23:30 UTC the day before


def _plan_row(staff: Staff, pupil_id: int) -> dict[str, Any]:
    return {"school_id": staff.school_id, "pupil_id": pupil_id, "policy_id": "derby-city",
            "lead_user_id": staff.lead_id, "start_date": date(2026, 1, 12), "end_date": date(2026, 2, 13),
            "case_json": {"policy": "derby-city", "reasons": ["mental_health"], "é": [1.5, None, True]},
            "decision_json": {"outcome": "not_yet"}, "extended_beyond_maximum": True, "created_at": AT}


def _columns(row: object, names: list[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def test_a_row_inserted_on_the_driver_reads_back_as_one_inserted_by_core(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        pupil = {"first_name": "Jo", "last_name": "Smith", "date_of_birth": date(2017, 5, 1), "upn": None,
                 "school_id": staff.school_id}
        by_driver = driver_insert(Pupil.__table__, tuple(pupil), session.get_bind().dialect)  # type: ignore[attr-defined]
        pupil_id = by_driver.one(session, pupil)
        row = _plan_row(staff, pupil_id)
        plan_by_driver = driver_insert(Plan.__table__, tuple(row), session.get_bind().dialect)  # type: ignore[attr-defined]
        driver_id = plan_by_driver.one(session, row)
        core_id = session.execute(insert(Plan.__table__), row).inserted_primary_key[0]  # type: ignore[index, arg-type]
        session.commit()
    assert driver_id != core_id
    with session_factory() as session:
        by_driver_plan, by_core_plan = (session.get(Plan, plan_id) for plan_id in (driver_id, core_id))
        assert by_driver_plan is not None and by_core_plan is not None
        names = [c.name for c in Plan.__table__.columns if c.name not in ("id", "updated_at")]  # type: ignore[attr-defined]
        assert _columns(by_driver_plan, names) == _columns(by_core_plan, names)
        assert by_driver_plan.created_at == AT and by_driver_plan.created_at.tzinfo is not None
        assert by_driver_plan.case_json == row["case_json"] and by_driver_plan.extended_beyond_maximum is True
        assert (by_driver_plan.status, by_driver_plan.version) == ("draft", 1)  # the columns' defaults
        stored_pupil = session.get(Pupil, pupil_id)
        assert stored_pupil is not None and stored_pupil.date_of_birth == date(2017, 5, 1)


def test_rows_left_without_a_defaulted_column_get_its_default_each(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    before = datetime.now(UTC)
    with session_factory() as session:
        dialect = session.get_bind().dialect
        pupil_id = driver_insert(Pupil.__table__, ("first_name", "last_name", "school_id"), dialect).one(  # type: ignore[attr-defined]
            session, {"first_name": "Jo", "last_name": "Smith", "school_id": staff.school_id})
        plan_id = driver_insert(Plan.__table__, tuple(_plan_row(staff, pupil_id)), dialect).one(  # type: ignore[attr-defined]
            session, _plan_row(staff, pupil_id))
        rows = [{"plan_id": plan_id, "kind": "review_due", "due_at": AT + timedelta(days=n),
                 "idempotency_key": f"plan:{plan_id}:review:{n}", "recipient_role": "lead"} for n in range(3)]
        driver_insert(Reminder.__table__, tuple(rows[0]), dialect).many(session, rows)  # type: ignore[attr-defined]
        session.commit()
    with session_factory() as session:
        stored = session.exec(select(Reminder).where(Reminder.plan_id == plan_id).order_by(col(Reminder.id))).all()
    assert [r.idempotency_key for r in stored] == [row["idempotency_key"] for row in rows]
    assert [r.due_at for r in stored] == [row["due_at"] for row in rows]
    assert {(r.status, r.attempts, r.escalation_level, r.subject) for r in stored} == {("pending", 0, 0, "")}
    assert all(r.created_at >= before - timedelta(seconds=1) for r in stored)  # utcnow(), called for each row


def test_a_driver_error_comes_out_as_sqlalchemys_and_writes_nothing(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    row = {"at": AT, "actor_user_id": 999_999, "action": "read", "entity": "plan", "entity_id": "1",
           "school_id": staff.school_id, "detail_json": {"why": "a user who does not exist"}}
    with session_factory() as session:
        statement = driver_insert(AuditLog.__table__, tuple(row), session.get_bind().dialect)  # type: ignore[attr-defined]
        with pytest.raises(IntegrityError) as failure:
            statement.many(session, [row])
            session.flush()
            session.commit()  # SQLite checks this foreign key at once; PostgreSQL may at the statement's end
        assert "INSERT INTO audit_log" in str(failure.value)
        session.rollback()
    with session_factory() as session:
        assert session.exec(select(AuditLog).where(AuditLog.actor_user_id == 999_999)).all() == []


def test_an_insert_names_only_the_tables_columns(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, pytest.raises(ValueError, match="no column nickname"):
        DriverInsert(Pupil.__table__, ("first_name", "nickname"), session.get_bind().dialect)  # type: ignore[attr-defined]


def test_a_column_whose_default_is_sql_must_be_given(session_factory: sessionmaker[Session]) -> None:
    from sqlalchemy import Integer, MetaData, func

    table = Table("stamped", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", Integer, default=func.now()))
    dialect = session_factory().get_bind().dialect
    with pytest.raises(ValueError, match=r"stamped\.at's default is SQL"):
        DriverInsert(table, ("id",), dialect)
    assert DriverInsert(table, ("at",), dialect).sql.startswith("INSERT INTO stamped (at)")


def test_the_statement_is_built_once_per_table_columns_and_engine(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        dialect = session.get_bind().dialect
        first = driver_insert(Pupil.__table__, ("first_name", "last_name"), dialect)  # type: ignore[attr-defined]
        assert driver_insert(Pupil.__table__, ("first_name", "last_name"), dialect) is first  # type: ignore[attr-defined]
        assert driver_insert(Pupil.__table__, ("last_name", "first_name"), dialect) is not first  # type: ignore[attr-defined]
