"""SQLite's write-ahead log checkpointed by a background thread, not by whichever commit crosses
1000 pages."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from storage.checkpoints import (
    FALLBACK_AUTOCHECKPOINT_PAGES,
    RESTART_AFTER_PAGES,
    WalCheckpointer,
    checkpoint_in_background,
)
from storage.db import make_engine
from tests.conftest import eventually

PAGE = 4096
ROWS_PER_COMMIT = 50


def _write_pages(engine: Engine, pages: int) -> None:
    """Commit about ``pages`` new pages of data, ``ROWS_PER_COMMIT`` rows of most of a page each
    per transaction."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, payload BLOB)")
    for _ in range(pages // ROWS_PER_COMMIT):
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO filler (payload) SELECT randomblob(3500) FROM (WITH RECURSIVE n(i) AS "
                f"(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS_PER_COMMIT}) SELECT i FROM n)")


def _log_pages(database: Path) -> float:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size / PAGE if wal.exists() else 0.0


def test_a_plain_engines_commits_checkpoint_the_log_every_thousand_pages(tmp_path: Path) -> None:
    """SQLite's own behaviour, against which the next test means something: the commit that
    takes the log past 1000 pages copies it into the database, and the log starts again."""
    database = tmp_path / "plain.db"
    engine = make_engine(f"sqlite:///{database}")
    _write_pages(engine, 3000)
    assert _log_pages(database) < 1000 + 2 * ROWS_PER_COMMIT
    engine.dispose()


@contextmanager
def _checkpointed(database: Path, interval_seconds: float) -> Iterator[tuple[Engine, WalCheckpointer]]:
    engine = make_engine(f"sqlite:///{database}")
    checkpointer = checkpoint_in_background(engine, interval_seconds=interval_seconds)
    assert checkpointer is not None
    checkpointer.ensure_running()
    try:
        yield engine, checkpointer
    finally:
        checkpointer.stop()
        engine.dispose()
    assert not checkpointer.running


def test_commits_leave_the_log_to_the_background_checkpointer(tmp_path: Path) -> None:
    database = tmp_path / "background.db"
    with _checkpointed(database, interval_seconds=3600) as (engine, _checkpointer):  # not round to it here
        _write_pages(engine, 3000)
        assert _log_pages(database) > 2500
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == FALLBACK_AUTOCHECKPOINT_PAGES


def test_the_background_thread_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    database = tmp_path / "copied.db"
    with _checkpointed(database, interval_seconds=0.01) as (engine, checkpointer):
        _write_pages(engine, 500)

        def copied() -> bool:
            last = checkpointer.last
            return (last is not None and last.log_frames > 0 and last.checkpointed_frames == last.log_frames
                    and database.stat().st_size >= 500 * PAGE)

        assert eventually(copied), (checkpointer.last, database.stat().st_size)
        assert checkpointer.last_error is None


def test_the_thread_waits_for_a_database_not_yet_created_and_does_not_create_it(tmp_path: Path) -> None:
    database = tmp_path / "later.db"
    with _checkpointed(database, interval_seconds=0.01) as (engine, checkpointer):
        assert eventually(lambda: checkpointer.last_error is not None)
        assert not database.exists()
        _write_pages(engine, 100)
        assert eventually(lambda: checkpointer.last is not None and checkpointer.last.log_frames > 0), \
            checkpointer.last
        assert checkpointer.last_error is None


def test_a_log_grown_long_is_started_again_from_the_beginning(tmp_path: Path) -> None:
    """Under a steady stream of commits a PASSIVE checkpoint never finds the log all copied, so
    the log would only grow; once it is long, the thread's RESTART checkpoint has the next
    commit write from its beginning."""
    database = tmp_path / "restarted.db"
    engine = make_engine(f"sqlite:///{database}")
    checkpointer = checkpoint_in_background(engine)  # its rounds run here, not in a thread
    assert checkpointer is not None
    _write_pages(engine, 1000)
    assert checkpointer.run_once().log_frames < RESTART_AFTER_PAGES and checkpointer.restarts == 0
    _write_pages(engine, RESTART_AFTER_PAGES)
    done = checkpointer.run_once()
    assert checkpointer.restarts == 1 and done.checkpointed_frames == done.log_frames >= RESTART_AFTER_PAGES
    _write_pages(engine, 100)
    assert checkpointer.run_once().log_frames < 2 * ROWS_PER_COMMIT + 10  # written from the beginning again
    engine.dispose()


def test_the_thread_stops_when_its_engine_is_disposed_of_or_dropped(tmp_path: Path) -> None:
    disposed = make_engine(f"sqlite:///{tmp_path / 'disposed.db'}")
    dropped = make_engine(f"sqlite:///{tmp_path / 'dropped.db'}")
    checkpointers = [checkpoint_in_background(engine, interval_seconds=0.01) for engine in (disposed, dropped)]
    for checkpointer in checkpointers:
        assert checkpointer is not None
        checkpointer.ensure_running()
        assert checkpointer.running
    disposed.dispose()
    assert eventually(lambda: not checkpointers[0].running)
    assert checkpointers[1].running
    del dropped
    gc.collect()
    assert eventually(lambda: not checkpointers[1].running)


def test_a_forked_process_runs_a_thread_of_its_own(tmp_path: Path) -> None:
    """As gunicorn's workers do when forked from a master that built the app (``--preload``)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'forked.db'}")
    _write_pages(engine, 50)
    checkpointer = checkpoint_in_background(engine, interval_seconds=0.01)
    assert checkpointer is not None
    checkpointer.ensure_running()
    child = os.fork()
    if child == 0:  # the child: no thread came across the fork; ensure_running starts one
        try:
            ok = not checkpointer.running
            checkpointer.ensure_running()
            ok = ok and checkpointer.running and eventually(lambda: checkpointer.checkpoints > 0, 5)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert checkpointer.running
    checkpointer.stop()
    engine.dispose()


def test_databases_without_such_a_log_get_no_checkpointer() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:named.db?uri=true",
                "postgresql://postgres@127.0.0.1:5432/never_connected"):
        engine = make_engine(url)  # connects at first use only
        assert checkpoint_in_background(engine) is None, url
        engine.dispose()
