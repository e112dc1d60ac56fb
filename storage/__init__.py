"""Storage: SQLModel tables, engine and sessions, repositories, unit of work, the reminder
queue and the Alembic migrations (``storage.migrate.upgrade(url)``).

    from storage.db import make_engine, make_session_factory
    from storage.uow import UnitOfWork
"""
