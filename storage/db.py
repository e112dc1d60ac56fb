"""Engine and session set-up.

SQLite is the default (a file ``ptt.db`` in the working directory); PostgreSQL is used
when ``DATABASE_URL`` says so. On SQLite every connection gets WAL journalling, a busy
timeout and foreign keys, and write transactions start with ``BEGIN IMMEDIATE``: the
pysqlite driver's own deferred ``BEGIN`` takes the write lock only at the first write,
so two read-modify-write transactions can interleave and one update is lost or fails
with "database is locked". Following the SQLAlchemy documentation for pysqlite, the
driver's transaction handling is switched off (``isolation_level = None``) and the
``begin`` event emits the BEGIN itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

DEFAULT_DATABASE_URL = "sqlite:///ptt.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option: on SQLite, start this engine's transactions with a plain
#: (deferred) BEGIN instead of BEGIN IMMEDIATE. For read-only work only.
SQLITE_READ_ONLY = "ptt_sqlite_read_only"

SessionFactory = Callable[[], Session]


def database_url_from_env(environ: dict[str, str] | None = None) -> str:
    """``DATABASE_URL`` from the environment, or the SQLite file in the working dir."""
    env = os.environ if environ is None else environ
    return normalise_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def normalise_database_url(url: str) -> str:
    """Rewrite ``postgresql://`` / ``postgres://`` to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url_or_engine: str | Engine) -> bool:
    if isinstance(url_or_engine, Engine):
        return url_or_engine.dialect.name == "sqlite"
    return make_url(normalise_database_url(url_or_engine)).get_backend_name() == "sqlite"


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (several times faster than ``json`` on a conversation's
    state, which every answer rewrites), with the same output for what we store: keys made
    strings, anything else unusual left to ``json``'s rules."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default: ``DATABASE_URL`` or ``sqlite:///ptt.db``).

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    url = normalise_database_url(url) if url else database_url_from_env()
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if is_sqlite(url):
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(SQLITE_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A factory of SQLModel sessions; objects stay usable after commit."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


def make_read_only_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-only work: on SQLite they do not take the write lock."""
    return sessionmaker(
        bind=engine.execution_options(**{SQLITE_READ_ONLY: True}),
        class_=Session,
        expire_on_commit=False,
    )
