"""Reading the audit log: who read or changed what, and who signed in, newest first.

For a data protection officer answering a subject access request ("who has seen this child's
plan?") or a safeguarding lead looking into a misused account. A plan's trail includes its
interview (the conversation that wrote it was read and answered under its own id) and its
reminders (acknowledged, snoozed). Rows are read as they are written out, so that the whole log
can be exported without holding it in memory; on SQLite the reading takes no write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, and_, cast, func, or_
from sqlmodel import Session, col, select

from rules.reminder_schedule import SCHOOL_TIMEZONE
from storage.models import AuditAction, AuditLog, Conversation, Plan, Reminder, School, User
from storage.repositories import DirectoryRepository


class AuditTrailError(ValueError):
    """A filter that names nothing (an unknown plan, user or school)."""


class AuditFilter(BaseModel):
    """What to look for; every filter given must hold. ``limit`` 0: no limit."""

    model_config = ConfigDict(frozen=True)

    plan_id: int | None = None
    actor_email: str | None = None
    school_name: str | None = None
    action: AuditAction | None = None
    since: date | None = None
    limit: int = 100


class AuditTrailEntry(BaseModel):
    at: datetime
    actor: str | None  # the e-mail of who did it; None for the system or an administrator's command
    action: str
    entity: str
    entity_id: str | None
    school: str | None
    detail: dict[str, Any] | None


def audit_trail(session: Session, wanted: AuditFilter) -> Iterator[AuditTrailEntry]:
    """The audit rows matching ``wanted``, newest first (at the same moment, the last written
    first). Raises :class:`AuditTrailError` for a plan, user or school that does not exist, rather
    than answering "nothing" (a plan since deleted still has its trail)."""
    query = (select(AuditLog, User.email, School.name)
             .outerjoin(User, col(User.id) == col(AuditLog.actor_user_id))
             .outerjoin(School, col(School.id) == col(AuditLog.school_id)))
    if wanted.plan_id is not None:
        plan = str(wanted.plan_id)
        interviews = select(Conversation.id).where(Conversation.plan_id == wanted.plan_id)
        reminders = select(cast(col(Reminder.id), String)).where(Reminder.plan_id == wanted.plan_id)
        about_plan = or_(
            and_(col(AuditLog.entity) == "plan", col(AuditLog.entity_id) == plan),
            and_(col(AuditLog.entity) == "conversation", col(AuditLog.entity_id).in_(interviews)),
            and_(col(AuditLog.entity) == "reminder", col(AuditLog.entity_id).in_(reminders)),
        )
        if session.get(Plan, wanted.plan_id) is None and session.exec(
                select(AuditLog.id).where(about_plan).limit(1)).first() is None:
            raise AuditTrailError(f"no plan {wanted.plan_id}")
        query = query.where(about_plan)
    if wanted.actor_email is not None:
        actor = DirectoryRepository(session).user_by_email(wanted.actor_email)
        if actor is None:
            raise AuditTrailError(f"no user {wanted.actor_email!r}")
        query = query.where(AuditLog.actor_user_id == actor.id)
    if wanted.school_name is not None:
        schools = list(session.exec(
            select(School.id).where(func.lower(School.name) == wanted.school_name.strip().lower())))
        if not schools:
            raise AuditTrailError(f"no school {wanted.school_name!r}")
        query = query.where(col(AuditLog.school_id).in_(schools))
    if wanted.action is not None:
        query = query.where(AuditLog.action == wanted.action.value)
    if wanted.since is not None:
        # From midnight in England, the day as the web pages show it (GMT or BST).
        query = query.where(col(AuditLog.at) >= datetime.combine(wanted.since, time.min, tzinfo=SCHOOL_TIMEZONE))
    query = query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    if wanted.limit:
        query = query.limit(wanted.limit)
    for row, email, school in session.exec(query.execution_options(yield_per=500)):
        yield AuditTrailEntry(at=row.at, actor=email, action=row.action, entity=row.entity,
                              entity_id=row.entity_id, school=school, detail=row.detail_json)
