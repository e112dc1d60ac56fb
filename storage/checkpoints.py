"""SQLite: copy the write-ahead log back into the database file from a background thread.

In WAL mode a commit appends pages to the log; once the log passes 1000 pages, the commit that
pushed it over copies them all into the database file and syncs it to disk before returning (an
automatic checkpoint). The request that happens to make that commit waits for it: in the web
app, one answer in a hundred or so took three times as long as the rest, only for being the one
to cross the line (see the README's Architecture for the figures). With
:func:`checkpoint_in_background`, a thread of the process checkpoints every half second instead,
while requests carry on (the sqlite3 module lets go of the GIL while SQLite works).

Those checkpoints are PASSIVE: they take no lock that a request waits for, and copy what no
reader still needs. But the log starts again from its beginning only when a commit finds all of
it copied, and under a steady stream of commits one always lands while a checkpoint is copying:
the log would grow until a commit crossed the limit below. So once the log is
:data:`RESTART_AFTER_PAGES` long, the thread follows its checkpoint with a RESTART one, which
holds off commits (never reads) while it copies the few pages written meanwhile and waits, at
most :data:`RESTART_WAIT_MS`, for readers of the old log to finish; the next commit then starts
the log again. Commits still checkpoint themselves at :data:`FALLBACK_AUTOCHECKPOINT_PAGES`, a
bound on the log should the thread stop.

Several processes each running one (gunicorn's workers) is harmless: one checkpoints, the others
find it busy. Durability gains, if anything: with ``synchronous=NORMAL`` a commit in WAL mode
survives a crash of the process at once, and a power cut once the log has been synced, which a
checkpoint does first: the thread does so within half a second of a commit, where automatic
checkpoints did it every 1000 pages.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, event

from storage.db import sqlite_file

logger = logging.getLogger("ptt.storage")

#: How often the background thread checkpoints (seconds).
CHECKPOINT_INTERVAL_SECONDS = 0.5
#: Once the log is this long (about 8 MB), the thread has it start again from the beginning.
RESTART_AFTER_PAGES = 2000
#: How long a RESTART checkpoint may wait for readers of the old log (commits wait meanwhile).
RESTART_WAIT_MS = 20
#: On an engine checkpointed in the background, a commit still checkpoints once the log is this
#: many pages long (about 40 MB): ten times SQLite's default, reached only if the thread stops.
FALLBACK_AUTOCHECKPOINT_PAGES = 10_000


class Checkpoint(NamedTuple):
    """What one ``PRAGMA wal_checkpoint`` reported."""

    busy: bool  # another connection was checkpointing, or (RESTART) readers of the old log stayed
    log_frames: int  # pages in the log (-1: the database is not in WAL mode)
    checkpointed_frames: int  # of which now copied into the database file


class WalCheckpointer:
    """Checkpoints one SQLite database file every ``interval_seconds``, in a daemon thread of
    whichever process calls :meth:`ensure_running` (a process forked from one that had a thread
    has none until it calls it), on a connection of that thread's own, until :meth:`stop`. A
    failed checkpoint is logged and the connection opened afresh at the next."""

    def __init__(self, database: Path, *, interval_seconds: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self.database = database.resolve()
        self.interval_seconds = interval_seconds
        self.checkpoints = 0
        self.restarts = 0
        self.last: Checkpoint | None = None
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._connection: sqlite3.Connection | None = None

    def ensure_running(self) -> None:
        """Start the thread in this process, unless it runs already or :meth:`stop` was called."""
        if self._pid == os.getpid() or self._stop.is_set():
            return
        with self._lock:
            if self._pid != os.getpid() and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="ptt-wal-checkpointer", daemon=True)
                self._thread.start()
                self._pid = os.getpid()

    def stop_soon(self) -> None:
        """Have the thread end at its next wake-up (without waiting for it)."""
        self._stop.set()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and self._thread is not None and self._thread.is_alive()

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a database not created yet is left for the app to create (with its pragmas).
        return sqlite3.connect(f"{self.database.as_uri()}?mode=rw", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=RESTART_WAIT_MS / 1000)

    def run_once(self) -> Checkpoint:
        """One round, as the thread runs it every ``interval_seconds``: a PASSIVE checkpoint, and
        a RESTART one if the log has grown to :data:`RESTART_AFTER_PAGES`. Raises what SQLite
        raises; the connection is then opened afresh next time."""
        try:
            if self._connection is None:
                self._connection = self._connect()
            last = self._checkpoint("PASSIVE")
            if last.log_frames >= RESTART_AFTER_PAGES:
                last = self._checkpoint("RESTART")
                self.restarts += not last.busy
            if last.log_frames < 0:
                # Not in WAL mode as this connection saw the file when it opened it (the app may
                # have switched it since, as on a database just created): look again next time.
                self._close()
        except Exception:
            self._close()
            raise
        self.last, self.last_error = last, None
        self.checkpoints += 1
        return last

    def _checkpoint(self, mode: str) -> Checkpoint:
        assert self._connection is not None
        busy, log_frames, checkpointed = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return Checkpoint(bool(busy), log_frames, checkpointed)

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _run(self) -> None:
        self._connection = None  # one inherited from a parent process is not this thread's to use
        try:
            while not self._stop.wait(self.interval_seconds):
                try:
                    self.run_once()
                except Exception as error:  # the thread carries on whatever went wrong
                    if self.last_error is None or str(error) != str(self.last_error):
                        logger.warning("WAL checkpoint of %s failed: %s", self.database, error)
                    self.last_error = error
        finally:
            self._close()


def checkpoint_in_background(engine: Engine, *, interval_seconds: float = CHECKPOINT_INTERVAL_SECONDS
                             ) -> WalCheckpointer | None:
    """Checkpoint ``engine``'s SQLite database file in a background thread, and let its commits
    leave the log alone (see the module's docstring). Call it on a new engine, before its first
    connection (any already pooled are closed, to be opened again with the setting), then
    :meth:`~WalCheckpointer.ensure_running` in each process that serves requests: a web app does
    so at each request, so that under gunicorn each worker has its own thread, also with
    ``--preload``. The thread stops when the engine is disposed of or garbage-collected, or at
    :meth:`~WalCheckpointer.stop`. None, and nothing done, for PostgreSQL, an in-memory database
    or one named by a ``file:`` URI."""
    database = sqlite_file(engine.url)
    if database is None or (engine.url.database or "").startswith("file:"):
        return None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    engine.dispose()
    checkpointer = WalCheckpointer(database, interval_seconds=interval_seconds)
    event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop_soon())
    weakref.finalize(engine, checkpointer.stop_soon)
    return checkpointer
