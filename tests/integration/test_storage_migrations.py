"""The Alembic migrations are the source of the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from storage.migrate import current_revision, downgrade, head_revision, upgrade


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
