"""The reminder queue: claim due rows atomically, mark them, reap stuck claims,
create escalation rows. Each function runs its own short transaction (the marks may share
one connection: :func:`delivery_connection`).

Claiming: PostgreSQL uses ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent sweepers
take disjoint rows without waiting; SQLite (one writer at a time, ``BEGIN IMMEDIATE``)
uses compare-and-set: ``UPDATE ... SET status='sending' WHERE id=? AND status='pending'``
and keeps the row only if exactly one row changed.

Every query is driven by an index (``(status, due_at)`` or ``escalate_at``), so the cost
of a sweep grows with the number of due rows, not with the size of the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Case, Connection, case, insert, literal, null, update
from sqlmodel import col, select

from storage.db import SessionFactory
from storage.driver import driver_cursor, driver_insert
from storage.models import ESCALATION_SUFFIX, AuditAction, AuditLog, Reminder, ReminderStatus
from storage.repositories import insert_ignoring_duplicates

PENDING = ReminderStatus.PENDING.value
SENDING = ReminderStatus.SENDING.value
SENT = ReminderStatus.SENT.value
FAILED = ReminderStatus.FAILED.value
CANCELLED = ReminderStatus.CANCELLED.value
# Core statements on the table: the queue's hot path needs no ORM bookkeeping.
REMINDERS = Reminder.__table__
AUDIT_LOG = AuditLog.__table__

MarkTarget = SessionFactory | Connection


# A row taken for delivery stays claimable and escalates only while its matter is open: a
# review held, an agreement given or a plan closed while it was being sent (resolve() marks it
# but cannot stop it) must not bring it back to pending, nor start its escalation.
def _pending_unless_resolved() -> Case[str]:
    return case((REMINDERS.c.resolved_at.is_(None), PENDING), else_=CANCELLED)


def _escalation_unless_resolved(escalate_at: datetime | None) -> Any:
    if escalate_at is None:
        return None
    return case((REMINDERS.c.resolved_at.is_(None), literal(escalate_at, REMINDERS.c.escalate_at.type)),
                else_=null())


@contextmanager
def delivery_connection(session_factory: SessionFactory) -> Iterator[Connection]:
    """One connection to record a sweep's deliveries on, each in its own transaction.

    On PostgreSQL it runs in autocommit mode: every mark is a single statement (an UPDATE, or
    with its audit row an UPDATE and an INSERT in one), atomic by itself, so one round trip
    makes it durable. On SQLite each mark is a short
    ``BEGIN IMMEDIATE`` transaction.
    """
    with session_factory() as session:
        bind = session.get_bind()
    with bind.connect() as connection:
        if bind.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


@contextmanager
def _transaction(target: MarkTarget) -> Iterator[Connection]:
    if isinstance(target, Connection):
        with target.begin():
            yield target
        return
    with target() as session:
        yield session.connection()
        session.commit()


def claim_due(
    session_factory: SessionFactory, *, now: datetime, worker_id: str, limit: int = 200,
    claimed_at: datetime | None = None,
) -> list[Reminder]:
    """Claim up to ``limit`` pending reminders due at or before ``now``, stamped as claimed at
    ``claimed_at`` (default ``now``: give the time of the claim itself, which the reaper's
    lease runs from, when a sweep claims batch after batch).

    Returns detached copies of the claimed rows (status ``sending``, ``claimed_by`` =
    ``worker_id``). No other worker can claim them until they are marked or reaped.
    """
    with session_factory() as session:
        due = (
            select(Reminder.id)
            .where(col(Reminder.status) == PENDING, col(Reminder.due_at) <= now)
            .order_by(col(Reminder.due_at), col(Reminder.id))
            .limit(limit)
        )
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            due = due.with_for_update(skip_locked=True)
        ids = list(session.exec(due))
        if not ids:
            session.rollback()
            return []
        claim = update(REMINDERS).values(
            status=SENDING, claimed_by=worker_id, claimed_at=claimed_at or now, attempts=Reminder.attempts + 1
        )
        if postgres:
            session.execute(claim.where(col(Reminder.id).in_(ids)))
            claimed = ids
        else:
            claimed = [
                reminder_id for reminder_id in ids
                if session.execute(
                    claim.where(col(Reminder.id) == reminder_id, col(Reminder.status) == PENDING)
                ).rowcount == 1
            ]
        rows = list(session.exec(
            select(Reminder).where(col(Reminder.id).in_(claimed))
            .order_by(col(Reminder.due_at), col(Reminder.id))
        )) if claimed else []
        session.commit()
        for row in rows:
            session.expunge(row)
        return rows


def mark_sent(
    target: MarkTarget, reminder_id: int, *, worker_id: str, now: datetime,
    escalate_at: datetime | None = None, audit: DeliveryAudit | None = None,
) -> bool:
    """Record a delivery, and with ``audit`` its row in the audit log (a reminder names a pupil
    to its recipients: it is a disclosure like any export). False if the claim was lost (reaped
    and taken by another worker): then nothing is written."""
    sent = (update(REMINDERS)
            .where(col(Reminder.id) == reminder_id, col(Reminder.status) == SENDING,
                   col(Reminder.claimed_by) == worker_id)
            .values(status=SENT, sent_at=now, last_error=None, escalate_at=_escalation_unless_resolved(escalate_at)))
    with _transaction(target) as connection:
        if audit is None:
            return connection.execute(sent).rowcount == 1
        row = {"at": now, "actor_user_id": None, "action": AuditAction.EXPORT.value, "entity": "reminder",
               "entity_id": str(reminder_id), "school_id": audit.school_id,
               "detail_json": {"via": f"reminder:{audit.channel}", "plan_id": audit.plan_id, "kind": audit.kind,
                               "recipients": list(audit.recipient_user_ids)}}
        if connection.dialect.name == "postgresql":
            # One statement, so that the mark and its audit row stand or fall together on a
            # connection in autocommit mode (see delivery_connection).
            marked = sent.returning(REMINDERS.c.id).cte("marked")
            columns = list(row)
            values = [literal(row[name], AUDIT_LOG.c[name].type).label(name) for name in columns]
            written = connection.execute(insert(AUDIT_LOG).from_select(
                columns, select(*values).select_from(marked)).returning(AUDIT_LOG.c.id)).all()
            return len(written) == 1
        if connection.execute(sent).rowcount != 1:
            return False
        # Straight to the driver (see storage.driver): through Core this one INSERT cost a third
        # of a sweep's time on SQLite.
        audit_row = driver_insert(AUDIT_LOG, tuple(row), connection.dialect)
        with driver_cursor(connection, audit_row.sql) as cursor:
            cursor.execute(audit_row.sql, audit_row.parameters(row))
        return True


@dataclass(frozen=True)
class DeliveryAudit:
    """What the audit log keeps of a delivered reminder: which plan and school it named, how it
    went and to whom (user ids: the log itself holds no pupil details)."""

    plan_id: int | None
    school_id: int | None
    kind: str
    channel: str
    recipient_user_ids: tuple[int, ...]


def mark_failed(
    target: MarkTarget, reminder_id: int, *, worker_id: str, error: str,
    retry_at: datetime | None, escalate_at: datetime | None = None,
) -> bool:
    """Record a failed delivery: back to pending at ``retry_at``, or ``failed`` for good
    when ``retry_at`` is None (then ``escalate_at`` lets the escalation take it up); a row
    resolved meanwhile is cancelled instead of retried, and does not escalate."""
    values: dict[str, Any] = {"last_error": error[:2000], "claimed_by": None, "claimed_at": None}
    if retry_at is None:
        values.update(status=FAILED, escalate_at=_escalation_unless_resolved(escalate_at))
    else:
        values.update(status=_pending_unless_resolved(), due_at=retry_at)
    with _transaction(target) as connection:
        changed = connection.execute(
            update(REMINDERS)
            .where(col(Reminder.id) == reminder_id, col(Reminder.status) == SENDING,
                   col(Reminder.claimed_by) == worker_id)
            .values(**values)
        ).rowcount
        return changed == 1


def release_claims(target: MarkTarget, ids: Sequence[int], *, worker_id: str) -> int:
    """Give back claimed rows this worker will not deliver (they become pending again, or
    cancelled if resolved meanwhile)."""
    if not ids:
        return 0
    with _transaction(target) as connection:
        changed = connection.execute(
            update(REMINDERS)
            .where(col(Reminder.id).in_(list(ids)), col(Reminder.status) == SENDING,
                   col(Reminder.claimed_by) == worker_id)
            .values(status=_pending_unless_resolved(), claimed_by=None, claimed_at=None,
                    attempts=Reminder.attempts - 1)
        ).rowcount or 0
        return changed


def reap_stuck(session_factory: SessionFactory, *, now: datetime, timeout: timedelta) -> int:
    """Reset rows left in ``sending`` longer than ``timeout`` (their worker died) to
    ``pending`` (``cancelled`` if resolved meanwhile) so another sweep delivers them. Returns
    how many were reset."""
    with session_factory() as session:
        changed = session.execute(
            update(REMINDERS)
            .where(col(Reminder.status) == SENDING, col(Reminder.claimed_at) < now - timeout)
            .values(status=_pending_unless_resolved(), claimed_by=None, claimed_at=None,
                    last_error="reset by the reaper: the sweeper claiming it stopped")
        ).rowcount or 0
        session.commit()
        return changed


def escalate_due(
    session_factory: SessionFactory, *, now: datetime,
    next_role: Callable[[Reminder], str | None], limit: int = 500,
) -> int:
    """Create the escalation row for each reminder whose ``escalate_at`` has passed.

    The new row goes to ``next_role(reminder)``, is due at once, and carries the key
    ``<original key>:escalation-<level>``; the unique key makes concurrent sweepers
    create it once. Returns how many rows were created.
    """
    created = 0
    with session_factory() as session:
        query = (
            select(Reminder)
            .where(col(Reminder.escalate_at) <= now, col(Reminder.resolved_at).is_(None))
            .order_by(col(Reminder.escalate_at), col(Reminder.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        parents = list(session.exec(query))
        for parent in parents:
            role = next_role(parent)
            if role is not None:
                level = parent.escalation_level + 1
                root_key = parent.idempotency_key.split(ESCALATION_SUFFIX)[0]
                created += insert_ignoring_duplicates(session, Reminder, [{
                    "plan_id": parent.plan_id,
                    "kind": parent.kind,
                    "subject": parent.subject,
                    "due_at": now,
                    "idempotency_key": f"{root_key}{ESCALATION_SUFFIX}{level}",
                    "status": PENDING,
                    "attempts": 0,
                    "escalation_level": level,
                    "parent_id": parent.id,
                    "recipient_role": role,
                    "created_at": now,
                }], "idempotency_key")
            parent.escalate_at = None
        session.commit()
    return created
