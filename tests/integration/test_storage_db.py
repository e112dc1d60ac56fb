"""Engine set-up: SQLite pragmas and BEGIN IMMEDIATE, URLs, UTC datetimes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from assistant.services.conversations import begin_reading, begin_writing
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


def _traced_sqlite_engine(tmp_path: Path) -> tuple[Engine, list[str]]:
    """An SQLite engine and the SQL its connections send to SQLite itself."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sent: list[str] = []
    event.listen(engine, "connect", lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(sent.append))
    return engine, sent


def test_sqlite_write_transactions_begin_immediate_and_reads_may_defer(tmp_path: Path) -> None:
    engine, sent = _traced_sqlite_engine(tmp_path)
    with make_session_factory(engine)() as session:
        session.execute(text("SELECT 1"))
    with make_read_only_session_factory(engine)() as session:
        session.execute(text("SELECT 1"))
    assert "BEGIN IMMEDIATE" in sent
    assert "BEGIN" in sent
    engine.dispose()


def test_a_read_transaction_becomes_a_write_transaction_and_commits_what_it_writes(tmp_path: Path) -> None:
    engine, sent = _traced_sqlite_engine(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'x.db'}")
    with make_session_factory(engine)() as session:
        begin_reading(session)
        assert session.execute(text("SELECT count(*) FROM schools")).scalar() == 0
        sent.clear()
        begin_writing(session)
        begin_writing(session)  # once is enough
        session.add(School(name="Upgraded School"))
        session.commit()
    assert [s for s in sent if s in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")] == ["COMMIT", "BEGIN IMMEDIATE", "COMMIT"]
    with make_session_factory(engine)() as session:
        assert session.exec(select(School.name)).all() == ["Upgraded School"]
        begin_writing(session)  # not reading: nothing to upgrade
    engine.dispose()


@contextmanager
def _another_writer_holding_the_lock(path: Path) -> Iterator[threading.Event]:
    """Another process's writer, as SQLite sees it: a connection of its own holding the write
    lock until the event yielded is set (or the block ends)."""
    released, holding = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            holding.set()
            released.wait(10)
            other.execute("COMMIT")
        finally:
            other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        yield released
    finally:
        released.set()
        holder.join()


def _migrated_sqlite_engine(tmp_path: Path) -> tuple[Path, Engine]:
    path = tmp_path / "x.db"
    upgrade(f"sqlite:///{path}")
    return path, make_engine(f"sqlite:///{path}")


def test_a_writer_waits_for_the_sqlite_write_lock_in_short_pauses_and_then_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, long after a request's
    sub-millisecond hold is over; the write transaction's BEGIN waits in pauses of at most 1 ms."""
    import storage.db

    path, engine = _migrated_sqlite_engine(tmp_path)
    pauses: list[float] = []
    real_sleep = storage.db.time.sleep
    with _another_writer_holding_the_lock(path) as released:

        def pause(seconds: float) -> None:
            pauses.append(seconds)
            if len(pauses) == 5:
                released.set()  # the other writer commits while we wait
            real_sleep(seconds)

        monkeypatch.setattr(storage.db.time, "sleep", pause)
        with make_session_factory(engine)() as session:
            session.add(School(name="Written after waiting"))
            session.commit()
            # SQLite's busy timeout is back for every other statement.
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == storage.db.SQLITE_BUSY_TIMEOUT_MS
    assert len(pauses) >= 5 and max(pauses) <= 0.001
    with make_session_factory(engine)() as session:
        assert session.exec(select(School.name)).all() == ["Written after waiting"]
    engine.dispose()


def test_a_writer_gives_up_on_the_sqlite_write_lock_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import storage.db

    path, engine = _migrated_sqlite_engine(tmp_path)
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 50)
    with _another_writer_holding_the_lock(path), make_session_factory(engine)() as session:
        session.add(School(name="Never written"))
        with pytest.raises(OperationalError, match="database is locked"):
            session.commit()
    engine.dispose()


class _DriverConnection:
    """Stands in for sqlite3's connection: its BEGIN IMMEDIATE fails with the given errors first."""

    def __init__(self, *failures: sqlite3.OperationalError) -> None:
        self.failures = list(failures)
        self.sent: list[str] = []

    def execute(self, sql: str) -> None:
        self.sent.append(sql)
        if sql == "BEGIN IMMEDIATE" and self.failures:
            raise self.failures.pop(0)


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def test_every_kind_of_busy_is_waited_for_and_the_busy_timeout_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite reports busy with extended codes too (SQLITE_BUSY_RECOVERY while another
    connection recovers the WAL, SQLITE_BUSY_SNAPSHOT): all are worth waiting for."""
    import storage.db

    monkeypatch.setattr(storage.db.time, "sleep", lambda _seconds: None)
    driver = _DriverConnection(_sqlite_error("database is locked", sqlite3.SQLITE_BUSY),
                               _sqlite_error("database is locked", 261),  # SQLITE_BUSY_RECOVERY
                               _sqlite_error("database is locked", 517))  # SQLITE_BUSY_SNAPSHOT
    storage.db._begin_immediate(SimpleNamespace(connection=SimpleNamespace(driver_connection=driver)))  # type: ignore[arg-type]
    assert driver.sent == ["PRAGMA busy_timeout=0", *["BEGIN IMMEDIATE"] * 4,
                           f"PRAGMA busy_timeout={storage.db.SQLITE_BUSY_TIMEOUT_MS}"]


def test_another_failure_to_begin_is_reported_at_once_with_the_busy_timeout_put_back() -> None:
    from sqlalchemy.exc import OperationalError

    import storage.db

    driver = _DriverConnection(_sqlite_error("disk I/O error", 10))  # SQLITE_IOERR
    with pytest.raises(OperationalError, match="disk I/O error"):
        storage.db._begin_immediate(SimpleNamespace(connection=SimpleNamespace(driver_connection=driver)))  # type: ignore[arg-type]
    assert driver.sent == ["PRAGMA busy_timeout=0", "BEGIN IMMEDIATE",
                           f"PRAGMA busy_timeout={storage.db.SQLITE_BUSY_TIMEOUT_MS}"]


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


@pytest.mark.postgres
def test_a_postgres_connection_dropped_while_idle_is_replaced_before_use(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection the server has ended (a restart, an idle timeout) is found by the
    check made after idleness, and the request gets a fresh one instead of an error."""
    import psycopg

    import storage.db

    engine = make_engine(postgres_database)
    try:
        with engine.connect() as connection:
            dropped_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(postgres_database.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as other:  # ends the pooled connection, now idle
            other.execute("SELECT pg_terminate_backend(%s)", (dropped_pid,))
        monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != dropped_pid
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_connection_used_a_moment_ago_is_not_pinged(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    statements: list[str] = []
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *a: statements.append(statement))
        pings = []
        original = engine.dialect.do_ping
        engine.dialect.do_ping = lambda dbapi_connection: pings.append(1) or original(dbapi_connection)  # type: ignore[method-assign]
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 2")
        assert pings == [] and statements == ["SELECT 2"]
    finally:
        engine.dispose()


def _schools(session_factory: sessionmaker[Session]) -> list[str]:
    """The schools another request would see now (a read: on SQLite it waits for no writer)."""
    with make_read_only_session_factory(session_factory.kw["bind"])() as session:
        return sorted(session.exec(select(School.name)).all())


def _add_school(session: Session, name: str) -> None:
    session.execute(text("INSERT INTO schools (name) VALUES (:name)"), {"name": name})


def test_reads_outside_a_transaction_then_a_one_statement_write_commits_by_itself_on_postgres(
    session_factory: sessionmaker[Session], backend: str
) -> None:
    """On PostgreSQL a request of a conversation reads outside a transaction and its one write
    commits by itself (no BEGIN, no COMMIT); on SQLite it is a deferred read as ever."""
    with session_factory() as session:
        begin_reading(session, outside_transaction=True)
        assert session.exec(select(School)).all() == []
        begin_writing(session, one_statement=True)
        _add_school(session, "Oak Primary")
        if backend == "postgresql":
            assert _schools(session_factory) == ["Oak Primary"]  # seen elsewhere before any commit
        session.commit()
    assert _schools(session_factory) == ["Oak Primary"]


def test_writes_after_reads_outside_a_transaction_are_one_transaction_again(
    session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        begin_reading(session, outside_transaction=True)
        assert session.exec(select(School)).all() == []
        begin_writing(session)
        _add_school(session, "Oak Primary")
        _add_school(session, "Elm Primary")
        assert _schools(session_factory) == []  # nothing is seen before the commit…
        session.rollback()
    assert _schools(session_factory) == []  # …and nothing was written


def test_a_connection_that_read_outside_a_transaction_goes_back_to_the_pool_transactional(
    session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        begin_reading(session, outside_transaction=True)
        session.exec(select(School)).all()
    with session_factory() as session:  # the pool's only idle connection: the same one
        _add_school(session, "Oak Primary")
        session.rollback()
    assert _schools(session_factory) == []
