"""Throttling password sign-ins: failed attempts are kept in the database, so that every worker
and process counts the same attempts, per client address (one machine guessing) and per
account (many machines guessing one account's password). Only failures count; the throttle
answers the same whether or not the account exists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse_many
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from storage.models import LoginFailure
from storage.types import utcnow

#: Failures older than this are deleted as new ones come (the longest window worth keeping).
KEEP_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """At most ``attempts`` failures in any ``seconds``."""

    attempts: int
    seconds: int


def windows(limit: str) -> tuple[Window, ...]:
    """``"10 per minute"``, ``"30 per hour; 100 per day"`` → windows (the ``limits`` syntax)."""
    return tuple(Window(item.amount, item.get_expiry()) for item in parse_many(limit))


class SignInThrottle:
    def __init__(self, per_address: str, per_account: str) -> None:
        self.per_address = windows(per_address)
        self.per_account = windows(per_account)

    def retry_after(self, session: Session, address: str, email: str, *, now: datetime | None = None) -> int:
        """Seconds until a sign-in from ``address`` for ``email`` may be tried; 0: now."""
        now = now or utcnow()
        email = email.strip().lower()
        waits = [self._wait(session, col(LoginFailure.address) == address, window, now) for window in self.per_address]
        waits += [self._wait(session, col(LoginFailure.email) == email, window, now) for window in self.per_account]
        return max(waits, default=0)

    @staticmethod
    def _wait(session: Session, who: object, window: Window, now: datetime) -> int:
        recent = session.exec(
            select(LoginFailure.at).where(who, col(LoginFailure.at) > now - timedelta(seconds=window.seconds))
            .order_by(col(LoginFailure.at).desc()).limit(window.attempts)
        ).all()
        if len(recent) < window.attempts:
            return 0
        # Another attempt may be made once the oldest of the last ``attempts`` leaves the window.
        return max(1, math.ceil((recent[-1] + timedelta(seconds=window.seconds) - now).total_seconds()))

    @staticmethod
    def record_failure(session: Session, address: str, email: str, *, now: datetime | None = None) -> None:
        now = now or utcnow()
        session.execute(delete(LoginFailure).where(col(LoginFailure.at) < now - KEEP_FOR))
        session.execute(insert(LoginFailure).values(at=now, address=address[:64], email=email.strip().lower()[:320]))
