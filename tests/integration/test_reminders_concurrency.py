"""Two sweepers at once over a simulated term, with a crash: every reminder exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from assistant.reminders import ReminderMessage, SweepResult, SweepSettings, run_once
from rules.calendar import SchoolCalendar
from rules.reminder_schedule import (
    SCHOOL_TIMEZONE,
    LaNotificationDue,
    due_at_utc,
    plan_reminders,
)
from storage.models import Plan, Pupil, Reminder
from tests.integration.conftest import Staff

PLANS = 2_000
TERM_START = date(2026, 1, 5)
TERM_DAYS = 12 * 7
HALF_TERM = (date(2026, 2, 16), date(2026, 2, 20))
CRASH_DAY = 10
CRASH_AFTER = 40


class WorkerCrashed(BaseException):
    """The sweeper process dies (not an error it could catch and tidy up after)."""


class Outbox:
    """Every delivery by every worker, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: list[str] = []
        self.by_worker: Counter[str] = Counter()


class WorkerDeliverer:
    def __init__(self, outbox: Outbox, worker: str) -> None:
        self.outbox = outbox
        self.worker = worker
        self.crash_after: int | None = None

    def deliver(self, message: ReminderMessage) -> None:
        if self.crash_after is not None:
            if self.crash_after == 0:
                self.crash_after = None
                raise WorkerCrashed(f"{self.worker} died holding claimed reminders")
            self.crash_after -= 1
        with self.outbox.lock:
            self.outbox.keys.append(message.idempotency_key)
            self.outbox.by_worker[self.worker] += 1


def _seed_term(session_factory: sessionmaker[Session], staff: Staff) -> int:
    """2,000 plans starting over the first six weeks, 2–8 weeks long, reviewed
    fortnightly; one in ten runs past the six-week maximum, one in four waits on an
    agreement. Returns how many reminders were stored."""
    calendar = SchoolCalendar([HALF_TERM])
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with session_factory() as session:
        session.execute(insert(Pupil), [
            {"first_name": f"Pupil{i}", "last_name": "Test", "school_id": staff.school_id}
            for i in range(PLANS)])
        pupil_ids = list(session.exec(select(Pupil.id).order_by(col(Pupil.id))))
        plans: list[dict[str, Any]] = []
        for i, pupil_id in enumerate(pupil_ids):
            start = calendar.next_school_day_on_or_after(TERM_START + timedelta(days=i % 42))
            latest = calendar.end_of_school_weeks(start, 6)
            end = start + timedelta(days=14 + (i % 43)) if i % 10 else latest + timedelta(days=10)
            plans.append({"school_id": staff.school_id, "pupil_id": pupil_id,
                          "policy_id": "derby-city", "status": "active", "case_json": {},
                          "start_date": start, "end_date": end, "latest_end_date": latest,
                          "lead_user_id": staff.lead_id, "version": 1,
                          "extended_beyond_maximum": False,
                          "created_at": created, "updated_at": created})
        session.execute(insert(Plan), plans)
        plan_ids = list(session.exec(select(Plan.id).order_by(col(Plan.id))))
        rows: list[dict[str, Any]] = []
        for plan_id, plan in zip(plan_ids, plans, strict=True):
            start, end = plan["start_date"], plan["end_date"]
            reviews = [calendar.end_of_school_weeks(start, w) for w in (2, 4, 6)]
            for r in plan_reminders(
                plan_id, start_date=start, end_date=end,
                review_dates=[d for d in reviews if d <= end],
                latest_end_date=plan["latest_end_date"], calendar=calendar,
                la_notifications_due=[LaNotificationDue("first", start)],
                missing_agreements={"virtual_school": start} if plan_id % 4 == 0 else None,
            ):
                rows.append({"plan_id": plan_id, "kind": r.kind, "subject": r.subject,
                             "due_at": due_at_utc(r.due_on), "idempotency_key": r.idempotency_key,
                             "status": "pending", "attempts": 0, "escalation_level": 0,
                             "recipient_role": r.recipient_role,
                             "recipient_user_id": staff.lead_id if r.recipient_role == "lead"
                             else None, "created_at": created})
        session.execute(insert(Reminder), rows)
        session.commit()
        return len(rows)


def _staff_act_on_most_reminders(session_factory: sessionmaker[Session], now: datetime) -> None:
    """School staff deal with what they were sent, except for one plan in five, whose
    reminders are ignored and escalate."""
    with session_factory() as session:
        session.execute(
            update(Reminder)
            .where(col(Reminder.escalate_at).is_not(None), col(Reminder.plan_id) % 5 != 0)
            .values(escalate_at=None, resolved_at=now)
        )
        session.commit()


@pytest.mark.slow
def test_two_sweepers_over_a_simulated_term_deliver_every_reminder_exactly_once_despite_a_crash(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    stored = _seed_term(session_factory, staff)
    assert stored > 5 * PLANS
    outbox = Outbox()
    settings = SweepSettings(batch_size=100, claim_timeout=timedelta(minutes=15),
                             escalate_after=timedelta(days=3))
    workers = {name: WorkerDeliverer(outbox, name) for name in ("sweeper-a", "sweeper-b")}
    results: list[SweepResult] = []
    crashes: list[str] = []
    failures: list[BaseException] = []
    day_starts = threading.Barrier(len(workers), timeout=120)
    day_ends = threading.Barrier(len(workers), timeout=120)

    def moment(day: int) -> datetime:
        local = datetime.combine(TERM_START + timedelta(days=day), time(7, 30),
                                 tzinfo=SCHOOL_TIMEZONE)
        return local.astimezone(UTC)

    def work(name: str) -> None:
        deliverer = workers[name]
        for day in range(TERM_DAYS + 1):
            try:
                day_starts.wait()
                if name == "sweeper-b" and day == CRASH_DAY:
                    deliverer.crash_after = CRASH_AFTER
                try:
                    results.append(run_once(session_factory, moment(day), {"email": deliverer},
                                            worker_id=name, settings=settings))
                except WorkerCrashed as crash:
                    crashes.append(str(crash))  # the supervisor restarts it tomorrow
                day_ends.wait()
                if name == "sweeper-a":
                    _staff_act_on_most_reminders(session_factory, moment(day))
            except BaseException as error:
                failures.append(error)
                day_starts.abort()
                day_ends.abort()
                raise

    threads = [threading.Thread(target=work, args=(name,)) for name in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    # A last sweep after the term: the reaper has long since freed anything claimed.
    final = moment(TERM_DAYS + 1)
    results.append(run_once(session_factory, final, {"email": workers["sweeper-a"]},
                            worker_id="sweeper-a", settings=settings))

    delivered = Counter(outbox.keys)
    with session_factory() as session:
        by_status = dict(session.exec(
            select(Reminder.status, func.count()).group_by(col(Reminder.status))).all())
        sent_keys = set(session.exec(
            select(Reminder.idempotency_key).where(col(Reminder.status) == "sent")))
        overdue = session.exec(select(func.count()).select_from(Reminder).where(
            col(Reminder.status) == "pending", col(Reminder.due_at) <= final)).one()
        escalations = session.exec(select(func.count()).select_from(Reminder).where(
            col(Reminder.escalation_level) > 0)).one()

    assert crashes == ["sweeper-b died holding claimed reminders"]
    assert sum(r.reaped for r in results) > 0, "the reaper recovered the crashed claims"
    assert [k for k, n in delivered.items() if n > 1] == [], "nothing delivered twice"
    assert set(delivered) == sent_keys, "every reminder marked sent was delivered, no other"
    assert overdue == 0, "none missed"
    assert set(by_status) <= {"sent", "pending"} and by_status.get("sent") == len(sent_keys)
    assert escalations > 0 and sum(r.lost for r in results) == 0
    assert min(outbox.by_worker.values()) > 0, "both sweepers did work"
