"""Delivery adapters: console, log, e-mail (SMTP), and the Slack port.

A deliverer raises on failure (the sweeper retries later) and returns normally once the
message has been handed over.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol, TextIO, runtime_checkable

from assistant.reminders.messages import ReminderMessage

logger = logging.getLogger("ptt.reminders")


class DeliveryError(RuntimeError):
    """A message could not be handed over; the sweeper will try again."""


@runtime_checkable
class ReminderDeliverer(Protocol):
    def deliver(self, message: ReminderMessage) -> None: ...


class ConsoleDeliverer:
    """Prints each reminder (the default when nothing else is configured)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def deliver(self, message: ReminderMessage) -> None:
        stream = self.stream or sys.stdout
        to = ", ".join(f"{r.display_name} <{r.email}>" for r in message.recipients)
        print(f"--- reminder {message.idempotency_key} to {to}", file=stream)
        print(message.text, file=stream)
        stream.flush()


class LogDeliverer:
    """Writes each reminder to the ``ptt.reminders`` log."""

    def __init__(self, log: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.log = log or logger
        self.level = level

    def deliver(self, message: ReminderMessage) -> None:
        self.log.log(self.level, "reminder %s to %s: %s", message.idempotency_key,
                     ", ".join(r.email for r in message.recipients), message.title)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "ptt@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 15.0


def message_id_for(idempotency_key: str, domain: str = "ptt.reminders") -> str:
    """A Message-ID fixed by the reminder's key, so a resent reminder is the same mail."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


class EmailDeliverer:
    """Sends each reminder as a plain-text e-mail through an SMTP server."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def build(self, message: ReminderMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = ", ".join(formataddr((r.display_name, r.email)) for r in message.recipients)
        mail["Subject"] = message.title
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id_for(message.idempotency_key)
        mail["X-PTT-Reminder-Key"] = message.idempotency_key
        mail["Auto-Submitted"] = "auto-generated"
        body = message.body + (f"\n\n{message.link}" if message.link else "")
        mail.set_content(body + "\n\n-- \nPart-Time Timetable Assistant\n")
        return mail

    def deliver(self, message: ReminderMessage) -> None:
        if not message.recipients:
            raise DeliveryError("no recipients")
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())  # verifies the certificate
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(self.build(message))
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"SMTP {s.host}:{s.port}: {error}") from error


@runtime_checkable
class SlackDirectMessage(Protocol):
    """Port for the Slack app: send one direct message to a Slack user.

    Implementations should treat ``idempotency_key`` as the message's identity (e.g.
    remember keys already sent) and raise on failure.
    """

    def send_direct_message(self, slack_user_id: str, text: str, *, idempotency_key: str) -> None:
        ...


class SlackDeliverer:
    """Delivers reminders as Slack direct messages through a :class:`SlackDirectMessage`."""

    def __init__(self, port: SlackDirectMessage) -> None:
        self.port = port

    def deliver(self, message: ReminderMessage) -> None:
        targets = [r for r in message.recipients if r.slack_user_id]
        if not targets:
            raise DeliveryError("no recipient has a Slack user id")
        for recipient in targets:
            assert recipient.slack_user_id is not None
            self.port.send_direct_message(
                recipient.slack_user_id, message.text,
                idempotency_key=f"{message.idempotency_key}:{recipient.slack_user_id}",
            )
