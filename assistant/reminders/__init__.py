"""Reminders: the sweeper, delivery adapters, escalation and the background thread."""

from assistant.reminders.background import BackgroundSweeper, start_background_sweeper
from assistant.reminders.cli import configured_deliverers, deliverers_from_env, main
from assistant.reminders.delivery import (
    ConsoleDeliverer,
    DeliveryError,
    EmailDeliverer,
    LogDeliverer,
    ReminderDeliverer,
    SlackDeliverer,
    SlackDirectMessage,
    SmtpSettings,
)
from assistant.reminders.messages import Recipient, ReminderMessage
from assistant.reminders.sweeper import SweepResult, SweepSettings, reap, run_once

__all__ = [
    "BackgroundSweeper",
    "ConsoleDeliverer",
    "DeliveryError",
    "EmailDeliverer",
    "LogDeliverer",
    "Recipient",
    "ReminderDeliverer",
    "ReminderMessage",
    "SlackDeliverer",
    "SlackDirectMessage",
    "SmtpSettings",
    "SweepResult",
    "SweepSettings",
    "configured_deliverers",
    "deliverers_from_env",
    "main",
    "reap",
    "run_once",
    "start_background_sweeper",
]
