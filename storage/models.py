"""The tables. Alembic migrations (``storage/migrations``) are the source of the schema;
these classes must stay in step with them (a test compares the two).

Every datetime is timezone-aware UTC (:class:`storage.types.UTCDateTime`).
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    STAFF = "staff"
    DSL = "dsl"
    HEADTEACHER = "headteacher"
    EWO = "ewo"
    LA_OFFICER = "la_officer"
    ADMIN = "admin"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    AWAITING = "awaiting"
    ACTIVE = "active"
    CLOSED = "closed"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AuditAction(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    SIGN_IN = "sign_in"  # the web app: entity "user", detail {"method": "password" | "sso"}
    SIGN_OUT = "sign_out"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def _utc(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def _fk(target: str, nullable: bool, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target), nullable=nullable, index=index),
    )


class LocalAuthority(SQLModel, table=True):
    __tablename__ = "local_authorities"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200))
    policy_id: str = Field(sa_type=String(64), unique=True)
    # Days every school in the LA is closed (term holidays, shared INSET days):
    # [{"from": "2026-02-16", "to": "2026-02-20", "label": "February half term"}, ...]
    closures_json: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class School(SQLModel, table=True):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("la_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200))
    la_id: int | None = _fk("local_authorities.id", nullable=True)
    # The school's own closures on top of its LA's (INSET days, an academy's own term dates).
    closures_json: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True)
    role: str = Field(sa_type=String(20))
    school_id: int | None = _fk("schools.id", nullable=True, index=True)
    la_id: int | None = _fk("local_authorities.id", nullable=True)
    password_hash: str | None = Field(default=None, sa_type=String(255))
    display_name: str = Field(default="", sa_type=String(200))
    slack_user_id: str | None = Field(default=None, sa_type=String(64), index=True)
    created_at: datetime = _utc(default_factory=utcnow)
    #: Set when the account is disabled: it can no longer sign in, use a token or Slack, and
    #: reminders go to others.
    disabled_at: datetime | None = _utc(nullable=True, default=None)
    #: Set when the user signs out of the web app or their tokens are revoked: every web session
    #: begun before it ends at its next request, wherever its cookie has got to.
    sessions_ended_at: datetime | None = _utc(nullable=True, default=None)
    #: Set when the user's tokens are revoked or the account disabled (a lost device, a leaver):
    #: their calendar feed's secret address changes, and the old one stops working.
    feed_revoked_at: datetime | None = _utc(nullable=True, default=None)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class ApiToken(SQLModel, table=True):
    """An API token; only its SHA-256 hex digest is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    user_id: int = _fk("users.id", nullable=False, index=True)
    created_at: datetime = _utc(default_factory=utcnow)
    last_used_at: datetime | None = _utc(nullable=True, default=None)
    revoked_at: datetime | None = _utc(nullable=True, default=None)


class Pupil(SQLModel, table=True):
    """Only what a plan needs to name the child (data minimisation)."""

    __tablename__ = "pupils"

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(sa_type=String(100))
    last_name: str = Field(sa_type=String(100))
    date_of_birth: date | None = Field(default=None, sa_type=Date)
    upn: str | None = Field(default=None, sa_type=String(13))
    school_id: int = _fk("schools.id", nullable=False, index=True)


class Plan(SQLModel, table=True):
    """A pupil's part-time timetable. ``version`` is the optimistic-locking counter."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(_in("status", PlanStatus), name="status"),
        Index("ix_plans_school_id_status", "school_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = _fk("schools.id", nullable=False)
    pupil_id: int = _fk("pupils.id", nullable=False, index=True)
    policy_id: str = Field(sa_type=String(64))
    status: str = Field(default=PlanStatus.DRAFT.value, sa_type=String(20))
    case_json: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    decision_json: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    timetable_json: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    start_date: date | None = Field(default=None, sa_type=Date)
    end_date: date | None = Field(default=None, sa_type=Date)
    latest_end_date: date | None = Field(default=None, sa_type=Date)
    extended_beyond_maximum: bool = Field(default=False)
    lead_user_id: int | None = _fk("users.id", nullable=True)
    version: int = Field(default=1)
    created_at: datetime = _utc(default_factory=utcnow)
    updated_at: datetime = _utc(default_factory=utcnow)
    closed_at: datetime | None = _utc(nullable=True, default=None)
    #: The plan's last day under the part-time timetable; ``closed_at`` is when that was recorded.
    closed_on: date | None = Field(default=None, sa_type=Date)
    closure_route: str | None = Field(default=None, sa_type=String(64))


class PlanVersion(SQLModel, table=True):
    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = _fk("plans.id", nullable=False)
    version: int
    snapshot_json: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed_by: int | None = _fk("users.id", nullable=True)
    changed_at: datetime = _utc(default_factory=utcnow)
    change_summary: str = Field(default="", sa_type=Text)


class Consultation(SQLModel, table=True):
    """One consultee (role) of a plan: what the policy requires of them and where it stands."""

    __tablename__ = "consultations"
    __table_args__ = (UniqueConstraint("plan_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = _fk("plans.id", nullable=False)
    role: str = Field(sa_type=String(64))
    requirement: str = Field(sa_type=String(20))
    status: str = Field(default="not_contacted", sa_type=String(20))
    created_at: datetime = _utc(default_factory=utcnow)
    updated_at: datetime = _utc(default_factory=utcnow)
    note: str | None = Field(default=None, sa_type=Text)


class Review(SQLModel, table=True):
    """A scheduled (``held_on`` null) or held review of a plan."""

    __tablename__ = "reviews"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = _fk("plans.id", nullable=False, index=True)
    due_on: date | None = Field(default=None, sa_type=Date)
    held_on: date | None = Field(default=None, sa_type=Date)
    outcome: str | None = Field(default=None, sa_type=String(20))
    hours_per_week: float | None = None
    new_end_date: date | None = Field(default=None, sa_type=Date)
    rationale: str | None = Field(default=None, sa_type=Text)
    parent_agreed: bool | None = None
    notes: str | None = Field(default=None, sa_type=Text)
    recorded_by: int | None = _fk("users.id", nullable=True)
    recorded_at: datetime | None = _utc(nullable=True, default=None)


class Reminder(SQLModel, table=True):
    """A reminder to deliver once, at ``due_at``, identified by ``idempotency_key``.

    ``escalate_at`` is set when a sent reminder may be escalated if nobody acts on it;
    it is cleared when the matter is resolved or the escalation row is created.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint(_in("status", ReminderStatus), name="status"),
        Index("ix_reminders_status_due_at", "status", "due_at"),
        Index("ix_reminders_escalate_at", "escalate_at"),
        Index("ix_reminders_plan_id_status", "plan_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = _fk("plans.id", nullable=True)
    kind: str = Field(sa_type=String(40))
    subject: str = Field(default="", sa_type=String(100))
    due_at: datetime = _utc()
    idempotency_key: str = Field(sa_type=String(255), unique=True)
    status: str = Field(default=ReminderStatus.PENDING.value, sa_type=String(20))
    attempts: int = Field(default=0)
    claimed_at: datetime | None = _utc(nullable=True, default=None)
    claimed_by: str | None = Field(default=None, sa_type=String(100))
    sent_at: datetime | None = _utc(nullable=True, default=None)
    escalation_level: int = Field(default=0)
    escalate_at: datetime | None = _utc(nullable=True, default=None)
    resolved_at: datetime | None = _utc(nullable=True, default=None)
    parent_id: int | None = _fk("reminders.id", nullable=True)
    recipient_user_id: int | None = _fk("users.id", nullable=True)
    recipient_role: str | None = Field(default=None, sa_type=String(20))
    channel: str | None = Field(default=None, sa_type=String(20))
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc(default_factory=utcnow)


#: What a reminder's key gains when it escalates (``<key>:escalation-<level>``) or is snoozed
#: (``<key>:snoozed:<day>``); the two may follow each other.
ESCALATION_SUFFIX = ":escalation-"
SNOOZE_SUFFIX = ":snoozed:"


def snoozed_from(key: str) -> str:
    """The key of the reminder a snooze (``key``) was first snoozed from; ``key`` if none."""
    return key.split(SNOOZE_SUFFIX, 1)[0]


def reminder_root_key(key: str) -> str:
    """The key the plan's schedule gave the reminder that ``key`` escalated or snoozed from: while
    that reminder is still wanted, so are its escalations and snoozes."""
    for suffix in (ESCALATION_SUFFIX, SNOOZE_SUFFIX):
        key = key.split(suffix, 1)[0]
    return key


class Conversation(SQLModel, table=True):
    """An interview in progress. ``version`` is the optimistic-locking counter."""

    __tablename__ = "conversations"

    id: str = Field(primary_key=True, sa_type=String(36))
    user_id: int | None = _fk("users.id", nullable=True, index=True)
    policy_id: str = Field(sa_type=String(64))
    channel: str | None = Field(default=None, sa_type=String(20))
    state_json: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = Field(default=1)
    finished: bool = Field(default=False)
    plan_id: int | None = _fk("plans.id", nullable=True)
    created_at: datetime = _utc(default_factory=utcnow)
    updated_at: datetime = _utc(default_factory=utcnow)
    # The school its user was at when it began (None: a user of no school, e.g. an EWO), and
    # for one begun outside any school the LA they were in (None: an admin of none).
    school_id: int | None = _fk("schools.id", nullable=True)
    la_id: int | None = _fk("local_authorities.id", nullable=True)


class ConversationAnswer(SQLModel, table=True):
    """One answer, stored the moment it is given (accepted or not)."""

    __tablename__ = "conversation_answers"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id"), nullable=False)
    )
    seq: int
    fact: str | None = Field(default=None, sa_type=String(100))
    raw_text: str = Field(default="", sa_type=Text)
    accepted: bool = Field(default=False)
    at: datetime = _utc(default_factory=utcnow)


class ConversationLine(SQLModel, table=True):
    """One line of a conversation as it was shown (said by the assistant or the user), kept
    apart from the conversation's state so that a turn appends its lines rather than
    rewriting every earlier one."""

    __tablename__ = "conversation_lines"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id"), nullable=False)
    )
    seq: int
    entry_json: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_in("action", AuditAction), name="action"),
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
        Index("ix_audit_log_school_id_at", "school_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(default_factory=utcnow)
    actor_user_id: int | None = _fk("users.id", nullable=True)
    action: str = Field(sa_type=String(10))
    entity: str = Field(sa_type=String(40))
    entity_id: str | None = Field(default=None, sa_type=String(64))
    school_id: int | None = _fk("schools.id", nullable=True)
    detail_json: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class LoginFailure(SQLModel, table=True):
    """A failed password sign-in, kept a day for the sign-in throttle: shared by every worker
    and process, counted per client address and per account."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(default_factory=utcnow, index=True)
    address: str = Field(sa_type=String(64), index=True)
    email: str = Field(sa_type=String(320), index=True)


class SlackReceipt(SQLModel, table=True):
    """Something the Slack app has done once: an Events API ``event_id`` (Slack retries an event
    it thinks was not received, with the same id), a reminder DM already sent, a reminder's
    "review held" button already applied."""

    __tablename__ = "slack_receipts"

    key: str = Field(primary_key=True, sa_type=String(255))
    received_at: datetime = _utc(default_factory=utcnow)


class SlackThread(SQLModel, table=True):
    """A check run in a Slack DM: its conversation, the DM channel and the thread."""

    __tablename__ = "slack_threads"

    conversation_id: str = Field(primary_key=True, sa_type=String(36))
    slack_user_id: str = Field(sa_type=String(64), index=True)
    channel_id: str = Field(sa_type=String(64))
    thread_ts: str = Field(sa_type=String(32), index=True)
    decision_posted: bool = Field(default=False)
    created_at: datetime = _utc(default_factory=utcnow)


ALL_TABLES = [
    LocalAuthority, School, User, ApiToken, Pupil, Plan, PlanVersion, Consultation,
    Review, Reminder, Conversation, ConversationAnswer, ConversationLine, AuditLog, LoginFailure,
    SlackReceipt, SlackThread,
]
