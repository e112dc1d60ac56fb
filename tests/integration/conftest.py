"""Database fixtures: every storage test runs on SQLite (a temporary file) and on
PostgreSQL (127.0.0.1:5432, user postgres, trust auth).

For PostgreSQL, one uniquely named database (``ptt_test_<random>``) is created per test
session through the ``test`` database and dropped at the end, so sessions running at the
same time never share one. Each test starts from empty tables. When the server cannot be
reached the PostgreSQL tests are skipped with a message, unless ``CI`` is set, where
that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel

from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade

PG_SERVER = os.environ.get("PTT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_ADMIN_DATABASE = "test"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    import psycopg

    try:
        admin = psycopg.connect(f"{PG_SERVER}/{PG_ADMIN_DATABASE}", autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as error:
        message = (f"PostgreSQL is not reachable at {PG_SERVER}/{PG_ADMIN_DATABASE} "
                   f"({str(error).strip().splitlines()[0]}); PostgreSQL tests skipped. "
                   "Start the server (or set CI=true to make this a failure).")
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    name = f"ptt_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
            upgrade(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database (SQLite file or PostgreSQL)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ptt.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_database")
    _empty_postgres_tables(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


class Staff:
    """Ids of a seeded LA, school and its people."""

    def __init__(self, la_id: int, school_id: int, lead_id: int, dsl_id: int, ewo_id: int) -> None:
        self.la_id = la_id
        self.school_id = school_id
        self.lead_id = lead_id
        self.dsl_id = dsl_id
        self.ewo_id = ewo_id


def seed_staff(session_factory: sessionmaker[Session], policy_id: str = "derby-city",
               school_name: str = "Oak Primary") -> Staff:
    from storage.uow import UnitOfWork

    with UnitOfWork(session_factory) as uow:
        la = uow.directory.get_or_create_la(policy_id, policy_id.replace("-", " ").title())
        school = uow.directory.get_or_create_school(school_name, la.id)
        slug = school_name.lower().replace(" ", "")
        lead = uow.directory.upsert_user(f"lead@{slug}.sch.uk", "staff", school_id=school.id,
                                         display_name="Lee Lead")
        dsl = uow.directory.upsert_user(f"dsl@{slug}.sch.uk", "dsl", school_id=school.id,
                                        display_name="Dee Dsl")
        ewo = uow.directory.upsert_user(f"ewo@{policy_id}.gov.uk", "ewo", la_id=la.id,
                                        display_name="Eve Ewo")
        uow.commit()
        return Staff(la.id, school.id, lead.id, dsl.id, ewo.id)


@pytest.fixture
def staff(session_factory: sessionmaker[Session]) -> Staff:
    """A Derby City school with a lead member of staff, a DSL and the LA's EWO."""
    return seed_staff(session_factory)


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs, in order."""
    run: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        run.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield run
    finally:
        event.remove(engine, "before_cursor_execute", note)
