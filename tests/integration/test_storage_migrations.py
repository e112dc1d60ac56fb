"""The Alembic migrations are the source of the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel

from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import AuditAction


def test_upgrade_builds_every_table_from_an_empty_database(db_url: str, engine: Engine) -> None:
    downgrade(db_url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    engine.dispose()
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables
    assert current_revision(db_url) == head_revision()


def test_upgrading_a_database_already_at_head_changes_nothing(db_url: str) -> None:
    before = current_revision(db_url)
    upgrade(db_url)
    assert current_revision(db_url) == before == head_revision()


def test_the_table_classes_match_what_the_migrations_build(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_reminders_have_the_indexes_the_sweeper_relies_on(engine: Engine) -> None:
    indexes = {tuple(i["column_names"]) for i in inspect(engine).get_indexes("reminders")}
    assert ("status", "due_at") in indexes
    assert ("escalate_at",) in indexes
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("reminders")}
    assert ("idempotency_key",) in uniques | indexes


def test_existing_transcripts_move_to_their_own_rows_and_back(db_url: str, engine: Engine) -> None:
    """0005 takes each conversation's transcript out of its state into conversation_lines."""
    from sqlalchemy import text

    old_lines = [{"speaker": "assistant", "text": "Which year group?"}, {"speaker": "user", "text": "Y5"}]
    downgrade(db_url, "0004")
    engine.dispose()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversations (id, policy_id, state_json, version, finished, created_at, updated_at) "
            "VALUES ('c-1', 'derby-city', :state, 1, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"state": json.dumps({"phase": "checklist", "transcript": old_lines})})
    upgrade(db_url)
    engine.dispose()
    with engine.connect() as connection:
        state = _state(connection)
        moved = [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in connection.execute(
            text("SELECT entry_json FROM conversation_lines WHERE conversation_id = 'c-1' ORDER BY seq"))]
    assert moved == old_lines and state == {"phase": "checklist", "lines": 2}
    downgrade(db_url, "0004")
    engine.dispose()
    with engine.connect() as connection:
        assert _state(connection) == {"phase": "checklist", "transcript": old_lines}
    upgrade(db_url)


def _state(connection: Any) -> Any:
    from sqlalchemy import text

    value = connection.execute(text("SELECT state_json FROM conversations WHERE id = 'c-1'")).scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_slack_tables_the_slack_app_made_itself_are_adopted_as_they_are(db_url: str, engine: Engine) -> None:
    """Before 0006 the Slack app created its own two tables when it started; upgrading such a
    database keeps them and what is in them."""
    from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, text

    downgrade(db_url, "0005")
    engine.dispose()
    assert not {"slack_receipts", "slack_threads"} & set(inspect(engine).get_table_names())
    made_by_the_slack_app = MetaData()  # the old definitions, in their own metadata (default names)
    Table("slack_receipts", made_by_the_slack_app, Column("key", String(255), primary_key=True),
          Column("received_at", DateTime(timezone=True), nullable=False))
    Table("slack_threads", made_by_the_slack_app, Column("conversation_id", String(36), primary_key=True),
          Column("slack_user_id", String(64), nullable=False, index=True),
          Column("channel_id", String(64), nullable=False),
          Column("thread_ts", String(32), nullable=False, index=True),
          Column("decision_posted", Boolean, nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False))
    made_by_the_slack_app.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO slack_receipts (key, received_at) VALUES ('event:Ev1', CURRENT_TIMESTAMP)"))

    upgrade(db_url)
    engine.dispose()

    assert current_revision(db_url) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT key FROM slack_receipts")).scalars().all() == ["event:Ev1"]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_the_audit_log_takes_sign_ins_and_still_refuses_unknown_actions(db_url: str, engine: Engine) -> None:
    """0007 lets sign-ins and sign-outs into the audit log; going back takes them out again."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    def record(action: str) -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO audit_log (at, action, entity) VALUES (CURRENT_TIMESTAMP, :action, "
                                    "'user')"), {"action": action})

    for action in AuditAction:
        record(action.value)
    with pytest.raises(IntegrityError):
        record("peek")
    downgrade(db_url, "0006")
    engine.dispose()
    with engine.connect() as connection:
        left = sorted(connection.execute(text("SELECT action FROM audit_log")).scalars())
    assert left == sorted(a.value for a in AuditAction if a not in (AuditAction.SIGN_IN, AuditAction.SIGN_OUT))
    with pytest.raises(IntegrityError):
        record("sign_in")
    upgrade(db_url)


def _oak_primary(connection: Connection) -> int:
    """A school (in its LA) in a database at an older revision, by hand: the models are at head."""
    from sqlalchemy import text

    connection.execute(text("INSERT INTO local_authorities (name, policy_id, closures_json) "
                            "VALUES ('Derby City', 'derby-city', '[]')"))
    la_id = connection.execute(text("SELECT id FROM local_authorities")).scalar()
    connection.execute(text("INSERT INTO schools (name, la_id) VALUES ('Oak Primary', :la)"), {"la": la_id})
    school_id = connection.execute(text("SELECT id FROM schools")).scalar()
    assert school_id is not None
    return int(school_id)


def test_existing_conversations_take_the_school_their_creation_was_audited_with(db_url: str, engine: Engine) -> None:
    """0009 gives each conversation the school of its user when it began."""
    from sqlalchemy import text

    downgrade(db_url, "0008")
    engine.dispose()
    with engine.begin() as connection:
        school_id = _oak_primary(connection)
        for conversation_id, audited_school in (("c-oak", school_id), ("c-none", None)):
            connection.execute(text(
                "INSERT INTO conversations (id, policy_id, state_json, version, finished, created_at, updated_at) "
                "VALUES (:id, 'derby-city', '{}', 1, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": conversation_id})
            connection.execute(text(
                "INSERT INTO audit_log (at, action, entity, entity_id, school_id) "
                "VALUES (CURRENT_TIMESTAMP, 'create', 'conversation', :id, :school)"),
                {"id": conversation_id, "school": audited_school})
    upgrade(db_url)
    engine.dispose()
    with engine.connect() as connection:
        schools = dict(connection.execute(text("SELECT id, school_id FROM conversations")).all())
    assert schools == {"c-oak": school_id, "c-none": None}


def test_existing_conversations_begun_outside_a_school_take_their_users_la(db_url: str, engine: Engine) -> None:
    """0012 gives each conversation begun outside any school (an EWO's) the LA it began in: its
    user's; a school's conversation has its school to tell by."""
    from sqlalchemy import text

    downgrade(db_url, "0011")
    engine.dispose()
    with engine.begin() as connection:
        school_id = _oak_primary(connection)
        la_id = connection.execute(text("SELECT la_id FROM schools WHERE id = :s"), {"s": school_id}).scalar()
        connection.execute(text("INSERT INTO users (email, role, la_id, display_name, created_at) "
                                "VALUES ('ewo@derby.example', 'ewo', :la, '', CURRENT_TIMESTAMP)"), {"la": la_id})
        ewo_id = connection.execute(text("SELECT id FROM users")).scalar()
        for conversation_id, user_id, school in (("c-oak", None, school_id), ("c-ewo", ewo_id, None),
                                                 ("c-nobody", None, None)):
            connection.execute(text(
                "INSERT INTO conversations (id, user_id, policy_id, state_json, version, finished, created_at, "
                "updated_at, school_id) VALUES (:id, :user, 'derby-city', '{}', 1, false, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, :school)"), {"id": conversation_id, "user": user_id, "school": school})
    upgrade(db_url)
    engine.dispose()
    with engine.connect() as connection:
        las = dict(connection.execute(text("SELECT id, la_id FROM conversations")).all())
    assert las == {"c-oak": None, "c-ewo": la_id, "c-nobody": None}


def _plan_row(connection: Connection, school_id: int, **columns: Any) -> None:
    """A plan (and its pupil) in a database at an older revision, by hand."""
    from sqlalchemy import text

    connection.execute(text("INSERT INTO pupils (first_name, last_name, school_id) VALUES ('Jo', 'Smith', :s)"),
                       {"s": school_id})
    pupil_id = connection.execute(text("SELECT max(id) FROM pupils")).scalar()
    values = {"status": "active", "closed_at": None, "timetable_json": None, **columns}
    connection.execute(text(
        "INSERT INTO plans (school_id, pupil_id, policy_id, status, case_json, version, extended_beyond_maximum, "
        "created_at, updated_at, closed_at, timetable_json) VALUES (:school, :pupil, 'derby-city', :status, '{}', "
        "1, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :closed_at, :timetable_json)"),
        {"school": school_id, "pupil": pupil_id, **values})


def test_a_timetable_stored_bare_is_wrapped_and_others_are_left_as_they_are(db_url: str, engine: Engine) -> None:
    """0011 stores every plan's timetable as {"timetable": …}."""
    from sqlalchemy import text

    bare = {"start": "2026-01-12", "weeks": [{"week_beginning": "2026-01-12"}]}
    wrapped = {"timetable": bare, "written": {"named_lead": "Ms Patel"}}
    downgrade(db_url, "0010")
    engine.dispose()
    with engine.begin() as connection:
        school_id = _oak_primary(connection)
        for stored in (bare, wrapped, None):
            _plan_row(connection, school_id, timetable_json=json.dumps(stored) if stored else None)
    upgrade(db_url)
    engine.dispose()
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT timetable_json FROM plans ORDER BY id")).scalars().all()
    as_read = [json.loads(row) if isinstance(row, str) else row for row in rows]
    assert as_read == [{"timetable": bare}, wrapped, None]


def test_existing_closed_plans_take_the_day_their_closure_was_recorded(db_url: str, engine: Engine) -> None:
    """0010 gives each closed plan a closure day: the day ``closed_at`` records, in London."""
    from sqlalchemy import text

    downgrade(db_url, "0009")
    engine.dispose()
    with engine.begin() as connection:
        school_id = _oak_primary(connection)
        for status, closed_at in (("closed", "2026-11-27 16:45:00+00:00"), ("active", None),
                                  ("closed", "2026-06-26 23:30:00+00:00")):  # 00:30 in London, summer time
            _plan_row(connection, school_id, status=status, closed_at=closed_at)
    upgrade(db_url)
    engine.dispose()
    with engine.connect() as connection:
        closed_on = connection.execute(text("SELECT closed_on FROM plans ORDER BY id")).scalars().all()
    assert [str(day) if day else None for day in closed_on] == ["2026-11-27", None, "2026-06-27"]
