"""A background sweeper thread, for ``ptt serve`` on the embedded (SQLite) default."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from assistant.reminders.delivery import ReminderDeliverer
from assistant.reminders.sweeper import SweepResult, SweepSettings, default_worker_id, run_once
from storage.db import SessionFactory
from storage.types import utcnow

logger = logging.getLogger("ptt.reminders")


class BackgroundSweeper:
    """Runs :func:`run_once` every ``interval_seconds`` until :meth:`stop` is called.

    A failing sweep is logged and the thread carries on; the next sweep's reaper takes
    back anything the failed one left claimed.
    """

    def __init__(
        self, session_factory: SessionFactory, deliverers: Mapping[str, ReminderDeliverer],
        *, interval_seconds: float = 60.0, settings: SweepSettings | None = None,
        clock: Callable[[], datetime] = utcnow, worker_id: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.deliverers = dict(deliverers)
        self.interval_seconds = interval_seconds
        self.settings = settings or SweepSettings()
        self.clock = clock
        self.worker_id = worker_id or f"serve:{default_worker_id()}"
        self.sweeps = 0
        self.last_result: SweepResult | None = None
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ptt-reminder-sweeper",
                                        daemon=True)

    def start(self) -> BackgroundSweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_result = run_once(self.session_factory, self.clock(), self.deliverers,
                                            worker_id=self.worker_id, settings=self.settings)
                self.last_error = None
            except Exception as error:
                self.last_error = error
                logger.exception("reminder sweep failed")
            self.sweeps += 1
            self._stop.wait(self.interval_seconds)

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def start_background_sweeper(
    session_factory: SessionFactory, deliverers: Mapping[str, ReminderDeliverer],
    *, interval_seconds: float = 60.0, settings: SweepSettings | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> BackgroundSweeper:
    """Start a daemon thread sweeping reminders; call ``.stop()`` on shutdown."""
    return BackgroundSweeper(session_factory, deliverers, interval_seconds=interval_seconds,
                             settings=settings, clock=clock).start()
