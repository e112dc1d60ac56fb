"""A small test driver for the interview engine: say things, see what is asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from conversations import ConversationState, Reply, Turn, apply_fact, respond, start_conversation

TODAY = date(2026, 1, 5)  # a Monday in the spring term


class Chat:
    """One conversation; every message goes through a JSON round trip of the state, as stored."""

    def __init__(self, policy: str, today: date = TODAY, closures: Sequence[tuple[date, date]] = ()) -> None:
        self.today = today
        self.turn: Turn = start_conversation(policy, today, closures)
        self.asked: list[str] = [self.fact] if self.fact else []

    @property
    def last(self) -> Reply:
        return self.turn.replies[-1]

    @property
    def fact(self) -> str | None:
        return self.last.fact

    @property
    def state(self) -> ConversationState:
        return self.turn.state

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.turn.replies)

    def say(self, *messages: str) -> Chat:
        for message in messages:
            stored = ConversationState.model_validate(self.turn.state.model_dump(mode="json"))
            self.turn = respond(stored, message, self.today)
            if self.fact and not self.last.error:
                self.asked.append(self.fact)
        return self

    def answer(
        self, answers: dict[str, str], *, default: str | None = "absent", until: str | None = None, limit: int = 60,
    ) -> Chat:
        """Answer questions by fact until the check is finished, or ``until`` is asked, or a question
        ``answers`` does not cover is asked and ``default`` is None. The default "absent" answers
        as a client does for a fact the case leaves out."""
        for _ in range(limit):
            fact = self.fact
            if self.turn.finished or fact is None or fact == until:
                return self
            if fact in answers:
                self.say(answers[fact])
            elif default is not None:
                self.say(default_answer(fact) if default == "absent" else default)
            else:
                return self
            assert not self.last.error, self.last.text
        raise AssertionError("too many questions")

    def record(self, fact: str, value: Any) -> Chat:
        self.turn = apply_fact(self.turn.state, fact, value, self.today)
        return self


ABSENT = {
    "circumstances": "no", "steps.parent_consent": "not_yet", "steps.risk_assessment": "not_done", "steps": "no",
    "consultations": "not_contacted", "pupil": "skip", "plan": "skip", "calendar": "none",
}


def default_answer(fact: str) -> str:
    return ABSENT.get(fact) or ABSENT[fact.partition(".")[0]]


# The complete Derby City base case of tests/cases/derby-city.yaml, by fact: it may proceed.
DERBY_COMPLETE: dict[str, str] = {
    "pupil.year_group": "Y5",
    "reasons": "mental health",
    "plan.start_date": "12/01/2026",
    "plan.end_date": "13/02/2026",
    "plan.hours_per_week": "12",
    "calendar.closures": "none",
    "steps.parent_consent": "given",
    "steps.risk_assessment": "no concerns",
    "steps.alternatives_exhausted": "yes",
    "steps.needs_assessment": "yes",
    "steps.planning_meeting_held": "yes",
    "steps.written_plan": "yes",
    "steps.headteacher_signed": "yes",
    "consultations.education_welfare": "consulted",
}

# The least a check needs to run to its end: a year group, a reason and two weeks of dates.
BASIC: dict[str, str] = {
    "pupil.year_group": "Y5",
    "reasons": "mental health",
    "plan.start_date": "12/01/2026",
    "plan.end_date": "23/01/2026",
}
