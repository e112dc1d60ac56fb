"""Unit of work: one transaction, the repositories that share it."""

from __future__ import annotations

from types import TracebackType

from sqlmodel import Session

from storage.db import SessionFactory
from storage.repositories import (
    AuditRepository,
    DirectoryRepository,
    PlanRepository,
    PupilRepository,
    ReminderRepository,
)


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — nothing is written unless committed.

    The same object can be entered again later; each ``with`` block opens a new
    session (and, on SQLite, a write transaction on first use).
    """

    session: Session
    directory: DirectoryRepository
    pupils: PupilRepository
    plans: PlanRepository
    reminders: ReminderRepository
    audit: AuditRepository

    def __init__(self, session_factory: SessionFactory) -> None:
        self.session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self.session_factory()
        self.directory = DirectoryRepository(self.session)
        self.pupils = PupilRepository(self.session)
        self.plans = PlanRepository(self.session)
        self.reminders = ReminderRepository(self.session)
        self.audit = AuditRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing discards anything not committed. Without an error, objects read in the
        # block stay readable afterwards (a rollback would expire them first).
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def as_unit_of_work(uow_or_factory: UnitOfWork | SessionFactory) -> UnitOfWork:
    """Accept either a unit of work or a session factory."""
    if isinstance(uow_or_factory, UnitOfWork):
        return uow_or_factory
    return UnitOfWork(uow_or_factory)
