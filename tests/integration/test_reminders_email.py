"""E-mail delivery against a real SMTP server (aiosmtpd on 127.0.0.1, a free port)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from assistant.reminders import EmailDeliverer, SmtpSettings, run_once
from assistant.reminders.cli import deliverers_from_env
from assistant.reminders.delivery import message_id_for
from storage.models import Plan, Pupil, Reminder
from storage.uow import UnitOfWork
from tests.integration.conftest import Staff

T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """aiosmtpd's controller, bound to port 0: learn the port the OS chose."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = _EphemeralPortController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def _plan_with_reminder(session_factory: sessionmaker[Session], staff: Staff) -> int:
    with UnitOfWork(session_factory) as uow:
        pupil = uow.pupils.add(Pupil(first_name="Jo", last_name="Smith", school_id=staff.school_id))
        plan = uow.plans.add(Plan(school_id=staff.school_id, pupil_id=pupil.id,
                                  policy_id="derby-city", status="active", case_json={},
                                  start_date=date(2026, 3, 2), end_date=date(2026, 3, 27),
                                  lead_user_id=staff.lead_id))
        uow.reminders.schedule([{
            "plan_id": plan.id, "kind": "end_date_near", "subject": "2026-03-27", "due_at": T0,
            "idempotency_key": f"plan:{plan.id}:end_date_near:2026-03-27", "status": "pending",
            "recipient_role": "lead",
        }])
        uow.commit()
        return plan.id


def test_a_reminder_reaches_a_real_smtp_server_as_a_plain_email(
    session_factory: sessionmaker[Session], staff: Staff, smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    plan_id = _plan_with_reminder(session_factory, staff)
    deliverers = deliverers_from_env({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                                      "SMTP_FROM": "reminders@ptt.test"})
    result = run_once(session_factory, T0, deliverers)
    assert result.sent == 1
    ((mail_from, rcpt_tos, mail),) = inbox.received
    key = f"plan:{plan_id}:end_date_near:2026-03-27"
    assert mail_from == "reminders@ptt.test"
    assert rcpt_tos == ["lead@oakprimary.sch.uk"]
    assert mail["Subject"] == "Part-time timetable ends Friday 27 March 2026: Jo S."
    assert mail["Message-ID"] == message_id_for(key)
    assert mail["X-PTT-Reminder-Key"] == key
    assert "in three school days" in mail.get_payload(decode=True).decode()
    with session_factory() as session:
        assert session.exec(select(Reminder)).one().status == "sent"


def test_an_unreachable_smtp_server_leaves_the_reminder_for_a_later_retry(
    session_factory: sessionmaker[Session], staff: Staff,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    _plan_with_reminder(session_factory, staff)
    deliverer = EmailDeliverer(SmtpSettings(host="127.0.0.1", port=closed_port, timeout=2))
    result = run_once(session_factory, T0, {"email": deliverer})
    assert (result.sent, result.retried) == (0, 1)
    with session_factory() as session:
        row = session.exec(select(Reminder)).one()
    assert row.status == "pending" and "SMTP 127.0.0.1" in (row.last_error or "")


def test_a_mail_server_login_is_never_sent_in_clear_unless_asked_for(
    session_factory: sessionmaker[Session], staff: Staff, smtp_server: tuple[Inbox, int],
) -> None:
    """With a username and no SMTP_STARTTLS, the connection must be encrypted first: a server that
    cannot (this one offers no STARTTLS) gets neither the password nor the pupil's reminder."""
    inbox, port = smtp_server
    _plan_with_reminder(session_factory, staff)
    login = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_USERNAME": "ptt", "SMTP_PASSWORD": "s3cret"}
    result = run_once(session_factory, T0, deliverers_from_env(login))
    assert (result.sent, result.retried) == (0, 1) and inbox.received == []
    with session_factory() as session:
        assert "STARTTLS" in (session.exec(select(Reminder)).one().last_error or "")


@pytest.mark.parametrize(("environment", "encrypted"), [
    ({}, False), ({"SMTP_USERNAME": "ptt"}, True), ({"SMTP_USERNAME": "ptt", "SMTP_STARTTLS": "0"}, False),
    ({"SMTP_STARTTLS": "true"}, True),
])
def test_starttls_is_on_by_default_when_the_server_is_logged_in_to(environment: dict[str, str],
                                                                    encrypted: bool) -> None:
    from assistant.reminders.cli import smtp_settings_from_env

    settings = smtp_settings_from_env({"SMTP_HOST": "mail.example.org", **environment})
    assert settings is not None and settings.starttls is encrypted
