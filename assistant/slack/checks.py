"""The part-time timetable check, run in a DM thread: the same conversation as the web chat.

The conversation itself lives in :mod:`assistant.services.conversations` (the web chat and the
JSON API use the same functions), so a check started in Slack can be carried on in the browser
and vice versa. This module only moves it in and out of Slack: one thread per check, one message
per turn, the current question with buttons / a datepicker / a select, and the decision with its
cited reasons and a link to the plan.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from assistant.services import conversations as conversation_service
from assistant.slack import blocks as kit
from assistant.slack import store
from assistant.slack.runtime import SlackRuntime, is_direct_message_channel
from rules import load_pack
from storage.errors import ConflictError, NotFoundError
from storage.models import User

logger = logging.getLogger("ptt.slack.checks")

STALE_QUESTION = "That question has already been answered; the check has moved on (see the latest message)."
NO_POLICY = ("I can't tell which local protocol applies to you: your account has no local authority. "
             "Ask your administrator to set it, or start the check in the web app.")


def open_dm(client: WebClient, slack_user_id: str) -> str:
    opened = client.conversations_open(users=slack_user_id)
    return str(opened["channel"]["id"])


def _policy_title(policy_id: str) -> str:
    try:
        return load_pack(policy_id).title
    except Exception:
        return policy_id


def start_check(runtime: SlackRuntime, client: WebClient, user: User, slack_user_id: str) -> str | None:
    """Start a check in the person's DM with the app; returns the conversation id."""
    channel = open_dm(client, slack_user_id)
    with runtime.session_factory() as session:
        try:
            view = conversation_service.start(session, user, None, runtime.today(), channel="slack")
        except conversation_service.ConversationError:
            client.chat_postMessage(channel=channel, text=NO_POLICY)
            return None
    title = _policy_title(view.policy)
    root = client.chat_postMessage(
        channel=channel, text=f"Part-time timetable check — {title}",
        blocks=[kit.section(f":clipboard: *Part-time timetable check* — _{kit.escape(title)}_\n"
                            "Answer with the buttons, or reply in this thread. You can also carry on in the "
                            f"<{runtime.chat_url(view.id)}|web app>.")],
    )
    thread_ts = str(root["ts"])
    with runtime.session_factory() as session:
        store.remember_thread(session, view.id, slack_user_id=slack_user_id, channel_id=channel, thread_ts=thread_ts)
    post_turn(runtime, client, channel, thread_ts, view)
    return view.id


def post_turn(runtime: SlackRuntime, client: WebClient, channel: str, thread_ts: str,
              view: conversation_service.ConversationView, *, plan_id_before: int | None = None) -> None:
    """Post one turn: the replies (inputs only on the question now waiting) — or, the first time
    there is a decision, the decision with its cited reasons in place of the engine's summary."""
    if not is_direct_message_channel(channel):
        raise ValueError("a check's messages go to a DM only")
    title = _policy_title(view.policy)
    waiting = None if view.complete else view.current
    replies = list(view.replies)
    if view.decision:
        with runtime.session_factory() as session:
            first_decision = store.mark_decision_posted(session, view.id)
        if first_decision:
            link, label = ((runtime.plan_url(view.plan_id), "Open the plan") if view.plan_id
                           else (runtime.chat_url(view.id), "Open in the web app"))
            client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=kit.decision_fallback_text(view.decision),
                blocks=kit.decision_blocks(view.decision, policy_title=title, link=link, link_label=label))
            replies = [r for r in replies if r is waiting]
    blocks: list[dict[str, Any]] = []
    for index, reply in enumerate(view.replies):
        if reply not in replies:
            continue
        if reply is waiting:
            blocks += kit.reply_blocks(reply, view.id, index=index, policy_title=title)
        else:
            said = reply.model_copy(update={"kind": "statement", "choices": [], "skip": None})
            blocks += kit.reply_blocks(said, view.id, index=index, policy_title=title)[:2]
    if blocks:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=kit.reply_fallback_text(replies[-1]),
                                blocks=blocks[:50])
    if view.plan_id and plan_id_before is None:
        url = runtime.plan_url(view.plan_id)
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text="The plan is saved.",
                                blocks=[kit.section(f":floppy_disk: The plan is saved: <{url}|open the plan>.")])


def answer_check(
    runtime: SlackRuntime, client: WebClient, user: User, conversation_id: str, text: str, *,
    question: str | None = None, answered_message: dict[str, Any] | None = None, answer_label: str | None = None,
) -> str:
    """Send one answer. ``question`` (the key of the question the button belonged to) makes sure
    a click on an old question's button is not taken as an answer to the current one.

    Returns ``answered``, ``stale`` or ``unknown`` (no such check of this person's).
    """
    with runtime.session_factory() as session:
        thread = store.thread_for_conversation(session, conversation_id)
    if thread is None:
        return "unknown"
    with runtime.session_factory() as session:
        try:
            current = conversation_service.get(session, user, conversation_id)
        except NotFoundError:
            return "unknown"
        plan_id_before = current.plan_id
        if question is not None:
            waiting = current.current
            if current.complete or waiting is None or question_key_of(current, waiting) != question:
                return "stale"
        try:
            view = conversation_service.send(session, user, conversation_id, text, expected_version=current.version,
                                             today=runtime.today())
        except ConflictError:
            return "stale"
    if answered_message is not None:
        _mark_answered(client, answered_message, answer_label or text)
    post_turn(runtime, client, thread.channel_id, thread.thread_ts, view, plan_id_before=plan_id_before)
    return "answered"


def _mark_answered(client: WebClient, message: dict[str, Any], label: str) -> None:
    """Replace the question's inputs with the answer given, so it cannot be answered twice."""
    channel, ts = message.get("channel"), message.get("ts")
    if not channel or not ts:
        return
    kept = [b for b in message.get("blocks") or [] if b.get("type") != "actions"
            and not (b.get("type") == "context" and "thread" in str(b))]
    kept.append(kit.context(f":white_check_mark: You answered: *{kit.escape(label)}*"))
    try:
        client.chat_update(channel=channel, ts=ts, text=message.get("text") or "Answered", blocks=kept)
    except Exception:  # the answer is stored; a failed cosmetic update must not hide that
        logger.warning("could not update the answered question", exc_info=True)


def question_key_of(view: conversation_service.ConversationView, reply: Any) -> str:
    return kit.question_key(reply, view.replies.index(reply))


def check_for_thread(runtime: SlackRuntime, channel_id: str, thread_ts: str) -> store.SlackThread | None:
    with runtime.session_factory() as session:
        return store.thread_at(session, channel_id, thread_ts)
