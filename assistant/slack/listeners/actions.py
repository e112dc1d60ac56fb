"""Buttons, selects and datepickers: answers to a check's questions, reminder buttons, App Home."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App, Args

from assistant.services.plans import PlanError
from assistant.slack import blocks as kit
from assistant.slack import handlers, store
from assistant.slack.checks import STALE_QUESTION, answer_check
from assistant.slack.reminder_actions import NotAllowed, record_review_held, snooze
from assistant.slack.runtime import guarded, runtime_of, tell
from storage.models import User


def _answer_of(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str] | None:
    """The answer an action gives, as text for the conversation and as a label to show."""
    kind = action.get("type")
    if kind == "button" and action.get("action_id") != "ptt_multi_done":
        return str(action.get("value") or ""), str((action.get("text") or {}).get("text") or action.get("value"))
    if kind == "static_select":
        option = action.get("selected_option") or {}
        return str(option.get("value") or ""), str((option.get("text") or {}).get("text") or option.get("value"))
    if kind == "datepicker":
        day = action.get("selected_date")
        return (str(day), str(day)) if day else None
    if action.get("action_id") == "ptt_multi_done":
        state = ((body.get("state") or {}).get("values") or {}).get(action.get("block_id") or "") or {}
        chosen = (state.get("ptt_multi_toggle") or {}).get("selected_options") or []
        if not chosen:
            return "none", "None of these"
        values = [str(o.get("value")) for o in chosen]
        labels = [str((o.get("text") or {}).get("text") or o.get("value")) for o in chosen]
        return ", ".join(values), ", ".join(labels)
    return None


def _message_of(body: dict[str, Any]) -> dict[str, Any] | None:
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if not message or not channel:
        return None
    return {"channel": channel, "ts": message.get("ts"), "blocks": message.get("blocks") or [],
            "text": message.get("text") or ""}


def _value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(action.get("value") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def register(app: App) -> None:
    runtime = runtime_of(app)

    def acknowledge(ack: Ack) -> None:
        ack()

    @guarded("your answer")
    def answer_question(args: Args) -> None:
        body, action = args.body or {}, args.action or {}
        where = kit.parse_block_id(action.get("block_id") or "")
        answer = _answer_of(body, action)
        if where is None or answer is None:
            return
        conversation_id, question = where
        slack_user_id = (body.get("user") or {}).get("id")
        user = runtime.identify(args.client, slack_user_id)
        if user is None:
            tell(args, kit.UNKNOWN_USER_TEXT)
            return
        text, label = answer
        outcome = answer_check(runtime, args.client, user, conversation_id, text, question=question,
                               answered_message=_message_of(body), answer_label=label)
        if outcome == "stale":
            tell(args, STALE_QUESTION)
        elif outcome == "unknown":
            tell(args, "I can't find that check.")

    @guarded("starting a check")
    def start_from_home(args: Args) -> None:
        slack_user_id = ((args.body or {}).get("user") or {}).get("id")
        user = runtime.identify(args.client, slack_user_id)
        if user is None or not slack_user_id:
            tell(args, kit.UNKNOWN_USER_TEXT)
            return
        handlers.check(runtime, args.client, user, slack_user_id, from_dm=True)

    def _clicked_reminder(args: Args) -> tuple[User, int] | None:
        """The staff account that clicked a reminder button, and the reminder; None (after telling
        an unknown Slack user so) when there is nothing to do."""
        body, action = args.body or {}, args.action or {}
        reminder_id = _value(action).get("r")
        user = runtime.identify(args.client, (body.get("user") or {}).get("id"))
        if user is None:
            tell(args, kit.UNKNOWN_USER_TEXT)
            return None
        if not isinstance(reminder_id, int):
            return None
        return user, reminder_id

    @guarded("recording the review")
    def review_held(args: Args) -> None:
        clicked = _clicked_reminder(args)
        if clicked is None:
            return
        user, reminder_id = clicked
        key = f"review_held:{reminder_id}"
        if not store.first_time(runtime.session_factory, key):
            tell(args, "That review has already been recorded.")
            return
        try:
            plan = record_review_held(runtime.session_factory, reminder_id, user, held_on=runtime.today())
        except (PlanError, NotAllowed) as error:
            store.forget(runtime.session_factory, key)
            tell(args, str(error))
            return
        except Exception:
            store.forget(runtime.session_factory, key)
            raise
        note = (f":white_check_mark: Review recorded as held on {runtime.today():%-d %B %Y} by "
                f"{kit.escape(user.display_name or user.email)}; the plan continues. "
                f"<{runtime.plan_url(plan.id or 0)}|Open the plan> to record changes.")
        _replace_buttons(args, note)

    @guarded("snoozing the reminder")
    def snooze_reminder(args: Args) -> None:
        clicked = _clicked_reminder(args)
        if clicked is None:
            return
        user, reminder_id = clicked
        try:
            until = snooze(runtime.session_factory, reminder_id, user, today=runtime.today())
        except (PlanError, NotAllowed) as error:
            tell(args, str(error))
            return
        _replace_buttons(args, f":zzz: Snoozed — I'll remind you again on {until:%A %-d %B}.")

    def _replace_buttons(args: Args, note: str) -> None:
        message = _message_of(args.body or {})
        if message is None:
            tell(args, note)
            return
        args.client.chat_update(channel=message["channel"], ts=message["ts"], text=note,
                                blocks=kit.reminder_done_blocks(message["blocks"], note))

    app.action(re.compile(r"^ptt_answer:\d+$"))(ack=acknowledge, lazy=[answer_question])
    app.action("ptt_select")(ack=acknowledge, lazy=[answer_question])
    app.action("ptt_date")(ack=acknowledge, lazy=[answer_question])
    app.action("ptt_multi_done")(ack=acknowledge, lazy=[answer_question])
    app.action("ptt_multi_toggle")(acknowledge)
    app.action("ptt_open_link")(acknowledge)
    app.action("ptt_home_start_check")(ack=acknowledge, lazy=[start_from_home])
    app.action("ptt_reminder_review_held")(ack=acknowledge, lazy=[review_held])
    app.action("ptt_reminder_snooze")(ack=acknowledge, lazy=[snooze_reminder])
