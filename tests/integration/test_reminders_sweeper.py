"""The reminder sweeper: delivery, retries, the reaper, escalation, channels, CLI."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from assistant.reminders import (
    ConsoleDeliverer,
    DeliveryError,
    ReminderMessage,
    SlackDeliverer,
    SweepSettings,
    main,
    run_once,
    start_background_sweeper,
)
from storage.models import AuditLog, Plan, Pupil, Reminder, User
from storage.reminder_queue import claim_due, mark_failed, mark_sent, reap_stuck
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff

T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)


class Recording:
    """A deliverer that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[ReminderMessage] = []
        self.lock = threading.Lock()

    def deliver(self, message: ReminderMessage) -> None:
        with self.lock:
            self.messages.append(message)

    @property
    def keys(self) -> list[str]:
        return [m.idempotency_key for m in self.messages]


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    def deliver(self, message: ReminderMessage) -> None:
        self.calls += 1
        raise DeliveryError("mail server said no")


def _plan(session_factory: sessionmaker[Session], staff: Staff, *, lead: bool = True) -> int:
    with UnitOfWork(session_factory) as uow:
        pupil = uow.pupils.add(Pupil(first_name="Jo", last_name="Smith", school_id=staff.school_id))
        plan = uow.plans.add(Plan(
            school_id=staff.school_id, pupil_id=pupil.id, policy_id="derby-city",
            status="active", case_json={}, start_date=date(2026, 3, 2),
            end_date=date(2026, 4, 10), lead_user_id=staff.lead_id if lead else None,
            decision_json={"policy_title": "Derby City Part-Time Timetable Protocol"},
        ))
        uow.commit()
        return plan.id


def _remind(session_factory: sessionmaker[Session], plan_id: int, key: str, due_at: datetime,
            kind: str = "review_due", **extra: Any) -> None:
    with UnitOfWork(session_factory) as uow:
        uow.reminders.schedule([{
            "plan_id": plan_id, "kind": kind, "subject": "2026-03-13", "due_at": due_at,
            "idempotency_key": key, "status": "pending", "recipient_role": "lead", **extra,
        }])
        uow.commit()


def _rows(session_factory: sessionmaker[Session]) -> dict[str, Reminder]:
    with session_factory() as session:
        return {r.idempotency_key: r for r in session.exec(select(Reminder))}


def test_a_due_reminder_is_delivered_to_the_plan_lead_once_and_marked_sent(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "due", T0)
    _remind(session_factory, plan_id, "later", T0 + timedelta(days=1))
    sink = Recording()
    result = run_once(session_factory, T0, {"email": sink})
    assert (result.claimed, result.sent) == (1, 1)
    (message,) = sink.messages
    assert message.idempotency_key == "due"
    assert [r.email for r in message.recipients] == ["lead@oakprimary.sch.uk"]
    assert "Jo S." in message.title and "Smith" not in message.body
    rows = _rows(session_factory)
    assert (rows["due"].status, rows["due"].sent_at, rows["due"].attempts) == ("sent", T0, 1)
    assert rows["later"].status == "pending"
    assert run_once(session_factory, T0, {"email": sink}).sent == 0
    assert sink.keys == ["due"]


def test_a_delivered_reminder_is_in_the_audit_log_with_its_plan_channel_and_recipients(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "due", T0)
    _remind(session_factory, plan_id, "failing", T0, channel="slack")
    run_once(session_factory, T0, {"email": Recording(), "slack": Failing()})
    with session_factory() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.entity == "reminder")).all()
    due = _rows(session_factory)["due"]
    assert [(r.action, r.entity_id, r.school_id, r.at, r.actor_user_id) for r in rows] == [
        ("export", str(due.id), staff.school_id, T0, None)]  # not the one that failed
    assert rows[0].detail_json == {"via": "reminder:email", "plan_id": plan_id, "kind": "review_due",
                                   "recipients": [staff.lead_id]}


def test_a_delivery_whose_claim_was_lost_writes_no_audit_row_and_one_that_was_not_writes_one(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    from storage.reminder_queue import DeliveryAudit, delivery_connection, mark_sent

    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "due", T0)
    (claimed,) = claim_due(session_factory, now=T0, worker_id="sweeper-a")
    audit = DeliveryAudit(plan_id=plan_id, school_id=staff.school_id, kind="review_due", channel="email",
                          recipient_user_ids=(staff.lead_id,))
    with delivery_connection(session_factory) as marks:
        assert not mark_sent(marks, claimed.id, worker_id="sweeper-b", now=T0, audit=audit)
        with session_factory() as session:
            assert session.exec(select(AuditLog).where(AuditLog.entity == "reminder")).all() == []
        assert mark_sent(marks, claimed.id, worker_id="sweeper-a", now=T0, audit=audit)
    with session_factory() as session:
        (row,) = session.exec(select(AuditLog).where(AuditLog.entity == "reminder")).all()
    assert (row.entity_id, row.school_id, row.at, row.detail_json["recipients"]) == (
        str(claimed.id), staff.school_id, T0, [staff.lead_id])
    assert _rows(session_factory)["due"].status == "sent"


def test_a_failed_delivery_is_retried_later_then_given_up_and_escalated(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    settings = SweepSettings(max_attempts=2, retry_after=timedelta(minutes=5))
    failing = Failing()
    first = run_once(session_factory, T0, {"email": failing}, settings=settings)
    assert (first.retried, first.failed) == (1, 0)
    row = _rows(session_factory)["k"]
    assert (row.status, row.due_at) == ("pending", T0 + timedelta(minutes=5))
    assert "mail server said no" in (row.last_error or "")
    assert run_once(session_factory, T0 + timedelta(minutes=1), {"email": failing},
                    settings=settings).claimed == 0
    second = run_once(session_factory, T0 + timedelta(minutes=5), {"email": failing},
                      settings=settings)
    assert second.failed == 1
    assert _rows(session_factory)["k"].status == "failed"
    sink = Recording()
    third = run_once(session_factory, T0 + timedelta(minutes=6), {"email": sink},
                     settings=settings)
    assert third.escalated == 1
    assert [(m.idempotency_key, m.recipients[0].role) for m in sink.messages] == [
        ("k:escalation-1", "dsl")]


def test_the_reaper_hands_back_rows_left_in_sending_by_a_dead_sweeper(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    (claimed,) = claim_due(session_factory, now=T0, worker_id="dead-worker")
    assert claimed.status == "sending"
    sink = Recording()
    settings = SweepSettings(claim_timeout=timedelta(minutes=15))
    early = run_once(session_factory, T0 + timedelta(minutes=10), {"email": sink},
                     settings=settings)
    assert (early.reaped, sink.keys) == (0, [])
    late = run_once(session_factory, T0 + timedelta(minutes=16), {"email": sink},
                    settings=settings)
    assert (late.reaped, late.sent, sink.keys) == (1, 1, ["k"])
    assert _rows(session_factory)["k"].attempts == 2


def test_a_reminder_resolved_while_it_was_being_sent_neither_escalates_nor_is_sent_again(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    for key in ("delivered", "to retry", "left by a dead sweeper"):
        _remind(session_factory, plan_id, key, T0)
    claimed = {r.idempotency_key: r.id for r in claim_due(session_factory, now=T0, worker_id="w")}
    with UnitOfWork(session_factory) as uow:  # the review is held while the mail server is slow
        uow.reminders.resolve(plan_id, kinds=["review_due"], subjects=["2026-03-13"], now=T0)
        uow.commit()
    assert mark_sent(session_factory, claimed["delivered"], worker_id="w", now=T0,
                     escalate_at=T0 + timedelta(days=3))
    assert mark_failed(session_factory, claimed["to retry"], worker_id="w", error="timed out",
                       retry_at=T0 + timedelta(minutes=5))
    assert reap_stuck(session_factory, now=T0 + timedelta(hours=1), timeout=timedelta(minutes=15)) == 1
    rows = _rows(session_factory)
    assert [(rows[k].status, rows[k].escalate_at) for k in claimed] == [
        ("sent", None), ("cancelled", None), ("cancelled", None)]
    sink = Recording()
    for day in range(8):
        run_once(session_factory, T0 + timedelta(days=day), {"email": sink})
    assert sink.keys == []


def test_each_batch_of_a_long_sweep_is_stamped_with_when_it_was_claimed(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    """The reaper of another sweeper counts a claim's lease from its stamp: a catch-up sweep
    that stamped every batch with its own start would have its later batches taken from it
    and sent twice."""
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "first", T0)
    _remind(session_factory, plan_id, "second", T0 + timedelta(minutes=1))
    stamps: list[datetime] = []

    class Slow(Recording):
        def deliver(self, message: ReminderMessage) -> None:
            with session_factory() as session:
                row = session.get(Reminder, message.reminder_id)
                assert row is not None and row.claimed_at is not None
                stamps.append(row.claimed_at)
            time.sleep(0.3)
            super().deliver(message)

    sink = Slow()
    result = run_once(session_factory, T0 + timedelta(minutes=1), {"email": sink}, settings=SweepSettings(batch_size=1))
    assert (result.sent, sink.keys) == (2, ["first", "second"])
    assert T0 + timedelta(minutes=1) <= stamps[0] <= stamps[1] - timedelta(seconds=0.3)


def test_an_ignored_reminder_escalates_to_the_dsl_and_then_to_the_ewo(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    sink = Recording()
    settings = SweepSettings(escalate_after=timedelta(days=3))
    for day in range(10):
        run_once(session_factory, T0 + timedelta(days=day), {"email": sink}, settings=settings)
    assert [(m.idempotency_key, m.escalation_level, [r.email for r in m.recipients])
            for m in sink.messages] == [
        ("k", 0, ["lead@oakprimary.sch.uk"]),
        ("k:escalation-1", 1, ["dsl@oakprimary.sch.uk"]),
        ("k:escalation-2", 2, ["ewo@derby-city.gov.uk"]),
    ]
    assert "Nobody has acted on this reminder, sent to the plan's lead" in sink.messages[1].body
    assert "sent to the Designated Safeguarding Lead" in sink.messages[2].body
    rows = _rows(session_factory)
    assert rows["k:escalation-1"].parent_id == rows["k"].id
    assert rows["k:escalation-1"].due_at == T0 + timedelta(days=3)
    assert rows["k:escalation-2"].escalate_at is None


def test_a_reminder_someone_acted_on_does_not_escalate(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    sink = Recording()
    run_once(session_factory, T0, {"email": sink})
    with UnitOfWork(session_factory) as uow:
        uow.reminders.resolve(plan_id, kinds=["review_due"], subjects=["2026-03-13"])
        uow.commit()
    for day in range(1, 8):
        run_once(session_factory, T0 + timedelta(days=day), {"email": sink})
    assert sink.keys == ["k"]


def test_the_end_date_heads_up_does_not_escalate(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "near", T0, kind="end_date_near")
    sink = Recording()
    for day in range(8):
        run_once(session_factory, T0 + timedelta(days=day), {"email": sink})
    assert sink.keys == ["near"]


def test_a_reminder_with_nobody_to_send_it_to_fails_and_goes_up_at_once(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0, kind="over_maximum", recipient_role="dsl")
    with session_factory() as session:
        session.execute(update(User).where(col(User.role) == "dsl").values(role="staff"))
        session.commit()
    sink = Recording()
    first = run_once(session_factory, T0, {"email": sink})
    assert first.failed == 1 and "no user with role dsl at Oak Primary" in first.errors[0]
    second = run_once(session_factory, T0 + timedelta(minutes=1), {"email": sink})
    assert second.escalated == 1
    assert [(m.idempotency_key, m.recipients[0].role) for m in sink.messages] == [
        ("k:escalation-1", "ewo")]


@pytest.mark.parametrize("what_happened", ["the plan names no lead", "the lead left (account disabled)",
                                           "the lead moved to another school"])
def test_the_leads_reminders_go_to_the_dsl_when(
    what_happened: str, session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    """A plan's reminders must still reach someone, and nothing about its pupil may reach someone
    who can no longer see the school."""
    from assistant.services.auth import disable_user

    plan_id = _plan(session_factory, staff, lead=what_happened != "the plan names no lead")
    _remind(session_factory, plan_id, "k", T0)
    if what_happened == "the lead left (account disabled)":
        with session_factory() as session:
            lead = session.get(User, staff.lead_id)
            assert lead is not None
            disable_user(session, lead)
            session.commit()
    elif what_happened == "the lead moved to another school":
        _move(session_factory, staff.lead_id, school="Elm Primary")
    sink = Recording()
    run_once(session_factory, T0, {"email": sink})
    assert [r.email for r in sink.messages[0].recipients] == ["dsl@oakprimary.sch.uk"]


def _move(session_factory: sessionmaker[Session], user_id: int, *, school: str | None = None,
          la: str | None = None) -> None:
    """Move a member of staff to another school (in the same LA), or an LA officer to another LA."""
    from storage.repositories import DirectoryRepository

    with session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        directory = DirectoryRepository(session)
        if school is not None:
            user.school_id = directory.get_or_create_school(school, user.la_id).id
        if la is not None:
            user.la_id = directory.get_or_create_la("derbyshire", name=la).id
        session.add(user)
        session.commit()


def test_a_reminder_addressed_to_someone_who_has_moved_goes_to_the_role_instead(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff, lead=False)
    _remind(session_factory, plan_id, "to-ewo", T0, recipient_role="ewo", recipient_user_id=staff.ewo_id)
    _remind(session_factory, plan_id, "to-lead", T0, recipient_user_id=staff.lead_id)
    sink = Recording()
    run_once(session_factory, T0, {"email": sink})
    first = {m.idempotency_key: [r.email for r in m.recipients] for m in sink.messages}
    assert first["to-lead"] == [_email(session_factory, staff.lead_id)]  # still at the school: theirs

    _remind(session_factory, plan_id, "to-ewo-again", T0, recipient_role="ewo", recipient_user_id=staff.ewo_id)
    _remind(session_factory, plan_id, "to-lead-again", T0, recipient_user_id=staff.lead_id)
    _move(session_factory, staff.ewo_id, la="Derbyshire County Council")
    _move(session_factory, staff.lead_id, school="Elm Primary")
    sink = Recording()
    run_once(session_factory, T0, {"email": sink})
    moved = {m.idempotency_key: [r.email for r in m.recipients] for m in sink.messages}
    assert moved["to-lead-again"] == ["dsl@oakprimary.sch.uk"]
    assert first["to-ewo"] == [_email(session_factory, staff.ewo_id)]
    assert "to-ewo-again" not in moved  # the LA's only EWO has gone: nobody to tell, so it is passed up
    assert "no user with role ewo" in (_rows(session_factory)["to-ewo-again"].last_error or "")


def _email(session_factory: sessionmaker[Session], user_id: int) -> str:
    with session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.email


class FakeSlack:
    """Stands in for the Slack app behind the SlackDirectMessage port."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send_direct_message(self, slack_user_id: str, text: str, *, idempotency_key: str) -> None:
        self.sent.append((slack_user_id, text, idempotency_key))


def test_slack_is_used_when_the_recipient_has_a_slack_id_and_email_otherwise(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "to-lead", T0)
    _remind(session_factory, plan_id, "to-dsl", T0, recipient_role="dsl")
    with session_factory() as session:
        session.execute(update(User).where(col(User.id) == staff.lead_id)
                        .values(slack_user_id="U123"))
        session.commit()
    slack, email = FakeSlack(), Recording()
    run_once(session_factory, T0, {"slack": SlackDeliverer(slack), "email": email})
    assert [(u, k) for u, _, k in slack.sent] == [("U123", "to-lead:U123")]
    assert "Review due" in slack.sent[0][1]
    assert email.keys == ["to-dsl"]


def test_only_the_due_rows_are_read_through_the_status_and_due_time_index(
    engine: Engine, backend: str,
) -> None:
    claim = ("SELECT id FROM reminders WHERE status = 'pending' AND due_at <= {t} "
             "ORDER BY due_at, id LIMIT 200")
    escalate = "SELECT id FROM reminders WHERE escalate_at <= {t} ORDER BY escalate_at LIMIT 500"
    with engine.connect() as connection:
        if backend == "sqlite":
            moment, explain = "'2026-03-02 07:30:00'", "EXPLAIN QUERY PLAN "
        else:
            # An empty table is cheapest to scan; ask whether the index can serve at all.
            connection.exec_driver_sql("SET enable_seqscan = off")
            moment, explain = "'2026-03-02 07:30:00+00'::timestamptz", "EXPLAIN "
        claim_plan = str(connection.exec_driver_sql(explain + claim.format(t=moment)).all())
        escalate_plan = str(connection.exec_driver_sql(explain + escalate.format(t=moment)).all())
    assert "ix_reminders_status_due_at" in claim_plan
    assert "ix_reminders_escalate_at" in escalate_plan


def test_ptt_reminders_run_does_one_sweep_and_prints_to_the_console(
    db_url: str, session_factory: sessionmaker[Session], staff: Staff,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    code = main(["run", "--database-url", db_url, "--now", "2026-03-02T08:00:00+00:00"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "Review due Friday 13 March 2026: Jo S." in out
    assert "sent 1" in err
    assert _rows(session_factory)["k"].status == "sent"


def test_the_background_sweeper_delivers_and_stops_when_asked(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    sink = Recording()
    sweeper = start_background_sweeper(session_factory, {"email": sink}, interval_seconds=0.05,
                                       clock=lambda: T0)
    deadline = time.monotonic() + 10
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    sweeper.stop()
    assert not sweeper.running
    assert sink.keys == ["k"] and sweeper.sweeps >= 1 and sweeper.last_error is None


def test_the_console_deliverer_prints_the_key_the_recipient_and_the_text(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    stream = io.StringIO()
    run_once(session_factory, T0, {"console": ConsoleDeliverer(stream)})
    printed = stream.getvalue()
    assert "reminder k to Lee Lead <lead@oakprimary.sch.uk>" in printed
    assert "Review due" in printed


def test_the_ptt_command_wires_reminders_run_to_the_sweeper(
    db_url: str, session_factory: sessionmaker[Session], staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from assistant.cli import main as ptt

    plan_id = _plan(session_factory, staff)
    _remind(session_factory, plan_id, "k", T0)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    outcome = CliRunner().invoke(ptt, ["reminders", "run", "--now", "2026-03-02T08:00:00Z"])
    assert outcome.exit_code == 0, outcome.output
    assert "Review due Friday 13 March 2026: Jo S." in outcome.output
    assert _rows(session_factory)["k"].status == "sent"
