"""The reminder sweeper: reap stuck claims, escalate ignored reminders, then claim the
due rows, deliver them and mark them sent.

Any number of sweepers may run at once (``ptt reminders run`` from cron on several
hosts, the background thread of ``ptt serve``): a row is claimed by one of them only
(see :mod:`storage.reminder_queue`), and a sweeper that dies after claiming leaves rows
in ``sending`` that the reaper of a later sweep hands back after ``claim_timeout``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from assistant.reminders.delivery import ConsoleDeliverer, ReminderDeliverer
from assistant.reminders.messages import (
    PlanFacts,
    Recipient,
    ReminderMessage,
    pupil_label,
    render,
)
from assistant.services.auth import may_see_school
from rules.reminder_schedule import ESCALATION_CHAIN, next_escalation_role
from storage.db import SQLITE_READ_ONLY, SessionFactory
from storage.models import LocalAuthority, Plan, Pupil, Reminder, School, User
from storage.reminder_queue import (
    DeliveryAudit,
    claim_due,
    delivery_connection,
    escalate_due,
    mark_failed,
    mark_sent,
    reap_stuck,
    release_claims,
)
from storage.types import utcnow

logger = logging.getLogger("ptt.reminders")


DEFAULT_CLAIM_TIMEOUT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SweepSettings:
    batch_size: int = 200
    #: A row left in ``sending`` longer than this is taken back by the reaper.
    claim_timeout: timedelta = DEFAULT_CLAIM_TIMEOUT
    #: A sent reminder nobody has acted on after this long escalates.
    escalate_after: timedelta = timedelta(days=3)
    max_attempts: int = 5
    retry_after: timedelta = timedelta(minutes=5)
    #: Where the web app lives, for links in messages (e.g. ``https://ptt.example``).
    base_url: str | None = None


@dataclass(slots=True)
class SweepResult:
    reaped: int = 0
    escalated: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)


class NoRecipient(LookupError):
    pass


def default_worker_id() -> str:
    return (f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:"
            f"{uuid.uuid4().hex[:8]}")


def run_once(
    session_factory: SessionFactory,
    now: datetime | None = None,
    deliverers: Mapping[str, ReminderDeliverer] | None = None,
    *,
    worker_id: str | None = None,
    settings: SweepSettings | None = None,
) -> SweepResult:
    """One sweep at ``now`` (default: the current time). Returns what it did.

    ``deliverers`` maps a channel name (``email``, ``slack``, ``console``, ``log``) to
    its adapter; a reminder with no channel of its own goes by Slack when every
    recipient has a Slack id and a ``slack`` deliverer is given, else by ``email``,
    else by the first deliverer given. With none given, reminders are printed.
    """
    now = now or utcnow()
    settings = settings or SweepSettings()
    worker_id = worker_id or default_worker_id()
    deliverers = dict(deliverers) if deliverers else {"console": ConsoleDeliverer()}
    result = SweepResult()

    result.reaped = reap_stuck(session_factory, now=now, timeout=settings.claim_timeout)
    result.escalated = escalate_due(
        session_factory, now=now,
        next_role=lambda r: next_escalation_role(r.recipient_role, r.kind),
    )
    sweep_started = time.monotonic()
    with delivery_connection(session_factory) as marks:
        while True:
            # Stamped with when it is taken, not when the sweep began: a sweep catching up on a
            # backlog outlasts the lease, and the reaper (another sweeper's) counts from the stamp.
            batch = claim_due(session_factory, now=now, worker_id=worker_id, limit=settings.batch_size,
                              claimed_at=now + timedelta(seconds=time.monotonic() - sweep_started))
            if not batch:
                break
            result.claimed += len(batch)
            lease_started = time.monotonic()
            contexts = _load_contexts(session_factory, batch, settings)
            for position, reminder in enumerate(batch):
                if time.monotonic() - lease_started > settings.claim_timeout.total_seconds() / 2:
                    # Give the rest back rather than risk the reaper handing them to
                    # another sweeper while this one is still working on them.
                    rest = [r.id for r in batch[position:] if r.id is not None]
                    result.released += release_claims(marks, rest, worker_id=worker_id)
                    break
                _deliver_one(marks, reminder, contexts, deliverers, now, worker_id, settings,
                             result)
    if result.claimed or result.reaped or result.escalated:
        logger.info("reminder sweep %s: %s", worker_id, result)
    return result


def _deliver_one(
    marks: Connection, reminder: Reminder, contexts: _Contexts,
    deliverers: Mapping[str, ReminderDeliverer], now: datetime, worker_id: str,
    settings: SweepSettings, result: SweepResult,
) -> None:
    assert reminder.id is not None
    next_role = next_escalation_role(reminder.recipient_role, reminder.kind)
    escalate_at = now + settings.escalate_after if next_role else None
    try:
        message = contexts.message_for(reminder)
    except NoRecipient as error:
        # Nobody to tell is itself worth escalating: pass it up at once.
        mark_failed(marks, reminder.id, worker_id=worker_id, error=str(error),
                    retry_at=None, escalate_at=now if next_role else None)
        result.failed += 1
        result.errors.append(f"{reminder.idempotency_key}: {error}")
        return
    channel = _choose(reminder, message, deliverers)
    deliverer = deliverers[channel]
    try:
        deliverer.deliver(message)
    except Exception as error:
        text = f"{type(error).__name__}: {error}"
        result.errors.append(f"{reminder.idempotency_key}: {text}")
        if reminder.attempts >= settings.max_attempts:
            mark_failed(marks, reminder.id, worker_id=worker_id, error=text,
                        retry_at=None, escalate_at=now if next_role else None)
            result.failed += 1
        else:
            backoff = settings.retry_after * (2 ** max(0, reminder.attempts - 1))
            mark_failed(marks, reminder.id, worker_id=worker_id, error=text,
                        retry_at=now + backoff)
            result.retried += 1
        logger.warning("reminder %s not delivered: %s", reminder.idempotency_key, text)
        return
    plan = contexts.plans.get(reminder.plan_id) if reminder.plan_id is not None else None
    audit = DeliveryAudit(
        plan_id=reminder.plan_id, school_id=plan.school_id if plan is not None else None, kind=reminder.kind,
        channel=channel,
        recipient_user_ids=tuple(r.user_id for r in message.recipients if r.user_id is not None),
    )
    if mark_sent(marks, reminder.id, worker_id=worker_id, now=now,
                 escalate_at=escalate_at, audit=audit):
        result.sent += 1
    else:
        result.lost += 1
        logger.warning("reminder %s delivered but its claim had been taken back",
                       reminder.idempotency_key)


def _choose(reminder: Reminder, message: ReminderMessage, deliverers: Mapping[str, ReminderDeliverer]) -> str:
    """The channel (a key of ``deliverers``) to send ``message`` by."""
    if reminder.channel and reminder.channel in deliverers:
        return reminder.channel
    if "slack" in deliverers and all(r.slack_user_id for r in message.recipients):
        return "slack"
    if "email" in deliverers:
        return "email"
    return next(iter(deliverers))


def _read_session(session_factory: SessionFactory) -> Session:
    session = session_factory()
    # On SQLite, read without taking the write lock.
    session.connection(execution_options={SQLITE_READ_ONLY: True})
    return session


class _Contexts:
    """Everything needed to write the messages of one claimed batch, loaded in a few
    queries (so the cost follows the batch, not the tables)."""

    def __init__(self, session: Session, batch: list[Reminder], settings: SweepSettings) -> None:
        self.settings = settings
        plan_ids = {r.plan_id for r in batch if r.plan_id is not None}
        self.plans = {p.id: p for p in session.exec(select(Plan).where(col(Plan.id).in_(plan_ids)))}
        pupil_ids = {p.pupil_id for p in self.plans.values()}
        self.pupils = {p.id: p for p in session.exec(
            select(Pupil).where(col(Pupil.id).in_(pupil_ids)))}
        school_ids = {p.school_id for p in self.plans.values()}
        self.schools = {s.id: s for s in session.exec(
            select(School).where(col(School.id).in_(school_ids)))}
        la_ids = {s.la_id for s in self.schools.values() if s.la_id is not None}
        self.las = {la.id: la for la in session.exec(
            select(LocalAuthority).where(col(LocalAuthority.id).in_(la_ids)))}
        user_ids = {r.recipient_user_id for r in batch if r.recipient_user_id} | {
            p.lead_user_id for p in self.plans.values() if p.lead_user_id}
        staff_roles = {"dsl", "ewo", "headteacher", "la_officer"}
        query = select(User).where(col(User.id).in_(user_ids))
        if school_ids or la_ids:
            query = select(User).where(
                col(User.id).in_(user_ids)
                | (col(User.role).in_(staff_roles)
                   & (col(User.school_id).in_(school_ids) | col(User.la_id).in_(la_ids))))
        # A disabled account (a leaver) is never sent a reminder: the lead's go to the DSL.
        self.users = {u.id: u for u in session.exec(query.where(col(User.disabled_at).is_(None))
                                                    .order_by(col(User.id)))}
        parent_ids = {r.parent_id for r in batch if r.parent_id is not None}
        self.parents = {p.id: p for p in session.exec(
            select(Reminder).where(col(Reminder.id).in_(parent_ids)))} if parent_ids else {}
        self._facts: dict[int, PlanFacts] = {}

    def _recipients(self, reminder: Reminder, plan: Plan | None) -> list[User]:
        named = self.users.get(reminder.recipient_user_id) if reminder.recipient_user_id else None
        if named is not None and (plan is None or self._may_see(named, plan)):
            return [named]
        role = reminder.recipient_role or "lead"
        if plan is None:
            return []
        if role == "lead":
            lead = self.users.get(plan.lead_user_id) if plan.lead_user_id else None
            if lead is not None and self._may_see(lead, plan):
                return [lead]
            role = "dsl"
        school = self.schools.get(plan.school_id)
        la_id = school.la_id if school else None
        found = [u for u in self.users.values() if u.role == role and u.school_id == plan.school_id]
        if not found and role in ("ewo", "la_officer") and la_id is not None:
            found = [u for u in self.users.values() if u.role == role and u.la_id == la_id]
        return found

    def _may_see(self, user: User, plan: Plan) -> bool:
        """Whether ``user`` may still see ``plan``'s school (decided from the schools already
        loaded): someone named on a plan who has since moved to another school or LA is sent
        nothing about its pupil, and the reminder goes to the role's holder instead."""
        school = self.schools.get(plan.school_id)
        return may_see_school(user, plan.school_id, school.la_id if school is not None else None)

    def facts(self, plan: Plan) -> PlanFacts:
        assert plan.id is not None
        if plan.id not in self._facts:
            pupil = self.pupils.get(plan.pupil_id)
            school = self.schools.get(plan.school_id)
            decision: dict[str, Any] = plan.decision_json or {}
            advice = {
                s["code"].removeprefix("la_notification_"): s.get("message", "")
                for s in decision.get("next_steps", [])
                if str(s.get("code", "")).startswith("la_notification_")
            }
            self._facts[plan.id] = PlanFacts(
                plan_id=plan.id,
                pupil_label=pupil_label(pupil.first_name, pupil.last_name) if pupil else "a pupil",
                school_name=school.name if school else "the school",
                policy_title=decision.get("policy_title") or plan.policy_id,
                end_date=plan.end_date,
                latest_end_date=plan.latest_end_date,
                escalation_advice=_escalation_advice(plan.policy_id),
                la_notification_advice=advice,
                closed_on=plan.closed_on,
            )
        return self._facts[plan.id]

    def message_for(self, reminder: Reminder) -> ReminderMessage:
        assert reminder.id is not None
        plan = self.plans.get(reminder.plan_id) if reminder.plan_id is not None else None
        users = self._recipients(reminder, plan)
        if not users:
            school = self.schools.get(plan.school_id) if plan else None
            where = f" at {school.name}" if school else ""
            raise NoRecipient(f"no user with role {reminder.recipient_role or 'lead'}{where} "
                              "to send it to")
        parent = self.parents.get(reminder.parent_id) if reminder.parent_id else None
        role = reminder.recipient_role or "lead"
        previous = (ESCALATION_CHAIN[ESCALATION_CHAIN.index(role) - 1]
                    if role in ESCALATION_CHAIN[1:] else None)
        if plan is not None:
            title, body = render(
                kind=reminder.kind, subject=reminder.subject,
                escalation_level=reminder.escalation_level, facts=self.facts(plan),
                escalated_from=previous, sent_before=parent.sent_at if parent else None,
            )
        else:
            title, body = f"Reminder: {reminder.kind}", reminder.subject
        link = (f"{self.settings.base_url.rstrip('/')}/plans/{plan.id}"
                if self.settings.base_url and plan is not None else None)
        return ReminderMessage(
            reminder_id=reminder.id, kind=reminder.kind, subject=reminder.subject,
            idempotency_key=reminder.idempotency_key,
            escalation_level=reminder.escalation_level, plan_id=reminder.plan_id,
            recipients=tuple(
                Recipient(user_id=u.id, email=u.email, display_name=u.display_name or u.email,
                          role=u.role, slack_user_id=u.slack_user_id)
                for u in users
            ),
            title=title, body=body, due_at=reminder.due_at, link=link,
        )


def _escalation_advice(policy_id: str) -> str:
    from rules.packs import UnknownPolicy, load_pack

    try:
        pack = load_pack(policy_id)
    except UnknownPolicy:
        return ""
    parts = [rule.message for rule in (pack.escalation, pack.extension) if rule is not None]
    return " ".join(dict.fromkeys(parts))


def _load_contexts(session_factory: SessionFactory, batch: list[Reminder],
                   settings: SweepSettings) -> _Contexts:
    with _read_session(session_factory) as session:
        contexts = _Contexts(session, batch, settings)
        session.expunge_all()
        return contexts


def reap(session_factory: SessionFactory, *, now: datetime | None = None,
         timeout: timedelta = DEFAULT_CLAIM_TIMEOUT) -> int:
    """Reset reminders stuck in ``sending`` for longer than ``timeout``."""
    return reap_stuck(session_factory, now=now or utcnow(), timeout=timeout)
