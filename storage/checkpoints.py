"""SQLite: copy the write-ahead log back into the database file from a background thread.

In WAL mode a commit appends pages to the log; once the log passes 1000 pages, the commit that
pushed it over copies them all into the database file and syncs it to disk before returning (an
automatic checkpoint). The request that happens to make that commit waits for it: in the web
app, one answer in a hundred or so took three to four times as long as the rest (its p99 with
the server to itself was 6–8 ms against a median of 2), only for being the one to cross the
line. With :func:`checkpoint_in_background`, a thread of the process checkpoints every half
second instead, without the write lock and while requests carry on (the sqlite3 module lets go
of the GIL while SQLite works), and commits no longer checkpoint until the log is ten times as
long as usual: a bound on the log should the thread fall behind or stop.

A PASSIVE checkpoint waits for no one: it copies what no reader still needs and leaves the rest
for the next. Several processes each running one (gunicorn's workers) is harmless: one
checkpoints, the others find it busy. Durability gains, if anything: with ``synchronous=NORMAL``
a commit in WAL mode survives a crash of the process at once, and a power cut once the log has
been synced, which a checkpoint does first. The thread does that within half a second of a
commit; automatic checkpoints did it only every 1000 pages.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, event

logger = logging.getLogger("ptt.storage")

#: How often the background thread checkpoints (seconds).
CHECKPOINT_INTERVAL_SECONDS = 0.5
#: On an engine checkpointed in the background, a commit still checkpoints once the log is this
#: many pages long (about 40 MB): ten times SQLite's default, reached only if the thread stops.
FALLBACK_AUTOCHECKPOINT_PAGES = 10_000


class Checkpoint(NamedTuple):
    """What one ``PRAGMA wal_checkpoint(PASSIVE)`` reported."""

    busy: bool  # another connection was checkpointing
    log_frames: int  # pages in the log (-1: the database is not in WAL mode)
    checkpointed_frames: int  # of which now copied into the database file


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite database file every ``interval_seconds``, on a
    connection of its own, until :meth:`stop`. A failed checkpoint is logged and the connection
    opened afresh at the next."""

    def __init__(self, database: Path, *, interval_seconds: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self.database = database.resolve()
        self.interval_seconds = interval_seconds
        self.checkpoints = 0
        self.last: Checkpoint | None = None
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ptt-wal-checkpointer", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a database not created yet is left for the app to create (with its pragmas).
        return sqlite3.connect(f"{self.database.as_uri()}?mode=rw", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=1.0)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval_seconds):
                try:
                    if connection is None:
                        connection = self._connect()
                    busy, log_frames, checkpointed = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.last = Checkpoint(bool(busy), log_frames, checkpointed)
                    self.last_error = None
                    self.checkpoints += 1
                    if log_frames < 0:
                        # Not in WAL mode as this connection saw the file when it opened it (the
                        # app may have switched it since, as on a database just created): look again.
                        connection.close()
                        connection = None
                except sqlite3.Error as error:
                    if self.last_error is None or str(error) != str(self.last_error):
                        logger.warning("WAL checkpoint of %s failed: %s", self.database, error)
                    self.last_error = error
                    if connection is not None:
                        connection.close()
                        connection = None
        finally:
            if connection is not None:
                connection.close()


def checkpoint_in_background(engine: Engine, *, interval_seconds: float = CHECKPOINT_INTERVAL_SECONDS
                             ) -> WalCheckpointer | None:
    """Checkpoint ``engine``'s SQLite database file in a background thread of this process, and
    let its commits leave the log alone (see the module's docstring). Call it on a new engine,
    before its first connection (any already pooled are closed, to be opened again with the
    setting). The thread stops when the engine is garbage-collected, or at :meth:`~WalCheckpointer.stop`.
    None, and nothing done, for PostgreSQL or an in-memory database: they have no such log."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT_PAGES}")

    engine.dispose()
    checkpointer = WalCheckpointer(Path(engine.url.database), interval_seconds=interval_seconds).start()
    weakref.finalize(engine, checkpointer._stop.set)  # not stop(): a finalizer must not wait
    return checkpointer
