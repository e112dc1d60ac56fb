"""What the app does with a piece of text, whether it came as ``/ptt …`` or as a DM.

``/ptt check`` / "start a check", ``/ptt ask <question>``, ``/ptt plans [query]``, ``/ptt link``,
``/ptt help``, and EWO queries ("active at Oak Primary", "how many looked after") read by the
shared parser in :mod:`conversations.queries`. Each handler returns what to say; the listener
decides where (always privately: an ephemeral response, or the person's DM with the app).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_sdk import WebClient

from assistant.services.conversations import default_policy_for
from assistant.services.policy_answers import answer_policy_question
from assistant.services.queries import run_timetable_query
from assistant.slack import blocks as kit
from assistant.slack.checks import start_check
from assistant.slack.runtime import SlackRuntime
from conversations.queries import QueryNotUnderstood, TimetableQuery, parse_timetable_query
from storage.models import User

Intent = Literal["help", "check", "ask", "plans", "link", "query", "unknown"]

_QUESTION_START = re.compile(
    r"^(?:can|could|may|must|should|who|whose|what|when|where|why|how|do|does|is|are|if|which|will|would)\b", re.I)


@dataclass
class Said:
    """What to tell the person: text (also the notification fallback) and optional blocks."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_intent(text: str) -> tuple[Intent, str]:
    """The command and its argument: ``("ask", "how long can it last?")``."""
    stripped = text.strip()
    folded = stripped.casefold()
    head = folded.partition(" ")[0]
    argument = stripped[len(head):].strip()
    if folded in ("", "help", "?", "hi", "hello", "menu", "commands"):
        return "help", ""
    if folded in ("check", "start", "new check", "start a check", "start check", "begin", "begin a check",
                  "run a check", "new"):
        return "check", ""
    if head in ("link", "connect"):
        return "link", ""
    if head in ("ask", "policy", "question"):
        return "ask", argument
    if head in ("plans", "list", "timetables"):
        return "plans", argument
    if head == "query":
        return "query", argument
    return "query", stripped


def help_said() -> Said:
    return Said(kit.HELP_TEXT, [kit.section(kit.HELP_TEXT)])


def unknown_user_said() -> Said:
    return Said(kit.UNKNOWN_USER_TEXT, [kit.section(kit.UNKNOWN_USER_TEXT)])


def ask(runtime: SlackRuntime, user: User, question: str) -> Said:
    if not question.strip():
        return Said("Ask me a question about your protocol, e.g. `/ptt ask who needs to agree for a looked-after "
                    "child?`")
    with runtime.session_factory() as session:
        policy_id = default_policy_for(session, user)
    if policy_id is None:
        return Said("I can't tell which local protocol applies to you: your account has no local authority.")
    answer = answer_policy_question(question, policy_id)
    return Said(answer.as_text(), kit.policy_answer_blocks(answer), {"answer": answer})


def query(runtime: SlackRuntime, user: User, text: str, *, channel: str = "slack") -> Said:
    parsed = parse_timetable_query(text, today=runtime.today())
    if isinstance(parsed, QueryNotUnderstood):
        if _QUESTION_START.match(text.strip()) or text.strip().endswith("?"):
            return ask(runtime, user, text)
        return Said(f"Sorry, I didn't understand “{text}”.", kit.not_understood_blocks(text, parsed.suggestions))
    return run_query(runtime, user, parsed, channel=channel)


def run_query(runtime: SlackRuntime, user: User, parsed: TimetableQuery, *, channel: str = "slack") -> Said:
    result = run_timetable_query(runtime.session_factory, user, parsed, base_url=runtime.base_url, channel=channel)
    fallback = f"{result.heading}: {result.count}"
    return Said(fallback, kit.query_result_blocks(result), {"result": result})


def plans(runtime: SlackRuntime, user: User, text: str) -> Said:
    if text.strip():
        return query(runtime, user, text)
    return run_query(runtime, user, TimetableQuery(today=runtime.today()))


def link(runtime: SlackRuntime, client: WebClient, slack_user_id: str) -> Said:
    user, email = runtime.link_by_email(client, slack_user_id)
    if user is not None:
        text = f"You're linked to the staff account *{kit.escape(user.email)}* ({user.role})."
    elif email:
        text = (f"There's no staff account for {kit.escape(email)} (your Slack e-mail), or it is linked to another "
                "Slack account. Ask your administrator to add you with that address.")
    else:
        text = ("I couldn't read an e-mail address from your Slack profile, so I can't link you. "
                "Ask your administrator.")
    return Said(text, [kit.section(text)])


def caller(runtime: SlackRuntime, client: WebClient, slack_user_id: str, intent: Intent) -> User | Said:
    """The staff member behind a /ptt command or a direct message, or what to say instead: how
    linking went (``link``), or that they are not known."""
    if intent == "link":
        return link(runtime, client, slack_user_id)
    user = runtime.identify(client, slack_user_id)
    return user if user is not None else unknown_user_said()


def answer(runtime: SlackRuntime, client: WebClient, user: User, slack_user_id: str, intent: Intent, argument: str,
           *, from_dm: bool) -> Said | None:
    """What to say to a staff member's check, policy question, plan list or timetable query."""
    if intent == "check":
        return check(runtime, client, user, slack_user_id, from_dm=from_dm)
    if intent == "ask":
        return ask(runtime, user, argument)
    if intent == "plans":
        return plans(runtime, user, argument)
    return query(runtime, user, argument)


def check(runtime: SlackRuntime, client: WebClient, user: User, slack_user_id: str, *, from_dm: bool) -> Said | None:
    conversation_id = start_check(runtime, client, user, slack_user_id)
    if conversation_id is None or from_dm:
        return None
    return Said("I've started a check in our DM.", [kit.section(":clipboard: I've started a check in our DM — "
                                                              "answer there.")])
