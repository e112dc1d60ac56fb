"""Engine set-up: SQLite pragmas and BEGIN IMMEDIATE, URLs, UTC datetimes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from storage.db import (
    database_url_from_env,
    make_engine,
    make_read_only_session_factory,
    make_session_factory,
    normalise_database_url,
)
from storage.migrate import upgrade
from storage.models import AuditLog, Plan, Pupil, School


def test_postgres_urls_are_rewritten_to_the_psycopg_driver() -> None:
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_default_database_is_an_sqlite_file_in_the_working_directory() -> None:
    assert database_url_from_env({}) == "sqlite:///ptt.db"
    assert database_url_from_env({"DATABASE_URL": "postgresql://h/d"}) == "postgresql+psycopg://h/d"


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_sqlite_write_transactions_begin_immediate_and_reads_may_defer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: statements.append(statement))
    with make_session_factory(engine)() as session:
        session.execute(text("SELECT 1"))
    with make_read_only_session_factory(engine)() as session:
        session.execute(text("SELECT 1"))
    assert "BEGIN IMMEDIATE" in statements
    assert "BEGIN" in statements
    engine.dispose()


def test_concurrent_read_modify_write_transactions_lose_no_update(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """With a deferred BEGIN two SQLite writers both read the old value; one update is lost
    or fails with 'database is locked'. BEGIN IMMEDIATE (and row locks on PostgreSQL)
    serialise them."""
    with session_factory() as session:
        school = School(name="Counter School")
        session.add(school)
        session.commit()
        school_id = school.id
    threads, per_thread = 4, 15
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(per_thread):
                with session_factory() as session:
                    query = select(School).where(School.id == school_id).with_for_update()
                    row = session.exec(query).one()
                    row.name = str(int(row.name) + 1) if row.name.isdigit() else "1"
                    session.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    with session_factory() as session:
        assert session.get(School, school_id).name == str(threads * per_thread)


def test_datetimes_are_stored_in_utc_and_come_back_timezone_aware(
    session_factory: sessionmaker[Session],
) -> None:
    london_summer = timezone(timedelta(hours=1))
    moment = datetime(2026, 6, 1, 9, 30, tzinfo=london_summer)
    with session_factory() as session:
        session.add(AuditLog(at=moment, action="read", entity="test"))
        session.commit()
    with session_factory() as session:
        row = session.exec(select(AuditLog)).one()
        assert row.at.tzinfo is not None
        assert row.at.utcoffset() == timedelta(0)
        assert row.at == datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
        later = session.exec(
            select(AuditLog).where(AuditLog.at > datetime(2026, 6, 1, 8, 0, tzinfo=UTC))).all()
        assert len(later) == 1


def test_a_naive_datetime_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(AuditLog(at=datetime(2026, 6, 1, 9, 30), action="read", entity="test"))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_foreign_keys_are_enforced(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Pupil(first_name="A", last_name="B", school_id=999))
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            session.commit()


def test_a_fresh_sqlite_file_can_be_migrated_and_used_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        assert session.exec(select(Plan)).all() == []
    engine.dispose()
