"""Repositories: the only place that knows how domain objects are stored.

Each repository wraps one session; a :class:`storage.uow.UnitOfWork` bundles them and
owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from storage.errors import ConflictError, NotFoundError
from storage.models import (
    SNOOZE_SUFFIX,
    ApiToken,
    AuditAction,
    AuditLog,
    Consultation,
    LocalAuthority,
    Plan,
    PlanStatus,
    PlanVersion,
    Pupil,
    Reminder,
    ReminderStatus,
    Review,
    Role,
    School,
    User,
    reminder_root_key,
    snoozed_from,
)
from storage.plan_writes import NewPlan, PlanWriter
from storage.types import utcnow


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which an API token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def insert_ignoring_duplicates(session: Session, model: type[Any], rows: Sequence[dict[str, Any]],
                               conflict_column: str) -> int:
    """INSERT rows, silently skipping those whose ``conflict_column`` value exists.

    Returns how many rows were inserted.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    inserted = 0
    for row in rows:
        stmt = (insert_fn(table).values(**row)
                .on_conflict_do_nothing(index_elements=[conflict_column])
                .returning(table.c.id))
        inserted += len(session.execute(stmt).all())
    return inserted


class DirectoryRepository:
    """Local authorities, schools, users and API tokens."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # Local authorities and schools -----------------------------------------------------
    def get_or_create_la(self, policy_id: str, name: str | None = None) -> LocalAuthority:
        la = self.session.exec(
            select(LocalAuthority).where(LocalAuthority.policy_id == policy_id)
        ).first()
        if la is None:
            la = LocalAuthority(policy_id=policy_id, name=name or policy_id)
            self.session.add(la)
            self.session.flush()
        return la

    def la_by_policy(self, policy_id: str) -> LocalAuthority | None:
        return self.session.exec(
            select(LocalAuthority).where(LocalAuthority.policy_id == policy_id)
        ).first()

    def get_la(self, la_id: int) -> LocalAuthority | None:
        return self.session.get(LocalAuthority, la_id)

    def get_or_create_school(self, name: str, la_id: int | None = None) -> School:
        query = select(School).where(School.name == name)
        query = query.where(School.la_id == la_id) if la_id is not None else query
        school = self.session.exec(query.order_by(col(School.id))).first()
        if school is None:
            school = School(name=name, la_id=la_id)
            self.session.add(school)
            self.session.flush()
        return school

    def get_school(self, school_id: int) -> School | None:
        return self.session.get(School, school_id)

    # Users --------------------------------------------------------------------------
    def get_user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def user_by_email(self, email: str) -> User | None:
        return self.session.exec(select(User).where(User.email == email.strip().lower())).first()

    def user_by_slack_id(self, slack_user_id: str) -> User | None:
        return self.session.exec(select(User).where(User.slack_user_id == slack_user_id)).first()

    def upsert_user(
        self,
        email: str,
        role: str,
        *,
        school_id: int | None = None,
        la_id: int | None = None,
        display_name: str | None = None,
        slack_user_id: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Create the user, or update role / school / LA / names of an existing one."""
        role = Role(role).value
        email = email.strip().lower()
        user = self.user_by_email(email)
        if user is None:
            user = User(email=email, role=role, display_name=display_name or email)
            self.session.add(user)
        user.role = role
        if school_id is not None:
            user.school_id = school_id
        if la_id is not None:
            user.la_id = la_id
        if display_name is not None:
            user.display_name = display_name
        if slack_user_id is not None:
            user.slack_user_id = slack_user_id
        if password_hash is not None:
            user.password_hash = password_hash
        self.session.flush()
        return user

    def users_with_role(
        self, role: str, *, school_id: int | None = None, la_id: int | None = None
    ) -> list[User]:
        """Users holding ``role`` in the school, or (if given) anywhere in the LA."""
        conditions = []
        if school_id is not None:
            conditions.append(User.school_id == school_id)
        if la_id is not None:
            conditions.append(User.la_id == la_id)
        query = select(User).where(User.role == role)
        if conditions:
            query = query.where(or_(*conditions))
        return list(self.session.exec(query.order_by(col(User.id))))

    # API tokens -----------------------------------------------------------------------
    def issue_token(self, user_id: int) -> str:
        """Create a new API token for the user and return it (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        self.session.add(ApiToken(token_hash=hash_token(token), user_id=user_id))
        self.session.flush()
        return token

    def user_for_token(self, token: str, *, now: datetime | None = None) -> User | None:
        """The user owning an unrevoked token (and note when it was used), else None."""
        if not token:
            return None
        row = self.session.exec(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token))
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        row.last_used_at = now or utcnow()
        return self.session.get(User, row.user_id)

    def revoke_tokens(self, user_id: int, *, now: datetime | None = None) -> int:
        result = self.session.execute(
            update(ApiToken)
            .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=now or utcnow())
        )
        return result.rowcount or 0


class PupilRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, pupil: Pupil) -> Pupil:
        self.session.add(pupil)
        self.session.flush()
        return pupil

    def get(self, pupil_id: int) -> Pupil:
        pupil = self.session.get(Pupil, pupil_id)
        if pupil is None:
            raise NotFoundError("pupil", pupil_id)
        return pupil


def merge_consultations(rows: dict[str, Consultation], plan_id: int | None,
                        wanted: Iterable[tuple[str, str, str | None]], at: datetime) -> list[Consultation]:
    """Bring ``rows`` (a plan's consultations by role) in line with ``wanted`` (role, requirement,
    status), as :meth:`PlanRepository.upsert_consultation` would one by one: a known role's row
    is updated, a new role gets a new row, added to ``rows`` and returned (not to the session)."""
    added = []
    for role, requirement, status in wanted:
        row = rows.get(role)
        if row is None:
            rows[role] = row = Consultation(plan_id=plan_id, role=role, requirement=requirement or "consult",
                                            status=status or "not_contacted", created_at=at, updated_at=at)
            added.append(row)
        else:
            _update_consultation(row, at, requirement=requirement, status=status)
    return added


def _update_consultation(row: Consultation, at: datetime, **values: str | None) -> None:
    """Set the given fields (None: leave as is); ``updated_at`` moves only if one changed."""
    changed = False
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = at


class PlanRepository:
    """Plans with optimistic locking, their versions, consultations and reviews."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, plan: Plan) -> Plan:
        self.session.add(plan)
        self.session.flush()
        return plan

    def add_new(self, plan: Plan, rows: NewPlan) -> Plan:
        """Write a new plan with everything it is stored with, at once (:mod:`storage.plan_writes`),
        and make ``plan``, the object ``rows.plan`` was read from, the session's record of it."""
        plan.pupil_id, plan.id = PlanWriter(self.session).insert(rows)
        make_transient_to_detached(plan)  # as if loaded: adding it writes nothing more
        self.session.add(plan)
        return plan

    def get(self, plan_id: int, *, for_update: bool = False) -> Plan:
        """The plan; ``for_update`` locks its row until commit (PostgreSQL; SQLite
        write transactions are already exclusive)."""
        query = select(Plan).where(Plan.id == plan_id)
        if for_update:
            query = query.with_for_update()
        plan = self.session.exec(query).first()
        if plan is None:
            raise NotFoundError("plan", plan_id)
        return plan

    def list(
        self,
        *,
        school_ids: Iterable[int] | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Plan]:
        query = select(Plan)
        if school_ids is not None:
            query = query.where(col(Plan.school_id).in_(list(school_ids)))
        if status is not None:
            query = query.where(Plan.status == PlanStatus(status).value)
        query = query.order_by(col(Plan.id))
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.exec(query))

    def save(self, plan: Plan, *, expected_version: int, now: datetime | None = None) -> Plan:
        """Write the plan's changes if nobody changed it since ``expected_version``.

        Raises :class:`ConflictError` otherwise (and the caller's transaction must be
        rolled back, which the unit of work does on the way out).
        """
        if plan.id is None:
            raise ValueError("save() is for stored plans; use add()")
        now = now or utcnow()
        self.session.flush()
        result = self.session.execute(
            update(Plan)
            .where(col(Plan.id) == plan.id, col(Plan.version) == expected_version)
            .values(version=expected_version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise ConflictError("plan")
        plan.version = expected_version + 1
        plan.updated_at = now
        self.session.flush()
        return plan

    def add_version(
        self, plan: Plan, *, changed_by: int | None, summary: str, snapshot: dict[str, Any],
        at: datetime | None = None,
    ) -> PlanVersion:
        row = PlanVersion(
            plan_id=plan.id, version=plan.version, snapshot_json=snapshot,
            changed_by=changed_by, changed_at=at or utcnow(), change_summary=summary,
        )
        self.session.add(row)  # written by the next flush or the commit: nothing here needs its id
        return row

    def versions(self, plan_id: int) -> list[PlanVersion]:
        return list(self.session.exec(
            select(PlanVersion).where(PlanVersion.plan_id == plan_id)
            .order_by(col(PlanVersion.version))
        ))

    # Consultations ----------------------------------------------------------------
    def consultations(self, plan_id: int) -> list[Consultation]:
        return list(self.session.exec(
            select(Consultation).where(Consultation.plan_id == plan_id)
            .order_by(col(Consultation.role))
        ))

    def upsert_consultation(
        self, plan_id: int, role: str, *, requirement: str | None = None,
        status: str | None = None, note: str | None = None, at: datetime | None = None,
    ) -> Consultation:
        at = at or utcnow()
        row = self.session.exec(
            select(Consultation).where(Consultation.plan_id == plan_id, Consultation.role == role)
        ).first()
        if row is None:
            row = Consultation(plan_id=plan_id, role=role, requirement=requirement or "consult",
                               status=status or "not_contacted", created_at=at, updated_at=at,
                               note=note)
            self.session.add(row)
        else:
            _update_consultation(row, at, requirement=requirement, status=status, note=note)
        self.session.flush()
        return row

    def sync_consultations(
        self, plan_id: int, wanted: Iterable[tuple[str, str, str | None]], *, at: datetime,
    ) -> list[Consultation]:
        """Bring the plan's consultations in line with ``wanted`` (role, requirement, status),
        as :meth:`upsert_consultation` would one by one, with one read and one flush. Returns
        them all."""
        rows = {c.role: c for c in self.consultations(plan_id)}
        self.session.add_all(merge_consultations(rows, plan_id, wanted, at))
        self.session.flush()
        return sorted(rows.values(), key=lambda c: c.role)

    # Reviews ------------------------------------------------------------------------
    def reviews(self, plan_id: int) -> list[Review]:
        return list(self.session.exec(
            select(Review).where(Review.plan_id == plan_id)
            .order_by(col(Review.due_on).nulls_last(), col(Review.id))
        ))

    def schedule_reviews(self, plan_id: int, due_dates: Iterable[date]) -> None:
        """Add reviews due on ``due_dates`` (not held yet), in one statement."""
        rows = [{"plan_id": plan_id, "due_on": due_on} for due_on in due_dates]
        if rows:
            self.session.execute(insert(Review), rows)

    def add_review(self, review: Review) -> Review:
        self.session.add(review)
        self.session.flush()
        return review


@cache
def _upsert_reminder(dialect: str, columns: frozenset[str], *, counted: bool = True) -> Any:
    """The reminder upsert for one dialect and set of columns, built once (see ``schedule``).
    ``counted``: it returns the ids it wrote (one row at a time); else it can be sent for many
    rows in one call."""
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Reminder.__table__
    stmt = insert_fn(table).values({name: bindparam(name, type_=table.c[name].type) for name in sorted(columns)})
    upsert = stmt.on_conflict_do_update(
        index_elements=["idempotency_key"],
        set_={
            "status": ReminderStatus.PENDING.value,
            "due_at": stmt.excluded.due_at,
            "resolved_at": None,
            "attempts": 0,
            "last_error": None,
        },
        where=table.c.status == ReminderStatus.CANCELLED.value,
    )
    return upsert.returning(table.c.id) if counted else upsert


class ReminderRepository:
    """Scheduling side of reminders (the sweeper's queue operations live in
    :mod:`storage.reminder_queue`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def schedule(self, rows: Sequence[dict[str, Any]], *, count: bool = True) -> int | None:
        """Store reminders by idempotency key: a new key is inserted; a key already
        pending, sent or failed is left alone; a cancelled one is revived with the new
        due time (the matter it was about is back). Returns how many rows changed; with
        ``count=False`` the rows (all with the same columns) go in one call and None is returned."""
        if not rows:
            return 0
        dialect = self.session.get_bind().dialect.name
        if not count:
            self.session.execute(_upsert_reminder(dialect, frozenset(rows[0]), counted=False), list(rows))
            return None
        changed = 0
        for row in rows:
            changed += len(self.session.execute(_upsert_reminder(dialect, frozenset(row)), row).all())
        return changed

    def for_plan(self, plan_id: int) -> list[Reminder]:
        return list(self.session.exec(
            select(Reminder).where(Reminder.plan_id == plan_id)
            .order_by(col(Reminder.due_at), col(Reminder.id))
        ))

    def cancel_pending(
        self, plan_id: int, *, keep_keys: Iterable[str] = (), kinds: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Cancel the plan's pending reminders except those in ``keep_keys``."""
        conditions = [
            col(Reminder.plan_id) == plan_id,
            col(Reminder.status) == ReminderStatus.PENDING.value,
        ]
        keep = list(keep_keys)
        if keep:
            conditions.append(col(Reminder.idempotency_key).not_in(keep))
        if kinds is not None:
            conditions.append(col(Reminder.kind).in_(list(kinds)))
        result = self.session.execute(
            update(Reminder).where(*conditions)
            .values(status=ReminderStatus.CANCELLED.value, resolved_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    def snoozed_until(self, reminder: Reminder) -> date | None:
        """The day a snooze of ``reminder`` (or of the reminder it was snoozed from) not yet sent
        reminds again; None if there is none."""
        prefix = f"{snoozed_from(reminder.idempotency_key)}{SNOOZE_SUFFIX}"
        keys = self.session.exec(select(Reminder.idempotency_key).where(
            col(Reminder.plan_id) == reminder.plan_id, col(Reminder.status) == ReminderStatus.PENDING.value,
            col(Reminder.idempotency_key).startswith(prefix, autoescape=True)))
        days = []
        for key in keys:
            with suppress(ValueError):  # a key cut short by an older version
                days.append(date.fromisoformat(key[len(prefix):len(prefix) + 10]))
        return max(days, default=None)

    def settle_unwanted(self, plan_id: int, *, wanted_keys: Iterable[str], kinds: Iterable[str],
                        now: datetime) -> int:
        """Stop the plan's reminders of ``kinds`` whose matter has gone (a review moved or held, an
        end date extended, an agreement given): those whose root key (:func:`reminder_root_key`) is
        not in ``wanted_keys`` are resolved as by :meth:`resolve`. A snoozed or escalated reminder
        goes on while the reminder it came from is wanted."""
        wanted = set(wanted_keys)
        rows = self.session.execute(
            select(Reminder.id, Reminder.idempotency_key)
            .where(col(Reminder.plan_id) == plan_id, col(Reminder.kind).in_(list(kinds)),
                   col(Reminder.resolved_at).is_(None))
        ).all()
        gone = [reminder_id for reminder_id, key in rows if reminder_root_key(key) not in wanted]
        return self.resolve(plan_id, ids=gone, now=now) if gone else 0

    def resolve(
        self, plan_id: int, *, kinds: Iterable[str] | None = None,
        subjects: Iterable[str] | None = None, subject_prefix: str | None = None,
        ids: Iterable[int] | None = None, now: datetime | None = None,
    ) -> int:
        """The matter these reminders were about has been dealt with: stop escalating
        the sent ones and cancel the ones not sent yet."""
        now = now or utcnow()
        conditions = [col(Reminder.plan_id) == plan_id, col(Reminder.resolved_at).is_(None)]
        if kinds is not None:
            conditions.append(col(Reminder.kind).in_(list(kinds)))
        if subjects is not None:
            conditions.append(col(Reminder.subject).in_(list(subjects)))
        if subject_prefix is not None:
            conditions.append(col(Reminder.subject).startswith(subject_prefix, autoescape=True))
        if ids is not None:
            conditions.append(col(Reminder.id).in_(list(ids)))
        n = self.session.execute(
            update(Reminder)
            .where(*conditions, col(Reminder.status) == ReminderStatus.PENDING.value)
            .values(status=ReminderStatus.CANCELLED.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount or 0
        n += self.session.execute(
            update(Reminder)
            .where(*conditions, col(Reminder.status) != ReminderStatus.PENDING.value)
            .values(resolved_at=now, escalate_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount or 0
        return n


#: Built once: the audit row is written on nearly every request, and building an INSERT (or
#: flushing an ORM object) costs several times more than running one.
_INSERT_AUDIT = insert(AuditLog.__table__)  # type: ignore[arg-type]


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self, action: str, entity: str, entity_id: object = None, *,
        actor_user_id: int | None = None, school_id: int | None = None,
        detail: dict[str, Any] | None = None, at: datetime | None = None,
    ) -> None:
        """Append one audit row (who did what to which record), in the session's transaction."""
        self.session.execute(_INSERT_AUDIT, {
            "at": at or utcnow(), "actor_user_id": actor_user_id, "action": AuditAction(action).value,
            "entity": entity, "entity_id": None if entity_id is None else str(entity_id),
            "school_id": school_id, "detail_json": detail,
        })

    def for_entity(self, entity: str, entity_id: object) -> list[AuditLog]:
        return list(self.session.exec(
            select(AuditLog)
            .where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
            .order_by(col(AuditLog.id))
        ))
