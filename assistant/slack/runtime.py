"""What every listener needs: the database, the web app's address, today's date, and who is asking.

Slack users are mapped to staff accounts by ``User.slack_user_id``; failing that, by the e-mail
address of their Slack profile (``users.info``, scope ``users:read.email``), which is then
remembered. Anyone else is unknown and is shown nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_bolt import App, Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from assistant.slack import store
from rules.reminder_schedule import SCHOOL_TIMEZONE
from storage.db import SessionFactory
from storage.models import User
from storage.repositories import AuditRepository, DirectoryRepository
from storage.types import utcnow

logger = logging.getLogger("ptt.slack")

RUNTIME_ATTRIBUTE = "_ptt_slack_runtime"
SHORT_ERROR = "Sorry, something went wrong on my side ({what}). Please try again in a moment."


def setting(settings: Any, name: str, default: Any = None) -> Any:
    """A setting by its environment name, from a pydantic Settings (lower case) or anything else."""
    for attribute in (name.lower(), name.upper()):
        value = getattr(settings, attribute, None)
        if value not in (None, ""):
            return value
    if isinstance(settings, dict):
        for key in (name, name.lower(), name.upper()):
            if settings.get(key) not in (None, ""):
                return settings[key]
    return default


def school_today() -> date:
    return utcnow().astimezone(SCHOOL_TIMEZONE).date()


@dataclass
class SlackRuntime:
    session_factory: SessionFactory
    base_url: str = "http://127.0.0.1:8000"
    today: Callable[[], date] = school_today
    settings: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ who is asking
    def identify(self, client: WebClient, slack_user_id: str | None) -> User | None:
        """The staff account of this Slack user, or None (then nothing may be shown)."""
        if not slack_user_id:
            return None
        with self.session_factory() as session:
            user = DirectoryRepository(session).user_by_slack_id(slack_user_id)
        if user is not None:
            return user if user.is_active else None
        return self.link_by_email(client, slack_user_id)[0]

    def link_by_email(self, client: WebClient, slack_user_id: str) -> tuple[User | None, str | None]:
        """Match the Slack profile's e-mail with a staff account and remember the link."""
        try:
            info = client.users_info(user=slack_user_id)
        except SlackApiError as error:
            logger.info("users.info for %s failed: %s", slack_user_id, error.response.get("error"))
            return None, None
        profile_user = info.get("user") or {}
        if profile_user.get("deleted") or profile_user.get("is_bot"):
            return None, None
        # Someone from another organisation (Slack Connect), or whose e-mail Slack has not
        # confirmed, is never matched to a staff account by that e-mail.
        if profile_user.get("is_stranger") or profile_user.get("is_email_confirmed") is False:
            return None, None
        email = ((profile_user.get("profile") or {}).get("email") or "").strip().lower()
        if not email:
            return None, None
        with self.session_factory() as session:
            directory = DirectoryRepository(session)
            user = directory.user_by_email(email)
            if user is None or not user.is_active:
                return None, email
            if user.slack_user_id and user.slack_user_id != slack_user_id:
                # Linked to another Slack account already: do not move the link silently.
                logger.warning("staff account %s is linked to another Slack user", user.id)
                return None, email
            if user.slack_user_id != slack_user_id:
                user.slack_user_id = slack_user_id
                session.add(user)
                AuditRepository(session).record("update", "user", user.id, actor_user_id=user.id,
                                                school_id=user.school_id,
                                                detail={"summary": "Slack account linked by e-mail"})
                session.commit()
                session.refresh(user)
            return user, email

    def plan_url(self, plan_id: int) -> str:
        return f"{self.base_url.rstrip('/')}/plans/{plan_id}"

    def chat_url(self, conversation_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/chat/{conversation_id}"


def runtime_of(app: App) -> SlackRuntime:
    return getattr(app, RUNTIME_ATTRIBUTE)


def attach_runtime(app: App, runtime: SlackRuntime) -> None:
    setattr(app, RUNTIME_ATTRIBUTE, runtime)


def is_direct_message_channel(channel_id: str | None) -> bool:
    """Only DM channels (ids starting with D) may carry pupil details."""
    return bool(channel_id) and str(channel_id).startswith("D")


def tell(args: Args, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
    """Say something to the person who acted, privately: the response URL (always ephemeral),
    else the DM the request came from, else a DM opened for them."""
    body = args.body or {}
    if body.get("response_url"):
        args.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return
    channel = args.context.channel_id
    user_id = args.context.user_id
    if is_direct_message_channel(channel):
        args.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    elif user_id:
        if channel:
            args.client.chat_postEphemeral(channel=channel, user=user_id, text=text, blocks=blocks)
        else:
            opened = args.client.conversations_open(users=user_id)
            args.client.chat_postMessage(channel=opened["channel"]["id"], text=text, blocks=blocks)


def guarded(what: str, *, once_per_event: SessionFactory | None = None
            ) -> Callable[[Callable[[Args], None]], Callable[[Args], None]]:
    """Wrap slow (lazy) work so that an error reaches the person as a short message; with
    ``once_per_event`` (the database), an Events API event is handled once however often sent."""

    def decorate(work: Callable[[Args], None]) -> Callable[[Args], None]:
        @functools.wraps(work)
        def run(args: Args) -> None:
            try:
                event_id = (args.body or {}).get("event_id")
                # Slack re-sends an event it thinks was lost (X-Slack-Retry-Num, same event_id). The
                # retry is acknowledged like the original; only the first one does the work. (Checked
                # here, after the ack, so that no database call ever delays an acknowledgement.)
                if event_id and once_per_event is not None and not store.first_time(
                        once_per_event, f"event:{event_id}"):
                    return
                work(args)
            except Exception as error:
                logger.exception("Slack %s failed", what)
                try:
                    tell(args, SHORT_ERROR.format(what=_short(error, what)))
                except Exception:
                    logger.exception("could not tell the user about the failure")

        # Bolt reads the parameter names (through ``__wrapped__``): it must see ``args`` alone.
        del run.__wrapped__  # type: ignore[attr-defined]
        return run

    return decorate


def _short(error: Exception, what: str) -> str:
    if isinstance(error, SlackApiError):
        return f"Slack said {error.response.get('error', 'error')}"
    return what
