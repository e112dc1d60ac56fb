"""The interview engine: pure, channel independent. From the answers so far, the next question or
the decision; then, if the user wants, the written plan.

Public API (the web and Slack layers code against exactly this)::

    start_conversation(policy_id, today, closures=()) -> Turn
    respond(state, text, today) -> Turn
    apply_fact(state, fact, value, today) -> Turn
"""

from conversations.answers import AnswerError
from conversations.engine import apply_fact, respond, shown_decision, start_conversation
from conversations.state import (
    AnswerRecord,
    Choice,
    ConversationState,
    IncompleteCase,
    Progress,
    Reply,
    Turn,
    case_changes,
)

__all__ = [
    "AnswerError",
    "AnswerRecord",
    "Choice",
    "ConversationState",
    "IncompleteCase",
    "Progress",
    "Reply",
    "Turn",
    "apply_fact",
    "case_changes",
    "respond",
    "shown_decision",
    "start_conversation",
]
