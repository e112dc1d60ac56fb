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

import itertools
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, make_url
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
    if kwargs.get("pool_pre_ping"):
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    _ping_idle_connections(engine)
    return engine


#: A pooled connection idle for longer than this is checked before use (seconds).
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle a while: the server may have
    restarted or dropped it since, and the request would fail. SQLAlchemy's ``pool_pre_ping``
    checks on every checkout, which costs a round trip to the server per request (a tenth of
    a conversation turn's time); a connection used a moment ago is checked by that use. A
    connection that fails the check is replaced. A disconnect found later by a statement
    invalidates the pool, as ever, or, for a turn's statements on the driver's cursor
    (:mod:`storage.turns`), that connection."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["ptt_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("ptt_idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error  # the pool replaces it and tries again
            raise


def sqlite_file(url: str | URL) -> Path | None:
    """The file an SQLite database URL names; None for another database, or one in memory.
    Understands ``file:`` URIs (``sqlite:///file:ptt.db?mode=rwc&uri=true``) as SQLite does."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if database and database.startswith("file:"):
        path, _, query = database.removeprefix("file:").partition("?")
        if "mode=memory" in query or parsed.query.get("mode") == "memory":
            return None
        database = unquote(path)
    if not database or database == ":memory:":
        return None
    return Path(database)


def _configure_sqlite(engine: Engine) -> None:
    in_memory = sqlite_file(engine.url) is None

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
        # Straight to the driver: a BEGIN needs none of SQLAlchemy's statement machinery
        # (which costs more than the BEGIN, twice on every request).
        if connection.get_execution_options().get(SQLITE_READ_ONLY):
            _driver_execute(connection, "BEGIN")
        else:
            _begin_immediate(connection)


#: Pauses between attempts at SQLite's write lock (seconds), the last repeated until the busy
#: timeout. SQLite's own busy handler sleeps 1, 2, 5, 10… ms between attempts; a request holds
#: the lock for a fraction of a millisecond, so under load a waiting worker slept on long after
#: the lock was free (15% of the web app's writes waited; their 90th percentile was a whole
#: 1.1 ms, the 99th 3.2 ms), with its core idle.
WRITE_LOCK_PAUSES = (0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001)


def _begin_immediate(connection: Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in short pauses of our own (see
    :data:`WRITE_LOCK_PAUSES`) rather than SQLite's, for at most the busy timeout. Every other
    statement keeps SQLite's busy handler, which is put back whether or not the BEGIN succeeds."""
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    failure: sqlite3.Error | None = None
    try:
        driver_connection.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        for attempt in itertools.count():
            try:
                driver_connection.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                # The extended code: SQLITE_BUSY_RECOVERY, _SNAPSHOT… are kinds of busy too.
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(WRITE_LOCK_PAUSES[min(attempt, len(WRITE_LOCK_PAUSES) - 1)])
    except sqlite3.Error as error:
        failure = error
    try:
        driver_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    except sqlite3.Error as error:
        failure = failure or error  # the BEGIN's own failure is the one to report
    if failure is not None:
        raise exc.OperationalError("BEGIN IMMEDIATE", {}, failure) from failure


def _driver_execute(connection: Connection, sql: str) -> None:
    try:
        connection.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
    except sqlite3.Error as error:
        raise exc.OperationalError(sql, {}, error) from error


def upgrade_to_write(connection: Connection) -> bool:
    """On SQLite, if ``connection`` is in a read transaction (a deferred ``BEGIN``, see
    :data:`SQLITE_READ_ONLY`), end it and begin a write transaction (``BEGIN IMMEDIATE``) in its
    place, beneath SQLAlchemy: the session's transaction carries on with what it read, and its
    commit commits the writes. (Committing the session and beginning anew does the same with
    several times the work.) Returns whether it upgraded."""
    if not connection.get_execution_options().get(SQLITE_READ_ONLY):
        return False
    _driver_execute(connection, "COMMIT")
    _begin_immediate(connection)
    return True


def read_outside_transaction(session: Session) -> None:
    """On PostgreSQL, let the session's statements run each as its own transaction
    (``AUTOCOMMIT``) until :func:`open_transaction`: a request that reads and then writes one
    statement (an answer in an interview) sends neither BEGIN nor COMMIT, two of its four round
    trips to the server. Its reads see what they would inside a transaction (at READ COMMITTED
    every statement takes its own snapshot either way); what it does with them is checked by its
    write. Call before the session's first statement; the pool puts the connection back to
    transactions when it is returned. No-op on SQLite, whose reads are a deferred BEGIN (see
    :data:`SQLITE_READ_ONLY`)."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def outside_transaction(connection: Connection) -> bool:
    """Whether ``connection`` is running each statement as its own transaction (see
    :func:`read_outside_transaction`)."""
    return connection.dialect.name == "postgresql" and bool(connection.connection.driver_connection.autocommit)  # type: ignore[union-attr]


def open_transaction(connection: Connection) -> bool:
    """If ``connection`` is running statements outside a transaction (see
    :func:`read_outside_transaction`), make its next statements one transaction, committed or
    rolled back with the session's. Returns whether it did. (The driver begins the transaction
    with the next statement; none is open before, so the switch sends nothing.)"""
    if not outside_transaction(connection):
        return False
    connection.connection.driver_connection.autocommit = False  # type: ignore[union-attr]
    return True


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
