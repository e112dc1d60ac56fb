"""Reminders delivered as Slack DMs, with buttons: record the review as held, snooze a day, open
the plan.

:class:`SlackReminderDelivery` is both the reminders' Slack port
(:class:`assistant.reminders.delivery.SlackDirectMessage`: ``send_direct_message``) and a full
:class:`assistant.reminders.delivery.ReminderDeliverer` (``deliver``), which the sweeper uses under
the ``slack`` channel. A recipient without a Slack id is looked up by e-mail
(``users.lookupByEmail``). Each (reminder, recipient) is sent once: the key is remembered in the
Slack app's ``slack_receipts`` table after a successful post.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import select

from assistant.reminders.delivery import DeliveryError, ReminderDeliverer, SlackDeliverer
from assistant.reminders.messages import ReminderMessage
from assistant.slack import blocks as kit
from assistant.slack import store
from assistant.slack.app import DEFAULT_API_BASE_URL
from assistant.slack.runtime import setting
from storage.db import SessionFactory
from storage.models import Reminder

logger = logging.getLogger("ptt.slack.delivery")


class SlackReminderDelivery:
    def __init__(self, client: WebClient, session_factory: SessionFactory) -> None:
        self.client = client
        self.session_factory = session_factory

    # ------------------------------------------------------------------ the port
    def send_direct_message(self, slack_user_id: str, text: str, *, idempotency_key: str) -> None:
        """Port method: one DM; when the key names a stored reminder, it gets its buttons."""
        reminder = self._reminder_for(idempotency_key)
        title, _, body = text.partition("\n")
        blocks = None
        if reminder is not None:
            blocks = kit.reminder_blocks(title=title, body=body.strip(), reminder_id=reminder.id,
                                         plan_id=reminder.plan_id, kind=reminder.kind, link=None)
        self._post_once(slack_user_id, text, blocks, idempotency_key)

    # ------------------------------------------------------------------ the deliverer
    def deliver(self, message: ReminderMessage) -> None:
        if not message.recipients:
            raise DeliveryError("no recipients")
        blocks = kit.reminder_blocks(title=message.title, body=message.body, reminder_id=message.reminder_id,
                                     plan_id=message.plan_id, kind=message.kind, link=message.link)
        failures = []
        for recipient in message.recipients:
            slack_user_id = recipient.slack_user_id or self._lookup(recipient.email)
            if slack_user_id is None:
                failures.append(f"{recipient.email}: no Slack account with that e-mail")
                continue
            self._post_once(slack_user_id, message.text, blocks, f"{message.idempotency_key}:{slack_user_id}")
        if failures and len(failures) == len(message.recipients):
            raise DeliveryError("; ".join(failures))

    # ------------------------------------------------------------------ helpers
    def _post_once(self, slack_user_id: str, text: str, blocks: list[dict[str, Any]] | None, key: str) -> None:
        receipt = f"dm:{key}"
        if store.seen(self.session_factory, receipt):
            return
        try:
            channel = self.client.conversations_open(users=slack_user_id)["channel"]["id"]
            self.client.chat_postMessage(channel=channel, text=text[:3000], blocks=blocks)
        except SlackApiError as error:
            raise DeliveryError(f"Slack: {error.response.get('error', 'error')}") from error
        store.first_time(self.session_factory, receipt)

    def _lookup(self, email: str) -> str | None:
        try:
            found = self.client.users_lookupByEmail(email=email)
        except SlackApiError:
            return None
        return (found.get("user") or {}).get("id")

    def _reminder_for(self, idempotency_key: str) -> Reminder | None:
        base = idempotency_key.rsplit(":", 1)[0] if ":" in idempotency_key else idempotency_key
        with self.session_factory() as session:
            for key in (idempotency_key, base):
                row = session.exec(select(Reminder).where(Reminder.idempotency_key == key)).first()
                if row is not None:
                    return row
        return None


def slack_client(settings: Any) -> WebClient | None:
    token = setting(settings, "SLACK_BOT_TOKEN")
    if not token:
        return None
    base_url = str(setting(settings, "SLACK_API_BASE_URL", DEFAULT_API_BASE_URL))
    return WebClient(token=str(token), base_url=base_url if base_url.endswith("/") else base_url + "/")


def slack_deliverers(settings: Any, session_factory: SessionFactory) -> dict[str, ReminderDeliverer]:
    """``{"slack": deliverer}`` when a bot token is configured, else ``{}`` — to merge into the
    sweeper's deliverers."""
    client = slack_client(settings)
    if client is None:
        return {}
    return {"slack": SlackReminderDelivery(client, session_factory)}


def port_deliverer(settings: Any, session_factory: SessionFactory) -> SlackDeliverer | None:
    """The reminders' own Slack deliverer, through this app's port (plain text with buttons)."""
    client = slack_client(settings)
    return SlackDeliverer(SlackReminderDelivery(client, session_factory)) if client else None
